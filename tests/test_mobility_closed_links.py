"""Closed rebalancing links (a change at deployment, issue 24): named by region ids, refused and counted by the
environment, never used by the oracle's plan or the bi-level lower level (the LP against networkx's min-cost flow
with them closed is in ``test_mobility_lower.py``)."""

import numpy as np
import pytest

from netctrl.errors import ConfigError, ScenarioError
from netctrl.problems.mobility import MobilityEnv, load_city
from netctrl.problems.mobility.baselines import oracle_plan
from netctrl.registry import get_problem


def test_closed_links_are_named_by_region_ids_and_a_bad_one_is_an_error():
    sc = load_city("nyc_brooklyn", closed_links=("4->5", "8->5"))
    ids = sc.meta["region_ids"]
    named = {f"{ids[s]}->{ids[d]}" for s, d, c in zip(sc.network.sources, sc.network.targets, sc.closed) if c}
    assert named == {"4->5", "8->5"} and load_city("nyc_brooklyn").closed is None
    with pytest.raises(ScenarioError, match=r"'closed_links': no rebalancing link '0->13'"):
        load_city("nyc_brooklyn", closed_links=("0->13",))
    with pytest.raises(ConfigError, match="'settings.closed_links' expects a list"):
        get_problem("mobility/nyc_brooklyn").with_settings(closed_links="4->5")  # a string, not a list
    spec = get_problem("mobility/nyc_brooklyn").with_settings(closed_links=["4->5"])  # as --set gives it (JSON)
    assert spec.make_env().unwrapped.scenario.closed.sum() == 1


def test_the_environment_refuses_flows_on_closed_links():
    env = MobilityEnv(load_city("nyc_brooklyn", closed_links=("4->5",)))
    sc = env.scenario
    e = int(np.flatnonzero(sc.closed)[0])
    other = next(k for k in range(env.E) if env.src[k] == env.src[e] and not sc.closed[k])
    env.reset(seed=0)
    idle = env.idle.copy()
    a = np.zeros(env.E)
    a[e], a[other] = 2.0, 1.0
    _, _, _, _, info = env.step(a)
    assert info["violations"] == 1
    # only the open link's vehicle left region 4 (the closed link's two stayed, matched or idle next step)
    assert info["rebalancing_cost"] == pytest.approx(env.beta * sc.reb_time[0][other])
    assert idle[env.src[e]] >= 3


def test_the_oracle_plan_and_the_bilevel_lower_level_never_use_a_closed_link():
    spec = get_problem("mobility/nyc_brooklyn").with_settings(closed_links=["4->5", "8->5", "9->5"])
    env = spec.make_env().unwrapped
    env.reset(seed=3)
    for _ in range(3):
        plan = oracle_plan(env, 6)
        assert plan.flows[env.scenario.closed].sum() == 0
        env.step(plan.flows)
    lower = spec.make_lower("lp", env)
    rng = np.random.default_rng(0)
    for _ in range(5):
        flows = lower.solve(env.flow_state(), rng.dirichlet(np.ones(env.N)))
        assert flows[env.scenario.closed].sum() == 0
