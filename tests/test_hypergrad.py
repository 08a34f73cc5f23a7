"""Bi-level toll design: hyper-gradients against finite differences, the agents against brute force and a
convex program, closed-form tolls, the model-free estimate's confidence interval, typed errors."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from scipy.optimize import minimize

from netctrl.algos.hypergrad import (
    OuterConfig,
    finite_difference_gradient,
    hypergradient,
    optimize,
    spsa_gradient,
    stochastic_hypergradient,
    unrolled_gradient,
)
from netctrl.errors import ActionError, ConfigError, ScenarioError
from netctrl.problems.toll_design import (
    RoutingAgents,
    SocialCost,
    TargetFlow,
    TravelTime,
    braess,
    braess_optimal_toll,
    from_topology,
    marginal_cost_toll,
    pigou,
    pigou_optimal_toll,
    scenario_from_dict,
)

# a small DAG with two origins, one destination and five routes (affine and BPR links)
DAG = {
    "name": "dag",
    "temperature": 0.7,
    "nodes": ["a", "b", "c", "d", "t"],
    "links": [
        {"from": "a", "to": "b", "latency": {"type": "affine", "a": 1.0, "b": 0.5}},
        {
            "from": "a",
            "to": "c",
            "latency": {"type": "bpr", "free_flow": 1.5, "capacity": 1.0, "alpha": 0.3, "power": 4},
        },
        {"from": "b", "to": "c", "latency": {"type": "affine", "a": 0.2, "b": 0.0}},
        {"from": "b", "to": "d", "latency": {"type": "affine", "a": 1.0, "b": 1.0}},
        {"from": "c", "to": "d", "latency": {"type": "affine", "a": 0.5, "b": 0.3}},
        {
            "from": "c",
            "to": "t",
            "latency": {"type": "bpr", "free_flow": 2.0, "capacity": 1.5, "alpha": 0.15, "power": 4},
        },
        {"from": "d", "to": "t", "latency": {"type": "affine", "a": 1.0, "b": 0.5}},
    ],
    "demand": [{"origin": "a", "destination": "t", "rate": 1.5}, {"origin": "b", "destination": "t", "rate": 0.5}],
}


def _value_and_hypergrad(agents, obj, theta):
    scen = agents.scenario
    eq = agents.solve(scen.arc_tolls(theta))
    g = obj.flow_gradient(eq.x, scen.arc_tolls(theta))
    return eq, obj.of(eq, theta), hypergradient(eq.jac, eq.slope, g, scen.toll_arcs, obj.theta_gradient(theta))


def _paths(scen, origin, dest):
    g = scen.network.to_networkx()
    eid = scen.network.edge_id()
    return [[eid[(u, v)] for u, v in itertools.pairwise(p)] for p in nx.all_simple_paths(g, origin, dest)]


# ------------------------------------------------------------------------------------- the agents
def test_soft_bellman_matches_logit_over_enumerated_paths():
    scen = scenario_from_dict(DAG)
    agents = RoutingAgents(scen)
    rng = np.random.default_rng(0)
    c = rng.uniform(0.5, 2.0, scen.num_arcs)
    load = agents.loading(c)
    tau, d = scen.temperature, int(scen.dests[0])
    x = np.zeros(scen.num_arcs)
    for o in range(scen.num_nodes):
        if o == d:
            continue
        paths = _paths(scen, o, d)
        cost = np.array([c[p].sum() for p in paths])
        assert load.V[0, o] == pytest.approx(-tau * np.log(np.exp(-cost / tau).sum()), rel=1e-12)
        prob = np.exp(-(cost - cost.min()) / tau)
        prob /= prob.sum()
        for p, pr in zip(paths, prob):
            x[p] += scen.demand[0, o] * pr
            assert np.exp(load.logpi[0, p].sum()) == pytest.approx(pr, rel=1e-10)  # route = product of choices
    np.testing.assert_allclose(load.x, x, rtol=1e-11, atol=1e-14)


def test_response_jacobian_is_symmetric_and_matches_finite_differences():
    scen = from_topology("b4", temperature=0.5)  # 12 nodes, cycles (both directions of every link)
    agents = RoutingAgents(scen)
    c = scen.latency(np.ones(scen.num_arcs))
    J = agents.loading(c, jacobian=True).jac
    h = 1e-6
    fd = np.stack(
        [(agents.loading(c + h * e).x - agents.loading(c - h * e).x) / (2 * h) for e in np.eye(scen.num_arcs)], 1
    )
    np.testing.assert_allclose(J, fd, atol=1e-6 * np.abs(fd).max())
    np.testing.assert_allclose(J, J.T, atol=1e-10 * np.abs(J).max())
    assert np.linalg.eigvalsh((J + J.T) / 2).max() <= 1e-9 * np.abs(J).max()


def test_equilibrium_minimises_the_convex_potential():
    """Path-based potential sum_e int_0^x (l_e + theta_e) + tau sum_p f_p log f_p, minimised by SciPy."""
    scen = scenario_from_dict(DAG)
    theta = np.linspace(0.0, 0.3, scen.num_arcs)
    eq = RoutingAgents(scen, tol=1e-13).solve(theta)
    ea, tau = scen.network.edge_attr, scen.temperature
    groups = [(o, scen.demand[0, o], _paths(scen, o, int(scen.dests[0]))) for o in np.flatnonzero(scen.demand[0] > 0)]
    sizes = [len(p) for _, _, p in groups]

    def arc_flows(shares):
        x, k = np.zeros(scen.num_arcs), 0
        for (_, q, paths), n in zip(groups, sizes):
            for p, s in zip(paths, shares[k : k + n]):
                x[p] += q * s
            k += n
        return x

    def potential(u):
        shares, k, ent = [], 0, 0.0
        for (_, q, _), n in zip(groups, sizes):
            s = np.exp(u[k : k + n] - u[k : k + n].max())
            s /= s.sum()
            shares.extend(s)
            ent += q * np.sum(s * np.log(s))
            k += n
        x = arc_flows(np.asarray(shares))
        return np.sum(ea["t0"] * x + ea["k"] * x ** (ea["p"] + 1) / (ea["p"] + 1) + theta * x) + tau * ent, shares

    res = minimize(lambda u: potential(u)[0], np.zeros(sum(sizes)), method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(arc_flows(np.asarray(potential(res.x)[1])), eq.x, atol=1e-6)


def test_equilibrium_is_a_fixed_point_and_warm_start_agrees():
    scen = from_topology("b4", temperature=0.5)
    agents = RoutingAgents(scen, tol=1e-12)
    theta = np.full(scen.num_arcs, 0.1)
    eq = agents.solve(theta)
    again = agents.loading(scen.latency(eq.x) + theta)
    np.testing.assert_allclose(again.x, eq.x, atol=1e-9)
    warm = agents.solve(theta + 1e-3, x0=eq.x)
    cold = agents.solve(theta + 1e-3)
    np.testing.assert_allclose(warm.x, cold.x, atol=1e-9)
    assert agents.solves == 3


# -------------------------------------------------------------------------------- hyper-gradients
@pytest.mark.parametrize("case", ["pigou", "braess-all", "dag-travel-time", "dag-target", "b4-social"])
def test_hypergradient_matches_central_finite_differences(case):
    if case == "pigou":
        scen, make = pigou(0.5), SocialCost
    elif case == "braess-all":
        scen, make = braess(0.2, toll_all=True), SocialCost
    elif case == "dag-travel-time":
        scen, make = scenario_from_dict(DAG), TravelTime
    elif case == "dag-target":
        scen = scenario_from_dict(DAG)
        make = lambda s, lam: TargetFlow(s, lam, target=np.linspace(0.2, 1.0, s.num_arcs))
    else:
        scen, make = from_topology("b4", temperature=0.5), SocialCost
    obj = make(scen, lam=0.01)
    agents = RoutingAgents(scen, tol=1e-13)
    theta = np.random.default_rng(1).uniform(0.0, 0.5, len(scen.toll_arcs))
    _, _, h = _value_and_hypergrad(agents, obj, theta)
    fd = finite_difference_gradient(lambda t: obj.of(agents.solve(scen.arc_tolls(t)), t), theta, 1e-5)
    assert np.linalg.norm(h - fd) / np.linalg.norm(fd) <= 1e-6


def test_unrolled_autograd_converges_to_the_model_based_hypergradient():
    scen = scenario_from_dict(DAG)
    obj = SocialCost(scen, lam=0.01)
    agents = RoutingAgents(scen, tol=1e-13)
    theta = np.full(len(scen.toll_arcs), 0.2)
    _, value, h = _value_and_hypergrad(agents, obj, theta)

    def forward(th, iters):
        xbar, xd, logpi = agents.unrolled(th, iters, step=0.2)
        return obj.value(xbar, xd, logpi, th, th)

    _, g_short = unrolled_gradient(lambda th: forward(th, 5), theta)
    v_long, g_long = unrolled_gradient(lambda th: forward(th, 400), theta)
    assert v_long == pytest.approx(value, rel=1e-9)
    np.testing.assert_allclose(g_long, h, rtol=1e-6, atol=1e-9)
    assert np.linalg.norm(g_short - h) > 1e-3 * np.linalg.norm(h)  # few iterations: a visibly wrong gradient


def test_marginal_cost_toll_is_stationary_for_the_social_cost():
    scen = from_topology("b4", temperature=0.5)
    tolls, eq = marginal_cost_toll(scen)
    obj = SocialCost(scen)
    h = hypergradient(eq.jac, eq.slope, obj.flow_gradient(eq.x, tolls), scen.toll_arcs)
    _, _, h0 = _value_and_hypergrad(RoutingAgents(scen), obj, np.zeros(scen.num_arcs))
    assert np.abs(h).max() <= 1e-7 * np.abs(h0).max()
    assert obj.of(eq, tolls) < obj.of(RoutingAgents(scen).solve(np.zeros(scen.num_arcs)), np.zeros(scen.num_arcs))


# --------------------------------------------------------------------------- closed-form tolls
@pytest.mark.parametrize("tau", [0.1, 0.5, 2.0])
def test_braess_closed_form_toll_induces_the_social_optimum(tau):
    scen = braess(tau)
    theta = braess_optimal_toll(tau)
    eq = RoutingAgents(scen, tol=1e-13).solve(scen.arc_tolls([theta]))
    f = eq.x[scen.network.edge_id()[(1, 3)]]  # v -> t carries the route s-v-t only
    assert 2 * f - 1 + tau * np.log(f / (1 - 2 * f)) == pytest.approx(0.0, abs=1e-9)
    # and the social cost is minimal there: a brute-force scan over the toll
    obj = SocialCost(scen)
    agents = RoutingAgents(scen, tol=1e-13)
    grid = theta + np.linspace(-0.05, 0.05, 11)
    values = [obj.of(agents.solve(scen.arc_tolls([t])), np.array([t])) for t in grid]
    assert int(np.argmin(values)) == 5


@pytest.mark.parametrize(
    "make, star", [(lambda: pigou(0.5), pigou_optimal_toll()), (lambda: braess(0.2), braess_optimal_toll(0.2))]
)
def test_outer_loop_recovers_the_closed_form_toll(make, star):
    scen = make()
    obj = SocialCost(scen)
    agents = RoutingAgents(scen, tol=1e-12)
    res = optimize(
        lambda t: _value_and_hypergrad(agents, obj, t)[1:],
        np.zeros(1),
        OuterConfig(iterations=300, lr=0.05, lr_final=0.01),
    )
    assert abs(res.theta[0] - star) <= 0.01 * star


# ---------------------------------------------------------------------------------- model-free
@pytest.mark.parametrize("congested", [False, True])
def test_model_free_confidence_interval_contains_the_model_based_value(congested):
    scen = braess(0.3, toll_all=True)
    if not congested:  # constant latencies: exactly unbiased estimator
        from netctrl.problems.toll_design.scenario import _replace_network

        scen = _replace_network(scen, t0=np.array([0.5, 1.0, 1.0, 0.5, 0.0]), k=np.zeros(5))
    obj = TravelTime(scen) if not congested else SocialCost(scen)
    agents = RoutingAgents(scen, tol=1e-13)
    theta = np.array([0.1, 0.0, 0.2, 0.1, 0.3])
    eq, _, h = _value_and_hypergrad(agents, obj, theta)
    weights, counts = agents.sample_counts(eq, 20_000, np.random.default_rng(0))
    tolls = scen.arc_tolls(theta)
    est = stochastic_hypergradient(
        weights,
        counts,
        scen.temperature,
        scen.latency_slope,
        lambda x: obj.flow_gradient(x, tolls),
        scen.toll_arcs,
        batches=20,
        level=0.99,
    )
    assert est.contains(h).all()
    assert np.all(est.half_width < 0.05 * np.abs(h).max())  # and the interval is informative


def test_sampled_trajectories_follow_the_policy():
    scen = from_topology("b4", temperature=0.5)
    agents = RoutingAgents(scen)
    eq = agents.solve(np.zeros(scen.num_arcs))
    weights, counts = agents.sample_counts(eq, 400, np.random.default_rng(0))
    x_hat = weights @ counts.mean(axis=1)
    assert np.abs(x_hat - eq.x).max() <= 0.1 * eq.x.max()


def test_zeroth_order_gradients_on_a_quadratic():
    f = lambda t: float(np.sum((t - 1.0) ** 2) + t[0] * t[1])
    theta = np.array([0.3, -0.2, 0.5])
    exact = 2 * (theta - 1.0) + np.array([theta[1], theta[0], 0.0])
    np.testing.assert_allclose(finite_difference_gradient(f, theta), exact, atol=1e-8)
    rng = np.random.default_rng(0)
    spsa = np.mean([spsa_gradient(f, theta, 1e-3, rng) for _ in range(4000)], axis=0)
    np.testing.assert_allclose(spsa, exact, atol=0.1)


# -------------------------------------------------------------------------------------- errors
def _with(path, value):
    data = {
        **DAG,
        "links": [dict(link, latency=dict(link["latency"])) for link in DAG["links"]],
        "demand": [dict(d) for d in DAG["demand"]],
    }
    obj = data
    *keys, last = path
    for k in keys:
        obj = obj[k]
    obj[last] = value
    return data


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("links", 0, "latency", "b"), -1.0, "'links[0].latency.b' >= 0 (got -1.0)"),
        (("links", 0, "latency", "a"), float("nan"), "'links[0].latency.a' to be finite"),
        (("links", 1, "latency", "capacity"), 0.0, "'links[1].latency.capacity' > 0 (got 0.0)"),
        (("links", 1, "latency", "capacity"), -2.0, "'links[1].latency.capacity' > 0 (got -2.0)"),
        (("links", 1, "latency", "type"), "cubic", "'links[1].latency.type' in ('affine', 'bpr') (got 'cubic')"),
        (("links", 2, "to"), "zz", "'links[2].to' = 'zz' is not a node"),
        (("demand", 0, "origin"), "zz", "'demand[0].origin' = 'zz' is not a node"),
        (("demand", 1, "destination"), "q", "'demand[1].destination' = 'q' is not a node"),
        (("demand", 0, "rate"), -1.0, "'demand[0].rate' >= 0 (got -1.0)"),
        (("demand", 1, "destination"), "a", "'demand[1]': destination 'a' cannot be reached from origin 'b'"),
        (("temperature",), 0.0, "'temperature' > 0 (got 0.0)"),
    ],
)
def test_malformed_scenarios_raise_typed_errors_naming_the_field(path, value, message):
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(_with(path, value))
    assert message in str(err.value)


def test_nan_toll_and_bad_config_raise_typed_errors():
    scen = pigou()
    with pytest.raises(ActionError, match="'theta'"):
        RoutingAgents(scen).solve(np.array([0.0, np.nan, 0.0]))
    with pytest.raises(ConfigError, match="'lr'"):
        OuterConfig(lr=0.0)
    with pytest.raises(ConfigError, match="'lower' < 'upper'"):
        OuterConfig(lower=1.0, upper=0.0)


def test_scenario_file_round_trip_and_unreadable_file(tmp_path):
    import json

    from netctrl.problems.toll_design import load_scenario

    path = tmp_path / "dag.json"
    path.write_text(json.dumps(DAG))
    scen = load_scenario(path)
    assert scen.name == "dag" and scen.num_arcs == 7 and scen.demand[0].tolist() == [1.5, 0.5, 0.0, 0.0, 0.0]
    path.write_text("{not json")
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(path)


def test_topology_rules():
    scen = from_topology("geant", seed=3)
    assert scen.num_nodes == 22 and scen.num_arcs == 64 and len(scen.dests) == 22
    assert np.all(np.diag(scen.demand) == 0) and np.all(scen.demand + np.eye(22) > 0)  # every pair has demand
    np.testing.assert_allclose(scen.demand, scen.demand.T * 1.0)  # gravity model: symmetric
    eq = RoutingAgents(scen).solve(np.zeros(scen.num_arcs))
    assert (eq.x > scen.network.edge_attr["capacity"]).any()  # congested at equilibrium
    hub = from_topology("gabriel/20/0")  # a topohub graph
    assert hub.num_nodes == 20 and np.isfinite(RoutingAgents(hub).solve(np.zeros(hub.num_arcs)).x).all()


def test_zero_cost_cycle_is_rejected():
    data = {
        "temperature": 0.5,
        "nodes": ["s", "u", "t"],
        "links": [{"from": a, "to": b, "latency": {"a": 0.0}} for a, b in itertools.permutations("sut", 2)],
        "demand": [{"origin": "s", "destination": "t", "rate": 1.0}],
    }
    with pytest.raises(ScenarioError, match="spectral radius"):
        scenario_from_dict(data)


@pytest.mark.slow
def test_bench_hypergrad_quick_smoke(tmp_path):
    import json

    from hypergrad import run  # benchmarks/hypergrad.py (tests/conftest.py puts benchmarks/ on the path)

    run(out=tmp_path, quick=True, command="test")
    doc = json.loads((tmp_path / "hypergrad.json").read_text())
    assert doc["benchmark"] == "hypergrad" and set(doc["speed"]) >= {
        "model_based_rel_error",
        "toll_rel_error_braess",
        "solves_ratio_vs_zeroth_order",
        "wall_ratio_vs_unrolled",
    }
    assert (tmp_path / "hypergrad.png").exists()
