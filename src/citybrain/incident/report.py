"""The situation report (情况报告) of an incident, as one printable HTML page, from its stored record.

Pure: it takes the incident's detail (``views._detail`` shape: the incident plus tasks, parts, units,
links) and its timeline, and renders times in Asia/Shanghai. It measures what an after-action review
asks first: how long each phase took (reported → verified → responding → contained → closed), each
unit's turnout (call → dispatch), travel (dispatch → on scene) against the ETA it was sent with, and
which tasks met their deadline. The same ``Document`` renders as printable HTML and as PDF (``core.pdf``).

>>> from datetime import UTC, datetime, timedelta
>>> t = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
>>> inc = {"id": 7, "type_name_zh": "燃气泄漏", "type_name_en": "Gas leak", "level_roman": "I", "level": "red",
...        "status": "contained", "reported_at": t, "verified_at": t + timedelta(minutes=3),
...        "responding_at": t + timedelta(minutes=5), "contained_at": t + timedelta(minutes=40), "tasks": [],
...        "units": [{"unit": "FE-01", "kind": "fire_engine", "call_at": t + timedelta(minutes=4),
...                   "dispatched_at": t + timedelta(minutes=5), "on_scene_at": t + timedelta(minutes=13),
...                   "eta_s": 420.0}]}
>>> html = situation_report(inc, [], now=t + timedelta(hours=1), lang="en")
>>> "Gas leak" in html and "8 min 0 s" in html and "+1 min 0 s" in html
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from citybrain.core.clock import SHANGHAI
from citybrain.core.documents import Document, Table, to_html

PHASES = (("reported_at", "verified_at", "核实", "verification"),
          ("verified_at", "responding_at", "启动响应", "start of response"),
          ("responding_at", "contained_at", "控制", "containment"),
          ("contained_at", "closed_at", "结束", "closure"))
TEXT = {
    "zh-CN": {"title": "情况报告", "phases": "处置阶段用时", "units": "力量调派", "tasks": "任务完成情况",
              "timeline": "时间线", "phase": "阶段", "took": "用时", "unit": "力量", "turnout": "出动（接警→派出）",
              "travel": "途中（派出→到场）", "eta": "预计", "delta": "偏差", "task": "任务", "dept": "部门",
              "deadline": "时限", "done": "完成", "on_time": "按时", "late": "超时", "open": "未完成",
              "at": "时间", "what": "事件", "who": "人员", "level": "级别", "status": "状态", "generated": "生成时间",
              "exercise": "演练"},
    "en": {"title": "Situation report", "phases": "Time per phase", "units": "Units", "tasks": "Tasks",
           "timeline": "Timeline", "phase": "phase", "took": "took", "unit": "unit",
           "turnout": "turnout (call → dispatch)",
           "travel": "travel (dispatch → on scene)", "eta": "ETA", "delta": "vs ETA", "task": "task", "dept": "dept.",
           "deadline": "deadline", "done": "done", "on_time": "on time", "late": "late", "open": "open",
           "at": "time", "what": "event", "who": "by", "level": "level", "status": "status",
           "generated": "generated", "exercise": "EXERCISE"},
}


def _dt(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v
    if isinstance(v, str) and v:
        return datetime.fromisoformat(v.replace("Z", "+00:00"))
    return None


def _local(v: Any) -> str:
    t = _dt(v)
    return t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if t else "—"


def duration(seconds: float | None) -> str:
    """``8 min 0 s`` / ``1 h 5 min`` / ``—``; negative values keep their sign."""
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else ""
    s = int(round(abs(seconds)))
    if s >= 3600:
        return f"{sign}{s // 3600} h {s % 3600 // 60} min"
    return f"{sign}{s // 60} min {s % 60} s"


def _between(a: Any, b: Any) -> float | None:
    ta, tb = _dt(a), _dt(b)
    return (tb - ta).total_seconds() if ta and tb else None


def situation_document(incident: Mapping[str, Any], timeline: Sequence[Mapping[str, Any]], *, now: datetime,
                       lang: str = "zh-CN") -> Document:
    """The report as a ``Document`` (rendered to HTML by ``situation_report`` and to PDF by ``core.pdf``)."""
    L = TEXT["en" if lang.startswith("en") else "zh-CN"]  # noqa: N806 - a table of words
    zh = L is TEXT["zh-CN"]
    name = incident.get("type_name_zh" if zh else "type_name_en") or incident.get("incident_type", "")
    title = incident.get("title_zh" if zh else "title_en") or name
    phases = [(p_zh if zh else p_en, _local(incident.get(start)), _local(incident.get(end)),
               duration(_between(incident.get(start), incident.get(end))))
              for start, end, p_zh, p_en in PHASES]
    units = []
    for u in incident.get("units", ()):
        travel = _between(u.get("dispatched_at"), u.get("on_scene_at"))
        eta = u.get("eta_s")
        delta = None if travel is None or eta is None else travel - float(eta)
        units.append((str(u.get("unit", "")), str(u.get("kind", "")),
                      duration(_between(u.get("call_at"), u.get("dispatched_at"))), duration(travel), duration(eta),
                      ("+" if delta and delta > 0 else "") + duration(delta)))
    tasks, late = [], set()
    for i, t in enumerate(incident.get("tasks", ())):
        deadline, done = _dt(t.get("deadline")), _dt(t.get("done_at"))
        verdict = L["open"] if done is None else (L["on_time"] if deadline is None or done <= deadline else L["late"])
        if verdict == L["late"]:
            late.add((i, 4))
        tasks.append((str(t.get("title_zh" if zh else "title_en") or t.get("key", "")),
                      str(t.get("department") or t.get("role") or ""), _local(deadline), _local(done), verdict))
    events = [(_local(e.get("at")), str(e.get("kind", "")), str(e.get("actor") or ""), _detail(e.get("detail")))
              for e in timeline]
    return Document(
        title=f"{L['title']} · #{incident.get('id')} {title}",
        subtitle=[f"{name} · {L['level']} {incident.get('level_roman', '')} · {L['status']} "
                  f"{incident.get('status', '')} · {L['generated']} {_local(now)}"],
        banner=L["exercise"] if incident.get("exercise") else "",
        lang="zh-CN" if zh else "en",
        sections=[
            Table(L["phases"], (L["phase"], "", "", L["took"]), phases),
            Table(L["units"], (L["unit"], "", L["turnout"], L["travel"], L["eta"], L["delta"]), units),
            Table(L["tasks"], (L["task"], L["dept"], L["deadline"], L["done"], ""), tasks, frozenset(late)),
            Table(L["timeline"], (L["at"], L["what"], L["who"], ""), events),
        ],
    )


def situation_report(incident: Mapping[str, Any], timeline: Sequence[Mapping[str, Any]], *, now: datetime,
                     lang: str = "zh-CN") -> str:
    """The report as one printable HTML page."""
    return to_html(situation_document(incident, timeline, now=now, lang=lang))


def _detail(d: Any) -> str:
    if not isinstance(d, Mapping):
        return ""
    return "; ".join(f"{k}={v}" for k, v in d.items() if v not in (None, "", [], {}))[:300]
