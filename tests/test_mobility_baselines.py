"""The oracle MPC: its plan is what the simulator does, and it bounds every other controller."""

import pytest

from netctrl.evaluate import evaluate
from netctrl.problems.mobility import MobilityEnv, OracleMPC, baselines
from netctrl.problems.mobility.baselines import oracle_plan
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
