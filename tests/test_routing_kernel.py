"""The compiled fixed-routing kernel (:mod:`netctrl.problems.routing.kernel`) against the numpy simulator: driven by
the same arrivals and the same routing, the same episode to the last packet, and a hand-computed case."""

import numpy as np
import pytest

from netctrl.problems.routing.baselines import ShortestPath
from netctrl.problems.routing.kernel import FixedRoutingSim, traffic
from netctrl.problems.routing.scenario import load_topology
from netctrl.problems.routing.sim import PacketSim


class DrivenSim(PacketSim):
    """``PacketSim`` whose new packets are the given traffic arrays instead of its own draws."""

    def __init__(self, topology, arrivals):
        self._arrivals, self._pos = arrivals, 0
        super().__init__(topology, load=0.0, seed=0)

    def _inject(self):
        counts, dst, size = self._arrivals
        k = counts[self.t]
        total = int(k.sum())
        if total:
            self.add_packets(
                np.repeat(np.arange(self.n), k), dst[self._pos : self._pos + total], size[self._pos : self._pos + total]
            )
            self._pos += total


def numpy_episode(topo, next_hop, arrivals, ticks):
    sim = DrivenSim(topo, arrivals)
    rows = np.arange(sim.n)
    for _ in range(ticks):
        head = sim.head_packets()
        dest = np.where(head >= 0, sim.p_dst[np.maximum(head, 0)], 0)
        sim.step(np.where(head >= 0, next_hop[rows, dest], 0))
    return sim.metrics()


@pytest.mark.parametrize("name", ["b4", "geant", "att"])
@pytest.mark.parametrize("load", [0.05, 0.3, 0.6])
def test_kernel_equals_the_numpy_simulator(name, load):
    topo = load_topology(name)
    ref = PacketSim(topo, load, seed=0)
    arrivals = traffic(np.random.default_rng(7), topo.num_nodes, 300, load, ref.size_lo, ref.size_hi, ref.size_ref)
    next_hop = ShortestPath(topo).next_hop
    want = numpy_episode(topo, next_hop, arrivals, 300)
    fast = FixedRoutingSim(topo, next_hop, arrivals, queue_width=4)  # tiny rings: they must grow on the way
    fast.run(120)
    fast.run(180)  # two calls give the same as one
    got = fast.metrics()
    assert got["generated"] == want["generated"] > 0
    for key in ("delivered", "packets_lost", "backlog"):
        assert got[key] == want[key], key
    for key in ("delivery_time", "sojourn_time", "throughput"):
        assert got[key] == pytest.approx(want[key], rel=1e-12), key
    if load == 0.6:
        assert fast.q_buf.shape[1] > 4 and got["backlog"] > 0  # saturated: queues grew


def test_kernel_hand_computed_delivery_on_an_empty_path():
    """One packet from B4's router 0 to a router at least two hops away arrives after the sum of the latencies on
    its path, and nothing else happens."""
    topo = load_topology("b4")
    spa = ShortestPath(topo)
    n = topo.num_nodes

    def latencies(dest):  # along the shortest-latency next hops from router 0
        out, v = [], 0
        while v != dest:
            arc = topo.out_arcs[v, spa.next_hop[v, dest]]
            out.append(int(topo.latency[arc]))
            v = int(topo.dst[arc])
        return out

    dest = next(d for d in range(1, n) if len(latencies(d)) >= 2)
    path = latencies(dest)
    counts = np.zeros((50, n), np.int64)
    counts[0, 0] = 1
    fast = FixedRoutingSim(topo, spa.next_hop, (counts, np.array([dest]), np.array([0.01])))
    fast.run(49)
    m = fast.metrics()
    assert m["delivered"] == 1 and m["delivery_time"] == sum(path) and m["backlog"] == 0


def test_batched_kernel_equals_one_environment_at_a_time():
    from netctrl.problems.routing.kernel import BatchedFixedRoutingSim

    topo = load_topology("geant")
    ref = PacketSim(topo, 0.3, seed=0)
    next_hop = ShortestPath(topo).next_hop
    arrivals = [
        traffic(np.random.default_rng(s), topo.num_nodes, 200, load, ref.size_lo, ref.size_hi, ref.size_ref)
        for s, load in ((1, 0.05), (2, 0.3), (3, 0.6))  # different traffic sizes; the last saturates
    ]
    batch = BatchedFixedRoutingSim(topo, next_hop, arrivals, queue_width=4)
    batch.run(80)
    batch.run(120)
    for got, a in zip(batch.metrics(), arrivals):
        one = FixedRoutingSim(topo, next_hop, a)
        one.run(200)
        assert got == one.metrics()
