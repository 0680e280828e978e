"""Warnings: signals in, lifecycle applied, history written, suppression and groups kept; user actions.

Services take the session first and ``now`` explicitly; they never commit (the caller's unit of work
does). ``apply_signals`` is the engine's way in; ``acknowledge`` / ``resolve`` / ``escalate`` /
``comment`` are the people's. Every change goes through ``lifecycle.transition`` and leaves
``warning_event`` rows, so the history is complete by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal, department_scope
from citybrain.core.database import jsonable
from citybrain.core.errors import Conflict, FieldError, Invalid, NotFound
from citybrain.org import service as org_service
from citybrain.org.models import Department
from citybrain.sensing.models import Asset, Device
from citybrain.warning import lifecycle as lc
from citybrain.warning.config import EngineConfig, load_config
from citybrain.warning.models import Silence, Warning, WarningEvent, WarningGroup, WarningGroupMember
from citybrain.warning.routing import route
from citybrain.warning.suppress import Inhibitor, Matcher, Silencer, matches_all
from citybrain.warning.suppress import Silence as SilenceSpec
from citybrain.warning.suppress import fingerprint as fingerprint_of
from citybrain.warning.types import Level, Signal

RESOURCE = "warning"

# The engine's statements, built once: building and keying a statement costs about as much as running it on
# SQLite, and ``apply_signals`` runs them for every batch of signals. Inserts go to the tables (Core, one
# executemany, no unit of work): nothing reads those rows back as objects.
_OPEN_BY_FINGERPRINT = sa.select(Warning).where(Warning.fingerprint.in_(sa.bindparam("prints", expanding=True)),
                                                Warning.state != lc.RESOLVED)
_DEVICE_ID = sa.select(Device.id).where(Device.key == sa.bindparam("key"))
_ASSET_ID = sa.select(Asset.id).where(Asset.key == sa.bindparam("key"))
_INSERT_EVENTS = sa.insert(WarningEvent.__table__)
_ACTIVE_SILENCES = sa.select(Silence.id, Silence.matchers, Silence.starts_at, Silence.ends_at).where(
    Silence.ends_at > sa.bindparam("now"), Silence.starts_at <= sa.bindparam("now"), Silence.expired_at.is_(None))
_NOTIFIABLE = sa.select(Warning.labels, Warning.fingerprint, Warning.level, Warning.state).where(
    Warning.state.in_((lc.FIRING, lc.ACKNOWLEDGED)), Warning.silenced_by.is_(None))
_GROUPS_AND_MEMBERS = (
    sa.select(WarningGroup.key, WarningGroupMember.warning_id)
    .outerjoin(WarningGroupMember, sa.and_(WarningGroupMember.group_key == WarningGroup.key,
                                           WarningGroupMember.warning_id.in_(sa.bindparam("ids", expanding=True))))
    .where(WarningGroup.key.in_(sa.bindparam("keys", expanding=True))))
_INSERT_GROUPS = sa.insert(WarningGroup.__table__)
_INSERT_MEMBERS = sa.insert(WarningGroupMember.__table__)
# ORM-enabled, so group objects already loaded in the session see ``dirty`` too; "fetch" is what "auto" falls
# back to for a subquery it cannot evaluate in Python, named here to skip the failed try.
_MARK_GROUPS_DIRTY = (
    sa.update(WarningGroup)
    .where(WarningGroup.key.in_(sa.select(WarningGroupMember.group_key).where(
        WarningGroupMember.warning_id.in_(sa.bindparam("ids", expanding=True)))))
    .values(dirty=True).execution_options(synchronize_session="fetch"))


@dataclass(slots=True)
class Applied:
    """What ``apply_signals`` changed: the warnings touched and the history entries written."""

    warnings: list[Warning] = field(default_factory=list)
    events: int = 0
    ignored: int = 0  # clearing signals for subjects with no open warning


# -- state <-> row -----------------------------------------------------------------------------------


def state_of(w: Warning) -> lc.WarningState:
    return lc.WarningState(
        state=w.state, level=Level(w.level), peak_level=Level(w.peak_level), since=w.since, fired_at=w.fired_at,
        value=w.value, silenced_by=w.silenced_by, inhibited_by=w.inhibited_by, acknowledged_by=w.acknowledged_by,
        assignee=w.assignee, escalation_step=w.escalation_step, last_signal_at=w.last_signal_at,
        resolved_by=w.resolved_by)


def _store(w: Warning, s: lc.WarningState, changes: Sequence[lc.Change], session: Session, now: datetime,
           deferred: list[tuple[Warning, lc.Change]] | None = None) -> int:
    prev_state = w.state
    w.state, w.level, w.peak_level, w.since, w.fired_at = s.state, int(s.level), int(s.peak_level), s.since, s.fired_at
    w.value, w.silenced_by, w.inhibited_by = s.value, s.silenced_by, s.inhibited_by
    w.acknowledged_by, w.assignee, w.escalation_step = s.acknowledged_by, s.assignee, s.escalation_step
    w.last_signal_at, w.resolved_by = s.last_signal_at, s.resolved_by
    if s.state == lc.ACKNOWLEDGED and prev_state != lc.ACKNOWLEDGED:
        w.acknowledged_at = s.since
    if s.state == lc.RESOLVED and prev_state != lc.RESOLVED:
        w.resolved_at = s.since
    w.updated_at = now
    labels = dict(w.labels)
    if labels.get("level") != s.level.colour:
        labels["level"] = s.level.colour
        w.labels = labels
    if deferred is not None:
        deferred.extend((w, c) for c in changes)
    else:
        _write_events(session, [(w, c) for c in changes])
    return len(changes)


def _write_events(session: Session, pairs: Sequence[tuple[Warning, lc.Change]]) -> None:
    if pairs:
        session.execute(_INSERT_EVENTS, [
            {"warning_id": w.id, "at": c.at, "kind": c.kind, "from_state": c.from_state, "to_state": c.to_state,
             "level": int(c.level), "actor": c.actor, "detail": dict(c.detail)} for w, c in pairs])


def identity_labels(signal: Signal) -> dict[str, str]:
    """The labels that identify a warning (the level is not part of identity: it changes)."""
    return {str(k): str(v) for k, v in signal.labels.items() if k != "level" and v is not None}


# -- the engine's way in -----------------------------------------------------------------------------


class Directory:
    """Department codes ↔ ids and device/asset keys → ids, cached for the life of one host."""

    def __init__(self) -> None:
        self.departments: dict[str, int] = {}
        self.devices: dict[str, int] = {}
        self.assets: dict[str, int] = {}

    def department_id(self, session: Session, code: str) -> int:
        if code not in self.departments:
            self.departments = org_service.department_ids(session=session)
        if code not in self.departments:
            ops = self.departments.get("ops")
            if ops is None:
                raise NotFound(f"department {code!r} not found")
            return ops
        return self.departments[code]

    def device_id(self, session: Session, key: str | None) -> int | None:
        if not key:
            return None
        if key not in self.devices:
            found = session.execute(_DEVICE_ID, {"key": key}).scalar()
            if found is None:
                return None
            self.devices[key] = found
        return self.devices[key]

    def asset_id(self, session: Session, key: str | None) -> int | None:
        if not key:
            return None
        if key not in self.assets:
            found = session.execute(_ASSET_ID, {"key": key}).scalar()
            if found is None:
                return None
            self.assets[key] = found
        return self.assets[key]


def apply_signals(*, session: Session, signals: Iterable[Signal], now: datetime, directory: Directory | None = None,
                  source: str = "rule", config: EngineConfig | None = None) -> Applied:
    """Open, update or resolve one warning per fingerprint from the rule engine's signals.

    Signals of one batch are applied in order; a clearing signal with no open warning is ignored. New
    and changed warnings are (re)checked against silences and inhibition and joined to their groups.
    """
    directory = directory or Directory()
    out = Applied()
    signals = list(signals)
    if not signals:
        return out
    prints = {id(s): fingerprint_of(identity_labels(s)) for s in signals}
    open_rows = {w.fingerprint: w for w in session.scalars(_OPEN_BY_FINGERPRINT,
                                                           {"prints": list(set(prints.values()))})}
    touched: dict[int, Warning] = {}
    events: list[tuple[Warning, lc.Change]] = []
    # That query flushed whatever the caller had pending; from here on only this batch's warnings are, and
    # the loop's one kind of query (the directory's departments, devices and assets) reads no warning: they
    # are flushed once, below, not before every look-up.
    with session.no_autoflush:
        for sig in signals:
            fp = prints[id(sig)]
            w = open_rows.get(fp)
            evidence = lc.Evidence(sig.level, sig.at, sig.value, bool(sig.annotations.get("pending")))
            if w is None:
                if sig.level is None:
                    out.ignored += 1
                    continue
                s, changes = lc.start(evidence)
                w = _new_warning(session, sig, fp, s, now, directory, source)
                open_rows[fp] = w
            else:
                s, changes = lc.transition(state_of(w), evidence, now)
                if sig.level is not None:
                    _refresh_text(w, sig)
            out.events += _store(w, s, changes, session, now, events)
            if changes:
                touched[id(w)] = w
            if s.state == lc.RESOLVED:
                open_rows.pop(fp, None)
    out.warnings = list(touched.values())
    if out.warnings:
        session.flush()  # ids for the new warnings, once for the batch
        _write_events(session, events)
        cfg = config or load_config(session=session)
        # suppression first, without marking groups: join_groups marks every group of these warnings
        _resuppress(session=session, now=now, only=out.warnings, config=cfg)
        join_groups(session=session, now=now, warnings=out.warnings, config=cfg)
    return out


def _new_warning(session: Session, sig: Signal, fp: str, s: lc.WarningState, now: datetime, directory: Directory,
                 source: str) -> Warning:
    labels = identity_labels(sig)
    labels["level"] = s.level.colour
    ann = dict(sig.annotations)
    w = Warning(
        fingerprint=fp, rule_key=sig.rule, source=source, labels=labels, state=s.state, level=int(s.level),
        peak_level=int(s.peak_level), department_id=directory.department_id(session, labels.get("department", "ops")),
        district_code=labels.get("district"), device_id=directory.device_id(session, labels.get("device")),
        asset_id=directory.asset_id(session, labels.get("asset")), lon=sig.lon, lat=sig.lat, value=sig.value,
        summary_zh=str(ann.pop("summary_zh", "")), summary_en=str(ann.pop("summary_en", "")), annotations=ann,
        evidence=jsonable(sig.evidence), starts_at=sig.at, since=s.since, fired_at=s.fired_at,
        escalation_step=0, last_signal_at=sig.at, public=bool(ann.get("public", False)),
        exercise=bool(ann.get("exercise", False)), updated_at=now)
    session.add(w)
    return w


def _refresh_text(w: Warning, sig: Signal) -> None:
    ann = dict(sig.annotations)
    w.summary_zh = str(ann.pop("summary_zh", w.summary_zh))
    w.summary_en = str(ann.pop("summary_en", w.summary_en))
    if sig.evidence:
        w.evidence = jsonable(sig.evidence)
    if sig.lon is not None and sig.lat is not None:
        w.lon, w.lat = sig.lon, sig.lat




# -- suppression -------------------------------------------------------------------------------------


def active_silences(*, session: Session, now: datetime) -> list[SilenceSpec]:
    rows = session.execute(_ACTIVE_SILENCES, {"now": now})
    return [SilenceSpec(str(sid), tuple(Matcher.from_dict(m) for m in matchers), starts_at, ends_at)
            for sid, matchers, starts_at, ends_at in rows]


def _match_labels(w: Warning) -> dict[str, str]:
    return {**{str(k): str(v) for k, v in w.labels.items()}, "fingerprint": w.fingerprint,
            "level": Level(w.level).colour, "state": w.state}


def refresh_suppression(*, session: Session, now: datetime, only: Sequence[Warning] | None = None,
                        config: EngineConfig | None = None) -> int:
    """Re-decide silenced/inhibited for open warnings (``only`` these, or all); returns how many changed.

    With ``only``, inhibiting sources are looked up just when one of the warnings can be an inhibition
    target; a new source's effect on warnings already open is picked up by the next full refresh (the
    warning host runs one every few seconds) or at once after people's actions.
    """
    changed = _resuppress(session=session, now=now, only=only, config=config)
    _mark_groups_dirty(session, changed)
    return len(changed)


def _resuppress(*, session: Session, now: datetime, only: Sequence[Warning] | None,
                config: EngineConfig | None) -> list[int]:
    """``refresh_suppression`` without marking groups: the ids of the warnings whose suppression changed."""
    cfg = config or load_config(session=session)
    silencer = Silencer(active_silences(session=session, now=now))
    if only is None:
        targets = list(session.scalars(sa.select(Warning).where(Warning.state.in_(lc.OPEN_STATES))))
        sources = [_match_labels(w) for w in targets
                   if w.state in (lc.FIRING, lc.ACKNOWLEDGED) and w.silenced_by is None]
    else:
        targets = [w for w in only if w.state in lc.OPEN_STATES]
        maybe_target = any(any(matches_all(r.target, _match_labels(w)) for r in cfg.inhibit_rules) for w in targets)
        sources = _notifiable_labels(session) if maybe_target else []
    inhibitor = Inhibitor(cfg.inhibit_rules, sources)
    changed: list[int] = []
    for w in targets:
        labels = _match_labels(w)
        s = state_of(w)
        s, c1 = lc.transition(s, lc.Suppress("silence", silencer.mutes(labels, now)), now)
        s, c2 = lc.transition(s, lc.Suppress("inhibit", inhibitor.mutes(labels, now)), now)
        if c1 or c2:
            _store(w, s, c1 + c2, session, now)
            changed.append(w.id)
    return changed


def _notifiable_labels(session: Session) -> list[dict[str, str]]:
    """The match labels of every firing or acknowledged, unsilenced warning (the possible inhibition sources),
    read as plain rows: only the four columns the labels need, no ORM objects."""
    session.flush()  # the caller's changed warnings count as they now stand
    rows = session.execute(_NOTIFIABLE)
    colours = {int(lv): lv.colour for lv in Level}
    return [{**{str(k): str(v) for k, v in labels.items()}, "fingerprint": fp, "level": colours[level],
             "state": state} for labels, fp, level, state in rows]


# -- groups ------------------------------------------------------------------------------------------


def join_groups(*, session: Session, now: datetime, warnings: Sequence[Warning],
                config: EngineConfig | None = None) -> None:
    """Put each warning in the groups its labels route to, and mark every group it is in for a fresh look
    (the ones it just joined and any it was in before: a level change may take it off a route)."""
    tree = (config or load_config(session=session)).route
    wanted: dict[str, tuple[Any, set[int]]] = {}
    for w in warnings:
        for dest in route(tree, _match_labels(w)):
            wanted.setdefault(dest.group_key, (dest, set()))[1].add(w.id)
    ids = [w.id for w in warnings]
    if wanted:
        _add_members(session, now, wanted, ids)
    _mark_groups_dirty(session, ids)


def _add_members(session: Session, now: datetime, wanted: Mapping[str, tuple[Any, set[int]]],
                 ids: Sequence[int]) -> None:
    """Create the missing groups and memberships; one round trip finds which groups exist and hold whom."""
    found = session.execute(_GROUPS_AND_MEMBERS, {"ids": list(ids), "keys": list(wanted)}).all()
    existing = {key for key, _ in found}
    members = {(key, wid) for key, wid in found if wid is not None}
    new_groups = [{"key": key, "route": dest.route, "receiver": dest.receiver, "labels": dict(dest.group_labels),
                   "timing": {"group_wait": dest.group_wait.total_seconds(),
                              "group_interval": dest.group_interval.total_seconds(),
                              "repeat_interval": dest.repeat_interval.total_seconds()},
                   "created_at": now, "last_notified_at": None, "last_hash": None, "dirty": True}
                  for key, (dest, _ids) in wanted.items() if key not in existing]
    if new_groups:
        session.execute(_INSERT_GROUPS, new_groups)
    new_members = [{"group_key": k, "warning_id": i} for k, (_, wids) in wanted.items() for i in wids
                   if (k, i) not in members]
    if new_members:
        session.execute(_INSERT_MEMBERS, new_members)


def _mark_groups_dirty(session: Session, warning_ids: Sequence[int]) -> None:
    if warning_ids:
        session.execute(_MARK_GROUPS_DIRTY, {"ids": list(warning_ids)})


# -- people's actions --------------------------------------------------------------------------------


def get_or_raise(*, session: Session, principal: Principal, warning_id: int) -> Warning:
    stmt = sa.select(Warning).where(Warning.id == warning_id)
    scope = department_scope(principal, Warning.department_id, resource_type=RESOURCE, id_col=Warning.id)
    if scope is not None:
        stmt = stmt.where(scope)
    w = session.scalars(stmt).first()
    if w is None:
        raise NotFound(f"warning {warning_id} not found")
    return w


def _act(session: Session, w: Warning, event: lc.Event, now: datetime) -> Warning:
    try:
        s, changes = lc.transition(state_of(w), event, now)
    except lc.TransitionError as exc:
        raise Conflict(str(exc)) from None
    _store(w, s, changes, session, now)
    if changes:
        session.flush()
        if s.state == lc.RESOLVED:
            refresh_suppression(session=session, now=now)  # what it inhibited may speak again
        _mark_groups_dirty(session, [w.id])
    return w


def acknowledge(*, session: Session, now: datetime, principal: Principal, warning: Warning, comment: str = "",
                assignee: str | None = None) -> Warning:
    return _act(session, warning, lc.Acknowledge(principal.username, comment, assignee), now)


def resolve(*, session: Session, now: datetime, principal: Principal, warning: Warning, comment: str = "") -> Warning:
    return _act(session, warning, lc.Resolve(principal.username, comment), now)


def escalate(*, session: Session, now: datetime, principal: Principal | None, warning: Warning,
             comment: str = "") -> Warning:
    return _act(session, warning, lc.Escalate(principal.username if principal else "policy", comment), now)


def comment(*, session: Session, now: datetime, principal: Principal, warning: Warning, text: str) -> WarningEvent:
    if not text.strip():
        raise Invalid("a comment needs text", errors=[FieldError("body.text", "empty")])
    ev = WarningEvent(warning_id=warning.id, at=now, kind="commented", from_state=warning.state,
                      to_state=warning.state, level=warning.level, actor=principal.username, detail={"text": text})
    session.add(ev)
    warning.updated_at = now
    return ev


def resolve_all(*, session: Session, now: datetime, warnings: Iterable[Warning], by: str, reason: str) -> int:
    """Resolve each open warning given (history written); returns how many."""
    n = 0
    for w in warnings:
        if w.state in lc.OPEN_STATES:
            s, changes = lc.transition(state_of(w), lc.Resolve(by, reason), now)
            _store(w, s, changes, session, now)
            n += 1
    return n


def resolve_rules(*, session: Session, now: datetime, rule_keys: Sequence[str], reason: str) -> int:
    """Resolve the open warnings of rules whose evaluation state was dropped (changed or removed)."""
    stmt = sa.select(Warning).where(Warning.rule_key.in_(list(rule_keys)), Warning.state.in_(lc.OPEN_STATES),
                                    Warning.source == "rule")
    return resolve_all(session=session, now=now, warnings=list(session.scalars(stmt)), by="rule-reset",
                       reason=reason)


def open_counts(*, session: Session, principal: Principal) -> list[tuple[int, str, bool, int]]:
    """(level, state, suppressed, count) of the open warnings the caller may see."""
    muted = sa.or_(Warning.silenced_by.is_not(None), Warning.inhibited_by.is_not(None))
    stmt = (sa.select(Warning.level, Warning.state, muted, sa.func.count())
            .where(Warning.state.in_(lc.OPEN_STATES)).group_by(Warning.level, Warning.state, muted))
    scope = department_scope(principal, Warning.department_id, resource_type=RESOURCE, id_col=Warning.id)
    if scope is not None:
        stmt = stmt.where(scope)
    return [(int(lv), st, bool(m), int(n)) for lv, st, m, n in session.execute(stmt)]


def escalate_due(*, session: Session, now: datetime) -> list[Warning]:
    """Escalate every unacknowledged firing warning whose level's delay has passed (the policy's step)."""
    policy = load_config(session=session).escalation
    out = []
    for w in session.scalars(sa.select(Warning).where(Warning.state == lc.FIRING, Warning.silenced_by.is_(None),
                                                      Warning.inhibited_by.is_(None))):
        if lc.escalation_due(state_of(w), now, policy):
            escalate(session=session, now=now, principal=None, warning=w, comment="unacknowledged")
            out.append(w)
    return out


# -- reading -----------------------------------------------------------------------------------------


def list_warnings(*, session: Session, principal: Principal, state: Sequence[str] | None = None,
                  level: Sequence[int] | None = None, district: str | None = None, rule: str | None = None,
                  department: str | None = None, device_id: int | None = None, asset_id: int | None = None,
                  suppressed: bool | None = None, since: datetime | None = None, limit: int = 50,
                  offset: int = 0) -> tuple[list[Warning], int]:
    stmt = sa.select(Warning)
    scope = department_scope(principal, Warning.department_id, resource_type=RESOURCE, id_col=Warning.id)
    if scope is not None:
        stmt = stmt.where(scope)
    if state:
        stmt = stmt.where(Warning.state.in_(state))
    if level:
        stmt = stmt.where(Warning.level.in_(level))
    if district:
        stmt = stmt.where(Warning.district_code == district)
    if rule:
        stmt = stmt.where(Warning.rule_key == rule)
    if department:
        stmt = stmt.where(Warning.department_id == sa.select(Department.id).where(Department.code == department)
                          .scalar_subquery())
    if device_id is not None:
        stmt = stmt.where(Warning.device_id == device_id)
    if asset_id is not None:
        stmt = stmt.where(Warning.asset_id == asset_id)
    if suppressed is not None:
        cond = sa.or_(Warning.silenced_by.is_not(None), Warning.inhibited_by.is_not(None))
        stmt = stmt.where(cond if suppressed else sa.not_(cond))
    if since is not None:
        stmt = stmt.where(Warning.updated_at >= since)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(Warning.level, Warning.starts_at.desc(), Warning.id.desc())
                                .limit(limit).offset(offset)))
    return rows, total


def history(*, session: Session, warning: Warning) -> list[WarningEvent]:
    return list(session.scalars(sa.select(WarningEvent).where(WarningEvent.warning_id == warning.id)
                                .order_by(WarningEvent.id)))


department_codes = org_service.department_codes  # re-exported for the warning views and host


def as_dict(w: Warning, *, departments: Mapping[int, str] | None = None) -> dict[str, Any]:
    level = Level(w.level)
    return {
        "id": w.id, "fingerprint": w.fingerprint, "rule": w.rule_key, "source": w.source, "labels": dict(w.labels),
        "state": w.state, "level": level.colour, "level_roman": level.roman, "level_number": int(level),
        "peak_level": Level(w.peak_level).colour,
        "department": (departments or {}).get(w.department_id), "district": w.district_code,
        "device_id": w.device_id, "asset_id": w.asset_id, "lon": w.lon, "lat": w.lat, "value": w.value,
        "summary_zh": w.summary_zh, "summary_en": w.summary_en, "annotations": dict(w.annotations or {}),
        "evidence": dict(w.evidence or {}), "starts_at": w.starts_at, "fired_at": w.fired_at, "since": w.since,
        "acknowledged_at": w.acknowledged_at, "acknowledged_by": w.acknowledged_by, "assignee": w.assignee,
        "resolved_at": w.resolved_at, "resolved_by": w.resolved_by, "escalation_step": w.escalation_step,
        "last_signal_at": w.last_signal_at, "silenced_by": w.silenced_by, "inhibited_by": w.inhibited_by,
        "suppressed": w.silenced_by is not None or w.inhibited_by is not None, "public": w.public,
        "exercise": w.exercise, "updated_at": w.updated_at,
    }


def event_dict(e: WarningEvent) -> dict[str, Any]:
    return {"id": e.id, "at": e.at, "kind": e.kind, "from_state": e.from_state, "to_state": e.to_state,
            "level": Level(e.level).colour, "actor": e.actor, "detail": dict(e.detail or {})}
