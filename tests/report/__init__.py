"""Tests of citizen reports; small builders shared by the report-core test modules."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

PEOPLES_SQUARE = (121.4737, 31.2304)  # Huangpu district


def png_with_gps(lon: float = 121.4737, lat: float = 31.2304, size: tuple[int, int] = (16, 12)) -> bytes:
    """A small PNG whose EXIF carries a GPS position and a camera model (which must not survive)."""
    img = Image.new("RGB", size, "blue")
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)

    def dms(value: float) -> tuple[float, float, float]:
        d = int(value)
        m = int((value - d) * 60)
        return (float(d), float(m), round((value - d - m / 60) * 3600, 4))

    gps.update({1: "N", 2: dms(lat), 3: "E", 4: dms(lon)})
    exif[0x0110] = "SecretPhone 9"
    buf = io.BytesIO()
    img.save(buf, "PNG", exif=exif.tobytes())
    return buf.getvalue()


def north(metres: float, origin: tuple[float, float] = PEOPLES_SQUARE) -> tuple[float, float]:
    return origin[0], origin[1] + metres / 111_194.9


def submission(**kw: Any) -> Any:
    from citybrain.report.service import Submission

    kw.setdefault("service_code", "manhole_missing")
    kw.setdefault("description", "人民大道200号门口窨井盖没了")
    if "lon" not in kw and "photos" not in kw and "address" not in kw:
        kw["lon"], kw["lat"] = PEOPLES_SQUARE
    kw.setdefault("client_key", "client-a")
    if kw["service_code"] == "manhole_missing":
        kw.setdefault("attributes", {"traffic_lane": "true"})
    return Submission(**kw)
