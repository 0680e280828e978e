"""Composite conditions (all, any, count) and the compiler of a rule's ``when`` tree into nodes."""

from __future__ import annotations

from collections import deque
from typing import Any

from citybrain.warning.rules import schema as S
from citybrain.warning.rules.leaves import (
    AnomalyLeaf,
    Leaf,
    NoDataLeaf,
    Node,
    RateLeaf,
    StuckLeaf,
    ThresholdLeaf,
)
from citybrain.warning.types import Level

__all__ = ["Combine", "CountNode", "Leaf", "Node", "NoDataLeaf", "compile_tree"]


class Combine(Node):
    def __init__(self, children: list[Node], every: bool) -> None:
        self.children = children
        self.every = every
        self.quantities = frozenset().union(*(c.quantities for c in children))
        self.timed = any(c.timed for c in children)

    def observe(self, st: list[Any], device: str, quantity: str, ts: float, value: float) -> None:
        for c in self.children:
            if quantity in c.quantities:
                c.observe(st, device, quantity, ts, value)

    def level(self, st: list[Any]) -> Level | None:
        out: Level | None = None
        if self.every:
            for c in self.children:
                lv = c.level(st)
                if lv is None:
                    return None
                if out is None or lv > out:
                    out = lv  # the least severe of them
            return out
        for c in self.children:
            lv = c.level(st)
            if lv is not None and (out is None or lv < out):
                out = lv
        return out

    def tick(self, st: list[Any], now: float) -> None:
        for c in self.children:
            if c.timed:
                c.tick(st, now)

    def deadline(self, st: list[Any]) -> float | None:
        times = [d for c in self.children if c.timed and (d := c.deadline(st)) is not None]
        return min(times) if times else None

    def leaves(self) -> list[Leaf]:
        return [leaf for c in self.children for leaf in c.leaves()]


class CountNode(Node):
    """Hits of the inner condition within the window, as a deque of [ts, level]."""

    timed = True

    def __init__(self, spec: S.Count, inner: Node) -> None:
        self.inner = inner
        self.n = spec.n
        self.window = S.duration_seconds(spec.window)
        self.at = spec.level
        self.quantities = inner.quantities

    def new_state(self) -> deque[tuple[float, int]]:
        return deque()

    def observe(self, st: list[Any], device: str, quantity: str, ts: float, value: float) -> None:
        self.inner.observe(st, device, quantity, ts, value)
        lv = self.inner.level(st)
        hits: deque[tuple[float, int]] = st[self.idx]
        if lv is not None:
            hits.append((ts, int(lv)))
        self._expire(hits, ts)

    def _expire(self, hits: deque[tuple[float, int]], now: float) -> None:
        cutoff = now - self.window
        while hits and hits[0][0] <= cutoff:
            hits.popleft()

    def level(self, st: list[Any]) -> Level | None:
        hits = st[self.idx]
        if len(hits) < self.n:
            return None
        return self.at or Level(max(lv for _, lv in hits))

    def tick(self, st: list[Any], now: float) -> None:
        if self.inner.timed:
            self.inner.tick(st, now)
        self._expire(st[self.idx], now)

    def deadline(self, st: list[Any]) -> float | None:
        hits = st[self.idx]
        own = hits[0][0] + self.window if hits else None
        inner = self.inner.deadline(st) if self.inner.timed else None
        return min((t for t in (own, inner) if t is not None), default=None)

    def dump(self, state: deque[tuple[float, int]]) -> list[list[float]]:
        return [[t, lv] for t, lv in state]

    def load(self, data: list[list[float]]) -> deque[tuple[float, int]]:
        return deque((float(t), int(lv)) for t, lv in data)

    def leaves(self) -> list[Leaf]:
        return self.inner.leaves()


def compile_tree(cond: Any, default_quantity: str | None) -> list[Node]:
    """The nodes of a condition tree in pre-order, numbered; ``[0]`` is the root (spatial: its inner)."""
    nodes: list[Node] = []

    def build(c: Any) -> Node:
        slot = len(nodes)
        nodes.append(None)  # type: ignore[arg-type]  # reserve the pre-order slot
        node: Node
        if isinstance(c, S.Threshold):
            node = ThresholdLeaf(c, c.quantity or default_quantity)  # type: ignore[arg-type]
        elif isinstance(c, S.Rate):
            node = RateLeaf(c, c.quantity or default_quantity)  # type: ignore[arg-type]
        elif isinstance(c, S.Stuck):
            node = StuckLeaf(c, c.quantity or default_quantity)  # type: ignore[arg-type]
        elif isinstance(c, S.Anomaly):
            node = AnomalyLeaf(c, c.quantity or default_quantity)  # type: ignore[arg-type]
        elif isinstance(c, S.NoData):
            node = NoDataLeaf(c, c.quantity or default_quantity)  # type: ignore[arg-type]
        elif isinstance(c, S.Count):
            node = CountNode(c, build(c.when))
        elif isinstance(c, S.All | S.Any_):
            node = Combine([build(x) for x in c.conditions], isinstance(c, S.All))
        else:
            raise TypeError(f"cannot compile {type(c).__name__} here")
        node.idx = slot
        nodes[slot] = node
        return node

    build(cond)
    return nodes
