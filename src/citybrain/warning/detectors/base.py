"""The one interface every streaming anomaly detector implements (after river's ``anomaly/base.py``).

A detector sees one numeric stream (one device, one quantity). ``score_one`` says how anomalous an
observation is *before* learning it (0 = normal, 1 = certainly anomalous); ``learn_one`` then updates
the model. Until ``warmup`` observations have been learned the score is 0. Deciding is a separate
step (:class:`Threshold`), so one detector serves the corpus-optimised and the shipped threshold alike.
``state()`` returns plain JSON-ready data and ``restore`` rebuilds an equal detector, so per-stream
state survives a restart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar


class Detector(ABC):
    name: ClassVar[str]  # registry key, e.g. "gaussian"
    shipped_threshold: ClassVar[float]  # the threshold the engine uses unless a rule says otherwise

    warmup: int = 0

    @abstractmethod
    def learn_one(self, x: float, t: float) -> None:
        """Update the model with value ``x`` observed at ``t`` (seconds since the epoch)."""

    @abstractmethod
    def score_one(self, x: float, t: float) -> float:
        """Anomaly score in [0, 1] for ``x`` at ``t``, without learning it."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """The whole per-stream state as JSON-ready data (parameters included)."""

    @classmethod
    @abstractmethod
    def restore(cls, state: dict[str, Any]) -> Detector:
        """A detector equal to the one whose ``state()`` this is."""

    def process_one(self, x: float, t: float) -> float:
        """Score, then learn: the streaming order."""
        s = self.score_one(x, t)
        self.learn_one(x, t)
        return s


@dataclass(frozen=True, slots=True)
class Threshold:
    """The deciding step: an observation is anomalous when its score reaches ``value``.

    >>> Threshold(0.9).decide(0.95), Threshold(0.9).decide(0.5)
    (True, False)
    """

    value: float

    def decide(self, score: float) -> bool:
        return score >= self.value
