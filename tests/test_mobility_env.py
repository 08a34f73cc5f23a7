"""The mobility simulator against hand-computed cases and the matching LP (check_env: test_envs.py)."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from netctrl.errors import ActionError
from netctrl.lp import solve_lp
from netctrl.problems.mobility import CitySettings, MobilityEnv, greedy_matching, scenario_from_dict

from .conftest import TINY_SETTINGS, random_flows_like, tiny_city_dict


def tiny_env():
    return MobilityEnv(scenario_from_dict(tiny_city_dict(), CitySettings(**TINY_SETTINGS), name="tiny"))


def test_hand_computed_episode():
    """Regions A=0, B=1 (2 vehicles each, 1 step apart, beta = 1 per step).

    t=0: 3 requests A->B (price 10, 1 step): 2 served (A has 2), they are idle at B at t = 0+1+1 = 2.
         Action: send 1 vehicle B->A (cost 1), idle at A at t=2.  Reward = 2*(10-1) - 1 = 17.
    t=1: requests B->A (price 8, 2 steps) with the drawn count; B has 1 idle vehicle.
    """
    env = tiny_env()
    demand = np.zeros_like(env.scenario.rate)
    demand[0, 0] = 3
    demand[1, 1] = 1
    env.reset(seed=0, options={"demand": demand})
    assert env.idle.tolist() == [0.0, 2.0]
    assert env.served.tolist() == [2.0, 0.0]
    e_ba = env.scenario.network.edge_id()[(1, 0)]
    action = np.zeros(env.E, dtype=np.float32)
    action[e_ba] = 1.0
    _, r, _, _, info = env.step(action)
    assert r == pytest.approx(17.0)
    assert info["served"] == 2 and info["rebalancing_cost"] == 1.0
    # t=1: B has 1 idle vehicle, serves the B->A request (price 8, 2 steps): idle at A at t = 1+2+1 = 4
    assert env.t == 1 and env.idle.tolist() == [0.0, 0.0]
    _, r, *_ = env.step(np.zeros(env.E, dtype=np.float32))
    assert r == pytest.approx(8.0 - 2.0)
    # t=2: the two passengers land at B, the rebalanced vehicle at A
    assert env.t == 2 and env.idle.tolist() == [1.0, 2.0]
    env.step(np.zeros(env.E, dtype=np.float32))
    _, _, term, _, _ = env.step(np.zeros(env.E, dtype=np.float32))
    assert term and env.t == 4 and env.idle.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("city", ["nyc_brooklyn", "shenzhen_downtown_west"])
def test_vehicles_conserved_every_step(city):
    env = MobilityEnv(city)
    rng = np.random.default_rng(1)
    env.reset(seed=3)
    fleet = env.scenario.fleet.sum()
    done = False
    while not done:
        _, _, done, _, _ = env.step(random_flows_like(env, rng))
        assert env.idle.min() >= 0
        assert env.idle.sum() + env.in_transit() == pytest.approx(fleet)


def test_oversubscribed_outflow_is_scaled():
    env = tiny_env()
    env.reset(seed=0, options={"demand": np.zeros_like(env.scenario.rate)})
    action = np.full(env.E, 4.0, dtype=np.float32)  # the whole fleet on every edge: the Box's bound
    *_, info = env.step(action)
    assert info["action_scaled"]
    assert info["rebalancing_cost"] == pytest.approx(4.0)  # all 4 vehicles moved one step


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([np.nan, 0.0]), "finite"),
        (np.array([-1.0, 0.0]), "non-negative"),
        (np.zeros(3), "shape"),
        (np.array([1e30, 0.0]), "outside its bounds"),
    ],
)
def test_invalid_action_raises_and_leaves_state_unchanged(bad, match):
    env = tiny_env()
    env.reset(seed=0)
    before = (env.t, env.idle.copy(), env.arrivals.copy())
    with pytest.raises(ActionError, match=match):
        env.step(bad.astype(np.float32))
    assert env.t == before[0] and np.array_equal(env.idle, before[1]) and np.array_equal(env.arrivals, before[2])


def test_greedy_matching_equals_matching_lp():
    rng = np.random.default_rng(0)
    for _ in range(20):
        N, P = 5, 12
        origin = rng.integers(0, N, P)
        req = rng.poisson(3.0, P).astype(float)
        price = rng.choice([5.0, 10.0, 12.5, 20.0], P)
        idle = rng.integers(0, 8, N).astype(float)
        served = greedy_matching(idle, origin, req, price)
        # the reference LP: max price.m  s.t.  sum_{p from i} m_p <= idle_i, 0 <= m <= req
        A = sp.csr_matrix((np.ones(P), (origin, np.arange(P))), shape=(N, P))
        lp = solve_lp(price, A, np.full(N, -np.inf), idle, 0.0, req, maximize=True)
        assert served @ price == pytest.approx(lp.objective)
        assert np.all(served <= req + 1e-9)
        assert np.all(np.bincount(origin, served, N) <= idle + 1e-9)


def test_seed_determinism():
    a, b = MobilityEnv("nyc_brooklyn"), MobilityEnv("nyc_brooklyn")
    oa, _ = a.reset(seed=5)
    ob, _ = b.reset(seed=5)
    assert all(np.array_equal(oa[k], ob[k]) for k in oa)
    assert np.array_equal(a.demand, b.demand)
    b.reset(seed=6)
    assert not np.array_equal(a.demand, b.demand)


def test_pickle_round_trip_same_trajectory():
    env = MobilityEnv("nyc_brooklyn")
    env.reset(seed=2)
    clone = pickle.loads(pickle.dumps(env))
    rng1, rng2 = np.random.default_rng(0), np.random.default_rng(0)
    for _ in range(5):
        o1, r1, *_ = env.step(random_flows_like(env, rng1))
        o2, r2, *_ = clone.step(random_flows_like(clone, rng2))
        assert r1 == r2 and np.array_equal(o1["x"], o2["x"])


def test_replayed_demand_is_validated():
    env = tiny_env()
    with pytest.raises(ValueError, match="demand"):
        env.reset(seed=0, options={"demand": np.zeros((2, 2))})
