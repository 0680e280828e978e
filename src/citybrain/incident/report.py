"""The situation report (情况报告) of an incident, as one printable HTML page, from its stored record.

Pure: it takes the incident's detail (``views._detail`` shape: the incident plus tasks, parts, units,
links) and its timeline, and renders times in Asia/Shanghai. It measures what an after-action review
asks first: how long each phase took (reported → verified → responding → contained → closed), each
unit's turnout (call → dispatch), travel (dispatch → on scene) against the ETA it was sent with, and
which tasks met their deadline. The page carries print CSS, so a browser's "save as PDF" gives the PDF.

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
from datetime import datetime, timedelta, timezone
from html import escape
from typing import Any

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
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
           "timeline": "Timeline", "phase": "phase", "took": "took", "unit": "unit", "turnout": "turnout (call → dispatch)",
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


def situation_report(incident: Mapping[str, Any], timeline: Sequence[Mapping[str, Any]], *, now: datetime,
                     lang: str = "zh-CN") -> str:
    L = TEXT["en" if lang.startswith("en") else "zh-CN"]  # noqa: N806 - a table of words
    zh = L is TEXT["zh-CN"]
    name = incident.get("type_name_zh" if zh else "type_name_en") or incident.get("incident_type", "")
    title = incident.get("title_zh" if zh else "title_en") or name
    rows = []
    for start, end, p_zh, p_en in PHASES:
        rows.append(f"<tr><td>{escape(p_zh if zh else p_en)}</td><td>{_local(incident.get(start))}</td>"
                    f"<td>{_local(incident.get(end))}</td><td>{duration(_between(incident.get(start), incident.get(end)))}"
                    "</td></tr>")
    units = []
    for u in incident.get("units", ()):
        travel = _between(u.get("dispatched_at"), u.get("on_scene_at"))
        eta = u.get("eta_s")
        delta = None if travel is None or eta is None else travel - float(eta)
        units.append(
            f"<tr><td>{escape(str(u.get('unit', '')))}</td><td>{escape(str(u.get('kind', '')))}</td>"
            f"<td>{duration(_between(u.get('call_at'), u.get('dispatched_at')))}</td><td>{duration(travel)}</td>"
            f"<td>{duration(eta)}</td><td>{('+' if delta and delta > 0 else '') + duration(delta)}</td></tr>")
    tasks = []
    for t in incident.get("tasks", ()):
        deadline, done = _dt(t.get("deadline")), _dt(t.get("done_at"))
        verdict = L["open"] if done is None else (L["on_time"] if deadline is None or done <= deadline else L["late"])
        tasks.append(f"<tr><td>{escape(str(t.get('title_zh' if zh else 'title_en') or t.get('key', '')))}</td>"
                     f"<td>{escape(str(t.get('department') or t.get('role') or ''))}</td><td>{_local(deadline)}</td>"
                     f"<td>{_local(done)}</td><td class='{'late' if verdict == L['late'] else ''}'>{verdict}</td></tr>")
    events = [f"<tr><td>{_local(e.get('at'))}</td><td>{escape(str(e.get('kind', '')))}</td>"
              f"<td>{escape(str(e.get('actor') or ''))}</td><td>{escape(_detail(e.get('detail')))}</td></tr>"
              for e in timeline]
    exercise = f"<p class='exercise'>{L['exercise']}</p>" if incident.get("exercise") else ""
    return f"""<!doctype html>
<html lang="{'zh-CN' if zh else 'en'}"><head><meta charset="utf-8">
<title>{escape(L['title'])} #{incident.get('id')} {escape(str(title))}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Noto Sans SC", sans-serif; margin: 2em; color: #111; }}
h1 {{ font-size: 1.5em; }} h2 {{ font-size: 1.1em; margin-top: 1.6em; border-bottom: 1px solid #999; }}
table {{ border-collapse: collapse; width: 100%; font-size: .9em; }}
td, th {{ border: 1px solid #ccc; padding: .25em .5em; text-align: left; vertical-align: top; }}
.late {{ color: #b00; font-weight: bold; }} .exercise {{ color: #b00; font-weight: bold; font-size: 1.4em; }}
@media print {{ body {{ margin: 1cm; }} h2 {{ break-after: avoid; }} tr {{ break-inside: avoid; }} }}
</style></head><body>
{exercise}<h1>{escape(L['title'])} · #{incident.get('id')} {escape(str(title))}</h1>
<p>{escape(str(name))} · {L['level']} {escape(str(incident.get('level_roman', '')))} ·
{L['status']} {escape(str(incident.get('status', '')))} · {L['generated']} {_local(now)}</p>
<h2>{L['phases']}</h2><table><tr><th>{L['phase']}</th><th></th><th></th><th>{L['took']}</th></tr>{''.join(rows)}</table>
<h2>{L['units']}</h2><table><tr><th>{L['unit']}</th><th></th><th>{L['turnout']}</th><th>{L['travel']}</th>
<th>{L['eta']}</th><th>{L['delta']}</th></tr>{''.join(units)}</table>
<h2>{L['tasks']}</h2><table><tr><th>{L['task']}</th><th>{L['dept']}</th><th>{L['deadline']}</th><th>{L['done']}</th>
<th></th></tr>{''.join(tasks)}</table>
<h2>{L['timeline']}</h2><table><tr><th>{L['at']}</th><th>{L['what']}</th><th>{L['who']}</th><th></th></tr>
{''.join(events)}</table>
</body></html>
"""


def _detail(d: Any) -> str:
    if not isinstance(d, Mapping):
        return ""
    return "; ".join(f"{k}={v}" for k, v in d.items() if v not in (None, "", [], {}))[:300]
