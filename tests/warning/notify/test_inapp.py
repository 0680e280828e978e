"""The in-app notifier and the bridge from its blocking ``send`` to the async bus."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from citybrain.warning.notify import NotifyConfigError, NotifyPermanent, NotifyTransient
from citybrain.warning.notify.inapp import InAppNotifier, bus_sink
from tests.warning.notify.conftest import BusThread, sample


def test_publishes_on_the_receivers_subject(bus_thread: BusThread) -> None:
    InAppNotifier({}, sink=bus_thread.sink).send(sample(receiver="fire"))
    InAppNotifier({"subject_prefix": "city.notify"}, sink=bus_thread.sink).send(sample(receiver="police"))
    [(subject, message)] = bus_thread.drain()  # the second one is outside the subscribed pattern
    assert subject == "notifications.inapp.fire"
    assert message == sample(receiver="fire").as_json()


@pytest.mark.parametrize("receiver", ["fire.brigade", "*", ">", "a b", ""])
def test_a_receiver_that_is_no_subject_token_is_permanent(receiver: str) -> None:
    with pytest.raises(NotifyPermanent, match="receiver"):
        InAppNotifier({}, sink=lambda s, m: None).send(sample(receiver=receiver))


def test_sink_failures_are_transient_unless_the_sink_says_otherwise() -> None:
    def broken(subject: str, message: dict[str, Any]) -> None:
        raise ConnectionError("bus down")

    def refusing(subject: str, message: dict[str, Any]) -> None:
        raise NotifyPermanent("not allowed")

    with pytest.raises(NotifyTransient, match="bus down"):
        InAppNotifier({}, sink=broken).send(sample())
    with pytest.raises(NotifyPermanent, match="not allowed"):
        InAppNotifier({}, sink=refusing).send(sample())


def test_a_sink_is_required() -> None:
    with pytest.raises(NotifyConfigError) as err:
        InAppNotifier({})
    assert err.value.key == "sink"


@pytest.mark.parametrize("prefix", ["", "a..b", "notifications.>", "with space"])
def test_prefix_is_checked(prefix: str) -> None:
    with pytest.raises(NotifyConfigError) as err:
        InAppNotifier({"subject_prefix": prefix}, sink=lambda s, m: None)
    assert err.value.key == "subject_prefix"


def test_bus_sink_on_the_loops_own_thread_refuses_instead_of_deadlocking() -> None:
    class Unused:
        async def publish(self, subject: str, message: Any) -> None:
            raise AssertionError("not reached")

    async def main() -> None:
        sink = bus_sink(Unused(), asyncio.get_running_loop())
        with pytest.raises(NotifyPermanent, match="worker thread"):
            InAppNotifier({}, sink=sink).send(sample())

    asyncio.run(main())


def test_a_publish_that_hangs_times_out_as_transient(bus_thread: BusThread) -> None:
    class Stuck:
        async def publish(self, subject: str, message: Any) -> None:
            await asyncio.Event().wait()

    sink = bus_sink(Stuck(), bus_thread.loop, timeout_s=0.1)
    with pytest.raises(NotifyTransient, match="longer than"):
        InAppNotifier({}, sink=sink).send(sample())
