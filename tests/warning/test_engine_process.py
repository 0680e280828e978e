"""The rule engine in a process of its own: the same verdicts as in this process, in order, failures isolated
and reported, a killed engine process restarted from the saved state, and gone when this process is."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from citybrain.warning.engine_process import EngineGone, RemoteEngine
from citybrain.warning.evaluation import decode_state, observations
from citybrain.warning.rules import RuleEngine, parse_rules
from citybrain.warning.types import DeviceContext

RULES = parse_rules("""
- key: methane
  name: {zh: 甲烷, en: Methane}
  quantity: methane
  when: {kind: threshold, levels: {blue: 10, red: 50}, hysteresis: 2}
- key: silent
  name: {zh: 无数据, en: Silent}
  quantity: methane
  when: {kind: no_data, k: 3}
""")
CONTEXTS = {key: DeviceContext(key, i, "gas_methane", "emergency", 121.47 + i / 1000, 31.23, None, None)
            for i, key in enumerate(("GAS-1", "GAS-2"), start=1)}
T0 = datetime(2026, 1, 5, tzinfo=UTC)
METHANE_HELD = """
- key: methane
  name: {zh: 甲烷, en: Methane}
  quantity: methane
  for: 2m
  when: {kind: threshold, levels: {blue: 10, red: 50}, hysteresis: 2}
"""


def batch(minute: int, **values: float) -> list[dict[str, Any]]:
    ts = (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
    return [{"device_id": key, "ts": ts, "values": {"methane": v}} for key, v in values.items()]


def verdicts(signals: list[Any]) -> list[tuple[str, str, str | None, float | None, datetime]]:
    return [(s.rule, s.labels.get("device"), s.level and s.level.colour, s.value, s.at) for s in signals]


def started(known_types: dict[str, float], snapshot: dict[str, Any] | None = None,
            dropped: tuple[str, ...] = ()) -> tuple[RemoteEngine, list[Any]]:
    """A started engine process; the list records each restore (1) and each restart's dropped rules."""
    restored: list[Any] = []

    def restore() -> Any:
        restored.append(1)
        return RULES, snapshot, known_types, {"methane": "%LEL"}

    remote = RemoteEngine(restore, restart_min_s=0.05, call_timeout_s=20, on_restart=restored.append)
    assert remote.start() == list(dropped)
    return remote, restored


def results(remote: RemoteEngine) -> list[Any]:
    assert remote.wait_until_idle(20)
    return remote.take()


BATCHES = [batch(0, **{"GAS-1": 1.0, "GAS-2": 2.0}), batch(1, **{"GAS-1": 12.0}), batch(2, **{"GAS-1": 60.0}),
           batch(3, **{"GAS-1": 47.0, "GAS-2": 55.0}), batch(4, **{"GAS-1": 9.0})]


def test_the_same_verdicts_as_the_engine_in_this_process_in_order() -> None:
    here = RuleEngine(RULES, known_types={"gas_methane": 60.0}, units={"methane": "%LEL"})
    expected = [verdicts(here.observe(observations(b, CONTEXTS))) for b in BATCHES]
    expected.append(verdicts(here.tick(T0 + timedelta(minutes=30))))  # both silent for half an hour
    remote, _ = started({"gas_methane": 60.0})
    try:
        for b in BATCHES:
            remote.observe(b, CONTEXTS)  # returns at once; the answers come in order
        remote.tick(T0 + timedelta(minutes=30))
        got = results(remote)
        assert [verdicts(r.signals) for r in got] == expected
        assert [r.readings for r in got] == [2, 1, 1, 2, 1, 0]
        assert got[3].newest == (T0 + timedelta(minutes=3)).timestamp() and got[5].newest is None
        assert ("silent", "GAS-2", "yellow") in [v[:3] for v in expected[-1]]  # the tick's verdicts matter
        # the state it keeps is the state this process's engine keeps
        mine, theirs = here.snapshot(), decode_state(remote.call("snapshot"))
        assert theirs is not None  # (as JSON text: a no-data stream's silence is measured from NaN)
        assert json.dumps(theirs["rules"], sort_keys=True) == json.dumps(mine["rules"], sort_keys=True)
    finally:
        remote.stop()
    assert remote.lost == 0 and remote.restarts == 0


def test_a_failing_rule_is_isolated_and_reported() -> None:
    remote, _ = started({})  # no interval known for the type: the no-data rule cannot time its streams
    try:
        remote.observe(batch(0, **{"GAS-1": 60.0}), CONTEXTS)
        [result] = results(remote)
        assert verdicts(result.signals) == [("methane", "GAS-1", "red", 60.0, T0)]  # the other rule spoke
        count, message, subject, _at = remote.errors["silent"]
        assert count == 1 and "no interval known" in message and subject == "GAS-1"
        # a changed rule set: the changed rule's state is dropped, the other carries on
        changed = [*parse_rules(METHANE_HELD), RULES[1]]
        assert remote.call("rules", changed) == ["methane"]
        with pytest.raises(EngineGone, match="unknown request"):
            remote.call("nonsense")
    finally:
        remote.stop()


def test_a_killed_engine_process_is_restarted_from_the_saved_state() -> None:
    here = RuleEngine(RULES, known_types={"gas_methane": 60.0})
    here.observe(observations(batch(0, **{"GAS-1": 60.0}), CONTEXTS))  # red, as saved before the crash
    saved = here.snapshot()
    saved["rules"]["silent"]["fingerprint"] = "an older definition"  # changed since that state was saved
    remote, restored = started({"gas_methane": 60.0}, snapshot=saved, dropped=("silent",))
    try:
        first = remote.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while (remote.restarts < 1 or remote.pid == first or len(restored) < 3) and time.monotonic() < deadline:
            time.sleep(0.02)
        # restored twice; the restart reports the rule whose saved state it could not carry over
        assert remote.restarts == 1 and remote.pid != first and restored == [1, 1, ["silent"]]
        remote.observe(batch(1, **{"GAS-1": 7.0}), CONTEXTS)  # the new process knows GAS-1 was red
        deadline = time.monotonic() + 20
        got: list[Any] = []
        while not got and time.monotonic() < deadline:  # its restore is answered first
            got = [r for r in results(remote) if r.readings]
            time.sleep(0.01)
        assert [verdicts(r.signals) for r in got] == [[("methane", "GAS-1", None, 7.0, T0 + timedelta(minutes=1))]]
    finally:
        remote.stop()


def test_the_engine_process_ends_when_this_process_is_gone() -> None:
    remote, _ = started({})
    remote._stopping.set()  # no new engine process: this stands for this process dying
    assert remote._conn is not None
    # what the kernel does to our end of the pipe when this process dies (a close() here would not reach the
    # child while our reader thread still waits on the socket)
    with socket.socket(fileno=os.dup(remote._conn.fileno())) as ours:
        ours.shutdown(socket.SHUT_RDWR)
    deadline = time.monotonic() + 20
    while remote._process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert remote._process.returncode == 0  # it left on its own
    remote.stop()
