"""Metro impact on the bundled Shanghai network: lines of a closed interchange, k-hop reach, ways round."""

from __future__ import annotations

import networkx as nx
import pytest

from citybrain.geo.graphs import metro_graph
from citybrain.geo.loaders import load_shanghai
from citybrain.incident.metro import (
    Closure,
    alternative_route,
    alternatives,
    closed_graph,
    find_station,
    impact,
    k_hop_impact,
    through_pairs,
)


@pytest.fixture(scope="module")
def g() -> nx.DiGraph:
    return metro_graph(load_shanghai().metro)


def test_closing_an_interchange_lists_its_lines(g: nx.DiGraph) -> None:
    ps = find_station(g, "people's square")
    assert impact(g, Closure(stations=(ps,))).lines == ("Line 1", "Line 2", "Line 8")
    ca = find_station(g, "Century Avenue")
    both = impact(g, Closure(stations=(ps, ca)))
    assert both.stations == (ps, ca) and both.lines == ("Line 1", "Line 2", "Line 4", "Line 6", "Line 8", "Line 9")
    with pytest.raises(KeyError):
        find_station(g, "Atlantis")
    with pytest.raises(nx.NodeNotFound):
        impact(g, Closure(stations=("no-such",)))


def test_k_hop_sets_grow_with_k(g: nx.DiGraph) -> None:
    closure = Closure(stations=(find_station(g, "People's Square"),))
    sets = [set(k_hop_impact(g, closure, k)) for k in range(5)]
    assert sets[0] == set(closure.stations)
    for smaller, larger in zip(sets, sets[1:], strict=False):
        assert smaller < larger
    hops = k_hop_impact(g, closure, 2)
    assert find_station(g, "East Nanjing Road") in hops and hops[find_station(g, "East Nanjing Road")] == 1


def test_alternative_avoids_the_closed_station_and_is_longer(g: nx.DiGraph) -> None:
    ps = find_station(g, "People's Square")
    closure = Closure(stations=(ps,))
    a, b = find_station(g, "East Nanjing Road"), find_station(g, "West Nanjing Road")
    alt = alternative_route(g, a, b, closure)
    assert ps in alt.normal_path and alt.affected
    assert alt.minutes is not None and ps not in alt.path and alt.path[0] == a and alt.path[-1] == b
    assert alt.extra_minutes is not None and alt.extra_minutes > 0
    assert ps not in closed_graph(g, closure)
    with pytest.raises(ValueError, match="closed station"):
        alternative_route(g, ps, b, closure)


def test_through_pairs_are_the_trips_a_closure_cuts(g: nx.DiGraph) -> None:
    ps = find_station(g, "People's Square")
    pairs = through_pairs(g, ps)
    assert [line for line, _, _ in pairs] == ["Line 1", "Line 2", "Line 8"]
    alts = alternatives(g, Closure(stations=(ps,)))
    assert len(alts) == 3 and all(a.affected and a.extra_minutes and a.extra_minutes > 0 for a in alts)


def test_a_closed_segment_stops_its_line_both_ways(g: nx.DiGraph) -> None:
    ps, enr = find_station(g, "People's Square"), find_station(g, "East Nanjing Road")
    closure = Closure(segments=((enr, ps),))
    assert impact(g, closure).lines == ("Line 2",)
    for a, b in ((ps, enr), (enr, ps)):
        alt = alternative_route(g, a, b, closure)
        assert alt.affected and alt.path and list(alt.path[:2]) != [a, b]
        assert alt.minutes is not None and alt.minutes > alt.normal_minutes
    with pytest.raises(ValueError, match="not a segment"):
        impact(g, Closure(segments=((ps, find_station(g, "Century Avenue")),)))


def test_an_unaffected_trip_costs_nothing_extra(g: nx.DiGraph) -> None:
    closure = Closure(stations=(find_station(g, "People's Square"),))
    alt = alternative_route(g, find_station(g, "Xujiahui"), find_station(g, "Hengshan Road"), closure)
    assert not alt.affected and alt.extra_minutes == 0
