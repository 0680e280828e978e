"""`citybrain bench nab` on two files of the corpus: the figures it promises, as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citybrain.bench import BENCHMARKS, nab
from tests.support import shared_data

PROFILE_KEYS = {"standard", "reward_low_FP", "reward_low_FN", "threshold"}


@pytest.mark.parametrize("detector", [None, "gaussian"])
def test_two_files_give_every_figure(detector: str | None) -> None:
    root = shared_data() / "nab"
    result = BENCHMARKS["nab"][1](log=lambda _m: None, data=str(root), detector=detector, rows=2)
    json.dumps(result)
    assert result["detector"] == (detector or nab.DEFAULT_DETECTOR)
    assert result["files"] == 2 and result["records"] > 1000
    assert result["optimised"].keys() >= PROFILE_KEYS and result["shipped"].keys() >= PROFILE_KEYS
    assert result["records_per_s"] > 0
    assert 0 < result["state_bytes_per_stream"]["mean"] <= result["state_bytes_per_stream"]["max"]
    assert result["raw_null_perfect"]["reward_low_FN"]["null"] == -2.0 * sum(
        f.layout.scored_windows() for f in nab.load(root, limit=2))
    for key in ("standard", "reward_low_FP", "reward_low_FN"):
        assert result["optimised"][key] >= result["shipped"][key] - 1e-9  # the optimum is at least as good


def test_a_quick_run_spreads_over_the_corpus() -> None:
    root = shared_data() / "nab"
    picked = [f.name for f in nab.load(root, limit=4)]
    assert len({name.split("/")[0] for name in picked}) == 4
    assert [f.name for f in nab.load(root, names=picked[:1])] == picked[:1]


def test_the_corpus_is_found_or_named() -> None:
    assert nab.locate(shared_data()) == nab.locate(shared_data() / "nab")
    with pytest.raises(FileNotFoundError, match="no NAB corpus"):
        nab.locate(Path("/nonexistent/nab"))


def test_an_unknown_detector_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown detector"):
        BENCHMARKS["nab"][1](log=lambda _m: None, data=str(shared_data() / "nab"), detector="nope", rows=1)
