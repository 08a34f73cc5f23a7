"""The oracle MPC: its plan is what the simulator does, and it bounds every other controller; the forecast MPC
and the imitation expert: what they may and may not see."""

import numpy as np
import pytest

from netctrl.evaluate import evaluate
from netctrl.problems.mobility import MobilityEnv, OracleMPC, baselines, generate_city, scenario_from_dict
from netctrl.problems.mobility.baselines import ForecastMPC, RebalancingExpert, oracle_plan
from netctrl.registry import get_problem


@pytest.mark.parametrize("city", ["nyc_brooklyn", "shenzhen_downtown_west"])
def test_oracle_plan_value_is_realised_by_the_simulator(city):
    """With a horizon covering the episode, the t=0 plan's optimum must equal the realised return: the LP
    models the simulator's timing, costs and vehicles exactly (an independent re-derivation of the dynamics)."""
    env = MobilityEnv(city)
    oracle = OracleMPC(horizon=env.T)
    oracle.bind(env)
    obs, _ = env.reset(seed=11)
    fresh = MobilityEnv(city)
    fresh.reset(seed=11, options={"demand": env.demand})
    fresh.t, fresh.idle, fresh.arrivals[:] = 0, fresh.scenario.fleet.astype(float).copy(), 0.0
    planned = oracle_plan(fresh, env.T).value
    total, done = 0.0, False
    while not done:
        obs, r, done, _, _ = env.step(oracle.act(obs))
        total += r
    assert total == pytest.approx(planned, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_oracle_bounds_every_baseline(seed):
    prob = get_problem("mobility/nyc_brooklyn")
    results = {
        name: evaluate(c, prob.make_env, [seed], make_lower=prob.make_lower).rewards[0]
        for name, c in baselines(seed).items()
    }
    for name, value in results.items():
        assert results["oracle"] >= value - 1e-6, (name, value, results["oracle"])


def test_reference_ordering_of_baselines():
    """The reference's ordering on NYC: oracle > uniform heuristic > random (digest section 3.2)."""
    prob = get_problem("mobility/nyc_brooklyn")
    r = {
        n: evaluate(c, prob.make_env, [3, 4], make_lower=prob.make_lower).rewards.mean()
        for n, c in baselines(0).items()
    }
    assert r["oracle"] > r["uniform"] > r["random"]


def _run(env, controller, seed, options=None):
    controller.bind(env)
    obs, _ = env.reset(seed=seed, options=options)
    total, done = 0.0, False
    while not done:
        obs, r, done, _, _ = env.step(controller.act(obs))
        total += r
    return total


def test_forecast_mpc_equals_the_oracle_when_demand_is_its_forecast():
    """Replaying requests equal to the scenario's rates makes the forecast the realised future: the forecast
    MPC must then take the oracle's decisions, step by step, and earn its return."""
    env = MobilityEnv("nyc_brooklyn")
    rates = env.scenario.rate.astype(float).copy()
    oracle = _run(MobilityEnv("nyc_brooklyn"), OracleMPC(), 0, {"demand": rates})
    forecast = _run(MobilityEnv("nyc_brooklyn"), ForecastMPC(), 0, {"demand": rates})
    assert forecast == pytest.approx(oracle, rel=1e-9)


def test_forecast_mpc_does_not_see_the_future():
    """Its first decision depends on the current step's requests only: two demands that agree at step 0 and
    differ later give the same first plan (the oracle's differs)."""
    a, b = MobilityEnv("nyc_brooklyn"), MobilityEnv("nyc_brooklyn")
    a.reset(seed=5)
    other = a.demand.copy()
    other[1:] = other[1:] * 3 + 1
    b.reset(seed=5, options={"demand": other})
    pa, pb = (oracle_plan(e, 20, foresight=False) for e in (a, b))
    assert (pa.served == pb.served).all() and (pa.flows == pb.flows).all()
    oa, ob = (oracle_plan(e, 20) for e in (a, b))
    assert oa.value != ob.value


def test_rebalancing_expert_moves_only_idle_vehicles():
    """The expert plans from the matched state: its target keeps the idle vehicles (a flow moves them, it
    does not make or lose any) and sends out of a region at most what is idle there."""
    env = MobilityEnv("nyc_brooklyn")
    env.reset(seed=2)
    expert = RebalancingExpert()
    for _ in range(3):
        target = expert.target(env)
        assert target.sum() == pytest.approx(env.idle.sum())
        flows = oracle_plan(env, 20, foresight=False, matched=True).flows
        out = np.bincount(env.src, weights=flows, minlength=env.N)
        assert (out <= env.idle + 1e-9).all()
        env.step(flows.astype(np.float32))


def test_oracle_rebalancing_keeps_the_environments_matching_and_the_oracle_bounds_it():
    """The rebalancing-only reference leaves the matching to the environment (its matcher stays the default),
    moves only idle vehicles, and earns at most the oracle's return on the same requests."""
    from netctrl.problems.mobility import RebalancingMPC
    from netctrl.problems.mobility.env import default_matcher

    city = scenario_from_dict(generate_city(20, seed=3), name="gen-20")
    ctrl = RebalancingMPC(foresight=True)
    env = MobilityEnv(city)
    ctrl.bind(env)
    assert env.matcher is default_matcher and ctrl.name == "oracle-rebalancing"
    obs, _ = env.reset(seed=1)
    total, done = 0.0, False
    while not done:
        flows = ctrl.act(obs)
        assert (np.bincount(env.src, weights=flows, minlength=env.N) <= env.idle + 1e-6).all()
        obs, r, done, _, _ = env.step(flows)
        total += r
    assert _run(MobilityEnv(city), OracleMPC(), 1) >= total - 1e-6


def test_forecast_rebalancing_is_what_the_expert_teaches():
    from netctrl.problems.mobility import RebalancingMPC

    env = MobilityEnv("nyc_brooklyn")
    env.reset(seed=4)
    ctrl = RebalancingMPC(foresight=False)
    ctrl.bind(env)
    flows = ctrl.act(None).astype(float)
    inflow = np.bincount(env.dst, weights=flows, minlength=env.N) - np.bincount(env.src, weights=flows, minlength=env.N)
    assert ctrl.name == "forecast-rebalancing"
    np.testing.assert_allclose(RebalancingExpert().target(env), env.idle + inflow, atol=1e-6)
