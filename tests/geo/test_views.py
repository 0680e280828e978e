"""The base-map API: public reads, protected writes, GCJ-02 only at the edge."""

from __future__ import annotations

from citybrain.geo import coords


def test_layers_are_listed_with_counts(client):
    layers = {layer["name"]: layer for layer in client.get("/api/v1/geo/layers").json()}
    assert layers["districts"]["count"] == 16
    assert layers["metro_stations"]["count"] == 302
    assert layers["roads"]["count"] > 1000 and layers["metro_segments"]["count"] > 300


def test_layer_geojson_and_etag(client):
    r = client.get("/api/v1/geo/layers/metro_stations")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 302
    assert {"code", "name_en", "lines"} <= set(fc["features"][0]["properties"])
    again = client.get("/api/v1/geo/layers/metro_stations", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_gcj02_is_converted_at_the_edge(client):
    wgs = client.get("/api/v1/geo/layers/metro_stations").json()["features"][0]
    gcj = client.get("/api/v1/geo/layers/metro_stations?crs=gcj02").json()["features"][0]
    lon, lat = wgs["geometry"]["coordinates"]
    assert gcj["geometry"]["coordinates"] == list(coords.wgs84_to_gcj02(lon, lat))
    assert 300 < coords.distance_m((lon, lat), gcj["geometry"]["coordinates"]) < 700


def test_bbox_filter_and_bad_bbox(client):
    fc = client.get("/api/v1/geo/layers/metro_stations?bbox=121.46,31.22,121.49,31.24").json()
    assert 0 < len(fc["features"]) < 30
    for f in fc["features"]:
        x, y = f["geometry"]["coordinates"]
        assert 121.46 <= x <= 121.49 and 31.22 <= y <= 31.24
    bad = client.get("/api/v1/geo/layers/roads?bbox=1,2,3")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.bbox"


def test_locate_accepts_gcj02_input(client):
    lon, lat = coords.wgs84_to_gcj02(121.4737, 31.2304)
    r = client.get(f"/api/v1/geo/locate?lon={lon}&lat={lat}&crs=gcj02").json()
    assert [f["properties"]["code"] for f in r["features"]] == ["310101"]
    assert abs(r["lon"] - 121.4737) < 1e-6


def test_nearby_stations_sorted_by_distance(client):
    fc = client.get("/api/v1/geo/nearby?layer=metro_stations&lon=121.4737&lat=31.2304&radius_m=800").json()
    d = [f["properties"]["distance_m"] for f in fc["features"]]
    assert d and d == sorted(d) and d[-1] <= 800


def test_convert_round_trip(client):
    r = client.get("/api/v1/geo/convert?lon=121.4737&lat=31.2304&from=wgs84&to=bd09").json()
    back = client.get(f"/api/v1/geo/convert?lon={r['lon']}&lat={r['lat']}&from=bd09&to=wgs84").json()
    assert abs(back["lon"] - 121.4737) < 1e-6 and abs(back["lat"] - 31.2304) < 1e-6


def test_replacing_a_layer_needs_geo_write(client, users, admin):
    body = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "p1", "geometry": {"type": "Point", "coordinates": [121.47, 31.23]},
         "properties": {"name_zh": "测试点", "name_en": "test point"}}]}
    assert client.put("/api/v1/geo/layers/pois", json=body).status_code == 401
    dispatcher = users.login("geo-dispatcher", roles=("dispatcher",))
    assert dispatcher.put("/api/v1/geo/layers/pois", json=body).status_code == 403
    r = admin.put("/api/v1/geo/layers/pois", json=body)
    assert r.status_code == 200 and r.json() == {"layer": "pois", "features": 1}
    fc = client.get("/api/v1/geo/layers/pois").json()
    assert fc["features"][0]["properties"]["name_zh"] == "测试点"


def test_a_bad_feature_is_named_and_nothing_is_replaced(admin, client):
    good = {"type": "Feature", "id": "ok", "geometry": {"type": "Point", "coordinates": [121.4, 31.2]},
            "properties": {}}
    admin.put("/api/v1/geo/layers/pois", json={"type": "FeatureCollection", "features": [good]})
    bad = {"type": "Feature", "id": "bad", "geometry": {"type": "Point", "coordinates": ["x"]}, "properties": {}}
    r = admin.put("/api/v1/geo/layers/pois", json={"type": "FeatureCollection", "features": [good, bad]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.features[1]"
    assert [f["id"] for f in client.get("/api/v1/geo/layers/pois").json()["features"]] == ["ok"]


def test_unknown_layer_is_404(client):
    r = client.get("/api/v1/geo/layers/nope")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
