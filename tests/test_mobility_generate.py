"""Generated cities (netctrl.problems.mobility.generate): the stated rules, checked on the written file."""

import json

import networkx as nx
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from typer.testing import CliRunner

import netctrl
from netctrl.cli import app
from netctrl.errors import ScenarioError
from netctrl.problems.mobility import MobilityEnv
from netctrl.problems.mobility.generate import generate_city
from netctrl.problems.mobility.scenario import load_scenario, scenario_from_dict


def _rates(city: dict) -> dict[tuple[int, int, int], dict]:
    return {(r["time_stamp"], r["origin"], r["destination"]): r for r in city["demand"]}


def test_same_seed_same_city_other_seed_other_city():
    assert generate_city(20, seed=3) == generate_city(20, seed=3)
    assert generate_city(20, seed=3)["demand"] != generate_city(20, seed=4)["demand"]


def test_planar_layout_is_a_connected_planar_graph():
    city = generate_city(60, seed=1)
    g = nx.Graph([(e["i"], e["j"]) for e in city["topology_graph"]])
    assert g.number_of_nodes() == 60 and nx.is_connected(g)
    assert nx.check_planarity(g)[0]
    assert g.number_of_edges() <= 3 * 60 - 6  # a planar graph's edge bound


def test_grid_layout_by_hand():
    city = generate_city(12, layout="grid")  # 4 columns, 3 rows
    edges = {(e["i"], e["j"]) for e in city["topology_graph"]}
    assert len(edges) == 3 * 3 + 2 * 4
    assert {(0, 1), (0, 4), (5, 6), (7, 11)} <= edges and (3, 4) not in edges  # no wrap-around


def test_demand_volume_profile_symmetry_and_prices():
    trips, n, ratio = 50.0, 30, 9.0
    city = generate_city(n, seed=2, trips_per_region_hour=trips, demand_ratio=ratio, peak_hour=20.0, start_hour=19)
    total = sum(r["demand"] for r in city["demand"]) * ratio  # requests over the 180 written minutes
    assert total / 3 == pytest.approx(trips * n, rel=1e-9)
    per_minute = {}
    for r in city["demand"]:
        per_minute[r["time_stamp"]] = per_minute.get(r["time_stamp"], 0.0) + r["demand"]
    assert max(per_minute, key=per_minute.get) == 20 * 60  # the profile peaks at peak_hour
    rates = _rates(city)
    for (m, o, d), r in list(rates.items())[:500]:
        assert rates[(m, d, o)]["demand"] == pytest.approx(r["demand"])  # the gravity model is symmetric
        assert r["travel_time"] >= 1
        assert r["price"] == pytest.approx(2.5 + 0.6 * r["travel_time"], abs=0.011)  # both rounded to cents


def test_fleet_is_little_s_law_times_the_ratio():
    city = generate_city(25, seed=5, fleet_ratio=2.0, demand_ratio=1.0)
    busy = {}
    for r in city["demand"]:
        busy[r["time_stamp"]] = busy.get(r["time_stamp"], 0.0) + r["demand"] * r["travel_time"]
    fleet = city["totalAcc"][0]["acc"]
    assert fleet % 25 == 0
    need = 2.0 * max(busy.values())  # from the written (rounded) travel times
    assert need - 0.5 <= fleet < need + 25 + 0.5  # rounded up to a multiple of the 25 regions


def test_a_generated_city_is_a_valid_scenario_and_environment(tmp_path):
    scen = scenario_from_dict(generate_city(20, seed=1), name="gen-20")
    assert scen.num_regions == 20
    check_env(MobilityEnv(scen), skip_render_check=True)
    spec = netctrl.load_problem("mobility", "generated/20/1")
    assert spec.name == "mobility/generated-20-1"
    assert netctrl.load_problem("mobility", "generated/12/0/grid").name == "mobility/generated-12-0-grid"


def test_cli_writes_a_city_file_the_loader_reads(tmp_path):
    out = tmp_path / "city.json"
    res = CliRunner().invoke(app, ["generate-city", "16", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["generator"]["seed"] == 3
    assert load_scenario(out).num_regions == 16
    bad = CliRunner().invoke(app, ["generate-city", "16", "--layout", "hex", "--out", str(out)])
    assert bad.exit_code != 0 and "'layout'" in bad.output


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"regions": 1}, "regions"),
        ({"regions": 10, "pairs": "some"}, "pairs"),
        ({"regions": 10, "speed_kmh": 0}, "speed_kmh"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field):
    with pytest.raises(ScenarioError, match=f"'{field}'"):
        generate_city(**kwargs)


def test_rates_decay_with_distance_on_average():
    city = generate_city(80, seed=0, pairs="all", hours=1, start_hour=19)
    minute = 19 * 60
    rows = [r for r in city["demand"] if r["time_stamp"] == minute and r["origin"] != r["destination"]]
    t = np.array([r["travel_time"] for r in rows])
    rate = np.array([r["demand"] for r in rows])
    near, far = rate[t <= np.median(t)].mean(), rate[t > np.median(t)].mean()
    assert near > 3 * far


def test_a_mix_key_trains_one_policy_on_one_city_per_size(tmp_path):
    """``generated/20,30/4``: cities of 20 and 30 regions from generator seeds 4 and 5 to train on (imitation
    and PPO), validation on the largest; the imitation stage labels one episode per city."""
    from netctrl.recipes import train

    spec = netctrl.load_problem("mobility", "generated/20,30/4")
    assert spec.name == "mobility/generated-mix-20-30-4"
    envs = [f() for f in spec.hooks["train_envs"]]
    assert [e.N for e in envs] == [20, 30] and spec.hooks["pretrain_envs"] == spec.hooks["train_envs"]
    for env, seed in zip(envs, (4, 5)):
        alone = scenario_from_dict(generate_city(env.N, seed=seed), name="alone")
        np.testing.assert_array_equal(env.scenario.rate, alone.rate)
    assert spec.make_env().N == 30
    tiny = {"pretrain.episodes": 1, "pretrain.rounds": 0, "pretrain.epochs": 1}
    train(spec, "bilevel-ppo", tmp_path, imitation=True, **tiny, iterations=1, num_envs=4, eval_every=1)
    record = json.loads((tmp_path / "pretrain.json").read_text())
    assert record["episodes"] == 2 and record["states"] == 2 * spec.make_env().T
