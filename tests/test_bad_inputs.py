"""Every bad input gives a typed error naming the field: the corpus of tests/data/bad, and the bugs it found.

Each file of the corpus is read through the loader that ``netctrl --scenario/--topology/--instance`` uses
(:func:`netctrl.registry.load_problem`) or, for experiment files, the one of ``netctrl --config``
(:func:`netctrl.config.experiment`); ``manifest.toml`` says which exception it must raise and a substring of the
message (the field it names).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from netctrl import errors, files
from netctrl.config import experiment
from netctrl.errors import NetctrlError, ScenarioError
from netctrl.registry import load_problem

BAD = Path(__file__).parent / "data" / "bad"
MANIFEST = tomllib.loads((BAD / "manifest.toml").read_text(encoding="utf-8"))
CASES = MANIFEST["case"]
FAMILIES = ("mobility", "supply_chain", "network_flow", "routing", "critical_node", "toll_design")


def load(loader: str, path: Path):
    """Read ``path`` as the command line does for ``loader`` (a family, or ``config`` for an experiment file)."""
    if loader == "config":
        return experiment(path, need_recipe=False)
    return load_problem(loader, path, **MANIFEST["settings"].get(loader, {}))


def test_the_corpus_is_complete():
    listed = {c["file"] for c in CASES}
    on_disk = {p.relative_to(BAD).as_posix() for p in BAD.rglob("*") if p.is_file() and p.name != "manifest.toml"}
    assert listed == on_disk, "every corpus file needs a manifest entry, and every entry a file"
    assert len(CASES) >= 60
    for c in CASES:
        assert c["loader"] in FAMILIES + ("config",), c
        assert hasattr(errors, c["error"]) and issubclass(getattr(errors, c["error"]), NetctrlError), c


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_bad_input_gives_its_typed_error(case):
    with pytest.raises(NetctrlError) as info:
        load(case["loader"], BAD / case["file"])
    assert type(info.value).__name__ == case["error"], f"{case['note']}: {info.value!r}"
    assert case["match"] in str(info.value), f"{case['note']}: {info.value}"


# ------------------------------------------------------------------------------------- the probe's bugs
def _supply(tmp_path, edges) -> Path:
    nodes = [
        {"id": "F", "kind": "factory", "capacity": 20, "storage_cost": 1},
        {"id": "W1", "kind": "warehouse", "capacity": 30, "storage_cost": 0.5},
        {"id": "W2", "kind": "warehouse", "capacity": 30, "storage_cost": 0.5},
        {
            "id": "S1",
            "kind": "store",
            "capacity": 9,
            "storage_cost": 2,
            "demand": {"mean": 2, "amplitude": 1, "period": 15, "shift": 0, "noise": 1},
        },
    ]
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"nodes": nodes, "edges": [{"from": u, "to": v} for u, v in edges]}))
    return path


def test_supply_network_with_a_warehouse_cycle_is_refused_and_a_chain_still_loads(tmp_path):
    from netctrl.problems.supply_chain import load_scenario

    chain = [("F", "W1"), ("W1", "W2"), ("W2", "S1")]
    protect, offset, _ = load_scenario(_supply(tmp_path, chain)).echelons()
    assert protect.tolist() == [2, 2, 2, 2] and offset.tolist() == [3, 2, 1, 0]  # lead times 1-3, not 13-15
    with pytest.raises(ScenarioError, match="'edges' form a cycle W1 -> W2 -> W1"):
        load_scenario(_supply(tmp_path, chain + [("W2", "W1")]))


def test_critical_node_solutions_use_the_files_labels(tmp_path):
    from netctrl.problems.critical_node import ExactController, format_instance, read_instance

    path = tmp_path / "star_1-1-0_001.txt"
    path.write_text("V = [10, 20, 30, 40]\nA = [(10, 20), (20, 10), (20, 30), (30, 20), (20, 40), (40, 20)]\n")
    spec = load_problem("critical_node", path)
    env = spec.make_env()
    inst, _ = env.reset(seed=0)
    assert inst.labels == (10, 20, 30, 40)
    _, reward, _, _, info = env.step(ExactController().act(inst))
    # the hub (label 20, position 1) is vaccinated: reported as 20, not as position 1 or position + 1 = 2
    assert info["vaccinated"] == [20] and reward == 3.0
    assert set(info["infected"]) <= {10, 30, 40}
    again = format_instance(read_instance(path))
    assert "V = [10, 20, 30, 40]" in again and "(10, 20)" in again


def test_mobility_demand_outside_the_window_names_the_window(tmp_path):
    from .conftest import TINY_SETTINGS, tiny_city_dict

    city = tiny_city_dict()
    for rec in city["demand"]:
        rec["time_stamp"] += 600
    path = tmp_path / "late.json"
    path.write_text(json.dumps(city))
    with pytest.raises(ScenarioError) as info:
        load_problem("mobility", path, **TINY_SETTINGS)
    msg = str(info.value)
    assert "'demand' has 2 entries but" in msg and "window [0, 4)" in msg and "600..601" in msg


@pytest.mark.parametrize(
    "value, match",
    [
        (float("nan"), "'cost_per_minute' must be a finite number"),
        (float("inf"), "'cost_per_minute' must be a finite number"),
        (-1.0, "0 <= 'cost_per_minute' <= 1e"),
        (1e300, "0 <= 'cost_per_minute' <= 1e"),
        (2.5, None),
    ],
)
def test_mobility_cost_per_minute(value, match):
    from netctrl.problems.mobility import CitySettings

    if match is None:
        assert CitySettings(cost_per_minute=value).cost_per_minute == 2.5
        return
    with pytest.raises(ScenarioError, match=match):
        CitySettings(cost_per_minute=value)


def test_toll_tollable_must_be_a_boolean():
    from netctrl.problems.toll_design import scenario_from_dict

    links = [
        {"from": "s", "to": "t", "latency": {"a": 1}, "tollable": False},
        {"from": "s", "to": "m", "latency": {"b": 1}},
        {"from": "m", "to": "t", "latency": {}, "tollable": True},
    ]
    data = {
        "temperature": 0.5,
        "nodes": ["s", "m", "t"],
        "links": links,
        "demand": [{"origin": "s", "destination": "t", "rate": 1.0}],
    }
    assert scenario_from_dict(data).toll_arcs.tolist() == [1, 2]
    links[0]["tollable"] = "false"
    with pytest.raises(ScenarioError, match=r"'links\[0\].tollable' to be true or false \(got 'false'\)"):
        scenario_from_dict(data)


@pytest.mark.parametrize("loader", ["supply_chain", "network_flow", "routing", "toll_design", "critical_node"])
def test_non_utf8_files_are_typed_errors_in_every_loader(tmp_path, loader):
    path = tmp_path / ("x_1-1-1_001.txt" if loader == "critical_node" else "x.json")
    path.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(ScenarioError, match="must be UTF-8"):
        load_problem(loader, path)


def test_reading_helpers():
    assert files.as_number(np.float64(2.0)) == 2.0 and files.as_number("2") is None
    with pytest.raises(ScenarioError, match="nest deeper than 64"):
        files.parse_json("[" * 65 + "]" * 65, "x.json")
    assert files.parse_json("[" * 64 + "]" * 64, "x.json") is not None
    assert len(files.shown("x" * 1000)) == 80


def test_a_node_with_two_suppliers_is_protected_over_the_longer_lead_time(tmp_path):
    """Before, the last edge listed decided (a silent dependence on the file's order)."""
    from netctrl.problems.supply_chain import load_scenario

    path = _supply(tmp_path, [("F", "W1"), ("F", "W2"), ("W1", "S1"), ("W2", "S1")])
    doc = json.loads(path.read_text())
    leads = {("F", "W1"): 1, ("F", "W2"): 1, ("W1", "S1"): 4, ("W2", "S1"): 2}
    protect = []
    for edges in (doc["edges"], doc["edges"][::-1]):
        doc["edges"] = [{**e, "lead_time": leads[e["from"], e["to"]]} for e in edges]
        path.write_text(json.dumps(doc))
        sc = load_scenario(path)
        protect.append(int(sc.echelons()[0][sc.stores][0]))
    assert protect == [5, 5]  # lead time 4, + 1, whatever the order


def test_a_supply_network_needs_a_positive_price_and_bounded_quantities(tmp_path):
    """A zero price gave infinite observation features (costs are observed per unit of price); a demand mean of
    1e300 loaded and broke the environment's action bounds."""
    from netctrl.problems.supply_chain import load_scenario

    path = _supply(tmp_path, [("F", "W1"), ("W1", "S1")])
    doc = json.loads(path.read_text())
    for change, match in (
        ({"price": 0}, "'price' > 0"),
        ({"price": -3}, "'price' >= 0"),
        ({"nodes": [{**doc["nodes"][0], "capacity": 1e300}, *doc["nodes"][1:]]}, "<= 1e\\+12"),
    ):
        path.write_text(json.dumps({**doc, **change}))
        with pytest.raises(ScenarioError, match=match):
            load_scenario(path)
