import copy
import json
import sys
from pathlib import Path

import numpy as np
import pytest

# the benchmark scripts (benchmarks/*.py) are not in the package; tests of their smoke runs import them
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))


def tiny_city_dict() -> dict:
    """Two regions A=0, B=1 joined both ways (1 minute apart); one request type A->B at minute 0."""
    return {
        "nlat": 2,
        "nlon": 1,
        "demand": [
            {"time_stamp": 0, "origin": 0, "destination": 1, "demand": 3.0, "travel_time": 1.0, "price": 10.0},
            {"time_stamp": 1, "origin": 1, "destination": 0, "demand": 1.0, "travel_time": 2.0, "price": 8.0},
        ],
        "rebTime": [
            {"time_stamp": 0, "origin": 0, "destination": 1, "reb_time": 1.0},
            {"time_stamp": 0, "origin": 1, "destination": 0, "reb_time": 1.0},
        ],
        "totalAcc": [{"hour": 0, "acc": 4}],
        "topology_graph": [{"i": 0, "j": 1}],
    }


TINY_SETTINGS = dict(start_hour=0, step_minutes=1, steps=4, demand_ratio=1.0, cost_per_minute=1.0, lookahead=10)


@pytest.fixture
def tiny_city():
    return copy.deepcopy(tiny_city_dict())


@pytest.fixture
def write_json(tmp_path):
    def _write(data, name="city.json"):
        p = tmp_path / name
        p.write_text(json.dumps(data))
        return p

    return _write


def random_flows_like(env, rng):
    """A random feasible-ish rebalancing action (may oversubscribe: the env scales it)."""
    return rng.uniform(0, 1, env.E).astype(np.float32) * env.idle[env.src].astype(np.float32)
