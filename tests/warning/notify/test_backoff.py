"""The retry schedule: exponential, capped, jittered reproducibly per notification."""

from __future__ import annotations

import pytest

from citybrain.warning.notify import (
    MAX_ATTEMPTS,
    NotifyConfigError,
    NotifyPermanent,
    NotifyTransient,
    backoff,
    retry_delay,
)


def test_doubles_from_the_base_up_to_the_cap() -> None:
    assert [backoff(a, jitter=0) for a in range(1, 10)] == [5, 10, 20, 40, 80, 160, 320, 600, 600]
    assert [backoff(a, base_s=1, factor=3, cap_s=30, jitter=0) for a in range(1, 6)] == [1, 3, 9, 27, 30]


def test_a_huge_attempt_does_not_overflow() -> None:
    assert backoff(10_000, jitter=0) == 600.0
    assert 480.0 <= backoff(10_000, key="n") <= 600.0


def test_jitter_is_reproducible_per_key_and_only_shortens() -> None:
    for attempt in range(1, 12):
        plain = backoff(attempt, jitter=0)
        jittered = backoff(attempt, key="ntf-0001")
        assert jittered == backoff(attempt, key="ntf-0001")
        assert plain * 0.8 <= jittered <= plain
    spread = {backoff(4, key=f"ntf-{i}") for i in range(50)}
    assert len(spread) == 50  # notifications that failed together do not retry together
    assert min(spread) < 34 and max(spread) > 38


def test_exact_values_are_pinned() -> None:
    # Pinned so that a change to the derivation is a visible decision, not an accident.
    assert [round(backoff(a, key="ntf-0001"), 6) for a in (1, 2, 3, 8)] == [4.453668, 8.537534, 16.509243, 546.19637]


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempts_count_from_one(attempt: int) -> None:
    with pytest.raises(ValueError, match="from 1"):
        backoff(attempt)


@pytest.mark.parametrize("jitter", [-0.1, 1.5])
def test_jitter_is_a_fraction(jitter: float) -> None:
    with pytest.raises(ValueError, match="fraction"):
        backoff(1, jitter=jitter)


def test_the_whole_schedule_ends_within_an_hour() -> None:
    total = sum(backoff(a, jitter=0) for a in range(1, MAX_ATTEMPTS))
    assert 20 * 60 < total < 60 * 60


def test_retry_delay_gives_up_on_permanent_errors_and_after_the_last_attempt() -> None:
    assert retry_delay(1, NotifyPermanent("401")) is None
    assert retry_delay(1, NotifyConfigError("url", "bad")) is None
    assert retry_delay(MAX_ATTEMPTS - 1, NotifyTransient("503"), jitter=0) == 600.0
    assert retry_delay(MAX_ATTEMPTS, NotifyTransient("503")) is None
    assert retry_delay(3, NotifyTransient("503"), max_attempts=3) is None


def test_retry_delay_honours_the_receivers_hint_within_the_cap() -> None:
    assert retry_delay(1, NotifyTransient("429", retry_after=90), jitter=0) == 90.0
    assert retry_delay(4, NotifyTransient("429", retry_after=1), jitter=0) == 40.0
    assert retry_delay(1, NotifyTransient("429", retry_after=86_400), jitter=0) == 600.0
    assert retry_delay(1, NotifyTransient("429", retry_after=86_400), cap_s=120, jitter=0) == 120.0
    assert retry_delay(2, NotifyTransient("x"), key="ntf-9") == backoff(2, key="ntf-9")
