"""The rebalancing LP against networkx's min-cost flow, hot vs cold, and its edge cases."""

from types import SimpleNamespace

import networkx as nx
import numpy as np
import pytest

from netctrl.errors import ActionError
from netctrl.graph import FlowNetwork
from netctrl.problems.mobility import MobilityEnv, RebalancingLP, desired_counts


def random_network(rng, n):
    g = nx.gnm_random_graph(n, 2 * n, seed=int(rng.integers(1 << 30)))
    while not nx.is_connected(g):
        g = nx.gnm_random_graph(n, 2 * n, seed=int(rng.integers(1 << 30)))
    for u, v in g.edges:
        g.edges[u, v]["reb_time"] = int(rng.integers(1, 5))
    return FlowNetwork.from_networkx(g, edge_attrs=["reb_time"])


def networkx_objective(net, idle, target, cost, M):
    """The same program as a min-cost flow: supplies S_i, demands T_j, one hop per step, shortfall via a dummy.

    S_i -> T_i (stay, cost 0), S_i -> T_j for each edge (i, j) (cost c_ij), S_i -> X (cost 0) and X -> T_j (cost M):
    a target unreachable in one hop is paid for at M per vehicle, exactly like the LP's shortfall.
    """
    g = nx.DiGraph()
    total = int(idle.sum())
    for i in range(net.num_nodes):
        g.add_node(("S", i), demand=-int(idle[i]))
        g.add_node(("T", i), demand=int(target[i]))
        g.add_edge(("S", i), ("T", i), weight=0)
        g.add_edge(("S", i), "X", weight=0)
        g.add_edge("X", ("T", i), weight=int(M))
    g.add_node("X", demand=total - int(target.sum()))
    for k, (u, v) in enumerate(net.edge_index.T.tolist()):
        g.add_edge(("S", u), ("T", v), weight=int(cost[k]))
    flow_cost, _ = nx.network_simplex(g)
    return flow_cost


@pytest.mark.parametrize("seed", range(8))
def test_rebalancing_lp_equals_networkx_min_cost_flow(seed):
    rng = np.random.default_rng(seed)
    net = random_network(rng, int(rng.integers(4, 12)))
    beta = 2.0
    lower = RebalancingLP(net, net.edge_attr["reb_time"], beta)
    for _ in range(5):
        idle = rng.integers(0, 30, net.num_nodes).astype(float)
        target = desired_counts(rng.dirichlet(np.ones(net.num_nodes)), idle.sum())
        flows = lower.solve_counts(idle, target)
        cost = beta * net.edge_attr["reb_time"]
        shortfall = np.maximum(target - (idle + net.incidence() @ flows), 0.0)
        lp_obj = cost @ flows + lower.M * shortfall.sum()
        # the LP's tie-breaking perturbation moves its objective by at most 1e-4 per vehicle moved
        assert lp_obj == pytest.approx(
            networkx_objective(net, idle, target, cost, lower.M), abs=1e-3 + 1e-4 * flows.sum()
        )
        # feasibility: integral, non-negative, never more out of a region than it has
        assert np.array_equal(flows, np.rint(flows)) and flows.min() >= 0
        out = np.bincount(net.sources, flows, net.num_nodes)
        assert np.all(out <= idle + 1e-9)


def test_hot_started_rebalancing_equals_cold():
    env = MobilityEnv("shenzhen_downtown_west")
    lower = RebalancingLP.for_env(env)
    rng = np.random.default_rng(0)
    for _ in range(30):
        idle = rng.integers(0, 200, env.N).astype(float)
        target = desired_counts(rng.dirichlet(np.ones(env.N)), idle.sum())
        hot = lower.solve_counts(idle, target)
        cold = lower.solve_counts(idle, target, cold=True)
        # the optimum is unique (tie-breaking costs), so hot and cold starts give the same flows
        assert np.array_equal(hot, cold)


def test_desired_counts_sum_and_errors():
    c = desired_counts(np.array([0.5, 0.3, 0.2]), 11)
    assert c.tolist() == [5.0, 3.0, 2.0]  # floor, as the reference (a dead-band < 1 vehicle)
    assert desired_counts(np.array([5.0, 3.0, 2.0]), 10).tolist() == [5.0, 3.0, 2.0]
    assert desired_counts(np.zeros(4), 8).tolist() == [2.0, 2.0, 2.0, 2.0]
    with pytest.raises(ActionError, match="finite"):
        desired_counts(np.array([np.nan, 1.0]), 3)
    with pytest.raises(ActionError, match="non-negative"):
        desired_counts(np.array([-0.1, 1.1]), 3)


def test_uniform_target_reached_when_reachable():
    net = FlowNetwork(3, [[0, 1, 1, 2], [1, 0, 2, 1]], edge_attr={"reb_time": [1.0, 1.0, 1.0, 1.0]})
    lower = RebalancingLP(net, net.edge_attr["reb_time"], 1.0)
    state = SimpleNamespace(idle=np.array([9.0, 0.0, 0.0]), reb_time=net.edge_attr["reb_time"])
    flows = lower.solve(state, np.ones(3) / 3)
    # region 2 is two hops from region 0: only region 1 can be filled this step
    assert flows.tolist() == [3.0, 0.0, 0.0, 0.0]


def _without(net, closed):
    """``net``'s cost vector with the closed edges priced out of any optimum (networkx has no edge removal)."""
    cost = 2.0 * net.edge_attr["reb_time"]
    return np.where(closed, 10**9, cost)


@pytest.mark.parametrize("seed", range(6))
def test_closed_links_carry_nothing_and_the_rest_is_min_cost_flow(seed):
    rng = np.random.default_rng(seed)
    net = random_network(rng, int(rng.integers(5, 12)))
    closed = rng.random(net.num_edges) < 0.3
    lower = RebalancingLP(net, net.edge_attr["reb_time"], 2.0, closed=closed)
    for _ in range(5):
        idle = rng.integers(0, 30, net.num_nodes).astype(float)
        target = desired_counts(rng.dirichlet(np.ones(net.num_nodes)), idle.sum())
        flows = lower.solve_counts(idle, target)
        assert flows[closed].sum() == 0
        cost = 2.0 * net.edge_attr["reb_time"]
        shortfall = np.maximum(target - (idle + net.incidence() @ flows), 0.0)
        lp_obj = cost @ flows + lower.M * shortfall.sum()
        assert lp_obj == pytest.approx(
            networkx_objective(net, idle, target, _without(net, closed), lower.M), abs=1e-3 + 1e-4 * flows.sum()
        )
