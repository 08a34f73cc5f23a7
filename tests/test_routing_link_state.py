"""Link state of the routing environment: the loss sensor that finds failed links and the prior re-planned without
them, checked against the simulator's own state and against the minimum-delay routing of the failed network."""

import numpy as np
import pytest

from netctrl.controllers import run_episode
from netctrl.problems.routing import RoutingParallelEnv, load_topology
from netctrl.problems.routing.baselines import DelayPrior, PriorRouting, ShortestPath
from netctrl.problems.routing.sim import PacketSim


def _spa_actions(topo, sim):
    spa = ShortestPath(topo)
    return spa.next_hop[np.arange(sim.n), np.maximum(sim.obs()[:, 0], 0)]


def test_empty_flag_is_true_exactly_where_nothing_was_in_flight():
    # AT&T: latencies up to 8 ticks and packets up to 0.2 of a link, so a router sending every tick on one arc
    # fills it and loses packets on an intact, busy arc; the flag must say busy there
    topo = load_topology("att")
    sim = PacketSim(topo, load=3.0, seed=4)
    sim.reset()
    busy_losses = 0
    for _ in range(60):
        load_before = sim.arc_load.copy()
        sim.step(np.zeros(sim.n, np.int64))  # every router on its first link
        ev = sim.events
        arcs = topo.out_arcs[ev.senders, ev.actions]
        assert np.array_equal(ev.empty, load_before[arcs] <= 0)
        busy_losses += int((~ev.ok & ~ev.empty).sum())
        assert not (~ev.ok & ev.empty).any()  # an intact link carries any one packet
    assert busy_losses > 0


def test_half_duplex_second_sender_behind_a_sent_packet_is_not_empty():
    topo = load_topology("b4")
    sim = PacketSim(topo, load=0.0, seed=0, half_duplex=True)
    sim.reset()
    a, b = topo.src[0], topo.dst[0]  # both ends of link 0 send on it in the same tick
    la = int(np.flatnonzero(topo.out_arcs[a] == 0)[0])
    lb = int(np.flatnonzero(topo.out_arcs[b] == 1)[0])
    for router, dest in ((a, b), (b, a)):
        sim._enqueue(np.array([router]), sim._new_packets(np.array([dest]), np.array([0.9 * topo.capacity[0]])))
    actions = np.zeros(sim.n, np.int64)
    actions[a], actions[b] = la, lb
    sim.step(actions)
    ev = sim.events
    first, second = (a, b) if a < b else (b, a)
    i_first, i_second = (int(np.flatnonzero(ev.senders == r)[0]) for r in (first, second))
    assert ev.ok[i_first] and ev.empty[i_first]
    assert not ev.ok[i_second] and not ev.empty[i_second]  # lost behind the other end's packet: busy, not down


def test_link_state_finds_the_failed_link_and_replans_the_prior():
    topo = load_topology("b4")
    link = 5
    env = RoutingParallelEnv(topo, load=0.2, horizon=150, failed_links=(link,), link_state=True)
    obs, _ = env.reset(seed=3)
    assert env.known_down == ()
    intact = DelayPrior(topo).split(env.measured_rate()).copy()
    spa = ShortestPath(topo)
    spa.bind(env)
    lost_on_link = 0
    while env.agents:
        obs, *_ = env.step(spa.act(obs))
        ev = env.sim.events
        arcs = topo.out_arcs[ev.senders, ev.actions]
        lost_on_link += int((~ev.ok & (arcs // 2 == link)).sum())
        if lost_on_link:
            assert env.known_down == (link,)
    assert lost_on_link > 0  # SPA sends on it, so the sensor fires
    # the prior is the minimum-delay routing of the failed network, floored over its working links only
    rate = env.measured_rate()
    replanned = DelayPrior(topo.with_failures((link,)))
    head = env.sim.head_packets()
    dest = np.where(head >= 0, env.sim.p_dst[np.maximum(head, 0)], -1)
    assert env.next_hop_prior() == pytest.approx(replanned.probs(dest, rate))
    u, v = topo.src[2 * link], topo.dst[2 * link]
    for router, arc in ((u, 2 * link), (v, 2 * link + 1)):
        k = int(np.flatnonzero(topo.out_arcs[router] == arc)[0])
        assert np.all(replanned.split(rate)[router, :, k] == 0)
    assert not np.allclose(replanned.split(rate), intact)
    env.reset(seed=4)  # every episode detects again
    assert env.known_down == ()


def test_link_state_changes_nothing_on_the_intact_network():
    topo = load_topology("b4")
    m = [
        run_episode(PriorRouting(), RoutingParallelEnv(topo, load=0.3, horizon=200, link_state=ls), seed=7).metrics
        for ls in (False, True)
    ]
    assert m[0] == m[1]


def test_prior_routing_with_link_state_stops_losing_on_a_failed_link():
    topo = load_topology("b4")
    task = (5,)
    m = {
        ls: run_episode(
            PriorRouting(), RoutingParallelEnv(topo, load=0.2, horizon=300, failed_links=task, link_state=ls), seed=2
        ).metrics
        for ls in (False, True)
    }
    # without it the 1 % floor and the intact routing keep sending onto the dead link; with it only until found
    assert m[True]["packets_lost"] <= 2 < m[False]["packets_lost"]


def test_link_state_through_settings():
    from netctrl.errors import ConfigError
    from netctrl.problems.routing import RoutingSettings, problem

    topo = load_topology("b4")
    spec = problem("routing/b4-ls", topo, RoutingSettings(load=0.2, horizon=30, link_state=True))
    assert spec.make_env().link_state
    assert not problem("routing/b4", topo, RoutingSettings()).make_env().link_state
    with pytest.raises(ConfigError, match="'link_state'"):
        RoutingSettings(link_state="yes")
