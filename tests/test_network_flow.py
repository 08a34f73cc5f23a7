"""Dynamic network flow: hand-computed dynamics, conservation, LP limits, the oracle's exactness and bound."""

import numpy as np
import pytest

from netctrl.errors import ActionError, ConfigError, GraphError, ScenarioError
from netctrl.evaluate import evaluate
from netctrl.graph import FlowNetwork
from netctrl.problems.network_flow import (
    FEATURE_NEXT_HOP,
    GreedyShortestPath,
    MultiCommodityLP,
    NetworkFlowEnv,
    NetworkFlowScenario,
    OracleMPC,
    RandomDistribution,
    from_graph,
    load_named,
    oracle_plan,
)


def path_scenario(n: int, capacity=None, steps: int = 3):
    """0 -> 1 -> ... -> n-1 (forward arcs first, then the arcs back), capacity 2 per step unless given, travel 1
    step, cost 0.5; one commodity with sink n-1; 3 steps unless given. Reward 10, so the LP's progress bonus is
    1 per step of travel: moving a unit one hop nets 0.5."""
    fwd = list(range(n - 1))
    arcs = 2 * n - 2
    net = FlowNetwork(
        n,
        [fwd + [i + 1 for i in fwd], [i + 1 for i in fwd] + fwd],
        edge_attr={"capacity": list(capacity or [2.0] * arcs), "travel_time": [1.0] * arcs, "cost": [0.5] * arcs},
    )
    return NetworkFlowScenario(
        "path",
        net,
        np.array([n - 1]),
        np.zeros((10, n, 1)),
        steps=steps,
        reward=10.0,
        holding_cost=1.0,
        disruptions=0.0,
    )


def line_scenario(capacity=(2.0, 2.0, 2.0, 2.0)):
    """0 -> 1 -> 2 (and back): :func:`path_scenario` of 3 nodes."""
    return path_scenario(3, capacity)


def test_hand_computed_episode():
    env = NetworkFlowEnv(line_scenario())
    arrivals = np.zeros_like(env.arrivals)
    env.reset(seed=0)
    env.arrivals = arrivals
    env.waiting = np.array([[3.0, 0.0, 0.0]])  # 3 units at node 0
    # t=0: send 3 along 0->1 (capacity 2 -> scaled to 2); 1 unit keeps waiting (holding 1)
    _, r, _, _, info = env.step(np.array([3.0, 0.0, 0.0, 0.0], dtype=np.float32))
    assert info["action_scaled"] and r == pytest.approx(-2 * 0.5 - 1.0 * 3)  # 1 waits at 0, 2 wait at 1
    assert env.waiting.tolist() == [[1.0, 2.0, 0.0]]
    # t=1: 1->2 (2 units, delivered at t=2: +20) and 0->1 (1 unit)
    _, r, _, _, info = env.step(np.array([1.0, 2.0, 0.0, 0.0], dtype=np.float32))
    assert info["delivered"] == 2.0 and r == pytest.approx(10 * 2 - 3 * 0.5 - 1.0 * 1)
    _, r, done, _, info = env.step(np.array([0.0, 1.0, 0.0, 0.0], dtype=np.float32))
    assert done and info["delivered"] == 1.0 and env.waiting.sum() == 0.0


@pytest.mark.parametrize("name", ["b4", "gabriel/50/0"])
def test_units_are_conserved(name):
    env = NetworkFlowEnv(name, steps=15)
    env.reset(seed=2)
    rng = np.random.default_rng(0)
    arrived, delivered = env.waiting.sum(), 0.0
    for _ in range(env.T):
        flows = rng.uniform(0, 1, env.K * env.E) * env.waiting[:, env.src].reshape(-1)
        *_, info = env.step(flows)
        delivered += info["delivered"]
        if env.t < env.horizon:
            arrived += env.arrivals[env.t].sum()
        assert env.in_network() + delivered == pytest.approx(arrived)
        assert env.waiting.min() >= 0


def test_invalid_flows_raise_and_leave_state_unchanged():
    env = NetworkFlowEnv("b4")
    env.reset(seed=0)
    before = env.waiting.copy(), env.t
    for bad in (np.full(env.K * env.E, np.nan), -np.ones(env.K * env.E), np.zeros(3)):
        with pytest.raises(ActionError):
            env.step(bad)
    assert np.array_equal(env.waiting, before[0]) and env.t == before[1]


def test_lp_respects_availability_and_shared_capacity():
    env = NetworkFlowEnv("geant")
    lower = MultiCommodityLP.for_env(env)
    rng = np.random.default_rng(1)
    env.reset(seed=3)
    for _ in range(10):
        state = env.flow_state()
        flows = lower.solve(state, rng.dirichlet(np.ones(env.N), size=env.K).reshape(-1)).reshape(env.K, env.E)
        out = np.zeros((env.K, env.N))
        np.add.at(out, (slice(None), env.src), flows)
        assert np.all(out <= state.waiting + 1e-6)
        assert np.all(flows.sum(axis=0) <= state.capacity + 1e-6)
        _, _, _, _, info = env.step(flows.reshape(-1))
        assert not info["action_scaled"]


def test_lp_moves_units_one_hop_toward_the_target():
    env = NetworkFlowEnv(line_scenario())
    env.reset(seed=0)
    env.waiting = np.array([[4.0, 0.0, 0.0]])
    lower = MultiCommodityLP.for_env(env)
    flows = lower.solve(env.flow_state(), np.array([0.5, 0.5, 0.0]))
    assert flows.tolist() == pytest.approx([2.0, 0.0, 0.0, 0.0])


def test_next_hop_feature_is_the_greedy_next_state():
    env = NetworkFlowEnv(line_scenario())
    env.reset(seed=0)
    env.waiting = np.array([[3.0, 2.0, 0.0]])
    # 0 -> 1 takes 2 of node 0's 3 units (capacity 2), the third stays; node 1's 2 units go on to the sink
    assert env.greedy_next().tolist() == [[1.0, 2.0, 2.0]]
    x = env._observation()["x"]
    assert (x[:, FEATURE_NEXT_HOP] * env.scale).tolist() == pytest.approx([1.0, 2.0, 2.0])
    greedy = GreedyShortestPath()
    greedy.bind(env)
    assert greedy.act(None).tolist() == [3.0, 2.0, 0.0, 0.0]


def test_deadline_greedy_keeps_the_units_that_cannot_arrive_in_time():
    # 3 steps, sink 2 at travel time 2 from node 0 and 1 from node 1: at t = 2 only node 1's units can arrive
    env = NetworkFlowEnv(line_scenario())
    env.reset(seed=0)
    env.arrivals[:] = 0.0
    env.step(np.zeros(4, dtype=np.float32))
    env.step(np.zeros(4, dtype=np.float32))
    assert env.t == 2
    env.waiting = np.array([[3.0, 2.0, 0.0]])
    assert env.can_arrive().tolist() == [[False, True, True]]
    plain, late = GreedyShortestPath(), GreedyShortestPath(deadline=True)
    for c in (plain, late):
        c.bind(env)
    assert (plain.name, late.name) == ("shortest-path", "shortest-path-deadline")
    assert plain.act(None).tolist() == [3.0, 2.0, 0.0, 0.0]
    assert late.act(None).tolist() == [0.0, 2.0, 0.0, 0.0]
    assert env.greedy_next().tolist() == [[3.0, 0.0, 2.0]]  # the prior: node 0's units stay
    # moving node 0's units now costs 2 x 0.5 transport and earns nothing; holding them costs 3 x 1 per step,
    # but the episode ends with this step: the deadline variant is better by the transport
    _, r_late, done, _, _ = env.step(late.act(None))
    assert done and r_late == pytest.approx(10 * 2 - 2 * 0.5 - 3 * 1.0)


def test_lp_progress_bonus_counts_only_units_that_can_arrive_in_time():
    # units the targets leave free move toward the sink for the progress bonus (1 per hop > cost 0.5), but at
    # t = 2 node 0's units can no longer reach the sink (2 hops, 1 step left): moving them would only cost
    env = NetworkFlowEnv(line_scenario())
    env.reset(seed=0)
    env.arrivals[:] = 0.0
    lower = MultiCommodityLP.for_env(env, soft_targets=1.5)
    to_sink = np.array([0.0, 0.0, 1.0])  # unreachable in one hop from node 0: free
    env.waiting = np.array([[4.0, 2.0, 0.0]])
    assert lower.solve(env.flow_state(), to_sink).tolist() == pytest.approx([2.0, 2.0, 0.0, 0.0])
    env.t = 2
    assert lower.solve(env.flow_state(), to_sink).tolist() == pytest.approx([0.0, 2.0, 0.0, 0.0])
    env.t = 0  # a new episode: the bonus is back
    assert lower.solve(env.flow_state(), to_sink).tolist() == pytest.approx([2.0, 2.0, 0.0, 0.0])


def test_slack_features_by_hand():
    # 3 steps; sink 2 at travel time 2 from node 0 and 1 from node 1. Node slack = (steps - t - distance) / steps;
    # arc slack = the same after the arc's travel time and the distance from its head
    env = NetworkFlowEnv(line_scenario())
    obs, _ = env.reset(seed=0)
    node, arc = FEATURE_NEXT_HOP - 5, -1  # the slack columns (node features, arc features)
    assert obs["x"][:, node].tolist() == pytest.approx([1 / 3, 2 / 3, 1.0])
    # arcs 0->1, 1->2, 1->0, 2->1: after them 2, 1, 3 and 2 steps to the sink
    assert obs["edge_attr"][:, arc].tolist() == pytest.approx([1 / 3, 2 / 3, 0.0, 1 / 3])
    env.step(np.zeros(4, dtype=np.float32))
    obs, *_ = env.step(np.zeros(4, dtype=np.float32))
    assert obs["x"][:, node].tolist() == pytest.approx([-1 / 3, 0.0, 1 / 3])  # node 0's units can no longer arrive


def test_lp_sends_no_unit_along_an_arc_after_which_it_cannot_arrive_in_time():
    # the targets ask for every unit at node 1 (hard shortfall penalty). At t = 2 of 3, a unit sent from node 0
    # reaches node 1 at t = 3 and the sink only at t = 4, after the episode: arc 0 -> 1 is closed, and node 1's
    # own units stay for its target. Without the bound, or at t = 0, node 0 sends what arc 0 -> 1 takes (2)
    env = NetworkFlowEnv(line_scenario())
    env.reset(seed=0)
    env.arrivals[:] = 0.0
    env.waiting = np.array([[3.0, 2.0, 0.0]])
    at_1 = np.array([0.0, 1.0, 0.0])
    bounded, free = MultiCommodityLP.for_env(env), MultiCommodityLP.for_env(env, late_arcs=False)
    env.t = 2
    assert bounded.solve(env.flow_state(), at_1).tolist() == pytest.approx([0.0, 0.0, 0.0, 0.0])
    assert free.solve(env.flow_state(), at_1).tolist() == pytest.approx([2.0, 0.0, 0.0, 0.0])
    env.t = 0
    assert bounded.solve(env.flow_state(), at_1).tolist() == pytest.approx([2.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("name", ["b4", "gabriel/20/0"])
def test_lp_reaching_the_greedy_next_state_is_the_greedy_heuristic(name):
    # the Dirichlet's prior, through the LP, reproduces the deadline-aware greedy shortest paths step by step
    # (a 15-step episode, so units far from their sink stop moving before its end): an agent that starts at
    # its prior starts as that heuristic
    make = lambda: NetworkFlowEnv(name, steps=15)
    lower = lambda _n, e: MultiCommodityLP.for_env(e)

    class AtPrior(GreedyShortestPath):
        lower = "lp"

        def act(self, observation):
            return self.env.greedy_next().reshape(-1)

    seeds = [0, 1]
    at_prior = evaluate(AtPrior(), make, seeds, make_lower=lower).rewards
    late = evaluate(GreedyShortestPath(deadline=True), make, seeds).rewards
    assert at_prior == pytest.approx(late, rel=1e-6)
    assert not np.allclose(late, evaluate(GreedyShortestPath(), make, seeds).rewards)


def test_forecast_plan_equals_the_oracle_when_the_future_is_as_expected():
    env = NetworkFlowEnv("b4", steps=12)
    env.reset(seed=0)
    env.capacity_schedule[:] = env.base_capacity  # no disruption
    env.arrivals = env.expected_arrivals.copy()  # every arrival exactly as forecast
    env.waiting = env.arrivals[0].copy()
    env.step(env.greedy_flows().reshape(-1))
    assert oracle_plan(env, 8, foresight=False)[1] == pytest.approx(oracle_plan(env, 8)[1], rel=1e-9)
    env.arrivals[env.t + 1] += 5.0  # a surprise the forecast cannot know
    assert oracle_plan(env, 8)[1] > oracle_plan(env, 8, foresight=False)[1] + 1.0


def test_terminal_value_moves_units_the_horizon_cannot_deliver():
    """Line 0-1-2-3, sink 3, one unit at node 0, a 2-step plan: no delivery fits in the horizon. Without a
    terminal value the plan holds it (holding 0.1 per step beats transport 0.05 + holding); with it, a unit at
    node 2 is worth 10 - 0.1 and at node 0 10 - 0.3, so it moves. A plan reaching the episode's end has none."""
    src, dst = [0, 1, 2, 1, 2, 3], [1, 2, 3, 0, 1, 2]
    net = FlowNetwork(4, [src, dst], edge_attr={"capacity": [5.0] * 6, "travel_time": [1.0] * 6, "cost": [0.05] * 6})
    for steps, moves in ((6, True), (2, False)):
        sc = NetworkFlowScenario(
            "line4",
            net,
            np.array([3]),
            np.zeros((12, 4, 1)),
            steps=steps,
            reward=10.0,
            holding_cost=0.1,
            disruptions=0.0,
        )
        env = NetworkFlowEnv(sc)
        env.reset(seed=0)
        env.waiting = np.array([[1.0, 0.0, 0.0, 0.0]])
        held, v_held = oracle_plan(env, 2, terminal=False)
        moved, v_moved = oracle_plan(env, 2)
        assert held.tolist() == pytest.approx([0.0] * 6)
        assert moved.tolist() == pytest.approx([1.0 if moves else 0.0] + [0.0] * 5)
        if moves:  # two hops (0.1 transport), one unit waiting at steps 1 and 2 (0.2), worth 9.9 at node 2
            assert v_moved == pytest.approx(-0.1 - 0.2 + 9.9)
        else:
            assert v_moved == pytest.approx(v_held) == pytest.approx(-0.2)


def test_next_state_by_hand():
    env = NetworkFlowEnv(line_scenario())
    env.reset(seed=0)
    env.waiting = np.array([[3.0, 2.0, 0.0]])
    assert env.next_state(np.array([[1.0, 2.0, 0.0, 0.0]])).tolist() == [[2.0, 1.0, 2.0]]


def test_lp_keeps_units_moving_behind_a_full_arc():
    # arc 1 -> 2 carries 1 unit: 2 of node 1's 3 units must stay and would meet node 1's target (2, the units
    # coming from node 0) in their place; the progress bonus keeps node 0's units moving all the same
    env = NetworkFlowEnv(line_scenario(capacity=(2.0, 1.0, 2.0, 2.0)))
    env.reset(seed=0)
    env.waiting = np.array([[2.0, 3.0, 0.0]])
    target = np.array([0.0, 2.0, 3.0]) / 5.0  # greedy's next state, uncut
    flows = MultiCommodityLP.for_env(env).solve(env.flow_state(), target)
    assert flows.tolist() == pytest.approx([2.0, 1.0, 0.0, 0.0])
    stalled = MultiCommodityLP.for_env(env, progress_bonus=0.0).solve(env.flow_state(), target)
    assert stalled.tolist() == pytest.approx([0.0, 1.0, 0.0, 0.0])


def test_soft_targets_keep_a_deliberate_hold_and_stop_a_cascade():
    env = NetworkFlowEnv(path_scenario(5, steps=8))  # every unit can reach the sink in time
    env.reset(seed=0)
    env.waiting = np.array([[2.0, 2.0, 2.0, 2.0, 0.0]])  # greedy's next state: (0, 2, 2, 2, 2)
    hard, soft = MultiCommodityLP.for_env(env), MultiCommodityLP.for_env(env, soft_targets=1.5)
    # one unit too many at node 0 (and one too few at the sink): to meet it exactly, node 0 holds one unit, so
    # node 1 holds one of its own to keep its 2, and so on: hard targets hold a unit at every node. Soft ones
    # weigh the shortfall (1.5) against four hops of progress (4 x 0.5) and hold nothing
    cascade = np.array([1.0, 2.0, 2.0, 2.0, 1.0]) / 8.0
    assert hard.solve(env.flow_state(), cascade)[:4].tolist() == pytest.approx([1.0, 1.0, 1.0, 1.0])
    assert soft.solve(env.flow_state(), cascade)[:4].tolist() == pytest.approx([2.0, 2.0, 2.0, 2.0])
    # a consistent hold (node 0 keeps a unit, node 1 expects one less) costs one hop (0.5 < 1.5): both keep it
    hold = np.array([1.0, 1.0, 2.0, 2.0, 2.0]) / 8.0
    for lower in (hard, soft):
        assert lower.solve(env.flow_state(), hold)[:4].tolist() == pytest.approx([1.0, 2.0, 2.0, 2.0])
    assert np.all(soft.solve(env.flow_state(), cascade)[4:] == 0.0)
    with pytest.raises(ConfigError, match="soft_targets"):
        MultiCommodityLP.for_env(env, soft_targets=0.0)


@pytest.mark.parametrize("name", ["b4", "gabriel/20/0"])
def test_full_horizon_oracle_is_exact_and_an_upper_bound(name):
    make = lambda: NetworkFlowEnv(name, steps=12)
    env = make()
    env.reset(seed=5)
    _, planned = oracle_plan(env, env.T)
    lower = lambda _n, e: MultiCommodityLP.for_env(e)
    results = {
        c.name + str(getattr(c, "horizon", "")): evaluate(c, make, [5], make_lower=lower).rewards[0]
        for c in (OracleMPC(horizon=12), OracleMPC(horizon=4), GreedyShortestPath(), RandomDistribution())
    }
    assert results["oracle12"] == pytest.approx(planned, rel=1e-7)
    # one plan for the whole episode, executed open loop, is the same optimum (the model is exact)
    once = evaluate(OracleMPC(horizon=12, replan_every=12), make, [5], make_lower=lower).rewards[0]
    assert once == pytest.approx(planned, rel=1e-7)
    assert all(v <= planned + 1e-6 for v in results.values()), results


def test_too_short_episode_is_refused():
    with pytest.raises(ScenarioError, match="steps"):
        load_named("b4", steps=5)


def test_scenario_rules():
    sc = load_named("gabriel/50/0")
    assert sc.num_commodities == 4 and len(set(sc.sinks.tolist())) == 4
    tt = sc.network.edge_attr["travel_time"]
    assert tt.min() >= 1 and tt.max() <= 4
    assert np.all(sc.rate[:, sc.sinks, np.arange(4)] == 0)
    assert np.all(sc.rate[sc.steps - 5 :] == 0)
    with pytest.raises(GraphError, match="not strongly connected"):
        from_graph("split", 4, [(0, 1, 1.0), (2, 3, 1.0)], commodities=1)
    with pytest.raises(ScenarioError, match="commodities"):
        from_graph("tiny", 3, [(0, 1, 1.0), (1, 2, 1.0)], commodities=3)
    with pytest.raises(ScenarioError, match="topohub has no topology"):
        load_named("nowhere/1")


def _farthest_point_sinks(scenario, first: int) -> list[int]:
    """Farthest-point sampling on hop distance, computed with networkx (independent of the scenario's code)."""
    import networkx as nx

    g = nx.DiGraph(list(zip(scenario.network.edge_index[0].tolist(), scenario.network.edge_index[1].tolist())))
    sinks = [first]
    while len(sinks) < scenario.num_commodities:
        hops = [nx.single_source_shortest_path_length(g, s) for s in sinks]
        d = np.array([min(h[i] for h in hops) for i in range(scenario.network.num_nodes)], dtype=float)
        d[sinks] = -1
        sinks.append(int(np.argmax(d)))
    return sinks


@pytest.mark.parametrize("source", ["gabriel/50/0", "geant"])
def test_sinks_are_farthest_points_by_hop_distance(source):
    sc = load_named(source)
    assert sc.sinks.tolist() == _farthest_point_sinks(sc, int(sc.sinks[0]))


def test_in_time_sources_drop_exactly_the_units_that_cannot_reach_their_sink():
    import networkx as nx

    # a path 0 - 1 - ... - 11 with unit lengths: travel 1 step per hop; one commodity
    links = [(i, i + 1, 1.0) for i in range(11)]
    every = from_graph("path", 12, links, commodities=1, steps=8)
    near = from_graph("path", 12, links, commodities=1, steps=8, sources="in-time")
    assert every.meta["sources"] == "all" and near.meta["sources"] == "in-time"
    g = nx.DiGraph()
    src, dst = every.network.edge_index
    for u, v, t in zip(src.tolist(), dst.tolist(), every.network.edge_attr["travel_time"].tolist()):
        g.add_edge(u, v, weight=t)
    to_sink = nx.single_source_dijkstra_path_length(g.reverse(), int(every.sinks[0]))
    far = np.array([to_sink[i] > 8 - 5 for i in range(12)])  # more than T - 5 = 3 steps from the sink
    assert far.any() and (~far).sum() > 1
    assert np.all(near.rate[:, far, 0] == 0)
    np.testing.assert_array_equal(near.rate[:, ~far, 0], every.rate[:, ~far, 0])
    assert every.rate[:, far, 0].sum() > 0
    # the default is the reference rule; on a graph whose sinks are all within reach both rules agree
    np.testing.assert_array_equal(load_named("gabriel/20/0", sources="in-time").rate, load_named("gabriel/20/0").rate)
    with pytest.raises(ScenarioError, match="sources"):
        from_graph("path", 12, links, commodities=1, sources="near")


def test_sources_setting_is_validated_and_reaches_the_environment():
    from netctrl.registry import get_problem

    with pytest.raises(ConfigError, match="'sources'"):
        get_problem("network_flow/b4", sources="everywhere")
    env = get_problem("network_flow/gabriel-500", sources="in-time").make_env()
    assert env.unwrapped.scenario.meta["sources"] == "in-time"
