"""Supply chain: stock and backlog accounting by hand, the LP's limits, the oracle's bound, scenario errors."""

import copy

import numpy as np
import pytest

from netctrl.bilevel import BilevelWrapper
from netctrl.errors import ActionError, ScenarioError
from netctrl.evaluate import evaluate
from netctrl.policies.actor_critic import PolicyController
from netctrl.problems.supply_chain import (
    FEATURE_BASE_PRODUCTION,
    FEATURE_BASE_STOCK,
    REFERENCE,
    OracleMPC,
    OrderUpTo,
    RandomDistribution,
    SupplyChainEnv,
    SupplyLP,
    load_named,
    load_scenario,
    oracle_plan,
    scenario_from_dict,
    tune_order_up_to,
)
from netctrl.recipes.bilevel import init_policy
from netctrl.registry import get_problem, get_recipe


def tiny_dict():
    """Factory F (capacity 10, storage 1, production 5, lead 1) -> store S (capacity 4, storage 2), edge cost 1."""
    return {
        "name": "tiny",
        "steps": 4,
        "price": 10.0,
        "backlog_penalty": 3.0,
        "overcapacity_penalty": 7.0,
        "advance_info": 1,
        "nodes": [
            {
                "id": "F",
                "kind": "factory",
                "capacity": 10,
                "storage_cost": 1,
                "production_cost": 5,
                "production_time": 1,
            },
            {
                "id": "S",
                "kind": "store",
                "capacity": 4,
                "storage_cost": 2,
                "demand": {"mean": 2, "amplitude": 0, "period": 15, "shift": 0, "noise": 0},
            },
        ],
        "edges": [{"from": "F", "to": "S", "lead_time": 1, "cost": 1.0}],
    }


def tiny_env():
    return SupplyChainEnv(scenario_from_dict(tiny_dict()))


def test_hand_computed_stock_and_backlog():
    env = tiny_env()
    demand = np.zeros((env.horizon, 2))
    demand[:4, 1] = [2, 3, 1, 6]
    env.reset(seed=0, options={"demand": demand})
    # t=0: produce 8 (cost 40); nothing to ship; store backlogs 2 -> reward 10*2 - 40 - 3*2 = -26
    _, r, *_ = env.step(np.array([8.0, 0.0]))
    assert r == pytest.approx(-26.0) and env.stock.tolist() == [0.0, -2.0]
    # t=1: 8 units finished; ship 7 (cost 7); factory keeps 1 (storage 1); store backlog 2+3 -> 5 (penalty 15)
    _, r, *_ = env.step(np.array([0.0, 7.0]))
    assert r == pytest.approx(10 * 3 - 7 - 1 - 15) and env.stock.tolist() == [1.0, -5.0]
    # t=2: the 7 arrive: -5 + 7 - 1 = 1 in the store (storage 2); factory still 1 (storage 1)
    _, r, *_ = env.step(np.array([0.0, 0.0]))
    assert r == pytest.approx(10 * 1 - 1 - 2) and env.stock.tolist() == [1.0, 1.0]
    # t=3: ship 1; the store cannot serve 6 -> backlog 5
    _, r, done, *_ = env.step(np.array([0.0, 1.0]))
    assert r == pytest.approx(10 * 6 - 1 - 3 * 5) and env.stock.tolist() == [0.0, -5.0] and done


def test_overcapacity_penalised_and_discarded():
    env = tiny_env()
    env.reset(seed=0, options={"demand": np.zeros((env.horizon, 2))})
    env.step(np.array([15.0, 0.0]))  # 15 units finish at t=1 in a factory of capacity 10
    _, r, *_ = env.step(np.array([0.0, 0.0]))
    # storage is charged on the 15 units before the 5 above capacity are discarded (as the reference does)
    assert r == pytest.approx(-15 * 1 - 7 * 5) and env.stock[0] == 10.0


def test_total_outflow_never_exceeds_stock():
    """The reference checks each edge alone; here two edges asking for 2x the stock are scaled together."""
    env = SupplyChainEnv("1f2s")
    env.reset(seed=0)
    env.step(np.array([10.0, 0.0, 0.0], dtype=np.float32))
    _, _, _, _, info = env.step(np.array([0.0, 10.0, 10.0], dtype=np.float32))
    assert info["action_scaled"] and env.stock[0] >= 0.0
    assert env.arrivals[2, 1:].sum() == pytest.approx(10.0)


def test_invalid_action_leaves_state_unchanged():
    env = tiny_env()
    env.reset(seed=0)
    before = env.stock.copy(), env.arrivals.copy(), env.t
    for bad in (np.array([np.nan, 0.0]), np.array([-1.0, 0.0]), np.zeros(3)):
        with pytest.raises(ActionError):
            env.step(bad)
    assert np.array_equal(env.stock, before[0]) and np.array_equal(env.arrivals, before[1]) and env.t == before[2]


@pytest.mark.parametrize("name", ["1f2s", "1f10s", "1f3w30s"])
def test_lp_respects_stock_and_capacities(name):
    env = SupplyChainEnv(name)
    lower = SupplyLP.for_env(env)
    rng = np.random.default_rng(0)
    env.reset(seed=1)
    for _ in range(env.T):
        state = env.flow_state()
        action = np.concatenate([rng.uniform(0, 3, env.F), rng.dirichlet(np.ones(env.N))])
        flows = lower.solve(state, action)
        prod, ship = flows[: env.F], flows[env.F :]
        out = np.bincount(env.src, ship, env.N)
        assert np.all(ship >= 0) and np.all(prod >= 0)
        assert np.all(out <= np.maximum(state.available, 0) + 1e-7)
        assert np.all(ship <= env.edge_cap + 1e-7)
        assert np.all(prod <= env.scenario.production_capacity[env.factories] + 1e-7)
        _, _, _, _, info = env.step(flows)
        assert not info["action_scaled"]


def test_lp_reaches_a_reachable_target_exactly():
    env = SupplyChainEnv("1f2s")
    lower = SupplyLP.for_env(env)
    demand = np.zeros((env.horizon, env.N))
    env.reset(seed=0, options={"demand": demand})
    env.stock[:] = [12.0, 0.0, 0.0]
    state = env.flow_state()
    flows = lower.solve(state, np.array([0.0, 0.5, 0.25, 0.25]))  # no production; half of 12 to the stores
    assert flows.tolist() == pytest.approx([0.0, 3.0, 3.0])


@pytest.mark.parametrize("name", ["1f2s", "1f3s", "1f3s-forecast-lead"])
def test_full_horizon_oracle_is_exact_and_an_upper_bound(name):
    seed = 7
    env = SupplyChainEnv(name)
    env.reset(seed=seed)
    planned = oracle_plan(env, env.T).value
    returns = {}
    levels, _ = tune_order_up_to(env.scenario, range(3000, 3003), passes=1, max_step=4)
    for ctrl in (OracleMPC(horizon=env.T), OracleMPC(horizon=10), OrderUpTo(levels), RandomDistribution(seed=1)):
        r = evaluate(ctrl, lambda: SupplyChainEnv(name), [seed], make_lower=lambda _n, e: SupplyLP.for_env(e))
        returns[f"{ctrl.name}{getattr(ctrl, 'horizon', '')}"] = r.rewards[0]
    assert returns[f"oracle{env.T}"] == pytest.approx(planned, rel=1e-7)  # the LP models the simulator exactly
    for k, v in returns.items():
        assert v <= planned + 1e-6, (k, v, planned)


def test_reference_configurations_have_reference_parameters():
    sc = load_named("1f3s")
    assert sc.capacity.tolist() == [30, 15, 15, 15] and sc.storage_cost.tolist() == [2, 1, 1, 1]
    assert sc.demand_params[1:, 0].tolist() == [0.5, 2.5, 12.0]  # dmax / 2
    assert sc.network.edge_attr["cost"].tolist() == [0.3, 0.3, 0.3] and sc.price == 15.0
    big = load_named("1f3w30s")
    assert len(big.stores) == 30 and (big.kind == 1).sum() == 3


def test_reference_demand_formula():
    sc = load_named("1f2s")
    d = sc.sample_demand(np.random.default_rng(0), 30)
    t = np.arange(30)
    base = 8 + 8 * np.cos(4 * np.pi * (2 * 2 + t) / 30)  # store 2 of the reference: dmax 16, j = 2
    assert np.all(d[:, 2] >= np.round(base) - 1) and np.all(d[:, 2] <= np.round(base + 2) + 1)
    assert np.all(d[:, 0] == 0)


def _bad(mutate, match, tmp_path):
    data = copy.deepcopy(tiny_dict())
    mutate(data)
    path = tmp_path / "bad.json"
    import json

    path.write_text(json.dumps(data))
    with pytest.raises(ScenarioError, match=match):
        load_scenario(path)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d.pop("edges"), "missing key 'edges'"),
        (lambda d: d["nodes"][1].pop("demand"), r"'nodes\[1\]' is a store: expected 'nodes\[1\].demand'"),
        (lambda d: d["nodes"][0].update(capacity=-1), r"'nodes\[0\].capacity' >= 0"),
        (lambda d: d["nodes"][1].update(kind="shop"), r"'nodes\[1\].kind'"),
        (lambda d: d["edges"][0].update(to="X"), r"'edges\[0\].to' = 'X' is not a node id"),
        (lambda d: d["edges"][0].update({"from": "S", "to": "F"}), "ships into factory"),
        (lambda d: d["edges"][0].update(lead_time=0), r"'edges\[0\].lead_time' >= 1"),
        (lambda d: d["nodes"][1]["demand"].update(period=0), "period' > 0"),
        (
            lambda d: d["nodes"].append(
                {
                    "id": "S2",
                    "kind": "store",
                    "capacity": 1,
                    "storage_cost": 1,
                    "demand": {"mean": 1, "amplitude": 0, "period": 5, "shift": 0, "noise": 0},
                }
            ),
            "not weakly connected|cannot be reached",
        ),
        (lambda d: d["nodes"][0].update(id="S"), "used twice"),
        (lambda d: d["nodes"][0].update(kind="warehouse"), "no factory"),
    ],
)
def test_malformed_scenarios_name_the_field(mutate, match, tmp_path):
    _bad(mutate, match, tmp_path)


def test_bilevel_wrapper_rejects_nan_from_policy():
    env = BilevelWrapper(SupplyChainEnv("1f2s"), SupplyLP(load_named("1f2s")))
    env.reset(seed=0)
    with pytest.raises(ActionError, match="finite"):
        env.step(np.array([1.0, np.nan, 0.5, 0.5], dtype=np.float32))


def test_reference_names():
    assert set(REFERENCE) == {"1f2s", "1f3s", "1f10s"}
    with pytest.raises(ValueError, match="Unknown supply-chain scenario"):
        load_named("2f2s")


class BaseStockColumns:
    """Hands the observation's base-stock columns (the bi-level agent's priors) to the LP as its action."""

    lower = "lp"
    name = "base-stock-columns"

    def bind(self, env):
        self.env = env.unwrapped

    def pop_hidden_time(self):
        return 0.0

    def act(self, obs):
        x = obs["x"].astype(np.float64)
        return np.concatenate([x[self.env.factories, FEATURE_BASE_PRODUCTION], x[:, FEATURE_BASE_STOCK]])


@pytest.mark.parametrize(("name", "rel"), [("1f2s", 1e-6), ("1f3s", 1e-6), ("1f10s", 1e-6), ("1f3w30s", 1e-2)])
def test_lp_expresses_the_order_up_to_policy_exactly(name, rel):
    """The base-stock decision read from the observation (production, positions after the step), through the
    LP, gives the same profit as the heuristic itself: the bi-level action space loses nothing the heuristic
    uses, and the priors of the bi-level agent are that policy. (On the 30-store network the heuristic orders
    fractions of a unit, from expected demand beyond the known horizon and from short warehouses splitting their
    stock; the LP's positions are whole units, hence the tolerance.)"""
    make = lambda: SupplyChainEnv(name)
    seeds = [1000, 1001, 1002]
    via_lp = evaluate(BaseStockColumns(), make, seeds, make_lower=lambda _n, e: SupplyLP.for_env(e)).rewards
    direct = evaluate(OrderUpTo(np.zeros(len(load_named(name).kind))), make, seeds).rewards
    assert via_lp == pytest.approx(direct, rel=rel)


def test_untrained_bilevel_policy_is_the_base_stock_policy():
    """The residual heads start at their priors: the untrained agent's deterministic action is the base-stock
    decision, so its profit equals the heuristic's (no safety stock) on the same seeds."""
    prob = get_problem("supply_chain/1f3s")
    model = init_policy(prob.make_env, get_recipe("bilevel-ppo").make_config(prob).policy, seed=0)
    seeds = [1000, 1001]
    agent = evaluate(
        PolicyController(model, "lp"), prob.make_env, seeds, make_lower=lambda _n, e: SupplyLP.for_env(e)
    ).rewards
    heur = evaluate(OrderUpTo(np.zeros(4)), prob.make_env, seeds).rewards
    assert agent == pytest.approx(heur, rel=2e-3)


def test_horizon_aware_order_up_to_stops_ordering_for_demand_after_the_end():
    env = SupplyChainEnv("1f2s")
    env.reset(seed=1000)
    while env.t < env.T - 1:  # follow the base-stock policy to the last step
        env.step(np.concatenate(env.base_stock()))
    prod_plain, _ = env.base_stock()
    prod_aware, _ = env.base_stock(horizon_aware=True)
    assert prod_plain.sum() > 0  # the textbook policy produces for steps that never come
    assert prod_aware.sum() == 0  # production takes a step: nothing produced now can be sold
    plain = evaluate(OrderUpTo(np.zeros(env.N)), lambda: SupplyChainEnv("1f2s"), [1000, 1001]).rewards
    aware = evaluate(
        OrderUpTo(np.zeros(env.N), horizon_aware=True), lambda: SupplyChainEnv("1f2s"), [1000, 1001]
    ).rewards
    assert np.all(np.asarray(aware) > np.asarray(plain))


def test_lp_hot_start_gives_the_same_decisions_as_cold():
    env = SupplyChainEnv("1f10s")
    hot, cold = SupplyLP.for_env(env), SupplyLP.for_env(env)
    rng = np.random.default_rng(3)
    env.reset(seed=4)
    for _ in range(10):
        state = env.flow_state()
        action = np.concatenate([rng.uniform(0, 2, env.F), rng.dirichlet(np.ones(env.N))])
        a = hot.solve(state, action)
        cold.lp.solve(cold=True)  # throw away the basis
        b = SupplyLP.for_env(env).solve(state, action)
        assert np.allclose(a, b)
        env.step(a)


def test_horizon_aware_base_stock_is_optimal_when_demand_is_known_over_the_lead_times():
    """On 1F2S demand is known over every lead time (advance_info = 3): the base-stock policy that counts no
    demand after the episode is then optimal, equal to the perfect-foresight optimum of the whole episode."""
    make = lambda: SupplyChainEnv("1f2s")
    seeds = [1000, 1001]
    aware = evaluate(OrderUpTo(np.zeros(3), horizon_aware=True), make, seeds).rewards
    optimum = evaluate(OracleMPC(horizon=30), make, seeds).rewards
    assert aware == pytest.approx(optimum, rel=1e-9)


def test_forecast_mpc_plans_as_the_oracle_where_demand_is_known():
    """1F2S knows demand over every lead time (advance_info = 3): the forecast MPC's first-step decisions are
    the oracle's, so its returns are too; on a scenario whose demand is deterministic the forecast is exact."""
    from netctrl.problems.supply_chain import ForecastMPC

    make = lambda: SupplyChainEnv("1f2s")
    seeds = [1000, 1001]
    forecast = evaluate(ForecastMPC(horizon=10), make, seeds).rewards
    assert forecast == pytest.approx(evaluate(OracleMPC(horizon=10), make, seeds).rewards, rel=1e-9)
    tiny = copy.deepcopy(tiny_dict()) | {"advance_info": 0}  # demand 2 every step, no noise: forecast exact
    make = lambda: SupplyChainEnv(scenario_from_dict(tiny))
    assert evaluate(ForecastMPC(horizon=4), make, [3]).rewards == pytest.approx(
        evaluate(OracleMPC(horizon=4), make, [3]).rewards, rel=1e-9
    )


def test_forecast_mpc_with_forecasts_only_does_not_see_the_future():
    """advance_info = 0: the first plan is the same for every seed (the realised demand differs), the oracle's
    is not, and the full-horizon oracle bounds the forecast MPC."""
    import dataclasses

    from netctrl.problems.supply_chain import ForecastMPC

    sc = dataclasses.replace(load_named("1f3s"), advance_info=0)
    first = {}
    for foresight in (True, False):
        for seed in (5, 6):
            env = SupplyChainEnv(sc)
            env.reset(seed=seed)
            plan = oracle_plan(env, 10, foresight=foresight)
            first[(foresight, seed)] = np.concatenate([plan.production, plan.shipments])
    assert not np.array_equal(first[(True, 5)][None], first[(True, 6)][None])
    assert np.array_equal(first[(False, 5)], first[(False, 6)])
    make = lambda: SupplyChainEnv(sc)
    forecast = evaluate(ForecastMPC(horizon=10), make, [5, 6]).rewards
    optimum = evaluate(OracleMPC(horizon=sc.steps), make, [5, 6]).rewards
    assert all(f <= o + 1e-6 for f, o in zip(forecast, optimum))
    assert sum(forecast) < sum(optimum) - 1.0  # the forecast costs something here


def test_forecast_only_instances_are_the_reference_networks_without_advance_information():
    base, fc = load_named("1f10s"), load_named("1f10s-forecast")
    assert (base.advance_info, fc.advance_info, fc.name) == (3, 0, "1f10s-forecast")
    assert np.array_equal(base.capacity, fc.capacity) and np.array_equal(base.demand_params, fc.demand_params)
    assert get_problem("supply_chain/1f3w30s-forecast").make_env().unwrapped.scenario.advance_info == 0
    with pytest.raises(ScenarioError, match="-forecast"):
        load_named("1f4s-forecast")


def test_sample_average_plan_against_single_scenario_plans():
    """One sample: the SAA plan is the oracle's plan on that sampled demand. Several: this step's decisions are
    shared, so its mean value is at most the mean of the samples' own optima (perfect information on each)."""
    import dataclasses

    from netctrl.problems.supply_chain.baselines import sample_average_plan

    sc = dataclasses.replace(load_named("1f3s"), advance_info=1)
    env = SupplyChainEnv(sc)
    env.reset(seed=11)
    for _ in range(3):
        env.step(np.concatenate([oracle_plan(env, 10).production, oracle_plan(env, 10).shipments]))
    one = sample_average_plan(env, 10, 1, np.random.default_rng(4))
    D = sc.sample_demand(np.random.default_rng(4), 10, env.t)
    D[:1] = env.demand[env.t : env.t + 1]
    realised = env.demand.copy()
    env.demand[env.t : env.t + 10] = D
    alone = oracle_plan(env, 10)
    env.demand = realised
    assert one.value == pytest.approx(alone.value, rel=1e-9)
    assert np.allclose(one.production, alone.production) and np.allclose(one.shipments, alone.shipments)
    # five samples: the shared first step costs something against each sample's own optimum, never gains
    rng = np.random.default_rng(9)
    five = sample_average_plan(env, 10, 5, np.random.default_rng(9))
    own = []
    for _ in range(5):
        d = sc.sample_demand(rng, 10, env.t)
        d[:1] = realised[env.t : env.t + 1]
        env.demand[env.t : env.t + 10] = d
        own.append(oracle_plan(env, 10).value)
    env.demand = realised
    assert five.value <= np.mean(own) + 1e-6


def test_sample_average_mpc_with_deterministic_demand_is_the_oracle():
    from netctrl.problems.supply_chain import SampleAverageMPC

    tiny = copy.deepcopy(tiny_dict()) | {"advance_info": 0}  # no noise: every sample is the realised demand
    make = lambda: SupplyChainEnv(scenario_from_dict(tiny))
    assert evaluate(SampleAverageMPC(horizon=4, samples=3), make, [3]).rewards == pytest.approx(
        evaluate(OracleMPC(horizon=4), make, [3]).rewards, rel=1e-9
    )


def test_shifted_demand_moves_the_realised_demand_and_not_the_forecasts():
    data = copy.deepcopy(REFERENCE["1f3s"])
    for nd in data["nodes"]:
        if "demand" in nd:
            nd["demand"]["noise"] = 0  # deterministic: the shift can be checked value by value
    nominal = scenario_from_dict(data)
    later = scenario_from_dict(data | {"demand_delay": 3})
    bigger = scenario_from_dict(data | {"demand_scale": 1.3})
    rng = lambda: np.random.default_rng(0)
    d0 = nominal.sample_demand(rng(), 40, realised=True)
    assert np.array_equal(later.sample_demand(rng(), 37, t0=3, realised=True), d0[:37])  # the cycle lags 3 steps
    raw = nominal.expected_demand(0, 40)  # noise 0: the unrounded model
    assert np.array_equal(bigger.sample_demand(rng(), 40, realised=True), np.round(1.3 * raw))
    for sc in (later, bigger):  # what every forecast is computed from stays the model
        assert np.array_equal(sc.expected_demand(0, 40), raw)
        assert np.array_equal(sc.sample_demand(rng(), 40), d0)
    env = SupplyChainEnv(bigger)
    env.reset(seed=1)
    assert np.array_equal(env.demand, np.round(1.3 * raw[: env.horizon]))
    with pytest.raises(ScenarioError, match="demand_scale"):
        scenario_from_dict(data | {"demand_scale": -1})


def test_uncertain_volume_draws_one_scale_per_episode_within_the_spread():
    data = copy.deepcopy(REFERENCE["1f3s"])
    for nd in data["nodes"]:
        if "demand" in nd:
            nd["demand"]["noise"] = 0  # deterministic: the drawn scale is the only randomness
    raw = scenario_from_dict(data).expected_demand(0, 30)
    spread = scenario_from_dict(data | {"demand_scale": 1.1, "demand_scale_spread": 0.2})
    scales = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        want = np.round((1.1 + rng.uniform(-0.2, 0.2)) * raw)  # the draw comes first, then the (zero) noise
        assert np.array_equal(spread.sample_demand(np.random.default_rng(seed), 30, realised=True), want)
        scales.append(want.sum() / raw.sum())
    assert 0.9 - 0.02 < min(scales) < 1.0 < 1.2 < max(scales) < 1.3 + 0.02  # spread over the range, per episode
    assert np.array_equal(spread.sample_demand(np.random.default_rng(0), 30), np.round(raw))  # the model is kept
    env = SupplyChainEnv(spread)
    env.reset(seed=3)
    first = env.demand.copy()
    env.reset(seed=3)
    assert np.array_equal(env.demand, first)  # seeded
    with pytest.raises(ScenarioError, match="demand_scale_spread"):
        scenario_from_dict(data | {"demand_scale_spread": 1.5})  # a scale could be negative
    with pytest.raises(ScenarioError, match="demand_scale_spread"):
        scenario_from_dict(data | {"demand_scale_spread": -0.1})


def test_changes_at_deployment_edit_only_the_named_links_and_nodes():
    from netctrl.problems.supply_chain import SupplySettings

    nominal = load_named("1f10s")
    changed = load_named(
        "1f10s",
        SupplySettings(
            link_capacity={"F->S8": 14},
            link_cost={"F->S9": 3.0},
            node_capacity={"S1": 2},
            production_capacity={"F": 80},
        ),
    )
    cap, cost = nominal.network.edge_attr["capacity"].copy(), nominal.network.edge_attr["cost"].copy()
    ids = nominal.network.node_names
    e8 = next(k for k, d in enumerate(nominal.network.targets) if ids[d] == "S8")
    e9 = next(k for k, d in enumerate(nominal.network.targets) if ids[d] == "S9")
    cap[e8], cost[e9] = 14, 3.0
    assert np.array_equal(changed.network.edge_attr["capacity"], cap)
    assert np.array_equal(changed.network.edge_attr["cost"], cost)
    node_cap = nominal.capacity.copy()
    node_cap[ids.index("S1")] = 2
    assert np.array_equal(changed.capacity, node_cap)
    assert changed.production_capacity[0] == 80 and nominal.production_capacity[0] == np.inf
    assert np.array_equal(changed.demand_params, nominal.demand_params)
    # a node's initial stock is cut to a smaller capacity (the 30-store network starts with stock)
    me = load_named("1f3w30s", SupplySettings(node_capacity={"W1": 40}))
    assert me.capacity[ids_w := me.network.node_names.index("W1")] == 40 and me.initial_stock[ids_w] == 40
    assert load_named("1f3w30s").initial_stock[ids_w] > 40


def test_changes_at_deployment_name_a_bad_link_or_node():
    from netctrl.problems.supply_chain import SupplySettings

    for settings, match in (
        ({"link_capacity": {"F->S11": 1}}, r"'link_capacity': no link 'F->S11'.*'F->S1'"),
        ({"link_cost": {"S1->F": 1}}, "'link_cost': no link 'S1->F'"),
        ({"node_capacity": {"X": 1}}, "'node_capacity': no node 'X'"),
        ({"production_capacity": {"S1": 5}}, "'production_capacity': node 'S1' is not a factory"),
        ({"link_capacity": {"F->S1": -1}}, r"'link_capacity.F->S1' >= 0"),
        ({"node_capacity": {"S1": "big"}}, "'node_capacity.S1' to be a number"),
    ):
        with pytest.raises(ScenarioError, match=match):
            load_named("1f10s", SupplySettings(**settings))
    # the same settings through the registry (the CLI's --set and config files)
    spec = get_problem("supply_chain/1f3s").with_settings(link_capacity={"F->S3": 5})
    assert spec.make_env().unwrapped.scenario.network.edge_attr["capacity"].tolist() == [1000, 1000, 5]
    with pytest.raises(ScenarioError, match="no link 'F->S4'"):
        get_problem("supply_chain/1f3s").with_settings(link_capacity={"F->S4": 5}).make_env()


def test_violations_count_what_the_environment_had_to_enforce():
    data = tiny_dict()
    data["edges"][0]["capacity"] = 3
    data["nodes"][0]["production_capacity"] = 6
    env = SupplyChainEnv(scenario_from_dict(data))
    demand = np.zeros((env.horizon, 2))
    env.reset(seed=0, options={"demand": demand})
    assert env.step(np.array([6.0, 0.0]))[4]["violations"] == 0  # at the capacity: no violation
    info = env.step(np.array([7.0, 5.0]))[4]  # production above 6, shipment above 3
    assert info["violations"] == 2 and env.arrivals[2].tolist() == [6.0, 3.0]
    # the factory holds 9 now (3 left, 6 produced): shipping 3 is within the link and the stock
    assert env.step(np.array([0.0, 3.0]))[4]["violations"] == 0
    data["edges"][0]["capacity"] = 100
    env = SupplyChainEnv(scenario_from_dict(data))
    env.reset(seed=0, options={"demand": demand})
    assert env.step(np.array([0.0, 1.0]))[4]["violations"] == 1  # nothing in stock to ship
    # float32 rounding of a quantity at its bound is not a violation
    env.reset(seed=0, options={"demand": demand})
    env.step(np.array([4.1, 0.0]))
    assert env.step(np.array([0.0, np.float32(4.1)]))[4]["violations"] == 0


def test_the_lp_lower_level_keeps_a_cut_link_while_the_heuristic_breaks_it():
    spec = get_problem("supply_chain/1f10s-forecast").with_settings(
        link_capacity={f"F->S{k}": 14 for k in (8, 9, 10)}, production_capacity={"F": 80}
    )
    random_lp = evaluate(
        RandomDistribution(seed=3), spec.make_env, [5], make_lower=spec.make_lower, sum_keys=["violations"]
    )
    assert random_lp.mean("violations") == 0
    levels = np.full(spec.make_env().unwrapped.N, 20.0)
    heuristic = evaluate(OrderUpTo(levels), spec.make_env, [5], sum_keys=["violations"])
    assert heuristic.mean("violations") > 0  # it orders what the big stores need, above the links' 14


def test_stochastic_lead_times_are_drawn_per_step_and_link_and_keep_the_demand():
    env, ref = SupplyChainEnv("1f3s-forecast-lead"), SupplyChainEnv("1f3s-forecast")
    assert env.scenario.lead_time_noise == 1 and env.scenario.expected_delay == 1
    env.reset(seed=11), ref.reset(seed=11)
    assert np.array_equal(env.demand, ref.demand)  # drawn after the demand
    lead = env.shipment_lead.copy()
    assert lead.shape == (env.T, env.E) and set(np.unique(lead)) == {1, 2}  # lead time 1 plus U{0, 1}
    assert 0.4 < (lead == 2).mean() < 0.6
    env.reset(seed=11)
    assert np.array_equal(env.shipment_lead, lead)  # a seed's lead times are the same every time
    # a shipment arrives after its drawn lead time, and the observation shows it as soon as it is sent
    env.reset(seed=11, options={"demand": np.zeros((env.horizon, env.N))})
    lead = env.shipment_lead.copy()  # drawn again (the given demand drew nothing before them)
    env.step(np.array([40.0, 0.0, 0.0, 0.0]))  # produce; it is in stock at t = 1
    env.step(np.array([0.0, 5.0, 6.0, 7.0]))
    for e, q in enumerate((5.0, 6.0, 7.0)):
        assert env.arrivals[1 + lead[1, e], env.dst[e]] == q
        assert env.arrivals[1 + 3 - lead[1, e], env.dst[e]] == 0  # not at the other possible step
    # the forecast MPC plans with the expected lead times, the oracle with the drawn ones
    assert np.array_equal(env.planning_lead(1, 4, foresight=True), lead[1:5])
    assert np.all(env.planning_lead(1, 4, foresight=False) == 2)
    # the base-stock levels cover the expected delay too (one more step of demand than with fixed lead times)
    assert np.array_equal(env.scenario.echelons()[0], ref.scenario.echelons()[0] + np.r_[0, 1, 1, 1])
    with pytest.raises(ScenarioError, match="lead_time_noise"):
        scenario_from_dict(tiny_dict() | {"lead_time_noise": 0.5})


def test_tuned_levels_are_cached_by_content_not_name():
    from netctrl.problems.supply_chain import SupplySettings
    from netctrl.problems.supply_chain.baselines import _fingerprint

    nominal, again = load_named("1f10s-forecast"), load_named("1f10s-forecast")
    cut = load_named("1f10s-forecast", SupplySettings(link_capacity={"F->S8": 14}))
    assert cut.name == nominal.name and _fingerprint(nominal) == _fingerprint(again)
    assert _fingerprint(cut) != _fingerprint(nominal)
    assert _fingerprint(load_named("1f10s-forecast-lead")) != _fingerprint(nominal)
