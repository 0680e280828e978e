"""The public warning page, its JSON and the per-district Atom feed: no login, plain language, only public."""

from __future__ import annotations

from lxml import etree

from citybrain.web.views import CONTENT_SECURITY_POLICY
from tests.public.conftest import make_warning

API = "/api/v1/public"
ATOM = "{http://www.w3.org/2005/Atom}"


def seed(database, clock):
    with database.session() as s:
        gas = make_warning(s, clock.now(), rule="gas-cluster", district="310101", level=2)
        make_warning(s, clock.now(), rule="drain-waterlogging", district="310104", level=3, public=False)
        make_warning(s, clock.now(), rule="fire-smoke", district="310101", level=1, state="resolved")
        drill = make_warning(s, clock.now(), rule="crowd-dense", district="310104", level=2, exercise=True)
        return gas.id, drill.id


def test_json_lists_only_public_active_warnings_in_plain_language(client, database, clock):
    gas_id, drill_id = seed(database, clock)
    body = client.get(f"{API}/warnings").json()  # no login
    assert {w["id"] for w in body["items"]} == {gas_id, drill_id}
    gas = next(w for w in body["items"] if w["id"] == gas_id)
    assert gas["headline_zh"] == "黄浦区：燃气泄漏橙色预警"
    assert gas["headline_en"] == "Huangpu: orange gas leak warning"
    assert gas["text_zh"].startswith("黄浦区：燃气泄漏橙色预警 — 请勿使用明火")
    assert "119" in gas["action_zh"] and "LEL" not in gas["text_zh"]
    assert gas["article"]["url"] == "/public/articles/gas-leak" and gas["do_now_en"]
    assert gas["feed"] == f"{API}/warnings/310101.atom"
    drill = next(w for w in body["items"] if w["id"] == drill_id)
    assert drill["exercise"] and drill["headline_zh"].startswith("【演练】")
    assert drill["article"]["key"] == "crowd-safety"
    assert [d["district"] for d in body["districts"]] == ["310101", "310104"]
    only = client.get(f"{API}/warnings", params={"district": "310104"}).json()
    assert [w["id"] for w in only["items"]] == [drill_id]
    bad = client.get(f"{API}/warnings", params={"district": "999999"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.district"

    # The district's Atom feed: valid XML, that district's entries only, linking to the page and to CAP.
    r = client.get(f"{API}/warnings/310101.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    root = etree.fromstring(r.content)
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [f"tag:citybrain,2026:warning/{gas_id}"]
    assert entries[0].findtext(f"{ATOM}title") == "黄浦区：燃气泄漏橙色预警"
    links = {link.get("type"): link.get("href") for link in entries[0].findall(f"{ATOM}link")}
    assert links["text/html"].endswith(f"/public?district=310101#w-{gas_id}")
    assert links["application/cap+xml"].endswith(f"/api/v1/public/warnings/{gas_id}.cap")
    en = etree.fromstring(client.get(f"{API}/warnings/310101.atom", params={"lang": "en"}).content)
    assert en.findtext(f"{ATOM}title") == "Huangpu: public-safety warnings"
    empty = etree.fromstring(client.get(f"{API}/warnings/310105.atom").content)
    assert empty.findall(f"{ATOM}entry") == []
    assert client.get(f"{API}/warnings/000000.atom").status_code == 422


def test_public_page_is_served_without_login_under_the_csp(client, database, clock):
    gas_id, drill_id = seed(database, clock)
    r = client.get("/public")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    page = r.text
    assert '<html lang="zh-CN" data-lang="zh">' in page
    assert "<script>" not in page and 'src="/public/static/public.js"' in page  # no inline script
    assert "http://" not in page and "https://" not in page  # no external assets
    assert "黄浦区：燃气泄漏橙色预警" in page and "Huangpu: orange gas leak warning" in page
    assert f'id="w-{gas_id}"' in page and 'href="/public/articles/gas-leak"' in page
    assert "这是一次演练" in page
    assert 'href="/api/v1/public/warnings/310101.atom"' in page
    en = client.get("/public", params={"lang": "en", "district": "310105"})
    assert 'data-lang="en"' in en.text and "No public-safety warning for Changning now." in en.text
    assert client.get("/public", params={"district": "999999"}).status_code == 404
    js = client.get("/public/static/public.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert client.get("/public/static/../views.py").status_code == 404
    assert client.get(f"/public/warnings/{gas_id}", follow_redirects=False).headers["location"] == \
        f"/public?district=310101#w-{gas_id}"


def test_articles_api_and_pages_in_both_languages(client):
    listing = client.get("/api/v1/public/articles").json()
    assert len(listing) >= 8 and "body_zh" not in listing[0]
    one = client.get("/api/v1/public/articles/metro-evacuation").json()
    assert one["title_zh"] == "地铁停运或疏散时怎么办" and one["url"] == "/public/articles/metro-evacuation"
    assert one["do_now_en"][0].startswith("If the train stops") and one["body_zh"] and one["body_en"]
    assert client.get("/api/v1/public/articles/nope").status_code == 404
    r = client.get("/public/articles/hazmat-shelter")
    assert r.status_code == 200 and r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "就地避险" in r.text and "shelter in place" in r.text
    assert client.get("/public/articles/nope").status_code == 404
    listing = client.get("/public/articles")
    assert listing.text.count('href="/public/articles/') >= 8
