"""HTTP routes for files on an incident's timeline and for departments' incident feeds (under /api/v1).

Uploading a file needs ``incident:act`` on a visible incident; reading one needs ``incident:read``. A feed
needs ``incident:act`` and a caller in a department: the items are that department's incidents.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, Request, Response, UploadFile, status

from citybrain.core.errors import FieldError, Invalid
from citybrain.core.files import file_store
from citybrain.deps import ClockDep, DbSession, Permitted, Settings, set_audit
from citybrain.incident import intake, service
from citybrain.incident.schemas import EventRead
from citybrain.org.models import Department

router = APIRouter(tags=["incidents"])
MAX_FEED_ITEMS = 500


@router.post("/incidents/{incident_id}/files", response_model=EventRead, status_code=status.HTTP_201_CREATED)
async def upload_file(incident_id: int, request: Request, principal: Permitted("incident:act"), session: DbSession,
                      clock: ClockDep, settings: Settings, file: Annotated[UploadFile, File()],
                      note: Annotated[str, Form(max_length=2000)] = "") -> EventRead:
    """A photo (JPEG/PNG/WebP; re-encoded, metadata stripped) or a PDF on the timeline."""
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    set_audit(request, resource_type="incident", resource_id=inc.id, action="file", name=file.filename)
    data = await file.read()
    ev = intake.attach_file(session=session, now=clock.now(), principal=principal, incident=inc,
                            store=file_store(settings), name=file.filename or "file", data=data, note=note)
    return EventRead.model_validate(service.event_dict(ev))


@router.get("/incidents/{incident_id}/files/{event_id}", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}, "application/pdf": {}}}})
def download_file(incident_id: int, event_id: int, principal: Permitted("incident:read"), session: DbSession,
                  settings: Settings) -> Response:
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    meta = intake.file_of(session=session, incident=inc, event_id=event_id)
    data = file_store(settings).get(str(meta["key"]))
    disposition = "attachment" if meta.get("content_type") == "application/pdf" else "inline"
    return Response(data, media_type=str(meta.get("content_type", "application/octet-stream")),
                    headers={"Content-Disposition": f'{disposition}; filename="incident-{inc.id}-{event_id}"',
                             "Cache-Control": "private, max-age=3600"})


@router.post("/incident-feeds", status_code=status.HTTP_200_OK)
def push_feed(request: Request, principal: Permitted("incident:act"), session: DbSession, clock: ClockDep,
              items: Annotated[list[dict[str, Any]], Body(embed=True, max_length=MAX_FEED_ITEMS)]) -> dict[str, Any]:
    """A department's system pushes its incidents: ``{"items": [{external_id, incident_type, lon, lat, level,
    title_zh, title_en, description, reported_at}, …]}``. Idempotent per external id; each bad item is named."""
    if principal.department_id is None:
        raise Invalid("a feed comes from a department", errors=[FieldError("department", "caller has none")])
    code = session.get(Department, principal.department_id).code  # type: ignore[union-attr]
    set_audit(request, resource_type="incident_feed", resource_id=code, items=len(items))
    results = intake.ingest_feed(session=session, now=clock.now(), principal=principal, department_code=code,
                                 items=items)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return {"department": code, "counts": counts, "results": [r.as_dict() for r in results]}
