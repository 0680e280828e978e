"""Side effects across domains: a warning whose rule says ``auto_incident`` opens (or joins) an incident.

The rule language's ``auto_incident: red`` (``warning.rules.schema``) reaches a warning as the annotation
``auto_incident`` (a level's colour). ``auto_incident_from_warning`` is what the warning host calls for each
warning it changed: at or above that level, the incident is opened from the warning — or, when an open
incident of the same type is near and recent, the warning is linked to it — exactly as a person's
"open incident" would (``service.create_from_warning``). Calling it again for the same warning changes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

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


def auto_incident_from_warning(session: Session, warning: Warning, now: datetime) -> service.Opened | None:
    """Open or link the incident for ``warning`` if its rule asks for it at this level; else ``None``.

    Skipped: no ``auto_incident`` annotation, a level below it, a warning not firing/acknowledged, or one
    already linked to an incident. A warning that points to no incident type (or has no place) is logged and
    skipped, never raised: the warning host must keep running.
    """
    threshold = auto_threshold(warning)
    if threshold is None or warning.state not in ACTIVE_STATES or Level(warning.level) > threshold:
        return None
    linked = session.scalar(sa.select(IncidentLink.id).where(IncidentLink.kind == "warning",
                                                             IncidentLink.ref_id == str(warning.id)))
    if linked is not None:
        return None
    try:  # refusals happen before anything is written, so the caller's transaction stays clean
        return service.create_from_warning(session=session, now=now, principal=None, warning_id=warning.id)
    except CityBrainError as exc:
        log.warning("warning %s: no automatic incident: %s", warning.id, exc.detail)
        return None
