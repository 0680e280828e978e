"""CAP 1.2: what we publish validates against the bundled schema; what we ingest is read safely."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest
from lxml import etree

from citybrain.warning.cap import (
    CAP12_NS,
    LEVEL_TO_CAP,
    MAX_BYTES,
    CapAlert,
    CapArea,
    CapError,
    CapInfo,
    cap_to_level,
    from_warning,
    parse,
    to_xml,
)
from citybrain.warning.types import Level
from tests.support import shared_data

NS = {"cap": CAP12_NS}
SENT = datetime(2026, 7, 1, 2, 30, 15, 123456, tzinfo=UTC)  # 10:30:15 in Shanghai
# People's Square, as WGS84 (lon, lat)
SQUARE = [(121.470, 31.228), (121.478, 31.228), (121.478, 31.234), (121.470, 31.234)]


@pytest.fixture(scope="module")
def xsd() -> etree.XMLSchema:
    """The schema shipped in the package, read independently of the module under test."""
    data = resources.files("citybrain.warning").joinpath("data", "cap12.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(data))


def warning_args(level: Level = Level.ORANGE, *, area: str | None = "both") -> dict[str, object]:
    """The plain values the lead's code passes from a warning row."""
    args: dict[str, object] = dict(
        identifier="citybrain-w-42",
        sender="ops@citybrain.example",
        sent=SENT,
        level=level,
        event_zh="燃气泄漏",
        event_en="Gas leak",
        headline_zh=f"{level.name_zh}预警：燃气浓度超限",
        headline_en=f"{level.colour.title()} warning: gas concentration over the limit",
        description_zh="人民广场地下管廊甲烷浓度 2.1 %LEL <持续上升> & 扩散",
        description_en="Methane at 2.1 %LEL in the utility tunnel <rising> & spreading",
        instruction_zh="请远离该区域。",
        instruction_en="Keep away from the area.",
        onset=SENT,
        expires=SENT + timedelta(hours=6),
        category="Infra",
        web="https://city.example/warnings/42",
    )
    if area is not None:
        args.update(area_desc_zh="人民广场", area_desc_en="People's Square")
    if area in ("polygon", "both"):
        args["polygon"] = SQUARE
    if area in ("circle", "both"):
        args["circle"] = (121.4737, 31.2304, 500)
    return args


def warning_alert(level: Level = Level.ORANGE, *, area: str | None = "both", **overrides: object) -> CapAlert:
    return from_warning(**{**warning_args(level, area=area), **overrides})  # type: ignore[arg-type]


# --- what we publish -------------------------------------------------------------------------------


@pytest.mark.parametrize("level", list(Level))
@pytest.mark.parametrize("area", [None, "polygon", "circle", "both"])
def test_exported_alert_validates_against_the_shipped_schema(xsd: etree.XMLSchema, level: Level, area: str) -> None:
    doc = etree.fromstring(to_xml(warning_alert(level, area=area)))
    assert xsd.validate(doc), xsd.error_log
    assert doc.tag == f"{{{CAP12_NS}}}alert"
    severity, urgency, certainty = LEVEL_TO_CAP[level]
    for info in doc.findall("cap:info", NS):
        assert info.findtext("cap:severity", namespaces=NS) == severity
        assert info.findtext("cap:urgency", namespaces=NS) == urgency
        assert info.findtext("cap:certainty", namespaces=NS) == certainty
    assert len(doc.findall("cap:info/cap:area", NS)) == (0 if area is None else 2)


def test_times_are_shanghai_offsets_in_whole_seconds_never_z() -> None:
    xml = to_xml(warning_alert()).decode()
    times = re.findall(r"<(sent|onset|expires)>([^<]*)<", xml)
    assert {tag for tag, _ in times} == {"sent", "onset", "expires"}
    for _, value in times:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", value), value
    assert "<sent>2026-07-01T10:30:15+08:00</sent>" in xml
    assert "<expires>2026-07-01T16:30:15+08:00</expires>" in xml
    assert not re.search(r"\d\dZ<", xml)


def test_one_chinese_and_one_english_info_block() -> None:
    doc = etree.fromstring(to_xml(warning_alert()))
    infos = doc.findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["zh-CN", "en"]
    assert infos[0].findtext("cap:event", namespaces=NS) == "燃气泄漏"
    assert infos[1].findtext("cap:event", namespaces=NS) == "Gas leak"
    assert infos[0].findtext("cap:area/cap:areaDesc", namespaces=NS) == "人民广场"
    assert infos[1].findtext("cap:area/cap:areaDesc", namespaces=NS) == "People's Square"
    # the markup-like text is escaped by the serialiser, not mistaken for elements
    assert infos[1].findtext("cap:description", namespaces=NS).endswith("<rising> & spreading")


def test_areas_are_lat_lon_closed_rings_and_circles_in_km() -> None:
    doc = etree.fromstring(to_xml(warning_alert()))
    polygon = doc.findtext("cap:info/cap:area/cap:polygon", namespaces=NS)
    pairs = polygon.split()
    assert pairs[0] == "31.228,121.47" and pairs[-1] == pairs[0] and len(pairs) == 5
    assert doc.findtext("cap:info/cap:area/cap:circle", namespaces=NS) == "31.2304,121.4737 0.5"


@pytest.mark.parametrize("area", [None, "polygon", "circle", "both"])
def test_round_trip_keeps_every_field(area: str | None) -> None:
    alert = warning_alert(Level.RED, area=area, certainty="Observed", response_types=["Avoid", "Monitor"])
    assert parse(to_xml(alert)) == alert
    assert alert.sent == SENT.replace(microsecond=0)


def test_round_trip_of_a_hand_built_alert_with_the_rarer_fields() -> None:
    alert = CapAlert(
        identifier="x-1",
        sender="a@b.example",
        sent=SENT.replace(microsecond=0),
        status="Exercise",
        msg_type="Alert",
        source="drill",
        scope="Restricted",
        restriction="operations centre only",
        codes=["drill", "citybrain"],
        note="演练 exercise",
        incidents="inc-7",
        infos=[
            CapInfo(
                categories=["Fire", "Rescue"],
                event="Fire",
                urgency="Unknown",
                severity="Unknown",
                certainty="Possible",
                audience="responders",
                event_codes=[("profile", "X")],
                effective=SENT.replace(microsecond=0),
                contact="110",
                parameters=[("level", "red")],
                areas=[CapArea(area_desc="A", geocodes=[("adcode", "310101")], altitude=12.5, ceiling=100)],
            )
        ],
    )
    assert parse(to_xml(alert)) == alert
    assert parse(to_xml(alert)).infos[0].language == "en-US"  # CAP's default, written explicitly


def test_update_and_cancel_reference_the_alert_they_replace() -> None:
    alert = warning_alert(
        msg_type="Cancel", references=[("ops@citybrain.example", "citybrain-w-41", datetime(2026, 7, 1, tzinfo=UTC))]
    )
    assert alert.references == "ops@citybrain.example,citybrain-w-41,2026-07-01T08:00:00+08:00"
    assert parse(to_xml(alert)).msg_type == "Cancel"
    with pytest.raises(ValueError, match="references"):
        warning_alert(msg_type="Update")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"sent": datetime(2026, 7, 1)}, "no time zone"),
        ({"identifier": "has space"}, "identifier"),
        ({"sender": "a,b"}, "sender"),
        ({"category": "Weather"}, "category"),
        ({"certainty": "Sure"}, "certainty"),
        ({"status": "Draft"}, "status"),
        ({"expires": SENT - timedelta(hours=1)}, "expires"),
        ({"polygon": [(31.2, 121.4), (31.3, 121.4), (31.3, 121.5)]}, "latitude"),  # (lat, lon) by mistake
        ({"area_desc_zh": None, "area_desc_en": None}, "area_desc"),
        ({"level": "purple"}, "warning level"),
        ({"circle": (121.47, 31.23, -5)}, "radius"),
    ],
)
def test_from_warning_refuses_what_cap_cannot_carry(overrides: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        from_warning(**{**warning_args(), **overrides})  # type: ignore[arg-type]


def test_to_xml_names_a_field_xml_cannot_carry() -> None:
    alert = warning_alert()
    bad = replace(alert, infos=[replace(alert.infos[0], headline="bell \x07")])
    with pytest.raises(CapError, match="headline"):
        to_xml(bad)
    with pytest.raises(CapError, match="severity"):
        to_xml(replace(alert, infos=[replace(alert.infos[0], severity="Catastrophic")]))


# --- levels ---------------------------------------------------------------------------------------


def test_level_mapping_is_ordered_and_reversible() -> None:
    severities = [LEVEL_TO_CAP[level][0] for level in sorted(Level)]
    assert severities == ["Extreme", "Severe", "Moderate", "Minor"]
    for level, (severity, urgency, _) in LEVEL_TO_CAP.items():
        assert cap_to_level(severity, urgency) is level


def test_external_alerts_map_by_severity_and_past_means_no_warning() -> None:
    assert cap_to_level("Extreme", "Future") is Level.RED  # timing never lowers a severity
    assert cap_to_level("Minor", "Immediate") is Level.BLUE
    assert cap_to_level("Unknown", "Unknown") is Level.BLUE
    assert cap_to_level("Severe", "Past") is None
    with pytest.raises(ValueError, match="severity"):
        cap_to_level("Bad", "Immediate")
    with pytest.raises(ValueError, match="urgency"):
        cap_to_level("Minor", "Soon")


# --- what we ingest: the shared real-world examples -------------------------------------------------

VALID = {  # file: (identifier prefix, carries an XML signature)
    "australia.cap": ("tag:www.rfs.nsw.gov.au", False),
    "canada.cap": ("2.49.0.1.124.6bddbc91", False),
    "canada_errors.cap": ("2.49.0.1.124.6bddbc91", False),  # breaks the Canadian profile, not the schema
    "canada_signed.cap": ("2.49.0.1.124.f2c83f5f", True),
    "earthquake-iso8859-1.cap": ("USGS-earthquakes-usB000D5T4", True),
    "earthquake.cap": ("USGS-earthquakes-us2010apcd", False),  # CAP 1.1
    "no_optional_fields.cap": ("USGS-earthquakes-us2010apcd", False),  # CAP 1.1
    "wcatwc-warning.cap": ("PAAQ-2-lqw6d6", False),
    "weather.cap": ("NOAA-NWS-ALERTS-MT201008301007", False),  # CAP 1.1
}
INVALID = {  # file: (line, words the message must contain)
    "invalid.cap": (9, "scope"),
    "earthquake_signed.cap": (76, "Signature"),  # CAP 1.1 has no place for a signature
    "noaa_errors.cap": (17, "urgency"),
}


def example(name: str) -> bytes:
    return (shared_data() / "cap" / "examples" / name).read_bytes()


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(VALID))
def test_every_valid_shared_example_parses_and_round_trips(name: str) -> None:
    alert = parse(example(name))
    prefix, signed = VALID[name]
    assert alert.identifier.startswith(prefix)
    assert alert.signed is signed
    assert alert.sent.utcoffset() is not None
    assert parse(to_xml(alert)) == alert  # every field we read, we can write back as valid CAP 1.2
    assert b"Signature" not in to_xml(alert)  # an unverified signature is never re-emitted


@pytest.mark.shared_data
def test_examples_geometry_is_read_lat_first() -> None:
    area = parse(example("australia.cap")).infos[0].areas[0]
    assert area.circles == ((-35.3888, 147.0598, 25.0),)
    ring = parse(example("canada.cap")).infos[0].areas[0].polygons[0]
    assert ring[0] == (42.3481, -82.9314) and ring[0] == ring[-1]


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_shared_examples_are_rejected_with_the_element_and_line(name: str) -> None:
    line, word = INVALID[name]
    with pytest.raises(CapError) as caught:
        parse(example(name))
    assert caught.value.line == line
    assert word in str(caught.value) and f"line {line}" in str(caught.value)
    assert "{urn:" not in str(caught.value)  # namespaces are stripped so the message reads plainly


@pytest.mark.shared_data
def test_shipped_schemas_are_the_shared_ones() -> None:
    for name in ("cap12.xsd", "cap11.xsd"):
        shipped = resources.files("citybrain.warning").joinpath("data", name).read_bytes()
        assert shipped == (shared_data() / "cap" / name).read_bytes()


# --- what we refuse ------------------------------------------------------------------------------


def _passwd_fragments() -> list[str]:
    try:
        lines = Path("/etc/passwd").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines[:5] if line]


@pytest.mark.shared_data
@pytest.mark.parametrize("validate", [True, False])
def test_xxe_sample_is_refused_without_reading_anything(validate: bool) -> None:
    with pytest.raises(CapError) as caught:
        parse(example("xee.cap"), validate=validate)
    message = str(caught.value)
    assert "DOCTYPE" in message and caught.value.line == 3
    for fragment in [*_passwd_fragments(), "root:x:0:0"]:
        assert fragment not in message


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP port that records whether anybody connected (a fetched DTD, entity, XInclude or schema)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def _connected(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
    except BlockingIOError:
        return False
    return True


HOSTILE_BODY = """<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
 <x xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{url}/xinclude" parse="text"/></x>
 <y xmlns="http://a.example/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://a.example/ {url}/a.xsd">a</y>
 <identifier>id{ref}</identifier><sender>s</sender><sent>2026-07-01T10:00:00+08:00</sent>
 <status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
</alert>"""


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_entity_declarations_are_refused_and_nothing_is_fetched_or_read(
    tmp_path: Path, listener: socket.socket, encoding: str
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711")
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    doc = (
        f'<?xml version="1.0" encoding="{encoding.upper()}"?>\n'
        f'<!DOCTYPE alert SYSTEM "{url}/dtd" [\n'
        f'  <!ENTITY file SYSTEM "{secret.as_uri()}">\n'
        f'  <!ENTITY % remote SYSTEM "{url}/remote"> %remote;\n'
        f"]>\n" + HOSTILE_BODY.format(url=url, ref="&file;")
    )
    with pytest.raises(CapError, match="DOCTYPE") as caught:
        parse(doc.encode(encoding))
    assert "TOP-SECRET" not in str(caught.value)
    assert not _connected(listener)


def test_xinclude_and_schema_location_are_never_followed(listener: socket.socket) -> None:
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    doc = HOSTILE_BODY.format(url=url, ref="").encode()
    with pytest.raises(CapError, match="not expected"):  # foreign elements are not CAP
        parse(doc)
    alert = parse(doc, validate=False)  # read leniently: the foreign elements are ignored, not fetched
    assert alert.identifier == "id"
    assert not _connected(listener)


def test_internal_entity_expansion_is_refused() -> None:
    laughs = (
        '<?xml version="1.0"?>\n<!DOCTYPE alert [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        + HOSTILE_BODY.format(url="http://x.invalid", ref="&b;")
    )
    with pytest.raises(CapError, match="DOCTYPE"):
        parse(laughs.encode())


def test_oversized_input_is_refused_before_parsing() -> None:
    with pytest.raises(CapError, match="bytes"):
        parse(b"<alert>" + b" " * MAX_BYTES + b"</alert>")
    small = to_xml(warning_alert())
    with pytest.raises(CapError, match="bytes"):
        parse(small, max_bytes=len(small) - 1)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>", "well-formed"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "not a CAP"),
        (b"<alert xmlns='http://www.incident.com/cap/1.0'/>", "not a CAP"),
    ],
)
def test_garbage_gets_a_clear_error(data: bytes, match: str) -> None:
    with pytest.raises(CapError, match=match):
        parse(data)


def test_cap_error_is_a_value_error_with_a_line() -> None:
    doc = to_xml(warning_alert()).replace(b"<scope>Public</scope>", b"<scope>Everyone</scope>")
    with pytest.raises(ValueError, match=r"line \d+: .*scope.*Everyone") as caught:
        parse(doc)
    line = doc[: doc.index(b"<scope>")].count(b"\n") + 1
    assert isinstance(caught.value, CapError) and caught.value.line == line


def test_non_utf8_encodings_are_read() -> None:
    alert = warning_alert(area=None, description_en="Zürich – 50 °C")
    latin = etree.tostring(etree.fromstring(to_xml(alert)), encoding="ISO-8859-1", xml_declaration=True)
    assert b"encoding='ISO-8859-1'" in latin
    assert parse(latin) == alert


def test_parse_takes_bytes() -> None:
    with pytest.raises(TypeError):
        parse(to_xml(warning_alert()).decode())  # type: ignore[arg-type]
