"""Side effects across domains: a warning whose rule says ``auto_incident`` opens (or joins) an incident.

The rule language's ``auto_incident: red`` (``warning.rules.schema``) reaches a warning as the annotation
``auto_incident`` (a level's colour). ``auto_incident_from_warning`` is what the warning host calls for each
warning it changed: at or above that level, the incident is opened from the warning — or, when an open
incident of the same type is near and recent, the warning is linked to it — exactly as a person's
"open incident" would (``service.create_from_warning``). Calling it again for the same warning changes nothing.

The host runs it in its own transaction right after the warning's change is stored and published, so
the incident's plan and tasks never delay the warning; ``sweep_auto_incidents`` (on the host's timer)
opens any incident that step missed, e.g. when the process stopped between the two transactions.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.core.errors import CityBrainError
from citybrain.incident import service
from citybrain.incident.models import IncidentLink
from citybrain.warning.models import Warning
from citybrain.warning.types import Level

log = logging.getLogger(__name__)

#: Warning states in which a warning may still open an incident.
ACTIVE_STATES = ("firing", "acknowledged")
#: How far back (by ``updated_at``) the sweep looks for warnings whose incident step did not run.
SWEEP_HORIZON = timedelta(days=1)

_WARNING_LINK = sa.select(IncidentLink.id).where(IncidentLink.kind == "warning",
                                                 IncidentLink.ref_id == sa.bindparam("ref_id"))  # built once


def auto_threshold(warning: Warning) -> Level | None:
    """The level from which the warning's rule opens incidents by itself, or ``None``."""
    value = (warning.annotations or {}).get("auto_incident")
    if value in (None, False, ""):
        return None
    try:
        return Level.parse(value)
    except ValueError:
        log.warning("warning %s: auto_incident %r is not a level; ignored", warning.id, value)
        return None


def wants_incident(warning: Warning) -> bool:
    """Whether ``warning``, as it stands, should have an incident by itself (linked or not: not looked up)."""
    threshold = auto_threshold(warning)
    return threshold is not None and warning.state in ACTIVE_STATES and Level(warning.level) <= threshold


def auto_incident_from_warning(session: Session, warning: Warning, now: datetime) -> service.Opened | None:
    """Open or link the incident for ``warning`` if its rule asks for it at this level; else ``None``.

    Skipped: no ``auto_incident`` annotation, a level below it, a warning not firing/acknowledged, or one
    already linked to an incident. A warning that points to no incident type (or has no place) is logged and
    skipped, never raised: the warning host must keep running.
    """
    if not wants_incident(warning):
        return None
    linked = session.scalar(_WARNING_LINK, {"ref_id": str(warning.id)})
    if linked is not None:
        return None
    try:  # refusals happen before anything is written, so the caller's transaction stays clean
        return service.create_from_warning(session=session, now=now, principal=None, warning_id=warning.id)
    except CityBrainError as exc:
        log.warning("warning %s: no automatic incident: %s", warning.id, exc.detail)
        return None


def sweep_auto_incidents(session: Session, now: datetime, *, rule_keys: Iterable[str],
                         skip: Collection[int] = ()) -> list[int]:
    """Open (or link) the incidents of active warnings of ``rule_keys`` updated in the last ``SWEEP_HORIZON``
    that want one and have none yet; returns the ids of those that still have none (refused, logged).

    ``skip`` holds ids already refused, so a warning that points to no incident type is not retried (and
    logged) on every turn of the timer.
    """
    keys = list(rule_keys)
    if not keys:
        return []
    linked = sa.select(IncidentLink.id).where(IncidentLink.kind == "warning",
                                              IncidentLink.ref_id == sa.cast(Warning.id, sa.String))
    missed = session.scalars(sa.select(Warning).where(
        Warning.rule_key.in_(keys), Warning.state.in_(ACTIVE_STATES), Warning.updated_at >= now - SWEEP_HORIZON,
        ~linked.exists()).order_by(Warning.id))
    refused = []
    for w in missed:
        if w.id in skip or not wants_incident(w):
            continue
        log.info("warning %s: opening its missed automatic incident", w.id)
        if auto_incident_from_warning(session, w, now) is None:
            refused.append(w.id)
    return refused
