"""An Atom 1.0 feed (RFC 4287) of public warnings, each entry linking to its CAP alert.

Built with lxml, so titles and text are escaped by the serialiser; times are RFC 3339 in +08:00.

>>> from datetime import UTC, datetime
>>> t = datetime(2026, 7, 1, 2, 30, tzinfo=UTC)
>>> feed = atom_feed(feed_id="urn:citybrain:warnings", title="预警 <公开> & public", updated=t,
...     link_self="https://city.example/warnings.atom", link_alternate="https://city.example/warnings",
...     lang="zh-CN", entries=[AtomEntry(id="urn:citybrain:warning:42", title="橙色预警", updated=t,
...     summary="燃气泄漏", cap_link="https://city.example/warnings/42.cap")])
>>> text = feed.decode()
>>> '<title type="text">预警 &lt;公开&gt; &amp; public</title>' in text
True
>>> '<updated>2026-07-01T10:30:00+08:00</updated>' in text
True
>>> '<link rel="alternate" type="application/cap+xml" href="https://city.example/warnings/42.cap"/>' in text
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from citybrain.warning.cap import CAP_MEDIA_TYPE, cap_time

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MEDIA_TYPE = "application/atom+xml"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True, slots=True, kw_only=True)
class AtomEntry:
    """One public warning in the feed. ``id`` must be a permanent IRI (e.g. ``urn:…`` or ``tag:…``).

    ``link`` is the warning's web page; ``cap_link`` its CAP document (``application/cap+xml``);
    ``categories`` become ``<category term>`` (e.g. the level colour). Text is plain text.
    """

    id: str
    title: str
    updated: datetime
    published: datetime | None = None
    summary: str | None = None
    content: str | None = None
    link: str | None = None
    cap_link: str | None = None
    author: str | None = None
    categories: Sequence[str] = ()


def atom_feed(
    *,
    feed_id: str,
    title: str,
    updated: datetime,
    link_self: str,
    link_alternate: str | None,
    entries: Sequence[AtomEntry],
    lang: str,
    author: str = "citybrain",
    subtitle: str | None = None,
) -> bytes:
    """The feed as UTF-8 bytes (serve as ``application/atom+xml``). Times must be aware (UTC is fine).

    ``author`` is the feed's author (RFC 4287 requires one unless every entry has its own).
    Raises ``ValueError`` when an entry could not be a valid Atom entry (no id/title, or neither
    content, summary nor a link to show).
    """
    _need("feed_id", feed_id)
    _need("title", title)
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    feed.set(_XML_LANG, lang)
    _text(feed, "id", feed_id)
    _text(feed, "title", title, type="text")
    if subtitle:
        _text(feed, "subtitle", subtitle, type="text")
    _text(feed, "updated", _rfc3339(updated))
    _link(feed, "self", link_self, ATOM_MEDIA_TYPE)
    if link_alternate:
        _link(feed, "alternate", link_alternate, "text/html")
    _name(feed, author)
    _text(feed, "generator", "citybrain")
    for entry in entries:
        _entry(feed, entry)
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _entry(feed: etree._Element, entry: AtomEntry) -> None:
    _need("entry id", entry.id)
    _need(f"title of entry {entry.id}", entry.title)
    if not (entry.summary or entry.content or entry.link or entry.cap_link):
        raise ValueError(f"entry {entry.id} needs a summary, content or a link (RFC 4287 §4.1.2)")
    el = etree.SubElement(feed, f"{{{ATOM_NS}}}entry")
    _text(el, "id", entry.id)
    _text(el, "title", entry.title, type="text")
    _text(el, "updated", _rfc3339(entry.updated))
    if entry.published is not None:
        _text(el, "published", _rfc3339(entry.published))
    if entry.author:
        _name(el, entry.author)
    if entry.link:
        _link(el, "alternate", entry.link, "text/html")
    if entry.cap_link:
        _link(el, "alternate", entry.cap_link, CAP_MEDIA_TYPE)
    for term in entry.categories:
        etree.SubElement(el, f"{{{ATOM_NS}}}category").set("term", term)
    if entry.summary:
        _text(el, "summary", entry.summary, type="text")
    if entry.content:
        _text(el, "content", entry.content, type="text")


def _rfc3339(value: datetime) -> str:
    return cap_time(value)  # the same form: whole seconds, +08:00, never "Z"


def _need(name: str, value: str) -> None:
    if not value or not value.strip():
        raise ValueError(f"Atom {name} must not be empty")


def _text(parent: etree._Element, tag: str, value: str, **attrs: str) -> None:
    el = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
    try:
        el.text = value
    except ValueError as e:  # NUL and control characters cannot be carried by XML at all
        raise ValueError(f"Atom <{tag}> cannot be written as XML: {e}") from None


def _link(parent: etree._Element, rel: str, href: str, media_type: str) -> None:
    etree.SubElement(parent, f"{{{ATOM_NS}}}link", rel=rel, type=media_type, href=href)


def _name(parent: etree._Element, name: str) -> None:
    _text(etree.SubElement(parent, f"{{{ATOM_NS}}}author"), "name", name)
