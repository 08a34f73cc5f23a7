"""Scenario loading: the packaged cities' statistics, and one clear error per malformed case."""

import pytest

from netctrl.errors import ScenarioError
from netctrl.problems.mobility import CitySettings, load_city, load_scenario, scenario_from_dict

from .conftest import TINY_SETTINGS


@pytest.mark.parametrize(
    "city, regions, edges, requests, fleet",
    [("nyc_brooklyn", 14, 56, 1869.0, 1498), ("shenzhen_downtown_west", 17, 68, 3545.0, 1768)],
)
def test_packaged_cities_match_reference_statistics(city, regions, edges, requests, fleet):
    # reference digest, section 2(c): regions/edges, expected requests per episode, fleet
    sc = load_city(city)
    assert sc.num_regions == regions and sc.network.num_edges == edges
    assert sc.meta["expected_requests"] == pytest.approx(requests, abs=0.5)
    assert sc.fleet.sum() == fleet
    assert sc.reb_time.min() >= 1 and sc.trip_time.min() >= 1


def test_reference_rebalancing_times_shenzhen():
    rt = load_city("shenzhen_downtown_west").reb_time[0]
    assert (rt.min(), round(rt.mean(), 2), rt.max()) == (1, 3.16, 9)


def test_all_pairs_option_adds_demand():
    adj = load_city("nyc_brooklyn")
    allp = load_city("nyc_brooklyn", demand_pairs="all")
    assert allp.meta["expected_requests"] > 2 * adj.meta["expected_requests"] - 1


def test_tiny_city_arrays(tiny_city):
    sc = scenario_from_dict(tiny_city, CitySettings(**TINY_SETTINGS))
    assert sc.pairs.tolist() == [[0, 1], [1, 0]]
    assert sc.rate[0].tolist() == [3.0, 0.0] and sc.rate[1].tolist() == [0.0, 1.0]
    assert sc.trip_time[1, 1] == 2 and sc.price[0, 0] == 10.0
    assert sc.fleet.tolist() == [2.0, 2.0]


def _expect(data, match, write_json, settings=TINY_SETTINGS):
    path = write_json(data)
    with pytest.raises(ScenarioError, match=match):
        load_scenario(path, CitySettings(**settings))


def test_missing_key(tiny_city, write_json):
    del tiny_city["rebTime"]
    _expect(tiny_city, "missing key 'rebTime'", write_json)


def test_missing_field(tiny_city, write_json):
    del tiny_city["demand"][1]["price"]
    _expect(tiny_city, r"'demand\[1\]' is missing field 'price'", write_json)


def test_negative_travel_time(tiny_city, write_json):
    tiny_city["demand"][0]["travel_time"] = -3
    _expect(tiny_city, r"'demand\[0\].travel_time' >= 0 \(got -3", write_json)


def test_negative_rebalancing_time(tiny_city, write_json):
    tiny_city["rebTime"][1]["reb_time"] = -1
    _expect(tiny_city, r"'rebTime\[1\].reb_time' >= 0", write_json)


def test_unknown_region(tiny_city, write_json):
    tiny_city["demand"][0]["destination"] = 7
    _expect(tiny_city, r"'demand\[0\].destination' = 7 is not a region id", write_json)


def test_unknown_region_in_topology(tiny_city, write_json):
    tiny_city["topology_graph"].append({"i": 0, "j": 9})
    _expect(tiny_city, r"'topology_graph\[1\].j' = 9 is not a region id", write_json)


def test_empty_demand(tiny_city, write_json):
    tiny_city["demand"] = []
    _expect(tiny_city, "'demand' is empty", write_json)


def test_demand_outside_episode(tiny_city, write_json):
    for d in tiny_city["demand"]:
        d["time_stamp"] += 600
    _expect(tiny_city, "no request for the simulated pairs during the episode", write_json)


def test_disconnected_adjacency(tiny_city, write_json):
    tiny_city["nlat"] = 3  # region 2 exists but no edge reaches it
    tiny_city["totalAcc"] = [{"hour": 0, "acc": 9}]
    _expect(tiny_city, "'topology_graph'.*not strongly connected", write_json)


def test_non_numeric_value(tiny_city, write_json):
    tiny_city["demand"][0]["demand"] = "many"
    _expect(tiny_city, r"'demand\[0\].demand' to be a number", write_json)


def test_missing_rebalancing_time_for_edge(tiny_city, write_json):
    tiny_city["rebTime"] = [tiny_city["rebTime"][0]]
    tiny_city["rebTime"][0]["time_stamp"] = 5
    _expect(tiny_city, r"'rebTime' has no entry for edge \(0, 1\) at hour 0", write_json)


def test_missing_fleet_hour(tiny_city, write_json):
    tiny_city["totalAcc"] = [{"hour": 3, "acc": 4}]
    _expect(tiny_city, "'totalAcc' has no entry for hour 0", write_json)


def test_self_loop_in_topology(tiny_city, write_json):
    tiny_city["topology_graph"].append({"i": 1, "j": 1})
    _expect(tiny_city, "self-loop", write_json)


def test_not_json(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text("{ not json")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenario(p)


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "nope.json")


def test_bad_settings():
    with pytest.raises(ScenarioError, match="'demand_pairs'"):
        CitySettings(demand_pairs="some")
    with pytest.raises(ValueError, match="Unknown city"):
        load_city("atlantis")
