"""Clean sensor signals as a pure, vectorised function of (seed, device, time).

Randomness comes from a counter-based generator (the SplitMix64 finaliser over device key, time
counter and stream id), so any instant of any device can be computed alone, in any order, and a
replay gives identical values; one evaluation covers a whole array of devices at once.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .kinds import SensorKind

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
KeyArray = NDArray[np.uint64]

LOCAL_OFFSET_S = 8 * 3600  # Asia/Shanghai is UTC+8 all year (no daylight saving since 1991)
_MASK = (1 << 64) - 1
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11, _S32 = (np.uint64(s) for s in (30, 27, 31, 11, 32))
_ONE, _LOW = np.uint64(1), np.uint64(0xFFFFFFFF)
_TWO_PI = 2.0 * np.pi

# Streams: one id per independent random quantity of a device (salted per value of the reading).
_NOISE, _WANDER, _OFFSET, _SCALE = 1, 2, 3, 4


def _mix(x: KeyArray) -> KeyArray:
    """SplitMix64 finaliser: a bijective, well-avalanched 64-bit hash (arrays only, wraps silently)."""
    x = x + _GOLD
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def _mix_int(x: int) -> int:
    """The same finaliser on a Python int (cheaper than numpy for one scalar counter)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _hash(keys: KeyArray, counter: int | IntArray, stream: int) -> KeyArray:
    salt = (stream * 0xD1342543DE82EF95) & _MASK
    if isinstance(counter, int | np.integer):
        c: KeyArray | np.uint64 = np.uint64(_mix_int((int(counter) & _MASK) ^ salt))
    else:
        c = _mix(np.asarray(counter, dtype=np.int64).astype(np.uint64) ^ np.uint64(salt))
    return _mix(keys ^ c)


def normal(keys: KeyArray, counter: int | IntArray, stream: int) -> FloatArray:
    """Standard normal draws, one per key, determined by (key, counter, stream) alone.

    Box-Muller on the two 32-bit halves of one hash; |z| is bounded near 6.7, fine for noise.
    """
    h = _hash(keys, counter, stream)
    u1 = ((h >> _S32) + _ONE).astype(np.float64) * 2.0**-32  # (0, 1]
    u2 = (h & _LOW).astype(np.float64) * 2.0**-32
    return np.asarray(np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2), dtype=np.float64)


def uniform(keys: KeyArray, counter: int | IntArray, stream: int) -> FloatArray:
    """Uniform draws in [0, 1), one per key, determined by (key, counter, stream) alone."""
    return np.asarray((_hash(keys, counter, stream) >> _S11).astype(np.float64) * 2.0**-53, dtype=np.float64)


def device_keys(seed: int, device_ids: Iterable[str]) -> KeyArray:
    """A 64-bit key per device, from the seed and the stable device id (not its position)."""
    salt = str(seed).encode()
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(d.encode(), digest_size=8, key=salt).digest(), "little") for d in device_ids),
        dtype=np.uint64,
    )


def local_hour_and_weekend(t_s: int) -> tuple[float, bool]:
    """Asia/Shanghai hour of day (fractional) and whether that local day is Saturday or Sunday."""
    local = t_s + LOCAL_OFFSET_S
    weekday = (local // 86400 + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return (local % 86400) / 3600.0, weekday >= 5


@dataclass(frozen=True, slots=True)
class KindTable:
    """The fields of a list of kinds as arrays, so a device's parameters are one gather away."""

    kinds: tuple[SensorKind, ...]
    baseline: FloatArray
    valid_min: FloatArray
    valid_max: FloatArray
    decimals: IntArray
    noise_sigma: FloatArray
    noise_rel: FloatArray
    wander_sigma: FloatArray
    wander_period_s: IntArray
    offset_sigma: FloatArray
    scale_sigma: FloatArray
    trend_per_day: FloatArray
    trend_limit: FloatArray  # nan = linear trend

    @classmethod
    def of(cls, kinds: Sequence[SensorKind]) -> KindTable:
        def col(name: str, dtype: type = np.float64) -> NDArray:  # type: ignore[type-arg]
            return np.array([getattr(k, name) for k in kinds], dtype=dtype)

        limit = np.array([np.nan if k.trend_limit is None else k.trend_limit for k in kinds], dtype=np.float64)
        return cls(
            tuple(kinds),
            col("baseline"),
            col("valid_min"),
            col("valid_max"),
            col("decimals", np.int64),
            col("noise_sigma"),
            col("noise_rel"),
            col("wander_sigma"),
            col("wander_period_s", np.int64),
            col("offset_sigma"),
            col("scale_sigma"),
            col("trend_per_day"),
            limit,
        )

    def index(self, key: str) -> int:
        return next(i for i, k in enumerate(self.kinds) if k.key == key)

    def profile(self, hour: float, weekend: bool) -> FloatArray:
        """Each kind's daily cycle plus peaks at this local hour (one value per kind)."""
        out = []
        for k in self.kinds:
            v = k.cycle_amplitude * math.cos(math.tau * (hour - k.cycle_peak_hour) / 24.0)
            for p in k.weekend_peaks if weekend else k.weekday_peaks:
                d = (hour - p.hour + 12.0) % 24.0 - 12.0  # circular distance, so 23:30 is near 00:30
                v += p.height * math.exp(-0.5 * (d / p.width_h) ** 2)
            out.append(v)
        return np.array(out)


def static_draws(keys: KeyArray, salt: int = 0) -> tuple[FloatArray, FloatArray]:
    """Each device's fixed draws (scale, offset), as standard normals; cache them per device."""
    s = salt * 16
    return normal(keys, 0, s + _SCALE), normal(keys, 0, s + _OFFSET)


def raw_values(
    table: KindTable,
    kind_idx: IntArray,
    keys: KeyArray,
    t_s: int,
    *,
    epoch_s: int,
    salt: int = 0,
    static: tuple[FloatArray, FloatArray] | None = None,
) -> FloatArray:
    """Unclipped, unrounded clean values of devices (kind_idx, keys) at UTC second ``t_s``.

    ``epoch_s`` anchors long-term trends (installation time); ``salt`` separates the random
    streams of the different values in one reading (main quantity 0, extras 1, 2, ...);
    ``static`` is ``static_draws(keys, salt)`` when the caller caches it.
    """
    s = salt * 16
    hour, weekend = local_hour_and_weekend(t_s)
    base = table.baseline[kind_idx] + table.profile(hour, weekend)[kind_idx]
    scale_z, offset_z = static if static is not None else static_draws(keys, salt)
    value = base * np.exp(table.scale_sigma[kind_idx] * scale_z) + table.offset_sigma[kind_idx] * offset_z

    days = max(t_s - epoch_s, 0) / 86400.0
    rate, limit = table.trend_per_day[kind_idx], table.trend_limit[kind_idx]
    linear = np.isnan(limit)
    safe_limit = np.where(linear, 1.0, limit)
    value += np.where(linear, rate * days, safe_limit * (1.0 - np.exp(-rate * days / safe_limit)))

    period = table.wander_period_s[kind_idx]
    knot = t_s // period
    frac = (t_s - knot * period) / period
    w = normal(keys, knot, s + _WANDER) * (1.0 - frac) + normal(keys, knot + 1, s + _WANDER) * frac
    value += table.wander_sigma[kind_idx] * w

    sigma = table.noise_sigma[kind_idx] + table.noise_rel[kind_idx] * np.abs(value)
    return np.asarray(value + sigma * normal(keys, t_s, s + _NOISE), dtype=np.float64)


def finish(table: KindTable, kind_idx: IntArray, values: FloatArray) -> FloatArray:
    """Clip to the physical valid range (a sensor saturates) and round to the kind's decimals."""
    clipped = np.clip(values, table.valid_min[kind_idx], table.valid_max[kind_idx])
    factor = 10.0 ** table.decimals[kind_idx]
    return np.asarray(np.round(clipped * factor) / factor, dtype=np.float64)


def clean_values(
    table: KindTable,
    kind_idx: IntArray,
    keys: KeyArray,
    t_s: int,
    *,
    epoch_s: int,
    salt: int = 0,
    static: tuple[FloatArray, FloatArray] | None = None,
) -> FloatArray:
    """What fault-free devices report at ``t_s``: raw values, clipped and rounded."""
    raw = raw_values(table, kind_idx, keys, t_s, epoch_s=epoch_s, salt=salt, static=static)
    return finish(table, kind_idx, raw)
