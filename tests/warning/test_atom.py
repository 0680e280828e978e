"""The Atom feed of public warnings: well-formed, complete per RFC 4287, escaped, linking to CAP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from citybrain.warning.atom import ATOM_NS, AtomEntry, atom_feed

A = {"a": ATOM_NS}
NOW = datetime(2026, 7, 1, 2, 30, 15, 999999, tzinfo=UTC)


def feed(entries: list[AtomEntry] | None = None, **overrides: object) -> etree._Element:
    args: dict[str, object] = dict(
        feed_id="urn:citybrain:warnings:public",
        title="上海城市运行预警 <public> & open",
        updated=NOW,
        link_self="https://city.example/api/v1/public/warnings.atom",
        link_alternate="https://city.example/warnings",
        lang="zh-CN",
        entries=entries if entries is not None else [entry(1), entry(2)],
    )
    args.update(overrides)
    data = atom_feed(**args)  # type: ignore[arg-type]
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    return etree.fromstring(data)


def entry(n: int, **overrides: object) -> AtomEntry:
    args: dict[str, object] = dict(
        id=f"urn:citybrain:warning:{n}",
        title=f"橙色预警 #{n}: gas <CH4> & H2S",
        updated=NOW - timedelta(minutes=n),
        published=NOW - timedelta(hours=n),
        summary="人民广场 燃气浓度超限",
        content="Methane 2.1 %LEL; keep away. <b>not markup</b>",
        link=f"https://city.example/warnings/{n}",
        cap_link=f"https://city.example/api/v1/public/warnings/{n}.cap",
        categories=["orange", "Infra"],
    )
    args.update(overrides)
    return AtomEntry(**args)  # type: ignore[arg-type]


def test_feed_has_the_required_elements() -> None:
    root = feed()
    assert root.tag == f"{{{ATOM_NS}}}feed"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "zh-CN"
    for tag in ("id", "title", "updated", "author/a:name"):
        assert root.findtext(f"a:{tag}", namespaces=A), tag
    links = {(link.get("rel"), link.get("type")): link.get("href") for link in root.findall("a:link", A)}
    assert links[("self", "application/atom+xml")].endswith("warnings.atom")
    assert links[("alternate", "text/html")] == "https://city.example/warnings"
    entries = root.findall("a:entry", A)
    assert len(entries) == 2
    for el in entries:
        for tag in ("id", "title", "updated", "published", "summary", "content"):
            assert el.findtext(f"a:{tag}", namespaces=A), tag


def test_entries_link_to_their_cap_alert() -> None:
    el = feed().find("a:entry", A)
    cap = el.find("a:link[@type='application/cap+xml']", A)
    assert cap is not None and cap.get("rel") == "alternate"
    assert cap.get("href") == "https://city.example/api/v1/public/warnings/1.cap"
    html = el.find("a:link[@type='text/html']", A)
    assert html is not None and html.get("href") == "https://city.example/warnings/1"
    assert [c.get("term") for c in el.findall("a:category", A)] == ["orange", "Infra"]


def test_text_is_escaped_not_interpreted() -> None:
    data = atom_feed(
        feed_id="urn:x",
        title="a <b> & c",
        updated=NOW,
        link_self="https://x.example/f?a=1&b=2",
        link_alternate=None,
        lang="en",
        entries=[entry(1)],
    )
    assert b'<title type="text">a &lt;b&gt; &amp; c</title>' in data
    assert b'href="https://x.example/f?a=1&amp;b=2"' in data
    root = etree.fromstring(data)
    assert root.findtext("a:title", namespaces=A) == "a <b> & c"
    assert root.findtext("a:entry/a:title", namespaces=A) == "橙色预警 #1: gas <CH4> & H2S"
    assert root.find("a:entry/a:content", A).get("type") == "text"
    assert not root.findall(".//a:b", A) and not root.findall(".//b")  # nothing became an element


def test_times_are_rfc3339_in_shanghai() -> None:
    text = etree.tostring(feed()).decode()
    stamps = re.findall(r"<(?:updated|published)>([^<]*)<", text)
    assert stamps and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", s) for s in stamps)
    assert "<updated>2026-07-01T10:30:15+08:00</updated>" in text
    with pytest.raises(ValueError, match="time zone"):
        feed(updated=datetime(2026, 7, 1))


def test_an_empty_feed_is_valid_and_entry_authors_are_kept() -> None:
    assert feed(entries=[]).findall("a:entry", A) == []
    el = feed(entries=[entry(1, author="应急管理局")]).find("a:entry", A)
    assert el.findtext("a:author/a:name", namespaces=A) == "应急管理局"


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"id": ""}, "id"),
        ({"title": " "}, "title"),
        ({"summary": None, "content": None, "link": None, "cap_link": None}, "summary, content or a link"),
        ({"title": "nul \x00"}, "title"),
    ],
)
def test_entries_that_cannot_be_valid_atom_are_refused(overrides: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        feed(entries=[entry(1, **overrides)])
