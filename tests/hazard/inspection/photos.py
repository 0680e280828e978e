"""Small test pictures, with or without an EXIF GPS position."""

from __future__ import annotations

from io import BytesIO

from PIL import Image


def jpeg(*, gps: tuple[float, float] | None = None) -> bytes:
    """An 8 × 6 JPEG; ``gps`` = (lon, lat) written as EXIF degrees / minutes / seconds."""
    img = Image.new("RGB", (8, 6), "red")
    out = BytesIO()
    if gps is None:
        img.save(out, "JPEG")
        return out.getvalue()

    def dms(v: float) -> tuple[float, float, float]:
        d = int(v)
        m = int((v - d) * 60)
        return float(d), float(m), round((v - d - m / 60) * 3600, 3)

    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: dms(gps[1]), 3: "E", 4: dms(gps[0])}
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()
