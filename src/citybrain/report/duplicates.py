"""Duplicate reports: how sure are we that a new report is an incident someone already reported?

``score`` rates one earlier report against a new one from four signals: the same category (a gate), the
distance within the category's radius, the time gap within its window, and how alike the two descriptions
read (Jaccard similarity of character bigrams, which works for Chinese without word segmentation).
``decide`` picks the best earlier report: above ``AUTO_THRESHOLD`` the new report is linked automatically;
between ``REVIEW_THRESHOLD`` and it a person is asked. ``synthetic_reports`` + ``evaluate`` measure the
matcher on labelled reports placed on Shanghai's real roads (``citybrain report dedupe-eval``).

>>> from datetime import datetime, timedelta, UTC
>>> t = datetime(2026, 11, 30, 8, tzinfo=UTC)
>>> a = Sighting(1, "manhole_missing", 121.4737, 31.2304, t, "人民大道200号门口窨井盖没了")
>>> b = Sighting(2, "manhole_missing", 121.4738, 31.2305, t + timedelta(hours=1), "人民大道200号井盖没了很危险")
>>> d = decide(b, [a], radius_m=50, window_h=48)
>>> d.action, d.target_id, d.confidence > AUTO_THRESHOLD
('link', 1, True)
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from citybrain.geo.spatial import haversine_m

AUTO_THRESHOLD = 0.65
REVIEW_THRESHOLD = 0.45
WEIGHTS = {"distance": 0.45, "time": 0.15, "text": 0.40}
TEXT_SATURATION = 0.45  # bigram Jaccard of two wordings of one incident rarely goes above this


@dataclass(frozen=True, slots=True)
class Sighting:
    """What the matcher needs of a report."""

    id: int
    service_code: str
    lon: float
    lat: float
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class Score:
    candidate_id: int
    confidence: float
    distance_m: float
    gap_h: float
    text: float

    def as_dict(self) -> dict[str, Any]:
        return {"candidate_id": self.candidate_id, "confidence": round(self.confidence, 3),
                "distance_m": round(self.distance_m, 1), "gap_h": round(self.gap_h, 2), "text": round(self.text, 3)}


@dataclass(frozen=True, slots=True)
class Decision:
    action: str  # link | review | none
    target_id: int | None
    confidence: float
    scores: tuple[Score, ...] = ()


_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def bigrams(text: str) -> frozenset[str]:
    """Character bigrams of the text without spaces and punctuation (lower-cased).

    >>> sorted(bigrams("井盖 没了!"))
    ['井盖', '没了', '盖没']
    """
    norm = _NON_WORD.sub("", text.lower())
    if len(norm) < 2:
        return frozenset({norm}) if norm else frozenset()
    return frozenset(norm[i:i + 2] for i in range(len(norm) - 1))


def text_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' character bigrams (0 when either is empty)."""
    x, y = bigrams(a), bigrams(b)
    if not x or not y:
        return 0.0
    return len(x & y) / len(x | y)


def score(new: Sighting, old: Sighting, *, radius_m: float, window_h: float) -> Score | None:
    """The confidence (0..1) that ``new`` reports the incident ``old`` reported; None outside the gates."""
    if new.service_code != old.service_code or old.id == new.id:
        return None
    distance = haversine_m(new.lon, new.lat, old.lon, old.lat)
    gap_h = abs((new.at - old.at).total_seconds()) / 3600
    if distance > radius_m or gap_h > window_h:
        return None
    text = text_similarity(new.text, old.text)
    confidence = (WEIGHTS["distance"] * (1 - distance / radius_m) + WEIGHTS["time"] * (1 - gap_h / window_h)
                  + WEIGHTS["text"] * min(1.0, text / TEXT_SATURATION))
    return Score(old.id, confidence, distance, gap_h, text)


def decide(new: Sighting, candidates: Iterable[Sighting], *, radius_m: float, window_h: float,
           auto: float = AUTO_THRESHOLD, review: float = REVIEW_THRESHOLD) -> Decision:
    """Link, ask a person, or nothing, against the best-scoring earlier report."""
    scores = sorted((s for c in candidates if (s := score(new, c, radius_m=radius_m, window_h=window_h))),
                    key=lambda s: (-s.confidence, s.distance_m))
    if not scores:
        return Decision("none", None, 0.0)
    best = scores[0]
    action = "link" if best.confidence >= auto else "review" if best.confidence >= review else "none"
    return Decision(action, best.candidate_id if action != "none" else None, best.confidence, tuple(scores[:5]))


# -- a labelled set on Shanghai's roads, and the evaluation ------------------------------------------------

LANDMARKS = ("便利店", "小区门口", "公交站", "菜场", "学校门口", "地铁口", "超市", "银行", "医院", "停车场", "公园",
             "加油站", "菜鸟驿站", "幼儿园", "大楼", "弄堂口")
PHRASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "gas_smell": (("煤气味", "燃气味", "天然气味道", "一股煤气的味道"), ("很浓", "特别重", "有点", "越来越大")),
    "fire_hazard": (("消防通道被堵", "消防通道停满了车", "安全出口锁住了", "楼道里电动车充电"),
                    ("好几天了", "一直这样", "很危险")),
    "road_collapse": (("路面塌了", "路面塌陷", "马路上有个大坑", "地面下沉"), ("很深", "车子差点掉进去", "越来越大")),
    "manhole_missing": (("窨井盖没了", "井盖不见了", "井盖破了", "井盖缺失"), ("很危险", "晚上看不见", "有人差点踩空")),
    "waterlogging": (("积水很深", "路上淹水", "下穿通道积水", "水漫到人行道"), ("车过不去", "到膝盖了", "排不掉")),
    "construction_site": (("工地围挡倒了", "工地有东西掉下来", "塔吊晃得厉害", "脚手架歪了"),
                          ("很危险", "没人管", "就在路边")),
    "hazardous_chemicals": (("有刺鼻气味", "化学品桶泄漏", "危化品乱放", "液体在流"), ("很呛", "眼睛难受", "颜色很怪")),
    "crowding": (("人太多了", "挤得走不动", "人群拥挤", "排队的人堵住了"), ("有点危险", "快踩踏了", "没人疏导")),
    "exposed_wiring": (("电线裸露", "电线掉下来了", "配电箱开着", "私拉电线"),
                       ("会触电", "下雨天很危险", "小孩会碰到")),
    "structural_crack": (("墙上有裂缝", "外墙开裂", "楼房裂缝", "外墙砖掉了"), ("越来越大", "很宽", "担心倒塌")),
    "other": (("有安全隐患", "很危险的情况", "需要有人来看看", "不太安全"), ("请处理", "麻烦看一下", "好几天了")),
}
EXTRAS = ("请尽快处理", "麻烦来看看", "谢谢", "", "", "急", "已经好几天了")


@dataclass(frozen=True, slots=True)
class Labelled:
    sighting: Sighting
    group: int  # reports of one true incident share a group


@dataclass(frozen=True, slots=True)
class _Incident:
    group: int
    code: str
    lon: float
    lat: float
    at: datetime
    road: str
    number: int
    landmark: str


def anchors_from_city(city: Any, *, limit: int = 5000, seed: int = 0) -> list[tuple[float, float, str]]:
    """Points on the city's named roads: (lon, lat, road name)."""
    rng = random.Random(seed)
    points = [(c[0], c[1], e.name) for e in city.roads.edges if e.name for c in e.coords]
    rng.shuffle(points)
    return points[:limit]


def _offset(lon: float, lat: float, metres: float, bearing: float) -> tuple[float, float]:
    dlat = metres * math.cos(bearing) / 111_194.9
    dlon = metres * math.sin(bearing) / (111_194.9 * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat


def _text(rng: random.Random, inc: _Incident) -> str:
    nouns, mods = PHRASES.get(inc.code, PHRASES["other"])
    where = rng.choice((f"{inc.road}{inc.number}号", f"{inc.road}{inc.landmark}", f"{inc.landmark}附近",
                        f"{inc.road}{inc.number}号{inc.landmark}旁边", f"{inc.road}靠近{inc.landmark}"))
    parts = [where, rng.choice(nouns) + rng.choice(mods), rng.choice(EXTRAS)]
    if rng.random() < 0.3:
        parts[0], parts[1] = parts[1], parts[0]
    return "，".join(p for p in parts if p)


def synthetic_reports(*, seed: int, n: int, anchors: Sequence[tuple[float, float, str]], start: datetime,
                      radii: dict[str, tuple[float, float]], distractor_share: float = 0.25) -> list[Labelled]:
    """About ``n`` reports in time order: incidents reported by 1-6 people with jitter in place, time and wording,
    plus distractors (the same category near an incident, but a different one). ``radii``: code → (radius m,
    window h)."""
    rng = random.Random(seed)
    codes = sorted(radii)
    incidents: list[_Incident] = []
    out: list[Labelled] = []
    group = 0
    while len(out) < n:
        code = rng.choice(codes)
        radius, window = radii[code]
        if incidents and rng.random() < distractor_share:  # a different incident near an earlier one
            base = rng.choice(incidents)
            code, (radius, window) = base.code, radii[base.code]
            lon, lat = _offset(base.lon, base.lat, rng.uniform(0.3, 0.95) * radius, rng.uniform(0, 2 * math.pi))
            at = base.at + timedelta(hours=rng.uniform(-0.5, 0.5) * window)
            road = base.road if rng.random() < 0.6 else rng.choice(anchors)[2]
        else:
            lon, lat, road = rng.choice(anchors)
            at = start + timedelta(hours=rng.uniform(0, 24 * 14))
        inc = _Incident(group, code, lon, lat, at, road, rng.randint(1, 1500), rng.choice(LANDMARKS))
        incidents.append(inc)
        size = 1 if rng.random() < 0.5 else min(6, 2 + int(rng.expovariate(0.8)))
        for k in range(size):
            jitter = abs(rng.gauss(0, 0.15 * radius + 5))
            rlon, rlat = _offset(lon, lat, min(jitter, 0.8 * radius), rng.uniform(0, 2 * math.pi))
            delay = 0.0 if k == 0 else min(rng.expovariate(6 / window), 0.8 * window)
            out.append(Labelled(Sighting(len(out) + 1, code, rlon, rlat, at + timedelta(hours=delay),
                                         _text(rng, inc)), group))
        group += 1
    out.sort(key=lambda r: (r.sighting.at, r.sighting.id))
    return out


@dataclass
class Evaluation:
    reports: int = 0
    groups: int = 0
    true_duplicates: int = 0  # reports whose incident had been reported before
    auto_links: int = 0
    auto_correct: int = 0
    reviews: int = 0
    review_correct: int = 0
    confidences: list[float] = field(default_factory=list, repr=False)

    @staticmethod
    def _f1(p: float, r: float) -> float:
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        ap = self.auto_correct / self.auto_links if self.auto_links else 0.0
        ar = self.auto_correct / self.true_duplicates if self.true_duplicates else 0.0
        rp = self.review_correct / self.reviews if self.reviews else 0.0
        both = (self.auto_correct + self.review_correct) / self.true_duplicates if self.true_duplicates else 0.0
        return {
            "reports": self.reports, "incidents": self.groups, "true_duplicates": self.true_duplicates,
            "auto": {"links": self.auto_links, "correct": self.auto_correct, "precision": round(ap, 4),
                     "recall": round(ar, 4), "f1": round(self._f1(ap, ar), 4)},
            "review": {"flagged": self.reviews, "correct": self.review_correct, "precision": round(rp, 4),
                       "recall_with_auto": round(both, 4)},
            "thresholds": {"auto": AUTO_THRESHOLD, "review": REVIEW_THRESHOLD},
        }


def evaluate(reports: Sequence[Labelled], *, radii: dict[str, tuple[float, float]],
             auto: float = AUTO_THRESHOLD, review: float = REVIEW_THRESHOLD) -> Evaluation:
    """Replay the reports in time order as the service does; a person settles each review correctly."""
    ev = Evaluation(reports=len(reports), groups=len({r.group for r in reports}))
    originals: dict[str, list[Labelled]] = {}
    seen_groups: set[int] = set()
    group_of = {r.sighting.id: r.group for r in reports}
    for r in reports:
        s = r.sighting
        radius, window = radii[s.service_code]
        if r.group in seen_groups:
            ev.true_duplicates += 1
        seen_groups.add(r.group)
        pool = [o.sighting for o in originals.get(s.service_code, ())
                if (s.at - o.sighting.at) <= timedelta(hours=window)]
        d = decide(s, pool, radius_m=radius, window_h=window, auto=auto, review=review)
        ev.confidences.append(d.confidence)
        right = d.target_id is not None and group_of[d.target_id] == r.group
        if d.action == "link":
            ev.auto_links += 1
            ev.auto_correct += right
            continue
        if d.action == "review":
            ev.reviews += 1
            ev.review_correct += right
            if right:
                continue
        originals.setdefault(s.service_code, []).append(r)
    return ev
