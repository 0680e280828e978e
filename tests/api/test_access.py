"""Secure by default: every route answers 401 to a caller without credentials, except the deliberately public ones.

The public set is written out here, so a new route is private unless someone adds it to this list on purpose.
"""

from __future__ import annotations

import re
import warnings

import pytest

#: Deliberately public: health, the app's shell and assets, the base map and its open-data look-ups, login,
#: citizen reporting and tracking (the phone pages and their API, Open311), public warnings and safety knowledge,
#: the inspector's page shell (it signs in through the API), and the API's own description.
PUBLIC = [
    r"/healthz", r"/readyz", r"/", r"/api/v1/meta", r"/api/v1/openapi\.json", r"/api/v1/docs.*",
    r"/api/v1/auth/login", r"/api/v1/auth/logout",
    r"/api/v1/geo/layers.*", r"/api/v1/geo/(locate|nearby|convert)",
    r"/api/v1/public/.*", r"/open311/v2/.*", r"/report(/.*)?", r"/track/.*", r"/public(/.*)?", r"/inspect(/.*)?",
    r"/static/.*",
]


def _is_public(path: str) -> bool:
    return any(re.fullmatch(p, path) for p in PUBLIC)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _operations(app) -> list[tuple[str, str]]:  # noqa: ANN001
    """Every (method, path) of the API, from its OpenAPI description (pages outside it are public anyway)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a duplicate operation id would hide a route from this walk
        paths = app.openapi()["paths"]
    return [(method.upper(), path) for path, ops in paths.items() for method in ops]


def test_the_api_description_is_complete_and_unambiguous(app) -> None:  # noqa: ANN001
    ops = _operations(app)
    assert len(ops) > 200 and len(set(ops)) == len(ops)


def test_every_private_route_refuses_an_anonymous_caller(app, client) -> None:  # noqa: ANN001
    checked, leaks = 0, []
    for method, path in _operations(app):
        if _is_public(path):
            continue
        r = client.request(method, _concrete(path))
        checked += 1
        if r.status_code != 401:
            leaks.append(f"{method} {path} -> {r.status_code}")
    assert checked > 150, checked  # the whole API was walked, not an empty list
    assert not leaks, "answered without credentials:\n" + "\n".join(leaks)


@pytest.mark.parametrize("path", ["/api/v1/hazards", "/api/v1/reports", "/api/v1/cases", "/api/v1/risk-map",
                                  "/api/v1/training/courses", "/api/v1/near-misses", "/api/v1/incident-feeds"])
def test_a_sample_of_the_new_areas_is_in_the_walk(app, path: str) -> None:  # noqa: ANN001
    assert any(p == path for _m, p in _operations(app)) and not _is_public(path)
