"""What reaches an incident from outside: files on its timeline and incidents pushed by departments' systems.

Files: a photo passes ``core.images.clean_image`` (re-encoded, metadata stripped); a PDF is accepted when its
content starts like one and is within the size limit; anything else is refused before it is stored. The file
goes to the content-addressed ``FileStore`` and a ``file`` event on the timeline points to it.

Department feeds: a department's own system (a 110/119 dispatch system, the metro's operations system)
pushes a batch of incidents it knows, each with its own ``external_id``. The feed is idempotent per
(department, external id) — a repeated push changes nothing — and goes through the same de-duplication as
any report, so a feed item near an open incident of its type is linked to it. Good items are kept and each
bad one gets its reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.core.errors import CityBrainError, FieldError, Invalid, NotFound, PayloadTooLarge
from citybrain.core.files import FileStore
from citybrain.core.images import clean_image
from citybrain.incident import service
from citybrain.incident.models import Incident, IncidentEvent, IncidentLink

MAX_PDF_BYTES = 10 * 1024 * 1024
FEED_LINK = "feed"


def attach_file(*, session: Session, now: datetime, principal: Principal, incident: Incident, store: FileStore,
                name: str, data: bytes, note: str = "") -> IncidentEvent:
    """Store one uploaded file and put it on the incident's timeline; refuse what is not a photo or PDF."""
    safe_name = (name or "file").replace("/", "_").replace("\\", "_")[:120]
    if data[:5] == b"%PDF-":
        if len(data) > MAX_PDF_BYTES:
            raise PayloadTooLarge(f"file: {len(data)} bytes is over the {MAX_PDF_BYTES}-byte limit for a PDF")
        key, meta = store.put(data, suffix="pdf"), {"content_type": "application/pdf", "size": len(data)}
    else:
        image = clean_image(data, field="file")
        key = store.put(image.data, suffix="jpg")
        meta = {"content_type": image.content_type, "size": len(image.data), "width": image.width,
                "height": image.height, **({"gps": list(image.gps)} if image.gps else {})}
    attachment = {"name": safe_name, "key": key, **meta}
    return service.add_note(session=session, now=now, principal=principal, incident=incident, text=note,
                            attachment=attachment)


def file_of(*, session: Session, incident: Incident, event_id: int) -> Mapping[str, Any]:
    """The stored attachment of a ``file`` event of this incident."""
    ev = session.get(IncidentEvent, event_id)
    attachment = (ev.detail or {}).get("attachment") if ev is not None else None
    if ev is None or ev.incident_id != incident.id or ev.kind != "file" or not isinstance(attachment, dict) \
            or "key" not in attachment:
        raise NotFound(f"no file {event_id} on incident {incident.id}")
    return attachment


@dataclass(frozen=True, slots=True)
class FeedResult:
    index: int
    external_id: str | None
    outcome: str  # "created" | "linked" | "unchanged" | "refused"
    incident_id: int | None = None
    errors: tuple[FieldError, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "external_id": self.external_id, "outcome": self.outcome,
                "incident_id": self.incident_id, "errors": [e.as_dict() for e in self.errors]}


def ingest_feed(*, session: Session, now: datetime, principal: Principal, department_code: str,
                items: Sequence[Mapping[str, Any]]) -> list[FeedResult]:
    """Open (or link) one incident per feed item; each item in its own savepoint, so a bad one harms nothing."""
    results = []
    for i, item in enumerate(items):
        ext = str(item.get("external_id") or "").strip()
        if not ext or len(ext) > 30:
            results.append(FeedResult(i, ext or None, "refused", errors=(
                FieldError(f"body.items[{i}].external_id", "required, at most 30 characters"),)))
            continue
        ref = f"{department_code}:{ext}"
        known = session.scalar(sa.select(IncidentLink.incident_id).where(IncidentLink.kind == FEED_LINK,
                                                                          IncidentLink.ref_id == ref))
        if known is not None:
            results.append(FeedResult(i, ext, "unchanged", known))
            continue
        try:
            with session.begin_nested():
                opened = service.create(
                    session=session, now=now, principal=principal, incident_type=str(item.get("incident_type", "")),
                    lon=item.get("lon"), lat=item.get("lat"), level=item.get("level"),  # type: ignore[arg-type]
                    title_zh=str(item.get("title_zh", ""))[:300], title_en=str(item.get("title_en", ""))[:300],
                    description=str(item.get("description", ""))[:10_000], lead_department=item.get("lead_department"),
                    source="feed", reported_at=_when(item.get("reported_at"), i, now),
                    link_refs=[(FEED_LINK, ref)])
        except CityBrainError as exc:
            errors = tuple(e if e.field.startswith("body.items[") else
                           FieldError(e.field.replace("body.", f"body.items[{i}].", 1), e.message, e.type)
                           for e in exc.errors) or (FieldError(f"body.items[{i}]", exc.detail),)
            results.append(FeedResult(i, ext, "refused", errors=errors))
            continue
        except (TypeError, ValueError) as exc:
            results.append(FeedResult(i, ext, "refused", errors=(FieldError(f"body.items[{i}]", str(exc)),)))
            continue
        results.append(FeedResult(i, ext, "created" if opened.created else "linked", opened.incident.id))
    return results


def _when(value: Any, index: int, now: datetime) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("bad time", errors=[FieldError(f"body.items[{index}].reported_at", "ISO 8601 with offset")]) \
            from None
    if at.tzinfo is None:
        raise Invalid("naive time", errors=[FieldError(f"body.items[{index}].reported_at", "needs a UTC offset")])
    if at > now:
        raise Invalid("future time", errors=[FieldError(f"body.items[{index}].reported_at", "in the future")])
    return at
