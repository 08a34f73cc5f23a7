"""The MAMRL authors' simulator options of PacketSim: hazard arrivals, initial backlog, half-duplex links
(hand-computed cases; the default mode is tested in test_routing.py)."""

import math

import numpy as np
import pytest

from netctrl.errors import ConfigError
from netctrl.problems.routing import AUTHORS_MODE, PacketSim, RoutingParallelEnv, RoutingSettings, hazard_rate
from tests.test_routing import drive, tiny


def line():
    return tiny([("A", "B", 10, 2), ("B", "C", 10, 3)])


def test_hazard_arrivals_at_most_one_per_tick():
    topo = line()
    never = PacketSim(topo, load=0.0, seed=0, arrivals="hazard")
    drive(never, [0, 0, 0], 50)
    assert never.generated == 0
    always = PacketSim(topo, load=60.0, seed=0, arrivals="hazard")  # 1 - exp(-60 k): a packet every tick
    for _ in range(20):
        before = always.generated
        always.step(np.zeros(3, np.int64))
        assert always.generated - before == 3
    assert always.generated == 3 * 21  # ticks 0..20


def test_hazard_rate_and_gaps_match_the_hazard():
    # mean gap = sum_k P(gap >= k) = sum_k prod_{j<k} exp(-0.3 j): 1 + .741 + .407 + .165 + .050 + .011 + ...
    by_hand = 1 / (
        1
        + math.exp(-0.3)
        + math.exp(-0.9)
        + math.exp(-1.8)
        + math.exp(-3.0)
        + math.exp(-4.5)
        + math.exp(-6.3)
        + math.exp(-8.4)
    )
    assert hazard_rate(0.3) == pytest.approx(by_hand, rel=1e-4)
    assert hazard_rate(0.3) == pytest.approx(0.421, abs=5e-4) and hazard_rate(0.5) == pytest.approx(0.530, abs=5e-4)
    topo = tiny([("A", "B", 1e9, 1)])
    sim = PacketSim(topo, load=0.3, seed=4, arrivals="hazard", history=0)
    ticks = 20_000
    created = [[0] if sim.idle[i] == 0 else [] for i in range(2)]  # ticks with a new packet, per router
    for t in range(1, ticks + 1):
        sim.step(np.zeros(2, np.int64))
        for i in range(2):
            if sim.idle[i] == 0:
                created[i].append(t)
    assert sim.generated == sum(len(c) for c in created)  # never two in one tick
    rate = sim.generated / (2 * (ticks + 1))
    assert abs(rate - by_hand) < 4 * math.sqrt(by_hand * (1 - by_hand) / (2 * ticks))
    gaps = np.concatenate([np.diff(c) for c in created])
    p1 = 1 - math.exp(-0.3)  # P(gap = 1)
    assert abs((gaps == 1).mean() - p1) < 4 * math.sqrt(p1 * (1 - p1) / len(gaps))


def test_initial_backlog_queued_and_in_flight():
    topo = line()
    sim = PacketSim(topo, load=0.0, seed=2, initial_backlog=(2, 3))
    assert sim.queue_len.tolist() == [2, 2, 2]
    assert len(sim.in_flight) == 9 and sim.generated == 15 and sim.backlog() == 15
    arcs = sim.p_arc[sim.in_flight]
    assert (topo.src[arcs] == np.repeat([0, 1, 2], 3)).all()  # each router's packets on its own links
    assert ((sim.p_arrive[sim.in_flight] >= 1) & (sim.p_arrive[sim.in_flight] <= topo.latency[arcs])).all()
    assert np.allclose(sim.arc_load, np.bincount(arcs, weights=sim.p_size[sim.in_flight], minlength=topo.num_arcs))
    assert (sim.p_dst[sim.in_flight] != topo.src[arcs]).all()


def test_initial_backlog_delivered_by_hand():
    topo = tiny([("A", "B", 10, 3)])
    sim = PacketSim(topo, load=0.0, seed=5, initial_backlog=(2, 1))
    fly = {int(p): int(sim.p_arrive[p]) for p in sim.in_flight}  # each router's in-flight packet, to the other
    got = drive(sim, [0, 0], 6)
    # the two queued packets of each router leave at ticks 0 and 1 and arrive 3 ticks later
    queued = [p for p in range(6) if p not in fly]
    assert sorted(got[p] for p in queued) == [3, 3, 4, 4]
    assert all(got[p] == fly[p] for p in fly)
    assert sim.delivered == 6 and sim.delay_sum == 14 + sum(fly.values())


def test_initial_backlog_skips_failed_links():
    topo = tiny([("A", "B", 10, 2), ("B", "C", 10, 3)]).with_failures([1])
    sim = PacketSim(topo, load=0.0, seed=0, initial_backlog=(0, 4))
    assert (topo.capacity[sim.p_arc[sim.in_flight]] > 0).all()
    assert np.bincount(topo.src[sim.p_arc[sim.in_flight]], minlength=3).tolist() == [4, 4, 0]  # C has no working link


def two_way(half_duplex):
    sim = PacketSim(tiny([("A", "B", 1.0, 2)]), load=0.0, seed=0, half_duplex=half_duplex)
    return sim


@pytest.mark.parametrize(("half", "lost"), [(False, 0), (True, 1)])
def test_half_duplex_shares_the_link_in_one_tick(half, lost):
    sim = two_way(half)
    sim.add_packets([0, 1], [1, 0], [0.6, 0.6])
    sim.step(np.zeros(2, np.int64))
    assert sim.lost == lost
    if half:  # the lower-numbered router (A) is checked first
        assert sim.events.ok.tolist() == [True, False]


def test_half_duplex_bandwidth_in_flight_blocks_the_other_direction():
    sim = two_way(True)
    sim.add_packets(0, 1, 0.6)
    sim.step(np.zeros(2, np.int64))  # A -> B in flight for 2 ticks, 0.6 of the link's 1.0
    sim.add_packets([1, 1], [0, 0], [0.5, 0.3])
    sim.step(np.zeros(2, np.int64))  # B's 0.5 does not fit beside it
    assert sim.lost == 1
    sim.step(np.zeros(2, np.int64))  # A's packet arrives at the end of this tick; B's 0.3 fits (0.6 + 0.3 <= 1)
    assert sim.lost == 1 and sim.delivered == 1
    full = two_way(False)
    full.add_packets(0, 1, 0.6)
    full.step(np.zeros(2, np.int64))
    full.add_packets([1, 1], [0, 0], [0.5, 0.3])
    drive(full, [0, 0], 6)
    assert full.lost == 0 and full.delivered == 3


def test_half_duplex_a_lost_first_packet_takes_no_bandwidth():
    sim = two_way(True)
    sim.add_packets([0, 1], [1, 0], [1.5, 0.6])
    sim.step(np.zeros(2, np.int64))
    assert sim.events.ok.tolist() == [False, True]


def test_authors_mode_through_env_and_settings():
    env = RoutingParallelEnv("b4", load=0.3, horizon=20, **AUTHORS_MODE)
    env.reset(seed=3)
    assert env.sim.backlog() >= 13 * 12 and env.sim.half_duplex and env.sim.arrivals == "hazard"
    env2 = RoutingParallelEnv("b4", load=0.3, horizon=20, **AUTHORS_MODE)
    env2.reset(seed=3)
    assert np.array_equal(env.sim.p_dst[: env.sim.num_packets], env2.sim.p_dst[: env2.sim.num_packets])
    with pytest.raises(ConfigError, match="'arrivals'"):
        RoutingSettings(arrivals="bursty")
    with pytest.raises(ConfigError, match="'initial_backlog'"):
        RoutingSettings(initial_backlog=(5,))
    with pytest.raises(ConfigError, match="'initial_backlog'"):
        RoutingSettings(initial_backlog=(5, -1))
    with pytest.raises(ConfigError, match="'half_duplex'"):
        RoutingSettings(half_duplex="yes")
    with pytest.raises(ConfigError, match="'arrivals'"):
        PacketSim(env.topology, load=0.3, arrivals="bursty")
