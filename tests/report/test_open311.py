"""Open311 GeoReport v2 over plain HTTP: form posts with an api_key, the specification's field names and error
documents (JSON and XML, the same data), filters and defaults of the request list, no contact details out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import etree

from citybrain.report import service
from tests.report import PEOPLES_SQUARE

LON, LAT = PEOPLES_SQUARE
BASE = "/open311/v2"
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}
SAFE = etree.XMLParser(resolve_entities=False, no_network=True)


def xml(content: bytes) -> etree._Element:
    return etree.fromstring(content, SAFE)


@pytest.fixture
def api_key(database, clock) -> str:  # noqa: ANN001
    with database.session() as s:
        return service.create_api_key(session=s, now=clock.now(), name="test client")[1]


def create(client, api_key: str, fmt: str = "json", **fields: str):  # noqa: ANN001, ANN201
    data = {"api_key": api_key, "service_code": "gas_smell", "lat": str(LAT), "long": str(LON),
            "attribute[smell_strength]": "strong", "description": "人民广场附近很浓的煤气味",
            "email": "citizen@example.com", "phone": "13812345678", "first_name": "三", "last_name": "张",
            "device_id": "dev-1", "account_id": "acct-9", **fields}
    return client.post(f"{BASE}/requests.{fmt}", data={k: v for k, v in data.items() if v is not None})


def test_discovery_and_services_in_json_and_xml_carry_the_same_data(client) -> None:  # noqa: ANN001
    d = client.get(f"{BASE}/discovery.json").json()
    assert d["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert d["endpoints"][0]["url"].endswith("/open311/v2")
    assert xml(client.get(f"{BASE}/discovery.xml").content).findtext("endpoints/endpoint/formats/format") == "text/xml"
    services = client.get(f"{BASE}/services.json").json()
    assert set(services[0]) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    gas = next(s for s in services if s["service_code"] == "gas_smell")
    assert gas["service_name"] == "燃气异味" and gas["metadata"] is True and gas["type"] == "realtime"
    r = client.get(f"{BASE}/services.xml")
    assert r.headers["content-type"].startswith("text/xml")
    nodes = xml(r.content).findall("service")
    assert [n.findtext("service_code") for n in nodes] == [s["service_code"] for s in services]
    assert nodes[0].findtext("metadata") == "true"
    en = client.get(f"{BASE}/services.json", headers={"Accept-Language": "en-GB"}).json()
    assert next(s for s in en if s["service_code"] == "gas_smell")["service_name"] == "Gas smell"


def test_a_service_definition_lists_its_attributes(client) -> None:  # noqa: ANN001
    d = client.get(f"{BASE}/services/gas_smell.json").json()
    assert d["service_code"] == "gas_smell"
    attr = d["attributes"][0]
    assert {"variable", "code", "datatype", "required", "datatype_description", "order", "description"} <= set(attr)
    assert (attr["code"], attr["datatype"], attr["required"], attr["order"]) == ("smell_strength", "singlevaluelist",
                                                                                 True, 1)
    assert [v["key"] for v in attr["values"]] == ["faint", "clear", "strong"]
    root = xml(client.get(f"{BASE}/services/gas_smell.xml").content)
    assert root.tag == "service_definition"
    assert [v.findtext("key") for v in root.findall("attributes/attribute/values/value")][:3] == [
        "faint", "clear", "strong"]
    missing = client.get(f"{BASE}/services/unicorns.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404


def test_posting_creates_a_request_and_reads_show_it_without_contact_details(client, api_key) -> None:  # noqa: ANN001
    r = create(client, api_key)
    assert r.status_code == 200, r.text
    [created] = r.json()
    assert set(created) == {"service_request_id", "token", "service_notice", "account_id"}
    assert created["account_id"] == "acct-9" and "119" in created["service_notice"]
    srid = created["service_request_id"]
    assert client.get(f"{BASE}/tokens/{created['token']}.json").json() == [
        {"service_request_id": srid, "token": created["token"]}]
    [one] = client.get(f"{BASE}/requests/{srid}.json").json()
    assert set(one) == REQUEST_FIELDS
    assert (one["status"], one["service_code"], one["lat"], one["long"]) == ("open", "gas_smell", LAT, LON)
    assert one["requested_datetime"] == "2026-11-30T09:00:00+08:00"
    assert one["expected_datetime"] is not None
    text = client.get(f"{BASE}/requests.json").text + client.get(f"{BASE}/requests.xml").text
    for secret in ("13812345678", "citizen@example.com", "张三", "dev-1"):
        assert secret not in text
    node = xml(client.get(f"{BASE}/requests/{srid}.xml").content).find("request")
    assert {c.tag for c in node} == REQUEST_FIELDS
    assert node.findtext("service_request_id") == srid and float(node.findtext("lat")) == LAT
    x = xml(create(client, api_key, fmt="xml", lat=str(LAT + 0.01)).content)
    assert x.tag == "service_requests" and x.findtext("request/service_request_id").startswith("SR-")


def test_errors_use_the_specification_format_and_name_the_field(client, api_key) -> None:  # noqa: ANN001
    r = create(client, api_key, service_code=None)
    assert r.status_code == 400 and r.json() == [{"code": 400, "description": "service_code: required"}]
    r = create(client, "wrong-key")
    assert r.status_code == 403 and r.json()[0]["code"] == 403
    r = create(client, "", fmt="xml")
    assert r.status_code == 403 and xml(r.content).findtext("error/code") == "403"
    r = create(client, api_key, lat=None, long=None)
    assert r.status_code == 400 and "lat" in r.json()[0]["description"]
    r = create(client, api_key, **{"attribute[smell_strength]": "boiling"})
    assert r.status_code == 400 and "attribute[smell_strength]" in r.json()[0]["description"]
    r = create(client, api_key, lat="north")
    assert r.status_code == 400 and r.json()[0]["description"].startswith("lat")
    r = client.get(f"{BASE}/requests/SR-00000000-000000.xml")
    assert r.status_code == 404 and xml(r.content).findtext("error/code") == "404"
    assert client.get(f"{BASE}/requests.json", params={"start_date": "yesterday"}).json()[0]["code"] == 400
    assert client.get(f"{BASE}/requests.json", params={"status": "pending"}).status_code == 400
    assert client.get(f"{BASE}/services.yaml").status_code == 404


def test_an_address_alone_is_enough(client, api_key) -> None:  # noqa: ANN001
    r = create(client, api_key, lat=None, long=None, address_string="黄浦区人民大道200号")
    assert r.status_code == 200, r.text
    [one] = client.get(f"{BASE}/requests/{r.json()[0]['service_request_id']}.json").json()
    assert one["address"] == "黄浦区人民大道200号" and one["lat"] is None


def test_the_request_list_filters_by_id_code_status_and_date(client, api_key, database, clock) -> None:  # noqa: ANN001
    gas = create(client, api_key).json()[0]["service_request_id"]
    water = create(client, api_key, service_code="waterlogging", **{"attribute[smell_strength]": None},
                   description="积水", lat=str(LAT + 0.05)).json()[0]["service_request_id"]
    with database.session() as s:
        service.get_by_request_id_or_raise(session=s, service_request_id=water).case_status = "closed"
    ids = lambda **p: [x["service_request_id"] for x in client.get(f"{BASE}/requests.json", params=p).json()]  # noqa: E731
    assert ids() == [water, gas] or set(ids()) == {water, gas}
    assert ids(service_request_id=f"{gas},{water}", status="open") and set(
        ids(service_request_id=f"{gas},{water}")) == {gas, water}  # ids override the other filters
    assert ids(service_code="gas_smell") == [gas]
    assert ids(status="closed") == [water] and ids(status="open") == [gas]
    later = (clock.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(start_date=later) == []
    assert set(ids(start_date="2026-11-29T00:00:00Z", end_date="2026-12-01T00:00:00+08:00")) == {gas, water}
    too_long = client.get(f"{BASE}/requests.json", params={"start_date": "2026-01-01T00:00:00Z",
                                                            "end_date": "2026-12-01T00:00:00Z"})
    assert too_long.status_code == 400 and "end_date" in too_long.json()[0]["description"]
    clock.advance(days=91)  # the default window is the last 90 days
    assert ids() == []
