"""The NAB benchmark: one detector streamed over every file of the Numenta Anomaly Benchmark corpus.

Each file gets a fresh detector (``detectors.make(name)``, the defaults, nothing tuned per file) that
scores then learns every value in order. The scores are judged by :mod:`citybrain.bench.nab_score`
twice: at the one threshold per profile that is best over the whole corpus (NAB's protocol), and at
the detector's ``shipped_threshold`` (what the rule engine uses unless told otherwise).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from citybrain.bench import nab_score
from citybrain.bench.nab_score import Layout, Profile
from citybrain.warning import detectors

DEFAULT_DETECTOR = "novelty"
SHORT = {"standard": "standard", "reward_low_FP_rate": "reward_low_FP", "reward_low_FN_rate": "reward_low_FN"}


@dataclass(frozen=True, slots=True)
class NabFile:
    name: str  # e.g. "realKnownCause/nyc_taxi.csv", the key in combined_windows.json
    t: list[float]  # seconds since the epoch (the corpus's timestamps read as UTC)
    values: list[float]
    layout: Layout


def locate(data: str | Path | None = None) -> Path:
    """The corpus directory: ``data`` (or its ``nab`` folder), else ``../shared/data/nab``, else beside the repo."""
    candidates = [Path(data), Path(data) / "nab"] if data else [
        Path("../shared/data/nab"), Path(__file__).resolve().parents[3].parent / "shared/data/nab"]
    for c in candidates:
        if (c / "labels" / "combined_windows.json").is_file() and (c / "data").is_dir():
            return c
    where = ", ".join(map(str, candidates))
    raise FileNotFoundError(f"no NAB corpus (data/ and labels/combined_windows.json) at {where}")


def load(root: Path, *, limit: int | None = None, names: list[str] | None = None) -> list[NabFile]:
    """The corpus's files in name order, or those ``names``; ``limit`` takes that many spread over the list."""
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    keys = sorted(windows) if names is None else names
    if limit and limit < len(keys):  # evenly spread, so a quick run sees several categories
        keys = [keys[int((i + 0.5) * len(keys) / limit)] for i in range(limit)]
    files = []
    for key in keys:
        with (root / "data" / key).open(newline="") as fh:
            reader = csv.reader(fh)
            next(reader)
            rows = [(ts, float(v)) for ts, v in reader]
        stamps = [ts for ts, _v in rows]
        t = [datetime.fromisoformat(ts).replace(tzinfo=UTC).timestamp() for ts in stamps]
        layout = Layout.of(n=len(rows), windows=nab_score.window_rows(stamps, windows[key]))
        files.append(NabFile(name=key, t=t, values=[v for _ts, v in rows], layout=layout))
    return files


def profiles(root: Path) -> tuple[Profile, ...]:
    path = root / "config" / "profiles.json"
    return nab_score.load_profiles(path) if path.is_file() else nab_score.PROFILES


def stream(file: NabFile, name: str, **params: Any) -> tuple[np.ndarray, float, int]:
    """Scores of a fresh detector over one file, the CPU seconds it took, and the bytes of its final state."""
    det = detectors.make(name, **params)
    process = det.process_one
    start = time.process_time()  # CPU time of this process: records per second per core, whatever else runs
    scores = [process(x, t) for x, t in zip(file.values, file.t, strict=True)]
    elapsed = time.process_time() - start
    return np.asarray(scores, dtype=float), elapsed, len(json.dumps(det.state()))


def judge(files: list[NabFile], scores: list[np.ndarray], profs: tuple[Profile, ...],
          shipped: float) -> dict[str, Any]:
    """Normalised scores at the corpus-optimised thresholds and at ``shipped``, with the raw parts."""
    pairs = list(zip([f.layout for f in files], scores, strict=True))
    nulls = [(lay, nab_score.null_scores(lay)) for lay, _s in pairs]
    optimised: dict[str, Any] = {"threshold": {}, "raw": {}, "windows_detected": {}, "fp_rows": {}}
    at_shipped: dict[str, Any] = {"threshold": shipped, "raw": {}, "windows_detected": {}, "fp_rows": {}}
    baselines: dict[str, Any] = {}
    for prof in profs:
        key = SHORT.get(prof.name, prof.name)
        null = nab_score.corpus(nulls, prof, nab_score.NOTHING).raw
        perfect = prof.tp * sum(lay.scored_windows() for lay, _s in pairs)  # every window at its first row
        baselines[key] = {"null": round(null, 4), "perfect": round(perfect, 4)}
        threshold, _best = nab_score.optimise(pairs, prof)
        for out, thr in ((optimised, threshold), (at_shipped, shipped)):
            total = nab_score.corpus(pairs, prof, thr)
            out[key] = round(nab_score.normalise(total.raw, null, perfect), 2) if perfect != null else None
            out["raw"][key] = round(total.raw, 4)
            out["windows_detected"][key] = f"{total.detected}/{total.windows}"
            out["fp_rows"][key] = total.fp
        optimised["threshold"][key] = threshold
    return {"optimised": optimised, "shipped": at_shipped, "raw_null_perfect": baselines}


def run(*, log: Callable[[str], None], data: str | None = None, detector: str | None = None,
        rows: int | None = None, **_: Any) -> dict[str, Any]:
    """Stream ``detector`` over the corpus (``rows`` files spread over it, if given) and score it."""
    root = locate(data)
    name = detector or DEFAULT_DETECTOR
    cls = detectors.registry().get(name) or detectors.make(name)  # make() names the known ones on a typo
    files = load(root, limit=rows)
    log(f"nab: {len(files)} files from {root}, detector {name}")
    scores, seconds, state_bytes = [], 0.0, []
    for f in files:
        s, elapsed, size = stream(f, name)
        scores.append(s)
        seconds += elapsed
        state_bytes.append(size)
    records = sum(f.layout.n for f in files)
    result: dict[str, Any] = {
        "benchmark": "nab", "detector": name, "files": len(files), "records": records,
        "records_per_s": round(records / seconds) if seconds else None,
        "state_bytes_per_stream": {"mean": round(sum(state_bytes) / len(state_bytes)), "max": max(state_bytes)},
    }
    result |= judge(files, scores, profiles(root), float(cls.shipped_threshold))
    log(f"nab: {name} standard {result['optimised']['standard']} (optimised), "
        f"{result['shipped']['standard']} (shipped threshold {cls.shipped_threshold})")
    return result
