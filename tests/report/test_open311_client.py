"""Open311 read through the published client library ``georeport`` against the real app on a local port,
in JSON and in XML: the library finds every field where the GeoReport v2 specification puts it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from georeport import GeoReport

from citybrain.report import service

FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
          "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
          "address", "address_id", "zipcode", "lat", "long", "media_url"}


@pytest.fixture
def posted(live_server) -> tuple[str, str]:  # noqa: ANN001
    with live_server.database.session() as s:
        _row, key = service.create_api_key(session=s, now=datetime.now(UTC), name="georeport test")
    r = requests.post(f"{live_server.url}/open311/v2/requests.json", timeout=10, data={
        "api_key": key, "service_code": "manhole_missing", "lat": "31.2304", "long": "121.4737",
        "attribute[traffic_lane]": "true", "description": "人民大道井盖缺失", "phone": "13812345678"})
    assert r.status_code == 200, r.text
    return key, r.json()[0]["service_request_id"]


def test_the_georeport_client_reads_services_definitions_and_requests(live_server, posted) -> None:  # noqa: ANN001
    key, srid = posted
    for fmt in ("json", "xml"):
        client = GeoReport(root_address=live_server.url + "/open311/v2", api_key=key, output_format=fmt)
        services = client.get_service_list()
        codes = [s["service_code"] for s in services]
        assert "gas_smell" in codes and "manhole_missing" in codes and len(codes) == 11
        definition = client.get_service_definition("manhole_missing")
        attrs = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
        attrs = attrs if isinstance(attrs, list) else [attrs]
        assert attrs[0]["code"] == "traffic_lane"
        one = client.get_service_request(srid)
        assert set(one) == FIELDS and one["service_request_id"] == srid
        assert str(one["status"]) == "open" and float(one["lat"]) == 31.2304 and float(one["long"]) == 121.4737
        listed = client.get_service_requests(service_code="manhole_missing", status="open")
        listed = listed if isinstance(listed, list) else [listed]
        assert [x["service_request_id"] for x in listed] == [srid]
        assert "13812345678" not in str(listed)
        assert client.get_service_requests(service_request_id=srid) is not None
    client = GeoReport(root_address=live_server.url + "/open311/v2")  # errors are HTTP errors
    with pytest.raises(requests.HTTPError) as exc:
        client.get_service_request("SR-00000000-000000")
    assert exc.value.response.status_code == 404 and exc.value.response.json()[0]["code"] == 404
