"""CAP 1.2 (OASIS Common Alerting Protocol): public warnings out, external alerts in.

``from_warning`` builds a ``CapAlert`` from a warning's plain values, ``to_xml`` writes it (validated
against the bundled schema, times in +08:00, one ``zh-CN`` and one ``en`` info block), and ``parse``
reads an external alert (CAP 1.2, or 1.1 from older feeds) with a hardened parser. docs/cap.md has the
level mapping and what ingestion refuses.

>>> from datetime import UTC, datetime
>>> alert = from_warning(identifier="citybrain-w-42", sender="ops@citybrain.example",
...     sent=datetime(2026, 7, 1, 2, 30, tzinfo=UTC), level=Level.ORANGE,
...     event_zh="燃气泄漏", event_en="Gas leak", headline_zh="橙色预警", headline_en="Orange warning",
...     description_zh="…", description_en="…", area_desc_zh="人民广场", area_desc_en="People's Square",
...     circle=(121.4737, 31.2304, 500))
>>> xml = to_xml(alert)
>>> b"<sent>2026-07-01T10:30:00+08:00</sent>" in xml, b"<circle>31.2304,121.4737 0.5</circle>" in xml
(True, True)
>>> parse(xml) == alert
True
>>> cap_to_level("Severe", "Expected")
<Level.ORANGE: 2>
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from lxml import etree

from citybrain.core.clock import SHANGHAI
from citybrain.warning.types import Level

CAP12_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP11_NS = "urn:oasis:names:tc:emergency:cap:1.1"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
CAP_MEDIA_TYPE = "application/cap+xml"
MAX_BYTES = 1 << 20  # 1 MiB: real alerts are a few kB; a bigger document is refused before parsing
CHINA_TZ = SHANGHAI

Pair = tuple[str, str]  # CAP's (valueName, value)


class CapError(ValueError):
    """A CAP document that cannot be accepted (or written); ``line`` is where the problem is, if known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.message = message
        self.line = line


def _frozen(value: Any) -> Any:
    """Lists (at any depth) as tuples, so equal alerts compare equal however they were built."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


class _Frozen:
    __slots__ = ()

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, list | tuple):
                object.__setattr__(self, f.name, _frozen(value))


@dataclass(frozen=True, slots=True, kw_only=True)
class CapArea(_Frozen):
    """An ``<area>``: polygons as closed rings of (lat, lon), circles as (lat, lon, radius_km), WGS84."""

    area_desc: str
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    circles: tuple[tuple[float, float, float], ...] = ()
    geocodes: tuple[Pair, ...] = ()
    altitude: float | None = None  # feet above mean sea level, as CAP defines it
    ceiling: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CapResource(_Frozen):
    """A ``<resource>``: a file (image, map, audio) that goes with an info block."""

    resource_desc: str
    mime_type: str
    size: int | None = None
    uri: str | None = None
    deref_uri: str | None = None
    digest: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CapInfo(_Frozen):
    """An ``<info>`` block: the alert in one language."""

    language: str = "en-US"  # CAP's default when <language> is absent
    categories: tuple[str, ...]
    event: str
    response_types: tuple[str, ...] = ()
    urgency: str
    severity: str
    certainty: str
    audience: str | None = None
    event_codes: tuple[Pair, ...] = ()
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameters: tuple[Pair, ...] = ()
    resources: tuple[CapResource, ...] = ()
    areas: tuple[CapArea, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CapAlert(_Frozen):
    """A CAP ``<alert>``. Times are aware datetimes. ``signed`` says an XML signature was present:
    it is carried through validation but **not verified** (see docs/cap.md) and never written."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    source: str | None = None
    scope: str
    restriction: str | None = None
    addresses: str | None = None
    codes: tuple[str, ...] = ()
    note: str | None = None
    references: str | None = None
    incidents: str | None = None
    infos: tuple[CapInfo, ...] = ()
    signed: bool = field(default=False, compare=False)


# --- levels ---------------------------------------------------------------------------------------

LEVEL_TO_CAP: Mapping[Level, tuple[str, str, str]] = {
    Level.RED: ("Extreme", "Immediate", "Likely"),
    Level.ORANGE: ("Severe", "Expected", "Likely"),
    Level.YELLOW: ("Moderate", "Expected", "Likely"),
    Level.BLUE: ("Minor", "Future", "Likely"),
}
"""Level → (severity, urgency, default certainty). Severity follows the colour one to one; certainty is
"Likely" unless the caller knows the hazard is measured now (``from_warning(certainty="Observed")``).
docs/cap.md explains the choice."""

_SEVERITY_TO_LEVEL = {"Extreme": Level.RED, "Severe": Level.ORANGE, "Moderate": Level.YELLOW, "Minor": Level.BLUE}
_URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")


def cap_to_level(severity: str, urgency: str) -> Level | None:
    """The level for an external alert: its severity decides; urgency "Past" means nothing to warn of.

    Urgency never lowers a severity (an "Extreme" hazard a day away stays red) and an "Unknown"
    severity gets the lowest level, blue, so it is seen without raising alarm.

    >>> cap_to_level("Extreme", "Future"), cap_to_level("Unknown", "Immediate"), cap_to_level("Minor", "Past")
    (<Level.RED: 1>, <Level.BLUE: 4>, None)
    """
    if urgency not in _URGENCIES:
        raise ValueError(f"not a CAP urgency: {urgency!r} (one of {', '.join(_URGENCIES)})")
    if severity != "Unknown" and severity not in _SEVERITY_TO_LEVEL:
        raise ValueError(f"not a CAP severity: {severity!r} (Extreme, Severe, Moderate, Minor or Unknown)")
    if urgency == "Past":
        return None
    return _SEVERITY_TO_LEVEL.get(severity, Level.BLUE)


# --- writing --------------------------------------------------------------------------------------


def cap_time(value: datetime) -> str:
    """A CAP time: Asia/Shanghai offset, whole seconds (CAP allows neither "Z" nor fractions).

    >>> from datetime import UTC
    >>> cap_time(datetime(2026, 1, 31, 20, 0, 5, 999, tzinfo=UTC))
    '2026-02-01T04:00:05+08:00'
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"time {value.isoformat()} has no time zone; pass aware (UTC) datetimes")
    return value.astimezone(CHINA_TZ).replace(microsecond=0).isoformat()


def _num(x: float) -> str:
    """A coordinate as plain decimal digits, exactly as Python's shortest repr (never "1e-05")."""
    if not math.isfinite(x):
        raise ValueError(f"not a finite number: {x!r}")
    text = format(Decimal(repr(float(x))), "f")
    return text[:-2] if text.endswith(".0") else text


def _add(parent: etree._Element, tag: str, value: object) -> None:
    if value is None:
        return
    text = cap_time(value) if isinstance(value, datetime) else str(value)
    try:
        etree.SubElement(parent, tag).text = text
    except ValueError as e:  # control characters and the like, which XML cannot carry
        raise CapError(f"<{tag}> cannot be written as XML: {e}") from None


def _add_pairs(parent: etree._Element, tag: str, pairs: Sequence[Pair]) -> None:
    for name, value in pairs:
        el = etree.SubElement(parent, f"{{{CAP12_NS}}}{tag}")
        _add(el, f"{{{CAP12_NS}}}valueName", name)
        _add(el, f"{{{CAP12_NS}}}value", value)


# CAP's element order (the schema is a sequence), as our field names; _camel() gives the element name
_ALERT_HEAD = ("identifier", "sender", "sent", "status", "msg_type", "source", "scope", "restriction", "addresses")
_INFO_TEXT = (
    "effective",
    "onset",
    "expires",
    "sender_name",
    "headline",
    "description",
    "instruction",
    "web",
    "contact",
)


def to_xml(alert: CapAlert) -> bytes:
    """The alert as a CAP 1.2 document (UTF-8), checked against the bundled schema (``CapError`` if not)."""
    root = etree.Element(f"{{{CAP12_NS}}}alert", nsmap={None: CAP12_NS})

    def add(parent: etree._Element, tag: str, value: object) -> None:
        _add(parent, f"{{{CAP12_NS}}}{tag}", value)

    for tag in _ALERT_HEAD:
        add(root, _camel(tag), getattr(alert, tag))
    for code in alert.codes:
        add(root, "code", code)
    for tag in ("note", "references", "incidents"):
        add(root, tag, getattr(alert, tag))
    for info in alert.infos:
        el = etree.SubElement(root, f"{{{CAP12_NS}}}info")
        add(el, "language", info.language)
        for category in info.categories:
            add(el, "category", category)
        add(el, "event", info.event)
        for response in info.response_types:
            add(el, "responseType", response)
        for tag in ("urgency", "severity", "certainty", "audience"):
            add(el, tag, getattr(info, tag))
        _add_pairs(el, "eventCode", info.event_codes)
        for tag in _INFO_TEXT:
            add(el, _camel(tag), getattr(info, tag))
        _add_pairs(el, "parameter", info.parameters)
        for res in info.resources:
            rel = etree.SubElement(el, f"{{{CAP12_NS}}}resource")
            for tag in ("resource_desc", "mime_type", "size", "uri", "deref_uri", "digest"):
                add(rel, _camel(tag), getattr(res, tag))
        for area in info.areas:
            ael = etree.SubElement(el, f"{{{CAP12_NS}}}area")
            add(ael, "areaDesc", area.area_desc)
            for ring in area.polygons:
                add(ael, "polygon", " ".join(f"{_num(lat)},{_num(lon)}" for lat, lon in ring))
            for lat, lon, radius_km in area.circles:
                add(ael, "circle", f"{_num(lat)},{_num(lon)} {_num(radius_km)}")
            _add_pairs(ael, "geocode", area.geocodes)
            add(ael, "altitude", None if area.altitude is None else _num(area.altitude))
            add(ael, "ceiling", None if area.ceiling is None else _num(area.ceiling))
    _validate(root, CAP12_NS)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# --- schemas and reading --------------------------------------------------------------------------


@cache
def schema(namespace: str = CAP12_NS) -> etree.XMLSchema:
    """The bundled XSD for a CAP namespace (1.2 or 1.1), loaded once; nothing is fetched."""
    name = {CAP12_NS: "cap12.xsd", CAP11_NS: "cap11.xsd"}[namespace]
    data = resources.files("citybrain.warning").joinpath("data", name).read_bytes()
    return etree.XMLSchema(etree.fromstring(data, _parser()))


def _validate(root: etree._Element, namespace: str) -> None:
    xsd = schema(namespace)
    if xsd.validate(root):
        return
    err = xsd.error_log[0]
    # "Element 'scope'" reads better than "Element '{urn:oasis:names:tc:emergency:cap:1.2}scope'"
    message = re.sub(r"\{(?:urn|https?):[^}\s]*\}", "", err.message)
    version = "1.2" if namespace == CAP12_NS else "1.1"
    raise CapError(f"not a valid CAP {version} alert: {message}", line=err.line or None)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)


def parse(data: bytes, *, validate: bool = True, max_bytes: int = MAX_BYTES) -> CapAlert:
    """An external CAP 1.2 (or 1.1) alert, read without resolving anything and checked against its schema.

    Refused with ``CapError``: input over ``max_bytes``, any DOCTYPE or entity declaration, XML that is
    not well-formed, a root that is not a CAP ``<alert>``, and (with ``validate``) any schema violation,
    named with its line. Nothing is fetched or opened: no DTD, entity, XInclude or schemaLocation.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"parse() takes the document's bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise CapError(f"document is {len(data):,} bytes; CAP alerts over {max_bytes:,} bytes are refused")
    if not data.strip():
        raise CapError("document is empty")
    for text in _sniffed(data):
        if m := _DECLARATION.search(text):
            line = text.count(b"\n", 0, m.start()) + 1
            raise CapError("DOCTYPE and entity declarations are refused (CAP needs none; they enable XXE)", line)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        raise CapError(f"not well-formed XML: {e.msg}", line=e.lineno or None) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise CapError("DOCTYPE and entity declarations are refused (CAP needs none; they enable XXE)")
    if next(root.iter(etree.Entity), None) is not None:  # pragma: no cover - needs a declaration, refused above
        raise CapError("entity references are refused")
    namespace = etree.QName(root).namespace
    if etree.QName(root).localname != "alert" or namespace not in (CAP12_NS, CAP11_NS):
        raise CapError(
            f"root element is <{etree.QName(root).localname}> in namespace {namespace!r}, "
            f"not a CAP 1.2 ({CAP12_NS}) or 1.1 <alert>",
            line=root.sourceline,
        )
    if validate:
        _validate(root, namespace)
    return _Reader(namespace).alert(root)


def _sniffed(data: bytes) -> list[bytes]:
    """The bytes to scan for declarations: as given and, for UTF-16/32 input, with the NUL bytes dropped."""
    return [data, data.replace(b"\x00", b"")] if b"\x00" in data[:4] else [data]


class _Reader:
    """Turns a parsed ``<alert>`` element into a ``CapAlert``; malformed values raise ``CapError`` with a line."""

    def __init__(self, namespace: str) -> None:
        self.ns = namespace

    def _all(self, el: etree._Element, tag: str) -> list[etree._Element]:
        return list(el.findall(f"{{{self.ns}}}{tag}"))

    def _text(self, el: etree._Element, tag: str, *, strip: bool = False) -> str | None:
        child = el.find(f"{{{self.ns}}}{tag}")
        if child is None:
            return None
        text = child.text or ""
        return text.strip() if strip else text

    def _required(self, el: etree._Element, tag: str) -> str:
        value = self._text(el, tag, strip=True)
        if not value:
            raise CapError(f"<{etree.QName(el).localname}> has no <{tag}>", line=el.sourceline)
        return value

    def _time(self, el: etree._Element, tag: str) -> datetime | None:
        child = el.find(f"{{{self.ns}}}{tag}")
        if child is None:
            return None
        try:
            value = datetime.fromisoformat((child.text or "").strip())
        except ValueError:
            raise CapError(f"<{tag}> {child.text!r} is not a date-time", line=child.sourceline) from None
        if value.tzinfo is None:
            raise CapError(f"<{tag}> {child.text!r} has no UTC offset", line=child.sourceline)
        return value

    def _number(self, el: etree._Element, text: str, what: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise CapError(
                f"<{etree.QName(el).localname}> has a {what} that is not a number: {text!r}", line=el.sourceline
            )
        return value

    def _point(self, el: etree._Element, pair: str) -> tuple[float, float]:
        lat_s, sep, lon_s = pair.partition(",")
        lat, lon = self._number(el, lat_s, "latitude"), self._number(el, lon_s if sep else "", "longitude")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise CapError(
                f"<{etree.QName(el).localname}> point {pair!r} is outside WGS84 lat/lon ranges", line=el.sourceline
            )
        return lat, lon

    def _pairs(self, el: etree._Element, tag: str) -> tuple[Pair, ...]:
        return tuple((self._required(p, "valueName"), self._text(p, "value") or "") for p in self._all(el, tag))

    def _area(self, el: etree._Element) -> CapArea:
        polygons = []
        for p in self._all(el, "polygon"):
            ring = tuple(self._point(p, pair) for pair in (p.text or "").split())
            if len(ring) < 4 or ring[0] != ring[-1]:
                raise CapError(
                    "<polygon> must be a closed ring of at least four lat,lon pairs (first = last)", line=p.sourceline
                )
            polygons.append(ring)
        circles = []
        for c in self._all(el, "circle"):
            centre, _, radius = (c.text or "").strip().partition(" ")
            circles.append((*self._point(c, centre), self._number(c, radius.strip(), "radius")))
        altitude, ceiling = self._text(el, "altitude", strip=True), self._text(el, "ceiling", strip=True)
        return CapArea(
            area_desc=self._text(el, "areaDesc") or "",
            polygons=tuple(polygons),
            circles=tuple(circles),
            geocodes=self._pairs(el, "geocode"),
            altitude=None if altitude is None else self._number(el, altitude, "altitude"),
            ceiling=None if ceiling is None else self._number(el, ceiling, "ceiling"),
        )

    def _resource(self, el: etree._Element) -> CapResource:
        size = self._text(el, "size", strip=True)
        if size is not None and not size.isdigit():
            raise CapError(f"<resource> size {size!r} is not a whole number", line=el.sourceline)
        return CapResource(
            resource_desc=self._text(el, "resourceDesc") or "",
            mime_type=self._text(el, "mimeType", strip=True) or "",
            size=None if size is None else int(size),
            uri=self._text(el, "uri", strip=True),
            deref_uri=self._text(el, "derefUri", strip=True),
            digest=self._text(el, "digest", strip=True),
        )

    def _info(self, el: etree._Element) -> CapInfo:
        t = self._text
        return CapInfo(
            language=t(el, "language", strip=True) or "en-US",
            categories=tuple((c.text or "").strip() for c in self._all(el, "category")),
            event=t(el, "event") or "",
            response_types=tuple((r.text or "").strip() for r in self._all(el, "responseType")),
            urgency=self._required(el, "urgency"),
            severity=self._required(el, "severity"),
            certainty=self._required(el, "certainty"),
            audience=t(el, "audience"),
            event_codes=self._pairs(el, "eventCode"),
            effective=self._time(el, "effective"),
            onset=self._time(el, "onset"),
            expires=self._time(el, "expires"),
            sender_name=t(el, "senderName"),
            headline=t(el, "headline"),
            description=t(el, "description"),
            instruction=t(el, "instruction"),
            web=t(el, "web", strip=True),
            contact=t(el, "contact"),
            parameters=self._pairs(el, "parameter"),
            resources=tuple(self._resource(r) for r in self._all(el, "resource")),
            areas=tuple(self._area(a) for a in self._all(el, "area")),
        )

    def alert(self, root: etree._Element) -> CapAlert:
        sent = self._time(root, "sent")
        if sent is None:
            raise CapError("<alert> has no <sent>", line=root.sourceline)
        return CapAlert(
            identifier=self._required(root, "identifier"),
            sender=self._required(root, "sender"),
            sent=sent,
            status=self._required(root, "status"),
            msg_type=self._required(root, "msgType"),
            source=self._text(root, "source"),
            scope=self._required(root, "scope"),
            restriction=self._text(root, "restriction"),
            addresses=self._text(root, "addresses"),
            codes=tuple(c.text or "" for c in self._all(root, "code")),
            note=self._text(root, "note"),
            references=self._text(root, "references"),
            incidents=self._text(root, "incidents"),
            infos=tuple(self._info(i) for i in self._all(root, "info")),
            signed=root.find(f"{{{DSIG_NS}}}Signature") is not None,
        )


# --- from a warning -------------------------------------------------------------------------------

CATEGORIES = (
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
)
RESPONSE_TYPES = ("Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
_BAD_ID = re.compile(r"[\s,<&]")


def _cap_id(name: str, value: str) -> str:
    if not value or _BAD_ID.search(value):
        raise ValueError(f"{name} {value!r} must be non-empty without spaces, commas, '<' or '&' (CAP 1.2 §3.2.1)")
    return value


def _whole_seconds(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} {value.isoformat()} has no time zone; pass aware (UTC) datetimes")
    return value.replace(microsecond=0)


def from_warning(
    *,
    identifier: str,
    sender: str,
    sent: datetime,
    level: Level | str | int,
    status: str = "Actual",
    msg_type: str = "Alert",
    references: Sequence[tuple[str, str, datetime]] = (),
    event_zh: str,
    event_en: str,
    headline_zh: str | None = None,
    headline_en: str | None = None,
    description_zh: str | None = None,
    description_en: str | None = None,
    instruction_zh: str | None = None,
    instruction_en: str | None = None,
    onset: datetime | None = None,
    expires: datetime | None = None,
    area_desc_zh: str | None = None,
    area_desc_en: str | None = None,
    polygon: Sequence[tuple[float, float]] | None = None,
    circle: tuple[float, float, float] | None = None,
    category: str | Sequence[str] = "Safety",
    web: str | None = None,
    certainty: str | None = None,
    response_types: Sequence[str] = (),
    sender_name_zh: str | None = None,
    sender_name_en: str | None = None,
    contact: str | None = None,
    note: str | None = None,
    incidents: str | None = None,
    parameters: Sequence[Pair] = (),
) -> CapAlert:
    """A public CAP alert for one warning: a ``zh-CN`` and an ``en`` info block with the same facts.

    ``polygon`` is WGS84 (lon, lat) pairs (closed here if open); ``circle`` is (lon, lat, radius in
    metres); both become CAP's lat-first forms. ``references`` are the (sender, identifier, sent) of the
    alerts an Update or Cancel replaces. Times must be aware; fractions of a second are dropped.
    """
    lvl = Level.parse(level)
    if status not in ("Actual", "Exercise", "Test"):
        raise ValueError(f"status {status!r}: use Actual, Exercise or Test")
    if msg_type not in ("Alert", "Update", "Cancel"):
        raise ValueError(f"msg_type {msg_type!r}: use Alert, Update or Cancel")
    if msg_type != "Alert" and not references:
        raise ValueError(f"a {msg_type} must give the references of the alert(s) it replaces")
    severity, urgency, default_certainty = LEVEL_TO_CAP[lvl]
    categories = (category,) if isinstance(category, str) else tuple(category)
    for name, values, allowed in (
        ("category", categories, CATEGORIES),
        ("response type", tuple(response_types), RESPONSE_TYPES),
        ("certainty", (certainty,) if certainty else (), CERTAINTIES),
    ):
        for value in values:
            if value not in allowed:
                raise ValueError(f"{name} {value!r} is not a CAP 1.2 value (one of {', '.join(allowed)})")
    sent_s = _whole_seconds("sent", sent)
    onset_s = None if onset is None else _whole_seconds("onset", onset)
    expires_s = None if expires is None else _whole_seconds("expires", expires)
    if expires_s is not None and expires_s <= (onset_s or sent_s):
        raise ValueError(f"expires {expires_s.isoformat()} is not after onset/sent")
    refs = " ".join(
        f"{_cap_id('reference sender', s)},{_cap_id('reference identifier', i)},{cap_time(t)}" for s, i, t in references
    )
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    if polygon is not None:
        ring = [(_lat(lat), _lon(lon)) for lon, lat in polygon]
        if len(set(ring)) < 3:
            raise ValueError("polygon needs at least three distinct (lon, lat) points")
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        polygons = (tuple(ring),)
    circles: tuple[tuple[float, float, float], ...] = ()
    if circle is not None:
        lon, lat, radius_m = circle
        if not (math.isfinite(radius_m) and radius_m >= 0):
            raise ValueError(f"circle radius {radius_m!r} m must be a finite number ≥ 0")
        circles = ((_lat(lat), _lon(lon), radius_m / 1000),)
    if (polygons or circles) and not (area_desc_zh or area_desc_en):
        raise ValueError("an area (polygon or circle) needs area_desc_zh or area_desc_en")
    params = (("level", lvl.colour), *parameters)

    def info(
        language: str,
        event: str,
        headline: str | None,
        description: str | None,
        instruction: str | None,
        area_desc: str | None,
        sender_name: str | None,
    ) -> CapInfo:
        areas = (CapArea(area_desc=area_desc, polygons=polygons, circles=circles),) if area_desc else ()
        return CapInfo(
            language=language,
            categories=categories,
            event=event,
            response_types=tuple(response_types),
            urgency=urgency,
            severity=severity,
            certainty=certainty or default_certainty,
            onset=onset_s,
            expires=expires_s,
            sender_name=sender_name,
            headline=headline,
            description=description,
            instruction=instruction,
            web=web,
            contact=contact,
            parameters=params,
            areas=areas,
        )

    return CapAlert(
        identifier=_cap_id("identifier", identifier),
        sender=_cap_id("sender", sender),
        sent=sent_s,
        status=status,
        msg_type=msg_type,
        scope="Public",
        note=note,
        references=refs or None,
        incidents=incidents,
        infos=(
            info(
                "zh-CN",
                event_zh,
                headline_zh,
                description_zh,
                instruction_zh,
                area_desc_zh or area_desc_en,
                sender_name_zh,
            ),
            info(
                "en",
                event_en,
                headline_en,
                description_en,
                instruction_en,
                area_desc_en or area_desc_zh,
                sender_name_en,
            ),
        ),
    )


def _lat(value: float) -> float:
    if not (math.isfinite(value) and -90 <= value <= 90):
        raise ValueError(f"latitude {value!r} is outside -90..90 (pass (lon, lat), WGS84)")
    return float(value)


def _lon(value: float) -> float:
    if not (math.isfinite(value) and -180 <= value <= 180):
        raise ValueError(f"longitude {value!r} is outside -180..180 (pass (lon, lat), WGS84)")
    return float(value)
