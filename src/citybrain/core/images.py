"""Photos from phones and inspectors: checked, stripped of metadata and re-encoded before anything keeps them.

``clean_image`` is the one gate every uploaded picture passes (hazard evidence, inspection photos,
citizen reports). It refuses what is too large or not a JPEG/PNG/WebP image (by content, never by the
name or the declared type), reads the GPS position from EXIF when the phone wrote one, applies the EXIF
orientation, drops every metadata block (EXIF, XMP, ICC comments) and re-encodes the pixels, so what is
stored cannot carry a hidden payload or the reporter's device details.

>>> from io import BytesIO
>>> from PIL import Image
>>> raw = BytesIO(); Image.new("RGB", (8, 6), "red").save(raw, "PNG")
>>> cleaned = clean_image(raw.getvalue(), field="photo")
>>> cleaned.content_type, cleaned.width, cleaned.height, cleaned.gps
('image/jpeg', 8, 6, None)
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from citybrain.core.errors import FieldError, Invalid, PayloadTooLarge

#: Default upper bounds for one uploaded picture.
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
MAX_STORED_SIDE = 2048
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})


@dataclass(frozen=True, slots=True)
class CleanImage:
    """A re-encoded picture: always JPEG, metadata-free, longest side at most ``MAX_STORED_SIDE``."""

    data: bytes
    content_type: str
    width: int
    height: int
    source_format: str
    gps: tuple[float, float] | None  # (lon, lat) WGS84 from EXIF, when present and plausible


def _refuse(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", errors=[FieldError(field, message, "invalid_image")])


def _ratio(value: object) -> float:
    if isinstance(value, tuple) and len(value) == 2:
        return float(value[0]) / float(value[1]) if value[1] else 0.0
    return float(value)  # type: ignore[arg-type]


def _gps(exif: object) -> tuple[float, float] | None:
    try:
        info = exif.get_ifd(0x8825)  # type: ignore[attr-defined]  # GPSInfo
    except Exception:
        return None
    if not info or 2 not in info or 4 not in info:
        return None
    try:
        lat = sum(_ratio(v) / 60**i for i, v in enumerate(info[2]))
        lon = sum(_ratio(v) / 60**i for i, v in enumerate(info[4]))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if str(info.get(1, "N")).upper().startswith("S"):
        lat = -lat
    if str(info.get(3, "E")).upper().startswith("W"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return (round(lon, 7), round(lat, 7))


def clean_image(raw: bytes, *, field: str = "file", max_bytes: int = MAX_IMAGE_BYTES) -> CleanImage:
    """Check ``raw`` is an allowed image within limits and return it re-encoded without metadata.

    Raises ``PayloadTooLarge`` (413) over ``max_bytes`` and ``Invalid`` (422, naming ``field``) for
    anything that is not a decodable JPEG, PNG or WebP picture of sane dimensions.
    """
    from PIL import Image, ImageOps

    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"{field}: {len(raw)} bytes is over the {max_bytes}-byte limit for one image")
    if not raw:
        raise _refuse(field, "empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(raw))
            fmt = probe.format or ""
            if fmt not in ALLOWED_FORMATS:
                raise _refuse(field, f"{fmt or 'unknown'} is not an allowed image type (JPEG, PNG, WebP)")
            if probe.width * probe.height > MAX_IMAGE_PIXELS:
                raise _refuse(field, f"{probe.width}x{probe.height} is over {MAX_IMAGE_PIXELS} pixels")
            probe.verify()
            image = Image.open(io.BytesIO(raw))
            image.load()
    except Invalid:
        raise
    except Exception as exc:  # Pillow raises many kinds for junk; all mean "not an image we accept"
        raise _refuse(field, f"not a readable image ({exc.__class__.__name__})") from None
    gps = _gps(image.getexif())
    image = ImageOps.exif_transpose(image) or image
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    image.thumbnail((MAX_STORED_SIDE, MAX_STORED_SIDE))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True)  # no exif=, no icc_profile=: nothing carried over
    return CleanImage(out.getvalue(), "image/jpeg", image.width, image.height, fmt, gps)
