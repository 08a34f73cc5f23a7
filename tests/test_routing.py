"""WAN packet routing: simulator on hand-computed tiny topologies, PettingZoo API, baselines, MAMRL parts."""

import numpy as np
import pytest
import torch

from netctrl.controllers import run_episode
from netctrl.errors import ActionError, ConfigError, ScenarioError
from netctrl.problems.routing import (
    PacketSim,
    RoutingParallelEnv,
    RoutingSettings,
    load_topology,
    meta_tasks,
    problem,
    topology_from_dict,
)
from netctrl.problems.routing.baselines import QRouting, RandomRouting, ShortestPath


def episode(controller, topo, load, horizon, seed=None, failed=()):
    """The metrics of one episode of ``controller`` on ``topo`` (the one runner, PettingZoo environment)."""
    env = RoutingParallelEnv(topo, load=load, horizon=horizon, failed_links=failed)
    return run_episode(controller, env, seed).metrics


def tiny(links, failures=()):
    """Topology from ``[(u, v, capacity, latency), ...]`` over nodes named by the letters used."""
    names = sorted({x for u, v, *_ in links for x in (u, v)})
    return topology_from_dict(
        {
            "name": "tiny",
            "nodes": [{"id": n} for n in names],
            "links": [{"u": u, "v": v, "capacity": c, "latency": lat} for u, v, c, lat in links],
            "failure_scenarios": [{"failed_links": [list(p) for p in f]} for f in failures],
        }
    )


def drive(sim, actions, ticks):
    """Run ``ticks`` ticks with fixed actions; return {packet id: delivery tick}."""
    out = {}
    for _ in range(ticks):
        sim.step(np.asarray(actions))
        for p in sim.last_delivered:
            out[int(p)] = sim.t
    return out


def test_delivery_time_is_sum_of_latencies_on_empty_path():
    topo = tiny([("A", "B", 10, 2), ("B", "C", 10, 3)])
    sim = PacketSim(topo, load=0.0, seed=0)
    sim.reset()
    (p,) = sim.add_packets(0, 2, 1.0)
    # A's only link goes to B; B's links: 0 -> A, 1 -> C
    got = drive(sim, [0, 1, 0], 8)
    assert got == {int(p): 5}
    assert sim.metrics()["delivery_time"] == 5.0 and sim.metrics()["packets_lost"] == 0


def test_fifo_order_and_queueing_delay():
    topo = tiny([("A", "B", 100, 2)])
    sim = PacketSim(topo, load=0.0, seed=0)
    sim.reset()
    ids = sim.add_packets([0, 0, 0], [1, 1, 1], 1.0)
    assert sim.queue_len.tolist() == [3, 0]
    got = drive(sim, [0, 0], 6)
    # one packet leaves A per tick in creation order: sent at 0, 1, 2, each 2 ticks in flight
    assert got == {int(ids[0]): 2, int(ids[1]): 3, int(ids[2]): 4}
    assert sim.metrics()["delivery_time"] == pytest.approx(3.0)


def test_fifo_arrivals_queue_behind_earlier_packets():
    # C's packet for B arrives at B (from A) after B's own packet was created: it waits behind it
    topo = tiny([("A", "B", 100, 1), ("B", "C", 100, 1)])
    sim = PacketSim(topo, load=0.0, seed=0)
    sim.reset()
    b_own = sim.add_packets([1, 1], [2, 2], 1.0)  # two packets at B for C
    a_pkt = sim.add_packets(0, 2, 1.0)  # A -> C via B
    got = drive(sim, [0, 1, 0], 6)
    # B sends its own at t=0, 1; A's packet reaches B at t=1 behind b_own[1], leaves at t=2
    assert got == {int(b_own[0]): 1, int(b_own[1]): 2, int(a_pkt[0]): 3}


def test_loss_on_saturated_link_and_bandwidth_release():
    topo = tiny([("A", "B", 10, 3)])
    sim = PacketSim(topo, load=0.0, seed=0)
    sim.reset()
    ids = sim.add_packets([0] * 4, [1] * 4, 4.0)
    got = drive(sim, [0, 0], 8)
    # in flight 4, 8, then residual 2 < 4: the third is lost; at t=3 the first frees its 4 -> the fourth goes
    assert sim.lost == 1
    assert got == {int(ids[0]): 3, int(ids[1]): 4, int(ids[3]): 6}
    assert sim.arc_load.sum() == 0.0


def test_failed_link_loses_everything_sent_on_it():
    topo = tiny([("A", "B", 10, 1), ("B", "C", 10, 1), ("A", "C", 10, 1)], failures=[[("A", "C")]])
    failed = topo.with_failures(topo.failure_scenarios[0])
    sim = PacketSim(failed, load=0.0, seed=0)
    sim.reset()
    sim.add_packets([0, 0], [2, 2], 1.0)
    # A: action 0 -> B, action 1 -> C (failed)
    drive(sim, [1, 0, 0], 4)
    assert sim.lost == 2 and sim.delivered == 0


def test_same_seed_same_episode_and_different_seed_differs():
    topo = load_topology("geant")

    def trace(seed):
        sim = PacketSim(topo, load=0.3, seed=seed)
        obs = [sim.obs()]
        for _ in range(60):
            obs.append(sim.step(sim.random_actions()))
        return np.stack(obs), sim.metrics()

    o1, m1 = trace(5)
    o2, m2 = trace(5)
    o3, _ = trace(6)
    assert np.array_equal(o1, o2) and m1 == m2
    assert not np.array_equal(o1, o3)


def test_traffic_does_not_depend_on_the_policy():
    topo = load_topology("b4")
    a = RoutingParallelEnv(topo, load=0.3, horizon=50)
    b = RoutingParallelEnv(topo, load=0.3, horizon=50)
    run_episode(RandomRouting(), a, 2)
    run_episode(ShortestPath(topo), b, 2)
    a, b = a.sim, b.sim
    assert a.generated == b.generated and np.array_equal(a.p_dst[: a.num_packets], b.p_dst[: b.num_packets])


def test_invalid_input_is_rejected():
    topo = load_topology("b4")
    sim = PacketSim(topo, 0.1, seed=0)
    with pytest.raises(ActionError, match="router 'A'"):
        bad = np.zeros(topo.num_nodes, int)
        bad[0] = 7
        while sim.queue_len[0] == 0:
            sim.step(np.zeros(topo.num_nodes, int))
        sim.step(bad)
    with pytest.raises(ScenarioError, match="links\\[0\\].v"):
        topology_from_dict({"nodes": [{"id": "a"}], "links": [{"u": "a", "v": "z", "capacity": 1, "latency": 1}]})
    with pytest.raises(ScenarioError, match="latency"):
        tiny([("A", "B", 1, 0)])


def test_pettingzoo_parallel_api_and_seed():
    from pettingzoo.test import parallel_api_test, parallel_seed_test

    parallel_api_test(RoutingParallelEnv("b4", load=0.3, horizon=40), num_cycles=60)
    parallel_seed_test(lambda: RoutingParallelEnv("att", load=0.3, horizon=20))


def test_env_rewards_carry_loss_and_delivery():
    env = RoutingParallelEnv("b4", load=0.3, horizon=80, failed_links=load_topology("b4").failure_scenarios[0])
    env.reset(seed=0)
    lost = delivered = 0
    total = 0.0
    while env.agents:
        _, rew, _, _, infos = env.step({a: env.action_space(a).sample() for a in env.agents})
        lost += sum(i["lost"] for i in infos.values())
        delivered += sum(i["delivered"] for i in infos.values())
        total += sum(rew.values())
    assert lost == env.sim.lost > 0 and delivered == env.sim.delivered
    assert total < 0


def test_shortest_path_follows_lowest_latency():
    topo = tiny([("A", "B", 10, 1), ("B", "C", 10, 1), ("A", "C", 10, 5)])
    spa = ShortestPath(topo)
    assert spa.next_hop[0, 2] == 0  # A -> C via B (2 < 5)
    sim = PacketSim(topo, load=0.0, seed=0)
    sim.reset()
    sim.add_packets(0, 2, 1.0)
    got = drive_controller(sim, spa, 5)
    assert list(got.values()) == [2]


def drive_controller(sim, ctrl, ticks):
    out, obs = {}, sim.obs()
    for _ in range(ticks):
        obs = sim.step(ctrl.decide(obs))
        out.update({int(p): sim.t for p in sim.last_delivered})
    return out


def test_env_infos_tell_each_router_what_became_of_its_packets():
    """A hand-computed case: one packet A -> C over B (latencies 1 and 1): A forwards it in tick 0, B in tick 1,
    C acknowledges it after tick 1; nothing is lost, and the backlog counts it until then."""
    topo = tiny([("A", "B", 10, 1), ("B", "C", 10, 1), ("A", "C", 10, 5)])
    env = RoutingParallelEnv(topo, load=0.0, horizon=4)
    env.reset(seed=0)
    (pid,) = env.sim.add_packets(0, 2, 1.0)
    spa = ShortestPath(topo)
    spa.bind(env)
    seen = []
    obs = dict(zip(env.possible_agents, env.sim.obs()))
    while env.agents:
        obs, _, _, _, infos = env.step(spa.act(obs))
        seen.append({a: (i["packet"], i["sent"], i["backlog"], list(i["acked"])) for a, i in infos.items()})
    assert seen[0]["A"][:2] == (pid, True) and seen[0]["B"][2] == 1  # on its way to B
    assert seen[1]["B"][:2] == (pid, True) and seen[1]["C"][3] == [pid]  # delivered at C after tick 1
    assert all(v[0] == -1 for t in seen[2:] for v in t.values())  # nothing left to forward
    assert env.episode_metrics()["delivered"] == 1 and env.episode_metrics()["delivery_time"] == 2


def test_q_routing_learns_to_avoid_a_failed_link():
    topo = tiny([("A", "B", 10, 1), ("B", "C", 10, 1), ("A", "C", 10, 1)], failures=[[("A", "C")]])
    failed = topo.with_failures(topo.failure_scenarios[0])
    q = QRouting(failed)
    spa = ShortestPath(failed)
    assert episode(spa, failed, 0.2, 100, seed=0)["packets_lost"] > 0  # SPA keeps using A-C
    episode(q, failed, 0.2, 100, seed=1)
    m = episode(q, failed, 0.2, 100, seed=2)
    assert m["packets_lost"] == 0 and m["delivered"] > 0


# ------------------------------------------------------------------------------------------- MAMRL parts
from netctrl.algos.mamrl import (  # noqa: E402
    ConsensusEstimator,
    MAMRLConfig,
    RouterLearner,
    collect,
    laplacian,
    meta_train,
)
from netctrl.policies.router import RouterPolicies  # noqa: E402


def test_consensus_converges_to_network_mean_on_static_signal():
    topo = load_topology("att")
    lap = laplacian(topo.num_nodes, topo.src, topo.dst)
    r = np.random.default_rng(0).normal(size=topo.num_nodes) * 10
    est = ConsensusEstimator(lap)
    assert 0 < est.beta < 1
    for _ in range(400):
        x = est.step(r)
    np.testing.assert_allclose(x, r.mean(), atol=1e-6)
    # only neighbours' x enter router i's update: L is zero off the graph's adjacency
    assert np.all(lap[~np.eye(len(lap), dtype=bool) & (lap != 0)] == -1)


def test_consensus_tracks_a_slowly_varying_mean_and_printed_sign_diverges():
    topo = load_topology("b4")
    lap = laplacian(topo.num_nodes, topo.src, topo.dst)
    est = ConsensusEstimator(lap)
    base = np.linspace(-1, 1, topo.num_nodes)
    errs = []
    for t in range(300):
        r = base + 0.001 * t
        errs.append(np.abs(est.step(r) - r.mean()).max())
    assert errs[-1] < 0.05
    # eq. (4) with the printed sign, y += beta * sum_j (x_j - x_i), blows up on the same static signal
    y = np.zeros(topo.num_nodes)
    for _ in range(200):
        x = base - y
        y = y - est.beta * (lap @ x)
    assert np.abs(x - base.mean()).max() > 1e3


def test_router_policies_mask_padding_and_match_per_router_forward():
    topo = load_topology("geant")
    pol = RouterPolicies(topo.num_nodes, topo.degree, history=5, hidden=16, layers=2)
    sim = PacketSim(topo, 0.3, seed=0)
    obs = sim.reset()
    for _ in range(5):
        obs = sim.step(sim.random_actions())
    logits = pol.logits(torch.from_numpy(obs)[:, None, :])[:, 0]
    assert torch.isinf(logits[torch.arange(topo.max_degree)[None, :] >= torch.as_tensor(topo.degree)[:, None]]).all()
    # router 3 alone through a plain one-hot MLP with its own weights gives the same logits
    i = 3
    feats = torch.zeros(pol.num_features)
    feats[(torch.from_numpy(obs[i]) + pol.shift + pol.offset)] = 1.0
    z = torch.relu(feats @ pol.embed[i] + pol.biases[0][i, 0])
    z = torch.relu(z @ pol.weights[0][i] + pol.biases[1][i, 0])
    out = z @ pol.weights[1][i] + pol.biases[2][i, 0]
    d = int(topo.degree[i])
    torch.testing.assert_close(logits[i, :d], out[:d])


def test_collect_is_reproducible_and_never_picks_padding():
    topo = load_topology("b4")
    cfg = MAMRLConfig(hidden=16, horizon=40)
    env = RoutingParallelEnv(topo, load=0.4, horizon=40)
    a = RouterLearner(env, cfg)
    e1 = collect(env, a.policy, seed=3, rng=np.random.default_rng(1), consensus=a.consensus)
    e2 = collect(env, a.policy, seed=3, rng=np.random.default_rng(1), consensus=a.consensus)
    assert np.array_equal(e1.actions, e2.actions) and e1.metrics == e2.metrics
    assert e1.actions.shape == (40, 12) and (e1.actions < topo.degree[None, :]).all()


def test_policy_gradient_learner_improves_on_random_routing():
    topo = load_topology("b4")
    env = RoutingParallelEnv(topo, load=0.2, horizon=150)
    cfg = MAMRLConfig(hidden=32, horizon=150, loads=(0.2, 0.2), seed=0)
    learner = RouterLearner(env, cfg)
    before = np.mean([learner.run(env, 500 + s, learn=False)["sojourn_time"] for s in range(2)])
    for k in range(80):
        learner.run(env, 100 + k)
    after = np.mean([learner.run(env, 500 + s, learn=False)["sojourn_time"] for s in range(2)])
    assert after < 0.6 * before


def test_meta_train_runs_and_returns_an_initialisation():
    topo = load_topology("b4")

    def make_env(task):
        return RoutingParallelEnv(topo, horizon=20, failed_links=task)

    cfg = MAMRLConfig(hidden=8, horizon=20, meta_batch=2)
    pol, hist = meta_train(make_env, [(), (0,), (1,)], cfg, iterations=2)
    assert len(hist) == 2 and isinstance(pol, RouterPolicies)
    assert all(torch.isfinite(p).all() for p in pol.parameters())


def test_cli_train_routing_writes_loadable_checkpoints(tmp_path):
    from typer.testing import CliRunner

    from netctrl.cli import app
    from netctrl.recipes.routing import load_router_policy

    res = CliRunner().invoke(
        app,
        [
            "train",
            "routing/b4",
            "--algo",
            "mamrl",
            "--iterations",
            "2",
            "--set",
            "meta_iterations=1",
            "--set",
            "mamrl.horizon=20",
            "--set",
            "mamrl.hidden=8",
            "--set",
            "teacher.episodes=1",
            "--set",
            "teacher.epochs=1",
            "--run-dir",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.output
    for name in ("meta_init.pt", "best.pt", "last.pt"):
        pol, ck = load_router_policy(tmp_path / name)
        assert pol.n == 12 and pol.num_features > 12 and ck["recipe"] == "mamrl"
    bad = CliRunner().invoke(app, ["train", "routing/b4", "--algo", "ppo", "--run-dir", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "does not apply to routing/b4" in bad.output and "mamrl" in bad.output


def test_meta_tasks_hold_out_the_test_failures_and_keep_connectivity():
    for name in ("b4", "geant", "att"):
        topo = load_topology(name)
        tasks = meta_tasks(topo)
        assert tasks[0] == () and not set(tasks) & set(topo.failure_scenarios)
        assert all(topo.surviving_connected(t) for t in tasks)


@pytest.mark.slow
def test_benchmark_quick_smoke(tmp_path):
    from routing import run  # benchmarks/routing.py (tests/conftest.py puts benchmarks/ on the path)

    doc = run(out=tmp_path, runs=tmp_path / "runs", quick=True, topologies=("b4",))
    keys = {"topology", "controller", "experiment", "load", "delivery_time", "delivery_time_vs_spa", "packets_lost"}
    assert all(keys <= set(r) for r in doc["rows"] if r["experiment"] == "load")
    assert any(r["experiment"] == "link_failure" and "adapt_episodes" in r for r in doc["rows"])
    assert doc["speed"]["sim_ticks_per_s_att"] > 0


def test_router_loads_against_hand_computed_line_and_ring():
    from netctrl.problems.routing.baselines import ShortestPath
    from netctrl.problems.routing.capacity import min_max_unit_load, unit_loads

    # a line a-b-c: one routing only; b forwards its own packets and half of a's and of c's (1 + 1/2 + 1/2)
    line = tiny([("a", "b", 1.0, 1), ("b", "c", 1.0, 1)])
    assert np.allclose(unit_loads(line, ShortestPath(line).next_hop), [1, 2, 1])
    assert min_max_unit_load(line) == pytest.approx(2.0)
    # a 4-ring: a third of each router's packets goes to the opposite router, two hops either way; split
    # evenly, every router carries 1 + 4 * (1/3) / 4 = 4/3; shortest-path ties put more on some routers
    ring = tiny([("a", "b", 1.0, 1), ("b", "c", 1.0, 1), ("c", "d", 1.0, 1), ("d", "a", 1.0, 1)])
    sp_w = unit_loads(ring, ShortestPath(ring).next_hop)
    assert sp_w.sum() == pytest.approx(4 * (1 + 1 / 3))  # routers x mean hops (4/3)
    assert min_max_unit_load(ring) == pytest.approx(4 / 3) and sp_w.max() > 4 / 3
    # link d-a failed: the line a-b-c-d, whose inner routers carry 1 + 2/3 + 1/3 + 1/3 = 7/3
    assert min_max_unit_load(ring.with_failures([3])) == pytest.approx(7 / 3)


def test_balanced_routing_splits_where_it_lowers_the_busiest_load_and_is_spa_on_a_tree():
    from netctrl.problems.routing.baselines import BalancedRouting, ShortestPath
    from netctrl.problems.routing.capacity import unit_loads

    line = tiny([("a", "b", 1.0, 1), ("b", "c", 1.0, 1)])  # one path per pair: the same episode as SPA
    m_sp = episode(ShortestPath(line), line, 0.3, 100, seed=5)
    m_bal = episode(BalancedRouting(line), line, 0.3, 100, seed=5)
    assert m_sp == m_bal
    ring = tiny([("a", "b", 1.0, 1), ("b", "c", 1.0, 1), ("c", "d", 1.0, 1), ("d", "a", 1.0, 1)])
    bal = BalancedRouting(ring)
    assert bal.unit_load == pytest.approx(4 / 3)
    split = np.diff(bal.cum, axis=2, prepend=0)  # (N, dest, D) shares
    assert np.allclose(unit_loads(ring, split), 4 / 3)  # every router carries exactly the optimum
    assert split[0, 1, 0] == pytest.approx(1.0)  # a -> b: the direct link only (least latency)
    assert unit_loads(ring, ShortestPath(ring).next_hop).max() > bal.unit_load


def test_imitation_reproduces_the_balanced_routing_and_its_smoothing():
    from netctrl.algos.mamrl import teacher_episode
    from netctrl.problems.routing.baselines import BalancedRouting
    from netctrl.recipes.routing import TeacherConfig, teacher_init

    # a 4-ring (its balanced routing sends the packets for opposite routers both ways); with smoothing every
    # label is soft
    ring = tiny([("a", "b", 1.0, 1), ("b", "c", 1.0, 1), ("c", "d", 1.0, 1), ("d", "a", 1.0, 1)])
    teacher = BalancedRouting(ring)
    cfg = MAMRLConfig(hidden=16, horizon=60, loads=(0.2, 0.2), seed=0)
    env = RoutingParallelEnv(ring, load=0.2, horizon=60)
    obs, target, mask = teacher_episode(env, teacher.probs, seed=5)  # an episode not imitated
    spec = problem("routing/ring", ring, RoutingSettings(load=0.2, horizon=60))
    for smooth in (0.0, 0.2):
        pol = RouterPolicies(4, ring.degree, 5, hidden=16)
        pol.load_state_dict(teacher_init(spec, cfg, TeacherConfig(episodes=6, epochs=60, smooth=smooth)))
        with torch.no_grad():
            probs = torch.softmax(pol.logits(torch.from_numpy(obs).transpose(0, 1)), -1).transpose(0, 1).numpy()
        want = (1 - smooth) * target + smooth / 2  # every router of the ring has 2 links
        err = np.abs(probs - want)[mask]  # observations of an episode not imitated
        assert err.mean() < 0.02 and err.max() < 0.1


def test_meta_train_starts_from_the_given_initialisation():
    topo = load_topology("b4")
    cfg = MAMRLConfig(hidden=8, horizon=20)
    init = RouterPolicies(12, topo.degree, 5, hidden=8).state_dict()
    pol, hist = meta_train(
        lambda task: RoutingParallelEnv(topo, horizon=20, failed_links=task), [()], cfg, iterations=0, init=init
    )
    assert hist == [] and all(torch.equal(v, pol.state_dict()[k]) for k, v in init.items())
    with pytest.raises(ConfigError, match="meta_lr"):
        MAMRLConfig(meta_lr=0.0)


def test_delay_routing_on_a_ring_by_hand():
    from netctrl.problems.routing.capacity import delay_routing, modelled_delay, queue_wait, unit_loads

    assert queue_wait(0.5) == pytest.approx(0.5)  # M/D/1: rho / (2 (1 - rho))
    ring = tiny([("a", "b", 1.0, 1), ("b", "c", 1.0, 1), ("c", "d", 1.0, 1), ("d", "a", 1.0, 1)])
    # opposite routers are two hops apart either way; split evenly every router forwards 4/3 per unit load, so
    # at load 0.45 each is at utilisation 0.6 (a breakpoint of the wait curve): waits 0.6 W(0.6) / 0.45 = 1 tick
    # per packet on top of the mean latency (1 + 1 + 2) / 3
    cost, split = delay_routing(ring, 0.45)
    assert cost == pytest.approx(4 / 3 + 1.0)
    assert unit_loads(ring, split) == pytest.approx([4 / 3] * 4)  # (how opposite pairs split is not unique)
    assert split[0, 1, 0] == pytest.approx(1.0)  # a -> b direct
    assert modelled_delay(ring, split, 0.45) == pytest.approx(cost)


def test_delay_routing_is_least_latency_at_light_load_and_balanced_near_capacity():
    from netctrl.problems.routing.baselines import BalancedRouting, DelayRouting, ShortestPath
    from netctrl.problems.routing.capacity import delay_routing, min_max_unit_load, modelled_delay

    for name in ("b4", "att"):
        topo = load_topology(name)
        dist = topo.shortest_latency()
        n = topo.num_nodes
        cost, split = delay_routing(topo, 1e-6)
        # the mean shortest latency, plus the first piece of the wait curve (<= W(0.01) = 0.005 per hop)
        assert cost == pytest.approx(dist[~np.eye(n, dtype=bool)].mean(), abs=0.02)
        spa_cost = modelled_delay(topo, ShortestPath(topo).next_hop, 1e-6)  # ties with fewer hops may cost less
        assert spa_cost - 1e-3 <= cost <= spa_cost + 1e-9
        arcs = np.maximum(topo.out_arcs, 0)
        via = topo.latency[arcs][:, None, :] + dist[topo.dst[arcs]].transpose(0, 2, 1)  # (N, dest, D)
        best = np.where(topo.out_arcs[:, None, :] >= 0, via, np.inf).min(axis=2, keepdims=True)
        assert np.all((split <= 1e-9) | np.isclose(via, best))  # only on least-latency next hops
        w = min_max_unit_load(topo)
        spa, bal = ShortestPath(topo).next_hop, BalancedRouting(topo).split
        for rho in (0.3, 0.6, 0.9):
            c = DelayRouting(topo, rho / w).modelled_delay
            assert c <= modelled_delay(topo, spa, rho / w) + 1e-9 and c <= modelled_delay(topo, bal, rho / w) + 1e-9
        cost, split = delay_routing(topo, 0.96 / w)  # past 95 % of the best busiest load: the balanced routing
        assert cost == np.inf and np.allclose(split, bal)
    with pytest.raises(ValueError, match="'load'"):
        delay_routing(topo, float("nan"))


def test_delay_prior_levels_floor_and_measured_rate():
    from netctrl.problems.routing.baselines import DelayPrior
    from netctrl.problems.routing.capacity import delay_routing, min_max_unit_load

    topo = load_topology("b4")
    prior = DelayPrior(topo, step=0.05, floor=0.02)
    w = min_max_unit_load(topo)
    assert prior.level(0.5 / w) == 10 and prior.level(0.0) == 1 and prior.level(3.0 / w) == 20  # capped at rho 1
    _, split = delay_routing(topo, 0.5 / w)
    dest = np.array([-1] + [0] * (topo.num_nodes - 1))
    p = prior.probs(dest, 0.51 / w)  # rounds to the level of rho 0.5
    deg = topo.degree
    for i in range(1, topo.num_nodes):
        assert p[i, : deg[i]] == pytest.approx(0.98 * split[i, 0, : deg[i]] + 0.02 / deg[i])
        assert p[i, deg[i] :].sum() == 0
    assert p[0, : deg[0]] == pytest.approx(1 / deg[0])  # no packet: uniform
    # one packet per router and tick (hazard at a huge load): the measured rate is exactly 1
    env = RoutingParallelEnv(topo, load=60.0, horizon=30, arrivals="hazard")
    env.reset(seed=0)
    for _ in range(10):
        env.step(dict.fromkeys(env.agents, 0))
    assert env.measured_rate() == 1.0
    pr = env.next_hop_prior()
    assert pr.shape == (topo.num_nodes, topo.max_degree) and np.allclose(pr.sum(1), 1.0)


def test_residual_policy_on_a_prior_follows_it_and_learns():
    from netctrl.algos.mamrl import MAMRLConfig, RouterLearner, RouterPolicyController, collect, pg_loss

    topo = load_topology("b4")
    env = RoutingParallelEnv(topo, load=0.2, horizon=40)
    cfg = MAMRLConfig(prior=True, horizon=40, seed=3)
    learner = RouterLearner(env, cfg)
    with torch.no_grad():  # a zero residual: the policy is the prior
        learner.policy.weights[-1].zero_()
        learner.policy.biases[-1].zero_()
    obs, _ = env.reset(seed=1)
    o = np.stack([obs[a] for a in env.possible_agents])
    pr = env.next_hop_prior()
    logits = learner.policy.logits(torch.from_numpy(o)[:, None, :], None, torch.from_numpy(pr).float()[:, None, :])
    assert torch.softmax(logits[:, 0], -1).detach().numpy() == pytest.approx(pr, abs=1e-6)
    ep = collect(env, learner.policy, 5, np.random.default_rng(0), prior=True)
    assert ep.prior.shape == (40, topo.num_nodes, topo.max_degree)
    loss = pg_loss(learner.policy, [ep], cfg)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in learner.policy.params() if p.grad is not None)
    # at the prior, the KL penalty that replaces the entropy bonus is 0: only the advantage term is left
    no_reg = pg_loss(learner.policy, [ep], MAMRLConfig(prior=True, horizon=40, entropy=0.0))
    assert float(loss.detach()) == pytest.approx(float(no_reg.detach()), abs=1e-6)
    # the controller samples from the same residual policy, through the one runner
    ctrl = RouterPolicyController(learner, learn=True)
    run_episode(ctrl, RoutingParallelEnv(topo, load=0.2, horizon=40), 2)
    assert learner.episodes == 1


@pytest.mark.slow
def test_utilisation_benchmark_quick_smoke(tmp_path):
    from routing_utilisation import CONTROLLERS, run  # benchmarks/routing_utilisation.py

    doc = run(out=tmp_path, runs=tmp_path / "runs", quick=True, topologies=("b4",))
    rows = [r for r in doc["rows"] if r["experiment"] == "utilisation"]
    assert {r["controller"] for r in rows} == set(CONTROLLERS)
    assert any(r["paper_load"] and r["load"] == 0.5 for r in rows)
    assert all({"utilisation", "load", "sojourn_time", "throughput", "sojourn_time_vs_spa"} <= set(r) for r in rows)
    fails = [r for r in doc["rows"] if r["experiment"] == "utilisation_failure"]
    assert {"mamrl-prior", "random-init", "q-routing"} <= {r["controller"] for r in fails}
    assert "b4" in doc["utilisation_run"]["bars"] and "b4" in doc["utilisation_run"]["failure_bars"]
