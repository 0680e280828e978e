"""Fixtures for the public pages: public warnings as rows as the engine stores them, local HTTP and SMTP servers."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from citybrain.org import service as org_service
from citybrain.warning.models import Warning
from tests.warning.notify.conftest import http_server, smtp_server  # noqa: F401 - local HTTP and SMTP servers

_ids = itertools.count(1)


def make_warning(session: Any, now: datetime, *, rule: str = "gas-cluster", district: str | None = "310101",
                 level: int = 2, state: str = "firing", public: bool = True, exercise: bool = False,
                 labels: dict[str, Any] | None = None, summary_zh: str = "GAS-1 甲烷 55%LEL",
                 summary_en: str = "GAS-1 methane 55 %LEL") -> Warning:
    """A warning row as the engine would store it."""
    n = next(_ids)
    w = Warning(fingerprint=f"fp-{n:06d}", rule_key=rule, source="rule", labels={"rule": rule, **(labels or {})},
                state=state, level=level, peak_level=level,
                department_id=org_service.department_id_for(session=session, code="fire", field="department"),
                district_code=district, lon=121.48, lat=31.23, summary_zh=summary_zh, summary_en=summary_en,
                annotations={}, evidence={}, starts_at=now - timedelta(minutes=5), since=now - timedelta(minutes=5),
                fired_at=now - timedelta(minutes=5), escalation_step=0, public=public, exercise=exercise,
                updated_at=now, resolved_at=now if state == "resolved" else None)
    session.add(w)
    session.flush()
    return w
