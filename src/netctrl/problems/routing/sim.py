"""Packet-level WAN simulator (numpy, vectorized over routers and packets, exactly reproducible from a seed).

Dynamics of one tick ``t -> t + 1`` (all routers act at once):

1. **forward**: every router with a non-empty queue pops its head packet (FIFO) and sends it on the arc of
   its action. If the arc's residual bandwidth ``capacity - sum(size of packets in flight on it)`` is below
   the packet's size, the packet is **lost** (a failed link has capacity 0, so everything sent on it is
   lost). Otherwise the packet occupies that bandwidth for the arc's ``latency`` ticks.
2. **arrive** (time is now ``t + 1``): packets whose transmission ends free their bandwidth; a packet at its
   destination is **delivered** (delivery time = now - creation tick = queueing + transmission); any other
   packet joins the tail of the router's queue. Packets arriving at one router in the same tick join in the
   order of their ids (= creation order).
3. **inject**: every router creates ``Poisson(load)`` packets with a destination drawn uniformly among the
   other routers and a size ``U(size_lo, size_hi) x`` the median link bandwidth; they join the tail of its
   queue after the arrivals.

``reset`` performs step 3 for tick 0. A packet created at ``t0`` into an empty queue and sent along arcs of
latencies ``l1, l2`` with empty queues on the way is delivered at ``t0 + l1 + l2``. The traffic comes from
``numpy.random.Generator(PCG64(...))`` streams spawned from the seed (one for traffic, one for
:meth:`random_actions`), so the same seed and the same actions give the same episode and every controller
sees the same arrivals.

**Authors' mode** (the simulator published with the MAMRL paper; ``PacketSim(..., **AUTHORS_MODE)``), three
options, each usable alone:

* ``arrivals="hazard"``: at most one new packet per router and tick, with probability ``1 - exp(-load * k)``
  when the router's last packet was created ``k`` ticks ago (``k`` counts from 0 at ``reset``, so the first
  tick's probability is ``1 - exp(-load)``). The mean rate is ``1 / sum_{k>=1} exp(-load k (k - 1) / 2)``
  packets per tick: 0.421 at ``load = 0.3``, 0.530 at 0.5 (:func:`hazard_rate`), not ``load``.
* ``initial_backlog=(q, f)``: at ``reset``, before tick 0's arrivals, every router gets ``q`` packets in its
  queue and ``f`` packets in flight on its links (each on one of its working links drawn uniformly, arriving
  after ``U{1..latency}`` ticks, holding its bandwidth until then), all created at tick 0 with destinations
  and sizes drawn as for new packets. They count as generated.
* ``half_duplex=True``: the two directions of a link share its bandwidth (the residual of an arc is the
  capacity minus the sizes in flight *both* ways); when the two ends of a link send on it in the same tick,
  the lower-numbered router's packet is checked first.

Local observation of router ``i`` (the paper's section 3.3), ``obs_dim = 2 + history`` integers:
``[destination of the head packet (-1: empty queue), local index of the neighbour with the longest queue,
last ``history`` own actions (-1: none yet)]``.

>>> from netctrl.problems.routing.scenario import load_topology
>>> sim = PacketSim(load_topology("b4"), load=0.3, seed=0)
>>> obs = sim.reset()
>>> obs.shape
(12, 7)
>>> for _ in range(50):
...     obs = sim.step(sim.random_actions())
>>> sim.t, sim.delivered > 0
(50, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import ActionError, ConfigError
from .scenario import RoutingTopology

ARRIVALS = ("poisson", "hazard")

#: the options of the MAMRL authors' simulator (module docstring): hazard arrivals, 5 queued and 8 in-flight
#: packets per router at the start, half-duplex links
AUTHORS_MODE = {"arrivals": "hazard", "initial_backlog": (5, 8), "half_duplex": True}


def hazard_rate(load: float) -> float:
    """Mean packets per router and tick of ``arrivals="hazard"`` at ``load`` (one over the mean gap between
    arrivals, ``sum_{k>=1} P(gap >= k) = sum_{k>=1} exp(-load k (k - 1) / 2)``).

    >>> round(hazard_rate(0.3), 3), round(hazard_rate(0.5), 3)
    (0.421, 0.53)
    """
    if load <= 0:
        return 0.0
    total, k = 0.0, 1
    while True:
        term = math.exp(-load * k * (k - 1) / 2)
        total += term
        if term < 1e-16:
            return 1.0 / total
        k += 1


@dataclass
class TickEvents:
    """What happened in the last tick, for learners that update per hop (Q-routing) and for rewards."""

    senders: np.ndarray
    """(S,) routers that popped a head packet."""
    actions: np.ndarray
    """(S,) their local actions."""
    packets: np.ndarray
    """(S,) the packets they popped."""
    ok: np.ndarray
    """(S,) bool: sent (True) or lost (False)."""
    empty: np.ndarray
    """(S,) bool: nothing was in flight on the arc (half-duplex: on the link, either way) when the packet was
    sent; a packet lost there is one the link could not carry at all (a failed link), not one it was too busy for."""
    wait: np.ndarray
    """(S,) ticks the packet waited in the sender's queue."""
    lost_at: np.ndarray
    """(N,) packets lost by each router."""
    delivered_at: np.ndarray
    """(N,) packets delivered to each router."""
    delay_sum_at: np.ndarray
    """(N,) sum of the delivery times of the packets delivered to each router."""


class PacketSim:
    """The simulator state and dynamics; see the module docstring. ``obs``/``step`` work on arrays of all routers."""

    def __init__(
        self,
        topology: RoutingTopology,
        load: float,
        seed: int | None = None,
        history: int = 5,
        size_lo: float = 0.02,
        size_hi: float = 0.2,
        arrivals: str = "poisson",
        initial_backlog: tuple[int, int] = (0, 0),
        half_duplex: bool = False,
    ):
        if not (np.isfinite(load) and load >= 0):
            raise ConfigError(f"'load' >= 0 expected (got {load!r})")
        if not 0 < size_lo <= size_hi:
            raise ConfigError(f"0 < 'size_lo' <= 'size_hi' expected (got {size_lo!r}, {size_hi!r})")
        if history < 0:
            raise ConfigError(f"'history' >= 0 expected (got {history!r})")
        if arrivals not in ARRIVALS:
            raise ConfigError(f"'arrivals' must be one of {ARRIVALS} (got {arrivals!r})")
        backlog = tuple(initial_backlog)
        if len(backlog) != 2 or not all(isinstance(b, (int, np.integer)) and b >= 0 for b in backlog):
            raise ConfigError(
                f"'initial_backlog' = (queued, in flight) per router, integers >= 0 (got {initial_backlog!r})"
            )
        self.arrivals, self.initial_backlog, self.half_duplex = (
            arrivals,
            (int(backlog[0]), int(backlog[1])),
            bool(half_duplex),
        )
        self.topo = topology
        self.load = float(load)
        self.history = int(history)
        self.size_lo, self.size_hi = float(size_lo), float(size_hi)
        self.size_ref = (
            float(np.median(topology.capacity[topology.capacity > 0])) if (topology.capacity > 0).any() else 1.0
        )
        self.n = topology.num_nodes
        # per-router neighbour table (N, D): head router of each local action; padding -> the router itself
        self._nbr = np.where(
            topology.out_arcs >= 0, topology.dst[np.maximum(topology.out_arcs, 0)], np.arange(self.n)[:, None]
        )
        self._valid = topology.out_arcs >= 0
        self._seed_rngs(seed)
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self._seed_rngs(seed)
        self.t = 0
        cap = 1024
        self.p_dst = np.zeros(cap, np.int64)
        self.p_size = np.zeros(cap)
        self.p_created = np.zeros(cap, np.int64)
        self.p_enq = np.zeros(cap, np.int64)
        self.p_arc = np.full(cap, -1, np.int64)
        self.p_arrive = np.full(cap, -1, np.int64)
        self.p_end = np.full(cap, -1, np.int64)
        """delivery tick of each packet; -1 while in the network, -2 once lost"""
        self.num_packets = 0
        self.q_buf = np.zeros((self.n, 256), np.int64)
        self.q_head = np.zeros(self.n, np.int64)
        self.q_tail = np.zeros(self.n, np.int64)
        self.in_flight = np.zeros(0, np.int64)
        self.arc_load = np.zeros(self.topo.num_arcs)
        self.act_hist = np.full((self.n, self.history), -1, np.int64)
        self.generated = self.delivered = self.lost = 0
        self.delay_sum = 0.0
        self.packet_ticks = 0
        """sum over ticks of the packets in the network (Little's law: total time spent in it)"""
        self.events: TickEvents | None = None
        self.last_delivered = np.zeros(0, np.int64)
        """ids of the packets delivered in the last tick"""
        self.arrived = 0
        """packets created by the traffic in the last tick (not the initial backlog)"""
        self.idle = np.zeros(self.n, np.int64)
        """ticks since each router's last new packet (``arrivals="hazard"``)"""
        self._backlog(*self.initial_backlog)
        self._inject()
        return self.obs()

    def _backlog(self, queued: int, flying: int) -> None:
        """The authors' initial backlog: ``queued`` packets in every router's queue, ``flying`` on its links."""
        if queued:
            src = np.repeat(np.arange(self.n), queued)
            self.add_packets(src, *self._draw(src))
        if not flying:
            return
        arcs = []
        for i in range(self.n):  # each packet on one of the router's working links
            working = self.topo.out_arcs[i, : self.topo.degree[i]]
            working = working[self.topo.capacity[working] > 0]
            if len(working):
                arcs.append(working[self.rng.integers(0, len(working), flying)])
        if not arcs:
            return
        arc = np.concatenate(arcs)
        src = self.topo.src[arc]
        dst, size = self._draw(src)
        ids = self._new_packets(dst, size)
        self.p_arc[ids] = arc
        self.p_arrive[ids] = self.rng.integers(1, self.topo.latency[arc] + 1)
        np.add.at(self.arc_load, arc, size)
        self.in_flight = np.concatenate([self.in_flight, ids])

    def _seed_rngs(self, seed) -> None:
        traffic, actions = np.random.SeedSequence(seed).spawn(2)
        self.rng = np.random.Generator(np.random.PCG64(traffic))
        """traffic: arrivals, destinations, sizes (independent of the routers' actions)."""
        self.action_rng = np.random.Generator(np.random.PCG64(actions))
        """for :meth:`random_actions` only, so a random policy does not shift the traffic."""

    @property
    def queue_len(self) -> np.ndarray:
        return self.q_tail - self.q_head

    def head_packets(self) -> np.ndarray:
        """(N,) id of each router's head packet, -1 for an empty queue."""
        q = self.queue_len > 0
        return np.where(q, self.q_buf[np.arange(self.n), np.minimum(self.q_head, self.q_buf.shape[1] - 1)], -1)

    def obs(self) -> np.ndarray:
        head = self.head_packets()
        dest = np.where(head >= 0, self.p_dst[np.maximum(head, 0)], -1)
        nq = np.where(self._valid, self.queue_len[self._nbr], -1)
        longest = np.argmax(nq, axis=1)
        return np.concatenate([dest[:, None], longest[:, None], self.act_hist], axis=1)

    def inbound(self) -> np.ndarray:
        """(N,) packets queued at each router plus those in flight towards it (its share of the backlog)."""
        return self.queue_len + np.bincount(self.topo.dst[self.p_arc[self.in_flight]], minlength=self.n)

    def backlog(self) -> int:
        """Packets still in the network (queued or in flight)."""
        return int(self.queue_len.sum() + len(self.in_flight))

    # ------------------------------------------------------------------ dynamics
    def random_actions(self) -> np.ndarray:
        """A uniformly random local action per router (drawn from the simulator's own generator)."""
        return np.floor(self.action_rng.random(self.n) * self.topo.degree).astype(np.int64)

    def step(self, actions) -> np.ndarray:
        """Advance one tick with ``actions[i]`` = local action of router ``i`` (ignored for an empty queue)."""
        actions = np.asarray(actions)
        if actions.shape != (self.n,):
            raise ActionError(f"'actions' of shape ({self.n},) expected (got {actions.shape})")
        topo = self.topo
        senders = np.flatnonzero(self.queue_len > 0)
        a = actions[senders].astype(np.int64)
        bad = (a < 0) | (a >= topo.degree[senders])
        if bad.any():
            i = int(senders[np.argmax(bad)])
            raise ActionError(
                f"action {int(actions[i])} of router {topo.node_names[i]!r} outside 0..{int(topo.degree[i]) - 1}"
            )
        pk = self.q_buf[senders, self.q_head[senders]]
        self.q_head[senders] += 1
        arcs = topo.out_arcs[senders, a]
        size = self.p_size[pk]
        residual = topo.capacity[arcs] - self.arc_load[arcs]
        empty = self.arc_load[arcs] <= 0
        if not self.half_duplex:
            ok = residual >= size
        else:  # both directions share the link; the lower-numbered sender goes first
            residual = residual - self.arc_load[arcs ^ 1]
            empty &= self.arc_load[arcs ^ 1] <= 0
            ok = residual >= size
            first = np.full(topo.num_arcs, -1, np.int64)
            first[arcs] = np.arange(len(arcs))
            other = first[arcs ^ 1]
            second = (other >= 0) & (other < np.arange(len(arcs)))
            ok[second] &= residual[second] - np.where(ok[other[second]], size[other[second]], 0.0) >= size[second]
            empty[second] &= ~ok[other[second]]
        sent, sarc = pk[ok], arcs[ok]
        self.arc_load[sarc] += size[ok]  # one packet per router per tick: each arc at most once
        self.p_arc[sent] = sarc
        self.p_arrive[sent] = self.t + topo.latency[sarc]
        self.in_flight = np.concatenate([self.in_flight, sent])
        lost_at = np.bincount(senders[~ok], minlength=self.n)
        self.p_end[pk[~ok]] = -2
        self.lost += int((~ok).sum())
        if self.history:
            self.act_hist[senders, 1:] = self.act_hist[senders, :-1]
            self.act_hist[senders, 0] = a
        wait = self.t - self.p_enq[pk]

        self.t += 1
        now = self.p_arrive[self.in_flight] == self.t
        arr = np.sort(self.in_flight[now])
        self.in_flight = self.in_flight[~now]
        np.subtract.at(self.arc_load, self.p_arc[arr], self.p_size[arr])
        at = topo.dst[self.p_arc[arr]]
        done = at == self.p_dst[arr]
        dt = (self.t - self.p_created[arr[done]]).astype(float)
        delivered_at = np.bincount(at[done], minlength=self.n)
        delay_sum_at = np.bincount(at[done], weights=dt, minlength=self.n)
        self.delivered += int(done.sum())
        self.last_delivered = arr[done]
        self.p_end[self.last_delivered] = self.t
        self.delay_sum += float(dt.sum())
        self._enqueue(at[~done], arr[~done])
        self._inject()
        self.packet_ticks += self.backlog()
        self.events = TickEvents(senders, a, pk, ok, empty, wait, lost_at, delivered_at, delay_sum_at)
        return self.obs()

    def _inject(self) -> None:
        if self.arrivals == "hazard":
            self.idle += 1
            k = (self.rng.random(self.n) < -np.expm1(-self.load * self.idle)).astype(np.int64)
            self.idle[k > 0] = 0
        else:
            k = self.rng.poisson(self.load, self.n)
        self.arrived = int(k.sum())
        if self.arrived == 0:
            return
        src = np.repeat(np.arange(self.n), k)
        self.add_packets(src, *self._draw(src))

    def _draw(self, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Destinations (uniform among the other routers) and sizes of new packets at routers ``src``."""
        total = len(src)
        dst = (src + 1 + self.rng.integers(0, self.n - 1, total)) % self.n
        size = self.rng.uniform(self.size_lo, self.size_hi, total) * self.size_ref
        return dst, size

    def add_packets(self, src, dst, size) -> np.ndarray:
        """Create packets now at routers ``src`` for ``dst`` with sizes ``size`` (bandwidth units); they join the
        tails of the source queues in the given order. Returns their ids. (The traffic model calls this; tests
        use it to build hand-computed cases.)"""
        src, dst = np.atleast_1d(np.asarray(src, np.int64)), np.atleast_1d(np.asarray(dst, np.int64))
        size = np.broadcast_to(np.asarray(size, float), src.shape)
        if ((src < 0) | (src >= self.n) | (dst < 0) | (dst >= self.n) | (src == dst)).any():
            raise ActionError(f"packets need 0 <= src != dst < {self.n} (got src={src}, dst={dst})")
        ids = self._new_packets(dst, size)
        self._enqueue(src, ids)
        return ids

    def _new_packets(self, dst: np.ndarray, size: np.ndarray) -> np.ndarray:
        """Create packets for ``dst`` of ``size`` now (not yet queued or in flight); returns their ids."""
        total = len(dst)
        ids = np.arange(self.num_packets, self.num_packets + total)
        if total and ids[-1] >= len(self.p_dst):
            grow = max(len(self.p_dst), total)
            for name in ("p_dst", "p_size", "p_created", "p_enq", "p_arc", "p_arrive", "p_end"):
                arr = getattr(self, name)
                fill = -1 if name in ("p_arc", "p_arrive", "p_end") else 0
                setattr(self, name, np.concatenate([arr, np.full(grow, fill, arr.dtype)]))
        self.p_dst[ids], self.p_size[ids], self.p_created[ids] = dst, size, self.t
        self.num_packets += total
        self.generated += total
        return ids

    def _enqueue(self, nodes: np.ndarray, pids: np.ndarray) -> None:
        """Append ``pids`` to the tails of ``nodes``' queues, keeping the given order within each router."""
        if len(nodes) == 0:
            return
        order = np.argsort(nodes, kind="stable")
        nodes, pids = nodes[order], pids[order]
        counts = np.bincount(nodes, minlength=self.n)
        first = np.cumsum(counts) - counts
        pos = self.q_tail[nodes] + np.arange(len(nodes)) - first[nodes]
        if pos.max() >= self.q_buf.shape[1]:
            width = max(2 * self.q_buf.shape[1], int(pos.max()) + 1)
            self.q_buf = np.concatenate([self.q_buf, np.zeros((self.n, width - self.q_buf.shape[1]), np.int64)], axis=1)
        self.q_buf[nodes, pos] = pids
        self.q_tail += counts
        self.p_enq[pids] = self.t

    # ------------------------------------------------------------------ metrics
    def metrics(self) -> dict:
        """Average delivery time (delivered packets), packets lost, throughput (delivered per tick), backlog, and
        ``sojourn_time``: ticks spent in the network per generated packet, undelivered ones counted up to now
        (not biased towards the packets that made it, as the delivery time is when the network saturates)."""
        return {
            "delivery_time": self.delay_sum / self.delivered if self.delivered else float("nan"),
            "sojourn_time": self.packet_ticks / max(self.generated, 1),
            "packets_lost": self.lost,
            "delivered": self.delivered,
            "generated": self.generated,
            "throughput": self.delivered / max(self.t, 1),
            "backlog": self.backlog(),
        }
