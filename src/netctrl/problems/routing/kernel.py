"""A compiled (numba) kernel of :class:`~netctrl.problems.routing.sim.PacketSim`'s dynamics for a fixed routing.

:class:`FixedRoutingSim` runs the same tick as ``PacketSim.step`` (forward, arrive, inject; see :mod:`.sim`)
for many ticks in one compiled call, with the routing given as a table ``next_hop[router, destination]`` of
local actions (e.g. :attr:`~netctrl.problems.routing.baselines.ShortestPath.next_hop`). Queues are ring buffers
(grown between calls when one could overflow), packets in flight sit in a timing wheel with one slot per tick
of latency (a slot's arrivals are taken in packet-id order, as in ``PacketSim``). The traffic comes in as
arrays (:func:`traffic`: per tick and router the number of new packets, then their destinations and sizes in
creation order): driven by the same arrivals and the same routing, the kernel and ``PacketSim`` give the same
episode to the last packet (tested on B4, GEANT and AT&T, light to saturated load).

It is the simulator for evaluating fixed routings at speed (about 90x ``PacketSim`` on AT&T, see
``results/routing.json``'s ``speed``); :class:`BatchedFixedRoutingSim` steps several episodes in one call
(:func:`run_batch`, parallel threads). The learners still step ``PacketSim`` tick by tick.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _insert_sorted(ids, n):
    """Sort ``ids[:n]`` in place (insertion sort: the buckets are small)."""
    for i in range(1, n):
        x = ids[i]
        j = i - 1
        while j >= 0 and ids[j] > x:
            ids[j + 1] = ids[j]
            j -= 1
        ids[j + 1] = x


@njit(cache=True)
def _push(q_buf, q_head, q_len, node, pid):
    w = q_buf.shape[1]
    q_buf[node, (q_head[node] + q_len[node]) % w] = pid
    q_len[node] += 1


@njit(cache=True)
def _inject(t, q_buf, q_head, q_len, p_dst, p_size, p_created, p_enq, tr_count, tr_dst, tr_size, tr_pos, stats):
    """Create tick ``t``'s new packets (routers in order, packets in creation order) at the queues' tails."""
    pid = np.int64(stats[5])
    pos = tr_pos[0]
    for i in range(q_len.shape[0]):
        for _ in range(tr_count[t, i]):
            p_dst[pid] = tr_dst[pos]
            p_size[pid] = tr_size[pos]
            p_created[pid] = t
            p_enq[pid] = t
            _push(q_buf, q_head, q_len, i, pid)
            pid += 1
            pos += 1
    stats[0] += pid - stats[5]
    stats[5] = pid
    tr_pos[0] = pos


@njit(cache=True)
def run_fixed(
    ticks,
    t,
    next_hop,
    out_arcs,
    arc_dst,
    capacity,
    latency,
    max_in,
    arc_load,
    q_buf,
    q_head,
    q_len,
    p_dst,
    p_size,
    p_created,
    p_enq,
    p_arc,
    wheel,
    wheel_n,
    tr_count,
    tr_dst,
    tr_size,
    tr_pos,
    stats,
):
    """Advance up to ``ticks`` ticks from tick ``t`` with the routing ``next_hop``; returns the ticks done (fewer
    when a queue's ring buffer could overflow in the next tick: the caller grows the rings and calls again). The
    packet arrays hold every packet of the traffic, so they never need to grow. ``max_in``: the most packets a
    router can receive in one tick (its in-degree's maximum).

    ``stats``: float64[6] = generated, delivered, lost, delay_sum, packet_ticks, next packet id;
    ``tr_count[t]``: new packets per router at tick ``t``, their destinations and sizes from ``tr_pos[0]`` on.
    """
    n = q_len.shape[0]
    width = q_buf.shape[1]
    slots = wheel.shape[0]
    for step in range(ticks):
        new = tr_count[t + 1]
        if np.max(q_len) + max_in + new.max() > width:
            return step
        # 1. forward: every router with a queue sends its head packet on its routing's arc, or loses it
        for i in range(n):
            if q_len[i] == 0:
                continue
            pk = q_buf[i, q_head[i]]
            q_head[i] = (q_head[i] + 1) % width
            q_len[i] -= 1
            arc = out_arcs[i, next_hop[i, p_dst[pk]]]
            if capacity[arc] - arc_load[arc] >= p_size[pk]:
                arc_load[arc] += p_size[pk]
                p_arc[pk] = arc
                slot = (t + latency[arc]) % slots
                wheel[slot, wheel_n[slot]] = pk
                wheel_n[slot] += 1
            else:
                stats[2] += 1.0
        t += 1
        # 2. arrive, in id order: delivered at the destination, else to the tail of the router's queue
        slot = t % slots
        m = wheel_n[slot]
        _insert_sorted(wheel[slot], m)
        for j in range(m):
            pk = wheel[slot, j]
            arc = p_arc[pk]
            arc_load[arc] -= p_size[pk]
            at = arc_dst[arc]
            if at == p_dst[pk]:
                stats[1] += 1.0
                stats[3] += t - p_created[pk]
            else:
                _push(q_buf, q_head, q_len, at, pk)
                p_enq[pk] = t
        wheel_n[slot] = 0
        # 3. inject
        _inject(t, q_buf, q_head, q_len, p_dst, p_size, p_created, p_enq, tr_count, tr_dst, tr_size, tr_pos, stats)
        stats[4] += q_len.sum() + wheel_n.sum()
    return ticks


class FixedRoutingSim:
    """The packet simulator with a fixed routing table, stepped by :func:`run_fixed` (see the module docstring).

    ``arrivals``: ``(counts, dst, size)`` of ticks ``0..T`` (:func:`traffic`); ``next_hop[v, d]``: router ``v``'s
    local action for destination ``d``.
    """

    def __init__(self, topology, next_hop, arrivals, queue_width: int = 64) -> None:
        self.topo = topology
        self.next_hop = np.ascontiguousarray(next_hop, dtype=np.int64)
        self.counts, self.dst, self.size = arrivals
        n = topology.num_nodes
        self.max_ticks = self.counts.shape[0] - 1
        self.capacity = topology.capacity.astype(np.float64)
        self.latency = topology.latency.astype(np.int64)
        self.arc_dst = topology.dst.astype(np.int64)
        self.out_arcs = np.maximum(topology.out_arcs, 0).astype(np.int64)
        self.max_in = int(np.bincount(self.arc_dst, minlength=n).max())
        self.arc_load = np.zeros(topology.num_arcs)
        self.q_buf = np.zeros((n, queue_width), np.int64)
        self.q_head = np.zeros(n, np.int64)
        self.q_len = np.zeros(n, np.int64)
        total = len(self.dst)
        self.p_dst = np.zeros(total, np.int64)
        self.p_size = np.zeros(total)
        self.p_created = np.zeros(total, np.int64)
        self.p_enq = np.zeros(total, np.int64)
        self.p_arc = np.full(total, -1, np.int64)
        slots = int(self.latency.max()) + 1
        self.wheel = np.zeros((slots, n * slots), np.int64)
        self.wheel_n = np.zeros(slots, np.int64)
        self.tr_pos = np.zeros(1, np.int64)
        self.stats = np.zeros(6)
        self.t = 0
        _inject(0, *self._packets(), *self._traffic())

    def _packets(self) -> tuple:
        """The queues and packet arrays, in the kernel functions' order."""
        return self.q_buf, self.q_head, self.q_len, self.p_dst, self.p_size, self.p_created, self.p_enq

    def _traffic(self) -> tuple:
        """The traffic arrays, the read position and the counters, in the kernel functions' order."""
        return self.counts, self.dst, self.size, self.tr_pos, self.stats

    def _grow_queues(self) -> None:
        self.q_buf = _grown(self.q_buf, self.q_head, self.q_len)
        self.q_head = np.zeros_like(self.q_head)

    def run(self, ticks: int) -> None:
        """Advance ``ticks`` ticks (at most to the end of the traffic)."""
        left = min(int(ticks), self.max_ticks - self.t)
        while left > 0:
            done = run_fixed(
                left,
                self.t,
                self.next_hop,
                self.out_arcs,
                self.arc_dst,
                self.capacity,
                self.latency,
                self.max_in,
                self.arc_load,
                *self._packets(),
                self.p_arc,
                self.wheel,
                self.wheel_n,
                *self._traffic(),
            )
            self.t += done
            left -= done
            if left > 0:
                self._grow_queues()

    def metrics(self) -> dict:
        return _metrics(self.stats, self.t, self.q_len, self.wheel_n)


def _grown(q_buf: np.ndarray, q_head: np.ndarray, q_len: np.ndarray) -> np.ndarray:
    """Ring buffers ``(..., routers, width)`` twice as wide, each ring unrolled from its head (heads become 0)."""
    *lead, w = q_buf.shape
    buf = np.zeros((*lead, 2 * w), np.int64)
    for ix in np.ndindex(*lead):  # every router's ring (of every environment)
        idx = (q_head[ix] + np.arange(q_len[ix])) % w
        buf[ix][: len(idx)] = q_buf[ix][idx]
    return buf


def _metrics(stats: np.ndarray, t: int, q_len: np.ndarray, wheel_n: np.ndarray) -> dict:
    """``PacketSim.metrics`` of one environment's counters, queues and timing wheel at tick ``t``."""
    generated, delivered, lost, delay_sum, packet_ticks, _ = (float(x) for x in stats)
    return {
        "delivery_time": delay_sum / delivered if delivered else float("nan"),
        "sojourn_time": packet_ticks / max(generated, 1),
        "packets_lost": int(lost),
        "delivered": int(delivered),
        "generated": int(generated),
        "throughput": delivered / max(int(t), 1),
        "backlog": int(q_len.sum() + wheel_n.sum()),
    }


def traffic(rng: np.random.Generator, n: int, ticks: int, load: float, size_lo: float, size_hi: float, size_ref: float):
    """Arrivals of ticks ``0..ticks`` drawn in three calls: counts ``(ticks + 1, n)``, destinations, sizes."""
    counts = rng.poisson(load, (ticks + 1, n))
    total = int(counts.sum())
    src = np.repeat(np.tile(np.arange(n), ticks + 1), counts.reshape(-1))
    dst = (src + 1 + rng.integers(0, n - 1, total)) % n
    size = rng.uniform(size_lo, size_hi, total) * size_ref
    return counts.astype(np.int64), dst.astype(np.int64), size


@njit(cache=True, parallel=True)
def run_batch(
    left,
    t,
    next_hop,
    out_arcs,
    arc_dst,
    capacity,
    latency,
    max_in,
    arc_load,
    q_buf,
    q_head,
    q_len,
    p_dst,
    p_size,
    p_created,
    p_enq,
    p_arc,
    wheel,
    wheel_n,
    tr_count,
    tr_dst,
    tr_size,
    tr_pos,
    stats,
):
    """:func:`run_fixed` for a batch of environments (leading axis of every state array), in parallel threads;
    ``left[b]`` ticks for environment ``b`` from its tick ``t[b]``. Returns the ticks each one did."""
    done = np.zeros(left.shape[0], np.int64)
    for b in prange(left.shape[0]):
        if left[b] > 0:
            done[b] = run_fixed(
                left[b],
                t[b],
                next_hop,
                out_arcs,
                arc_dst,
                capacity,
                latency,
                max_in,
                arc_load[b],
                q_buf[b],
                q_head[b],
                q_len[b],
                p_dst[b],
                p_size[b],
                p_created[b],
                p_enq[b],
                p_arc[b],
                wheel[b],
                wheel_n[b],
                tr_count[b],
                tr_dst[b],
                tr_size[b],
                tr_pos[b],
                stats[b],
            )
    return done


class BatchedFixedRoutingSim:
    """Several episodes of one topology and routing stepped together (:func:`run_batch`: one compiled call, the
    environments in parallel threads), each the same episode as :class:`FixedRoutingSim` with its arrivals."""

    def __init__(self, topology, next_hop, arrivals: list, queue_width: int = 64) -> None:
        sims = [FixedRoutingSim(topology, next_hop, a, queue_width) for a in arrivals]  # tick 0 injected
        self.B = len(sims)
        one = sims[0]
        self.shared = (one.next_hop, one.out_arcs, one.arc_dst, one.capacity, one.latency, one.max_in)
        self.max_ticks = min(s.max_ticks for s in sims)

        def stack(name):  # along a new leading axis; arrays of per-episode length (packets, traffic) padded
            arrs = [getattr(s, name) for s in sims]
            out = np.zeros((len(arrs), max(a.shape[0] for a in arrs), *arrs[0].shape[1:]), arrs[0].dtype)
            for i, a in enumerate(arrs):
                out[i, : a.shape[0]] = a
            return out

        self._names = ("arc_load", "q_buf", "q_head", "q_len", "p_dst", "p_size", "p_created", "p_enq", "p_arc")
        self._names += ("wheel", "wheel_n", "counts", "dst", "size", "tr_pos", "stats")
        self.state = {n: stack(n) for n in self._names}
        self.t = np.zeros(self.B, np.int64)

    def _grow_queues(self) -> None:
        st = self.state
        st["q_buf"] = _grown(st["q_buf"], st["q_head"], st["q_len"])
        st["q_head"][:] = 0

    def run(self, ticks: int) -> None:
        """Advance every environment ``ticks`` ticks (at most to the end of the shortest traffic)."""
        left = np.full(self.B, min(int(ticks), self.max_ticks - int(self.t.max())), np.int64)
        while left.max() > 0:
            done = run_batch(left, self.t, *self.shared, *(self.state[k] for k in self._names))
            self.t += done
            left -= done
            if left.max() > 0:
                self._grow_queues()

    def metrics(self) -> list[dict]:
        """Each environment's :meth:`FixedRoutingSim.metrics`."""
        st = self.state
        return [_metrics(st["stats"][b], self.t[b], st["q_len"][b], st["wheel_n"][b]) for b in range(self.B)]
