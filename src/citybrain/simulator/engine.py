"""The simulator: placed devices, their signals and faults, emitted as device wire payloads.

A reading is exactly what a real device sends over HTTP or MQTT::

    {"device_id": "SIM-GAS-000123", "ts": "2026-11-30T07:00:00Z",
     "values": {"methane": 0.4, "battery": 91.0, "rssi": -83.0}, "msg_id": "SIM-GAS-000123-20261130T070000Z"}

Everything is a pure function of (seed, city, parameters, time), so any window can be generated
alone and a replay is identical.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from citybrain.geo.types import City

from . import faults as F
from .kinds import ASSET_CLASSES, EXTRA_KINDS, KINDS
from .placement import DEFAULT_DISTRICT, Asset, Device, Scale, gc_paused, place
from .signals import KindTable, clean_values, device_keys, finish, raw_values, static_draws

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; pass the clock's now() for a live demo
FaultsArg = Literal["auto"] | Sequence[F.Fault] | None
_DAY = 86400
_DAY_CACHE = 8

IntArray = NDArray[np.int64]


def _ts(t: datetime) -> int:
    if t.tzinfo is None:
        raise ValueError("simulator times must be timezone-aware (UTC)")
    return math.floor(t.timestamp())


class Simulator:
    """A seeded, deterministic sensor simulator for one district of a city.

    ``devices`` is the scale: None for the demo default (~150 devices), an int for an exact
    total device count, or a mapping of asset class to asset count. ``faults`` is "auto"
    (drawn per day from the seed), an explicit list of ``Fault`` (details filled in), or None.
    ``epoch`` anchors slow trends (settlement, battery); it defaults to ``start``. ``devices_per_fault``
    sets the automatic fault rate (one fault of each kind per day per that many devices).
    """

    def __init__(
        self,
        city: City,
        *,
        seed: int = 0,
        district: str | None = DEFAULT_DISTRICT,
        devices: Scale = None,
        start: datetime = DEFAULT_START,
        faults: FaultsArg = "auto",
        horizon: timedelta = timedelta(days=1),
        epoch: datetime | None = None,
        devices_per_fault: int = F.DEVICES_PER_FAULT,
    ) -> None:
        self.seed = seed
        self.district = district
        self.start = start.astimezone(UTC)
        self.horizon = horizon
        self._epoch_s = _ts(epoch or start)
        placement = place(city, seed=seed, district=district, scale=devices)
        self.assets: tuple[Asset, ...] = placement.assets
        self.devices: tuple[Device, ...] = placement.devices
        self._asset_class = {a.asset_id: a.asset_class for a in self.assets}

        with gc_paused():
            self._index_devices()
        self._auto = faults == "auto"
        self.devices_per_fault = max(1, devices_per_fault)
        self._explicit: list[F.Compiled] = []
        if faults is not None and not isinstance(faults, str):
            resolved = [
                F.resolve(f, self.fleet, fault_id=f.fault_id or f"F-{n:04d}-{f.kind}")
                for n, f in enumerate(faults, start=1)
            ]
            self._explicit = [F.compile_fault(f, self.fleet) for f in resolved]
        elif faults is not None and faults != "auto":
            raise ValueError(f"faults must be 'auto', a list of Fault or None, not {faults!r}")
        self._days: OrderedDict[int, list[F.Compiled]] = OrderedDict()

    def _index_devices(self) -> None:
        """Arrays of the devices' kinds, keys and fixed draws, for vectorised ticks."""
        all_kinds = [*KINDS.values(), *EXTRA_KINDS.values()]
        self._table = KindTable.of(all_kinds)
        kind_pos = {k.key: i for i, k in enumerate(all_kinds)}
        self._ids = [d.device_id for d in self.devices]
        self._id_arr = np.array(self._ids, dtype=object)
        self._quantity = np.array([KINDS[d.kind].quantity for d in self.devices], dtype=object)
        self._kind_idx = np.array([kind_pos[d.kind] for d in self.devices], dtype=np.int64)
        self._keys = device_keys(self.seed, self._ids)
        self._static = [static_draws(self._keys, salt) for salt in range(1 + len(EXTRA_KINDS))]
        interval = np.array([d.interval_s for d in self.devices], dtype=np.int64)
        self._groups = {int(s): np.flatnonzero(interval == s) for s in np.unique(interval)}
        self.step_s = math.gcd(*self._groups) if self._groups else 60
        # Extra values (battery, rssi): (quantity, kind position, random-stream salt, device mask).
        self._extras = [
            (e.quantity, kind_pos[e.key], salt, np.array([e.key in KINDS[d.kind].extras for d in self.devices]))
            for salt, e in enumerate(EXTRA_KINDS.values(), start=1)
        ]
        self.fleet = F.Fleet(
            ids=tuple(self._ids),
            index={d: i for i, d in enumerate(self._ids)},
            kinds=tuple(KINDS[d.kind] for d in self.devices),
            asset_ids=tuple(d.asset_id for d in self.devices),
            lon=np.array([d.lon for d in self.devices], dtype=float),
            lat=np.array([d.lat for d in self.devices], dtype=float),
            interval_s=interval,
            methane=np.array([KINDS[d.kind].quantity == "methane" for d in self.devices], dtype=bool),
            clean=self._clean,
        )

    # -- signals -------------------------------------------------------------------------------

    def _static_of(self, idx: IntArray, salt: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        scale_z, offset_z = self._static[salt]
        return scale_z[idx], offset_z[idx]

    def _clean(self, idx: IntArray, t_s: int) -> NDArray[np.float64]:
        return clean_values(
            self._table,
            self._kind_idx[idx],
            self._keys[idx],
            t_s,
            epoch_s=self._epoch_s,
            static=self._static_of(idx, 0),
        )

    def _day(self, day: int) -> list[F.Compiled]:
        if day not in self._days:
            scheduled = F.schedule_day(self.fleet, self.seed, day, devices_per_fault=self.devices_per_fault)
            self._days[day] = [F.compile_fault(f, self.fleet) for f in scheduled]
            while len(self._days) > _DAY_CACHE:
                self._days.popitem(last=False)
        return self._days[day]

    def _active(self, t_s: int) -> list[F.Compiled]:
        if self._auto:
            return self._day(t_s // _DAY)  # auto windows never cross a UTC midnight
        return self._explicit

    def tick(self, t: datetime) -> list[dict[str, Any]]:
        """The readings due at ``t``: devices whose reporting interval divides ``t`` (UTC seconds)."""
        return self._tick(_ts(t))

    def _tick(self, t_s: int) -> list[dict[str, Any]]:
        parts = [idx for s, idx in self._groups.items() if t_s % s == 0]
        if not parts:
            return []
        due = np.sort(np.concatenate(parts)) if len(parts) > 1 else parts[0]
        kind_idx = self._kind_idx[due]
        values = raw_values(
            self._table, kind_idx, self._keys[due], t_s, epoch_s=self._epoch_s, static=self._static_of(due, 0)
        )
        keep = np.ones(len(due), dtype=bool)
        active = self._active(t_s)
        if active:
            pos = np.full(len(self._ids), -1, dtype=np.int64)
            pos[due] = np.arange(len(due))
            F.apply(active, t_s, pos, values, keep)
        values = finish(self._table, kind_idx, values)

        when = datetime.fromtimestamp(t_s, UTC)
        ts, suffix = when.strftime("%Y-%m-%dT%H:%M:%SZ"), when.strftime("-%Y%m%dT%H%M%SZ")
        ids, quantities = self._id_arr[due].tolist(), self._quantity[due].tolist()
        with gc_paused():
            out = [
                {"device_id": d, "ts": ts, "values": {q: v}, "msg_id": d + suffix}
                for d, q, v in zip(ids, quantities, values.tolist(), strict=True)
            ]
        for quantity, kpos, salt, mask in self._extras:
            sel = np.flatnonzero(mask[due])
            if len(sel):
                idx = due[sel]
                kinds = np.full(len(idx), kpos, dtype=np.int64)
                ev = clean_values(
                    self._table,
                    kinds,
                    self._keys[idx],
                    t_s,
                    epoch_s=self._epoch_s,
                    salt=salt,
                    static=self._static_of(idx, salt),
                )
                for j, v in zip(sel.tolist(), ev.tolist(), strict=True):
                    out[j]["values"][quantity] = v
        if not keep.all():
            out = [r for r, ok in zip(out, keep.tolist(), strict=True) if ok]
        return out

    def readings(self, start: datetime | None = None, end: datetime | None = None) -> Iterator[list[dict[str, Any]]]:
        """Non-empty batches of readings, one per step of ``step_s`` from start (inclusive) to end (exclusive).

        With no end the iterator runs forever.
        """
        if not self._groups:
            return
        t_s = F.first_due(_ts(start or self.start), self.step_s)
        end_s = None if end is None else _ts(end)
        while end_s is None or t_s < end_s:
            batch = self._tick(t_s)
            if batch:
                yield batch
            t_s += self.step_s

    # -- ground truth and catalogues ---------------------------------------------------------------

    def faults_between(self, start: datetime, end: datetime) -> list[F.Fault]:
        """The faults whose window overlaps [start, end), sorted by start."""
        a, b = _ts(start), _ts(end)
        if self._auto:
            compiled = [c for day in range(a // _DAY, (b - 1) // _DAY + 1) for c in self._day(day)]
        else:
            compiled = self._explicit
        hits = [c.fault for c in compiled if c.start_s < b and c.end_s > a]
        return sorted(hits, key=lambda f: (f.start, f.fault_id))

    @property
    def faults(self) -> list[F.Fault]:
        """Faults overlapping [start, start + horizon) (all of them when given explicitly)."""
        if not self._auto:
            return sorted((c.fault for c in self._explicit), key=lambda f: (f.start, f.fault_id))
        return self.faults_between(self.start, self.start + self.horizon)

    @property
    def ground_truth(self) -> list[dict[str, Any]]:
        """Records of ``faults`` (fault_id, kind, device_ids, asset_id, start, end, params, expected_effect)."""
        return [f.record() for f in self.faults]

    def write_ground_truth(self, path: str | Path) -> None:
        F.write_ground_truth(path, self.faults)

    def device_catalogue(self) -> list[dict[str, Any]]:
        """One plain dict per device, enough for the platform to register it."""
        out = []
        for d in self.devices:
            k = KINDS[d.kind]
            out.append(
                {
                    "device_id": d.device_id,
                    "kind": d.kind,
                    "quantity": k.quantity,
                    "unit": k.unit,
                    "asset_id": d.asset_id,
                    "asset_class": self._asset_class[d.asset_id],
                    "lon": d.lon,
                    "lat": d.lat,
                    "interval_s": d.interval_s,
                    "valid_min": k.valid_min,
                    "valid_max": k.valid_max,
                    "extras": [
                        {
                            "quantity": EXTRA_KINDS[e].quantity,
                            "unit": EXTRA_KINDS[e].unit,
                            "valid_min": EXTRA_KINDS[e].valid_min,
                            "valid_max": EXTRA_KINDS[e].valid_max,
                        }
                        for e in k.extras
                    ],
                }
            )
        return out

    def asset_catalogue(self) -> list[dict[str, Any]]:
        """One plain dict per asset (id, class and its names, place, district)."""
        return [
            {
                "asset_id": a.asset_id,
                "asset_class": a.asset_class,
                "asset_class_zh": ASSET_CLASSES[a.asset_class].name_zh,
                "name_zh": a.name_zh,
                "name_en": a.name_en,
                "lon": a.lon,
                "lat": a.lat,
                "district": a.district,
            }
            for a in self.assets
        ]
