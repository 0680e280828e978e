"""Every detector the registry finds keeps the shared contract (after river's ``checks/``).

Deterministic; ``score_one`` is pure and ``score_one`` + ``learn_one`` is ``process_one``; scores in
[0, 1] and 0 during the warm-up; ``state()`` is JSON that names the detector and restores to a
detector that continues with identical scores; neither the parameters nor the state handed in are
mutated; a docstring (with a doctest) and a shipped threshold in (0, 1].
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import random

import pytest

from citybrain.warning import detectors
from citybrain.warning.detectors import Detector

NAMES = sorted(detectors.registry())


def stream(seed: int, n: int = 1500) -> list[tuple[float, float]]:
    """Noisy daily cycle at 5-minute steps with a few spikes, a level shift and a flat stretch."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        v = 50 + 20 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 2)
        if i % 397 == 396:
            v += rng.choice((-1, 1)) * 80
        if i > 1100:
            v += 30
        if 900 <= i < 960:
            v = 42.0
        out.append((v, 1_700_000_000 + 300.0 * i))
    return out


def params(cls: type[Detector]) -> dict[str, object]:
    """Small parameters where the detector has them, so the test reaches past the warm-up quickly."""
    sig = inspect.signature(cls.__init__).parameters
    p: dict[str, object] = {}
    if "seed" in sig:
        p["seed"] = 7
    if "warmup" in sig:
        p["warmup"] = 20
    return p


def test_the_registry_finds_the_detectors() -> None:
    assert {"gaussian", "novelty"} <= set(NAMES)
    for name, cls in detectors.registry().items():
        assert cls.name == name


@pytest.mark.parametrize("name", NAMES)
def test_documented_with_a_doctest_and_a_shipped_threshold(name: str) -> None:
    cls = detectors.registry()[name]
    module = inspect.getmodule(cls)
    assert cls.__doc__ and cls.__doc__.strip()
    assert module is not None and module.__doc__ and ">>>" in module.__doc__
    assert 0 < cls.shipped_threshold <= 1


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_scores_in_range_and_zero_while_warming_up(name: str) -> None:
    cls = detectors.registry()[name]
    p = params(cls)
    given = copy.deepcopy(p)
    a, b = detectors.make(name, **p), detectors.make(name, **p)
    assert p == given  # parameters not mutated
    data = stream(1)
    sa = [a.process_one(x, t) for x, t in data]
    sb = [b.process_one(x, t) for x, t in data]
    assert sa == sb
    assert all(0.0 <= s <= 1.0 and not math.isnan(s) for s in sa)
    assert a.warmup >= 1 and all(s == 0.0 for s in sa[: a.warmup])
    assert max(sa) > 0  # it does say something about spikes and shifts


@pytest.mark.parametrize("name", NAMES)
def test_score_one_is_pure_and_then_learn_is_process(name: str) -> None:
    cls = detectors.registry()[name]
    a, b = detectors.make(name, **params(cls)), detectors.make(name, **params(cls))
    for x, t in stream(2):
        before = json.dumps(a.state())
        s = a.score_one(x, t)
        assert json.dumps(a.state()) == before
        a.learn_one(x, t)
        assert b.process_one(x, t) == s
    assert json.dumps(a.state()) == json.dumps(b.state())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("cut", [5, 400, 1000])
def test_state_is_json_and_restores_to_identical_scores(name: str, cut: int) -> None:
    cls = detectors.registry()[name]
    det = detectors.make(name, **params(cls))
    data = stream(3)
    for x, t in data[:cut]:
        det.process_one(x, t)
    state = json.loads(json.dumps(det.state()))
    assert state["detector"] == name
    kept = copy.deepcopy(state)
    twin = detectors.restore(state)
    assert state == kept  # restore does not mutate what it is given
    assert type(twin) is cls and twin.warmup == det.warmup
    rest = data[cut:]
    assert [det.process_one(x, t) for x, t in rest] == [twin.process_one(x, t) for x, t in rest]
    assert json.dumps(det.state()) == json.dumps(twin.state())
