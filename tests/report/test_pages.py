"""The citizen pages are served with the dashboard's CSP, phone viewport, no inline script, no external asset,
and every script, style and symbol they reference is served."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citybrain.web.views import CONTENT_SECURITY_POLICY

STATIC = Path(str(files("citybrain.report"))) / "static"
ASSET = re.compile(r'(?:src|href)="(/[^"]+)"')
SVG_NS = "http://www.w3.org/2000/svg"


@pytest.mark.parametrize("path", ["/report", "/track/some-tracking-code"])
def test_pages_carry_csp_viewport_and_only_local_files(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    html = r.text
    assert '<html lang="zh-CN">' in html and 'name="viewport"' in html and "width=device-width" in html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all('src="/' in attrs and not body.strip() for attrs, body in scripts), "inline script"
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    for asset in ASSET.findall(html):
        got = client.get(asset)
        assert got.status_code == 200, asset
        assert got.headers.get("x-content-type-options") == "nosniff"


def test_scripts_import_only_local_modules_and_fetch_only_our_api() -> None:
    for js in STATIC.glob("*.js"):
        text = js.read_text(encoding="utf-8")
        for target in re.findall(r"from '(\.[^']+)'", text):
            assert (STATIC / target).resolve().is_file(), f"{js.name} imports {target}"
        assert not re.findall(r"https?://", text.replace(SVG_NS, "")), js.name
        assert "eval(" not in text and "new Function" not in text and "innerHTML" not in text, js.name


def test_static_route_serves_types_and_refuses_escapes(client: TestClient) -> None:
    js = client.get("/report/static/report.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert client.get("/report/static/pages.css").headers["content-type"].startswith("text/css")
    assert client.get("/report/static/icons.svg").headers["content-type"].startswith("image/svg")
    assert client.get("/report/static/nothing.js").status_code == 404
    assert client.get("/report/static/..%2Fpages.py").status_code == 404
    assert client.get("/report/static/../pages.py").status_code == 404


def test_every_category_has_a_symbol(client: TestClient) -> None:
    icons = (STATIC / "icons.svg").read_text(encoding="utf-8")
    codes = [s["code"] for s in client.get("/api/v1/public/report-services").json()]
    assert codes and all(f'id="{c}"' in icons for c in codes)


def test_both_languages_have_the_same_strings() -> None:
    text = (STATIC / "common.js").read_text(encoding="utf-8")
    zh, en = text.split("  en: {", 1)
    keys_zh = set(re.findall(r"'([a-z][\w.]+)':", zh.split("'zh-CN': {", 1)[1]))
    keys_en = set(re.findall(r"'([a-z][\w.]+)':", en.split("\n};", 1)[0]))
    assert keys_zh and keys_zh == keys_en
    used = set()
    for path in [*STATIC.glob("*.js"), *(STATIC.parent / "templates").glob("*.html")]:
        body = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""(?:data-i18n="|\bt\(')([a-z][\w.]+)""", body))
    assert used <= keys_zh, used - keys_zh
