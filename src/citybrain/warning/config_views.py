"""HTTP routes for what shapes the warning engine: rules, routing/inhibition/escalation documents,
notification channels and the notification log, and intake of external CAP alerts (under /api/v1).

Reading needs ``warning:read``; changing needs ``warning:write``. Rule documents are validated by the
rule language before they are stored, and refusals name the field (and, for YAML, line and column).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Request, Response, status

from citybrain.core.errors import FieldError, Invalid, NotFound
from citybrain.core.schemas import Page, page_window
from citybrain.deps import ClockDep, DbSession, Permitted, set_audit
from citybrain.org.models import Department
from citybrain.warning import config as config_service
from citybrain.warning import notify, outbox, publishing
from citybrain.warning.cap import CAP_MEDIA_TYPE, MAX_BYTES
from citybrain.warning.models import NotificationChannel
from citybrain.warning.notify.base import NotifyConfigError
from citybrain.warning.rules import service as rules
from citybrain.warning.schemas import ChannelCreate, ChannelRead, ConfigRead, NotificationRead, RuleImport, RuleRead

router = APIRouter(tags=["warning configuration"])
YAML_TYPE = "application/yaml"


# -- rules -------------------------------------------------------------------------------------------


@router.get("/warning-rules", response_model=list[RuleRead])
def list_rules(_: Permitted("warning:read"), session: DbSession, enabled: bool | None = None) -> list[RuleRead]:
    return [RuleRead.model_validate(rules.as_dict(r)) for r in rules.list_rules(session=session, enabled=enabled)]


@router.get("/warning-rules/export", response_class=Response, responses={200: {"content": {YAML_TYPE: {}}}})
def export_rules(_: Permitted("warning:read"), session: DbSession) -> Response:
    """Every rule as one YAML document (``rules:``), ready for ``POST /warning-rules/import``."""
    return Response(rules.export_yaml(session=session), media_type=YAML_TYPE,
                    headers={"Content-Disposition": 'attachment; filename="warning-rules.yaml"'})


@router.post("/warning-rules/import")
def import_rules(body: RuleImport, request: Request, principal: Permitted("warning:write"), session: DbSession,
                 clock: ClockDep) -> dict[str, Any]:
    """Create or replace rules from YAML, all or nothing; ``dry_run`` only validates."""
    result = rules.import_yaml(session=session, now=clock.now(), principal=principal, text=body.yaml,
                               dry_run=body.dry_run)
    if not body.dry_run:
        set_audit(request, resource_type="warning_rule", action="import", **result)
    return {**result, "dry_run": body.dry_run}


@router.post("/warning-rules", response_model=RuleRead, status_code=status.HTTP_201_CREATED)
def create_rule(request: Request, principal: Permitted("warning:write"), session: DbSession, clock: ClockDep,
                body: dict[str, Any] = Body(..., description="a rule in the rule language (see docs/rules.md)")
                ) -> RuleRead:
    row = rules.create(session=session, now=clock.now(), principal=principal, data=body)
    set_audit(request, resource_type="warning_rule", resource_id=row.key)
    return RuleRead.model_validate(rules.as_dict(row))


@router.get("/warning-rules/{key}", response_model=RuleRead)
def get_rule(key: str, _: Permitted("warning:read"), session: DbSession) -> RuleRead:
    return RuleRead.model_validate(rules.as_dict(rules.get_or_raise(session=session, key=key)))


@router.patch("/warning-rules/{key}", response_model=RuleRead)
def update_rule(key: str, request: Request, principal: Permitted("warning:write"), session: DbSession,
                clock: ClockDep, body: dict[str, Any] = Body(...)) -> RuleRead:
    row = rules.update(session=session, now=clock.now(), principal=principal, key=key, data=body)
    set_audit(request, resource_type="warning_rule", resource_id=key, changed=sorted(body))
    return RuleRead.model_validate(rules.as_dict(row))


@router.delete("/warning-rules/{key}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(key: str, request: Request, principal: Permitted("warning:write"), session: DbSession) -> Response:
    rules.delete(session=session, principal=principal, key=key)
    set_audit(request, resource_type="warning_rule", resource_id=key, action="delete")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- configuration documents -------------------------------------------------------------------------


@router.get("/warning-config/{key}", response_model=ConfigRead)
def get_config(key: str, _: Permitted("warning:read"), session: DbSession) -> ConfigRead:
    return ConfigRead.model_validate(config_service.get_document(session=session, key=key))


@router.put("/warning-config/{key}", response_model=ConfigRead)
def put_config(key: str, request: Request, principal: Permitted("warning:write"), session: DbSession,
               clock: ClockDep, body: dict[str, Any] = Body(...)) -> ConfigRead:
    if not principal.city_wide:
        raise NotFound(f"configuration {key!r} not found")  # routing is the operations centre's
    doc = config_service.put_document(session=session, now=clock.now(), key=key, document=body, by=principal.username)
    set_audit(request, resource_type="warning_config", resource_id=key, version=doc["version"])
    return ConfigRead.model_validate(doc)


# -- channels and the notification log ---------------------------------------------------------------


def _channel_dict(c: NotificationChannel, code: str) -> dict[str, Any]:
    secret = notify.registry().get(c.kind)
    secrets = getattr(secret, "secret_keys", frozenset()) if secret else frozenset()
    cfg = {k: ("***" if k in secrets and v else v) for k, v in (c.config or {}).items()}
    return {"id": c.id, "department": code, "kind": c.kind, "name": c.name, "config": cfg, "enabled": c.enabled,
            "created_at": c.created_at}


def _department(session: Any, principal: Any, code: str) -> int:
    dept = session.scalar(sa.select(Department.id).where(Department.code == code))
    if dept is None or (not principal.city_wide and dept != principal.department_id):
        raise Invalid(f"unknown department {code!r}", errors=[FieldError("body.department", "not found")])
    return dept


@router.get("/notification-channels", response_model=list[ChannelRead])
def list_channels(principal: Permitted("warning:read"), session: DbSession) -> list[ChannelRead]:
    stmt = sa.select(NotificationChannel, Department.code).join(Department,
                                                                Department.id == NotificationChannel.department_id)
    if not principal.city_wide:
        stmt = stmt.where(NotificationChannel.department_id == principal.department_id)
    return [ChannelRead.model_validate(_channel_dict(c, code)) for c, code in session.execute(stmt.order_by(
        NotificationChannel.id))]


@router.post("/notification-channels", response_model=ChannelRead, status_code=status.HTTP_201_CREATED)
def create_channel(body: ChannelCreate, request: Request, principal: Permitted("warning:write"), session: DbSession,
                   clock: ClockDep) -> ChannelRead:
    dept = _department(session, principal, body.department)
    try:
        notify.make(body.kind, body.config)  # validates the config (names the bad key)
    except NotifyConfigError as exc:
        raise Invalid(f"channel config refused: {exc}",
                      errors=[FieldError(f"body.config.{getattr(exc, 'key', '')}".rstrip("."), str(exc))]) from None
    row = NotificationChannel(department_id=dept, kind=body.kind, name=body.name, config=body.config,
                              enabled=body.enabled, created_at=clock.now())
    session.add(row)
    session.flush()
    set_audit(request, resource_type="notification_channel", resource_id=row.id, kind=body.kind)
    return ChannelRead.model_validate(_channel_dict(row, body.department))


@router.delete("/notification-channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_channel(channel_id: int, request: Request, principal: Permitted("warning:write"),
                   session: DbSession) -> Response:
    row = session.get(NotificationChannel, channel_id)
    if row is None or (not principal.city_wide and row.department_id != principal.department_id):
        raise NotFound(f"channel {channel_id} not found")
    row.enabled = False  # the log keeps referring to it
    set_audit(request, resource_type="notification_channel", resource_id=channel_id, action="disable")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/notifications", response_model=Page[NotificationRead])
def list_notifications(principal: Permitted("warning:read"), session: DbSession, receiver: str | None = None,
                       status_: str | None = None, limit: int = 50, offset: int = 0) -> Page[NotificationRead]:
    """The notification log: what was (or will be) sent to whom, with attempts and errors."""
    limit, offset = page_window(limit, offset)
    if not principal.city_wide:
        receiver = session.scalar(sa.select(Department.code).where(Department.id == principal.department_id)) or "-"
    rows, total = outbox.list_notifications(session=session, receiver=receiver, status=status_, limit=limit,
                                            offset=offset)
    return Page(items=[NotificationRead.model_validate(outbox.notification_dict(n)) for n in rows], total=total,
                limit=limit, offset=offset)


# -- external CAP ------------------------------------------------------------------------------------


@router.post("/cap/alerts", status_code=status.HTTP_202_ACCEPTED,
             openapi_extra={"requestBody": {"content": {CAP_MEDIA_TYPE: {}, "application/xml": {}}}})
async def ingest_cap(request: Request, principal: Permitted("warning:write"), session: DbSession,
                     clock: ClockDep) -> dict[str, Any]:
    """An external CAP 1.2 alert (e.g. a meteorological warning) becomes a warning; Cancel resolves it."""
    data = await request.body()
    if len(data) > MAX_BYTES:
        raise Invalid(f"CAP alert over {MAX_BYTES} bytes", errors=[FieldError("body", "too large")])
    result = publishing.ingest_cap(session=session, now=clock.now(), data=data)
    set_audit(request, resource_type="cap_alert", resource_id=result["identifier"], msg_type=result["msg_type"])
    return result


# -- engine status -----------------------------------------------------------------------------------


@router.get("/warning-engine/status")
def engine_status(request: Request, _: Permitted("warning:read"), session: DbSession,
                  clock: ClockDep) -> dict[str, Any]:
    """Is the engine running -- here, or in another process that holds its lease (``citybrain worker``,
    another node) -- how much has it seen, and which rules failed on which stream (isolated)."""
    from citybrain.core.lease import ServiceLease
    from citybrain.warning.flows import STATE_KEY, WarningHost
    from citybrain.warning.models import EngineState

    lease = session.get(ServiceLease, WarningHost.name)
    saved = session.get(EngineState, STATE_KEY)
    where: dict[str, Any] = {
        "lease": None if lease is None else {"holder": lease.holder, "acquired_at": lease.acquired_at,
                                             "expires_at": lease.expires_at,
                                             "live": lease.expires_at > clock.now()},
        "state_saved_at": None if saved is None else saved.saved_at,
    }
    host = request.app.state.cache.get("warning.host")
    if host is None:  # not here: running elsewhere while another process holds a live lease
        return {"running": bool(where["lease"] and where["lease"]["live"]), "here": False, **where}
    return {"running": True, "here": True, **where, **host.status()}
