"""The dispatch benchmark runs small and its fast answer agrees with the plain per-unit baseline."""

from __future__ import annotations

from citybrain.bench import BENCHMARKS


def test_dispatch_bench_small_run_agrees_with_the_baseline() -> None:
    out = BENCHMARKS["dispatch"][1](log=lambda _m: None, rows=20, devices=40)
    assert out["units"] == 40 and out["incidents"] == 20
    done, total = map(int, out["agree"].split("/"))
    assert total >= 10 and done == total
    assert out["p50_ms"] > 0 and out["baseline_p50_ms"] > 0
