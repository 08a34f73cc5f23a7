"""Routing controllers that need no training: shortest path (SPA), load-balanced static routing, Q-routing
(Boyan and Littman 1994), random.

Every routing controller works on the simulator's arrays: ``act(obs, sim) -> (N,) local actions`` before a
tick, ``observe(sim)`` after it (online learners update from ``sim.events`` there), ``begin(sim)`` before an
episode. :func:`run_episode` drives one episode and returns :meth:`PacketSim.metrics`.

>>> from netctrl.problems.routing import PacketSim, load_topology
>>> topo = load_topology("b4")
>>> m = run_episode(PacketSim(topo, load=0.01, seed=3), ShortestPath(topo), horizon=300)
>>> m["packets_lost"], m["delivery_time"] < 15
(0, True)
"""

from __future__ import annotations

import numpy as np

from ...errors import ConfigError
from .capacity import balanced_routing
from .scenario import RoutingTopology
from .sim import PacketSim


class RoutingController:
    name = "controller"

    def begin(self, sim: PacketSim) -> None:
        """Called after ``sim.reset`` (before the first tick of an episode)."""

    def act(self, obs: np.ndarray, sim: PacketSim) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def observe(self, sim: PacketSim) -> None:
        """Called after every tick; ``sim.events`` holds what happened."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def run_episode(sim: PacketSim, controller: RoutingController, horizon: int, seed: int | None = None) -> dict:
    """Reset ``sim`` (with ``seed`` if given), run ``horizon`` ticks under ``controller``, return the metrics."""
    obs = sim.reset(seed)
    controller.begin(sim)
    for _ in range(horizon):
        obs = sim.step(controller.act(obs, sim))
        controller.observe(sim)
    return sim.metrics()


def _neighbour_cost(topo: RoutingTopology, dist: np.ndarray) -> np.ndarray:
    """(N, N, D) latency of the router's a-th link + distance from that neighbour to each destination."""
    arcs = np.maximum(topo.out_arcs, 0)
    nbr = topo.dst[arcs]
    cost = topo.latency[arcs][:, None, :] + dist[nbr].transpose(0, 2, 1)  # (N, dest, D)
    return np.where((topo.out_arcs >= 0)[:, None, :], cost, np.inf)


class ShortestPath(RoutingController):
    """Forward along the shortest-latency path of the intact topology (static knowledge: it ignores failures).

    Ties go to the lowest local action index.
    """

    name = "spa"

    def __init__(self, topology: RoutingTopology):
        self.next_hop = np.argmin(_neighbour_cost(topology, topology.shortest_latency()), axis=2)  # (N, dest)

    def act(self, obs, sim):
        dest = np.maximum(obs[:, 0], 0)
        return self.next_hop[np.arange(len(dest)), dest]


class BalancedRouting(RoutingController):
    """Static load-balanced routing: each packet takes a next hop drawn from the split of
    :func:`~netctrl.problems.routing.capacity.balanced_routing` (the routing whose busiest router carries the
    least, of least latency among those), from the simulator's action stream. Like SPA it knows only the intact
    topology and ignores failures; unlike SPA it spreads the packets of one destination over several paths."""

    name = "balanced"

    def __init__(self, topology: RoutingTopology):
        self.unit_load, self.split = balanced_routing(topology)       # split: (N, dest, D)
        self.cum = np.cumsum(self.split, axis=2)

    def probs(self, obs) -> np.ndarray:
        """(N, D) each router's next-hop distribution for its head packet (the teacher of
        :func:`netctrl.problems.routing.train.teacher_init`)."""
        return self.split[np.arange(len(obs)), np.maximum(obs[:, 0], 0)]

    def act(self, obs, sim):
        dest = np.maximum(obs[:, 0], 0)
        cum = self.cum[np.arange(len(dest)), dest]
        u = sim.action_rng.random(len(dest))[:, None]
        return np.minimum((cum <= u).sum(axis=1), sim.topo.degree - 1)


class RandomRouting(RoutingController):
    """A uniformly random neighbour (from the simulator's action stream)."""

    name = "random"

    def act(self, obs, sim):
        return sim.random_actions()


class QRouting(RoutingController):
    """Q-routing (Boyan and Littman 1994): ``Q[x, d, a]`` estimates the time to deliver a packet for ``d`` from
    router ``x`` via its link ``a``; packets go greedily to the lowest estimate. After ``x`` sends a packet
    that waited ``q`` ticks in its queue over a link of latency ``s`` to ``y``, ``y`` returns
    ``t = min_z Q[y, d, z]`` (0 if ``y = d``) and ``Q[x, d, a] += eta (q + s + t - Q[x, d, a])``. A lost packet
    uses ``loss_penalty`` as its target instead (the loss sensor of the paper's section 4.3). Initial estimates
    are the shortest-path latencies (the static knowledge SPA has). The table persists across episodes,
    so the controller keeps learning online.
    """

    name = "q-routing"

    def __init__(self, topology: RoutingTopology, eta: float = 0.7, loss_penalty: float = 200.0):
        if not 0 < eta <= 1:
            raise ConfigError(f"'eta' in (0, 1] expected (got {eta!r})")
        self.topo = topology
        self.eta = float(eta)
        self.loss_penalty = float(loss_penalty)
        self.q = _neighbour_cost(topology, topology.shortest_latency())  # (N, dest, D), inf on padding
        self.q[np.arange(topology.num_nodes), np.arange(topology.num_nodes), :] = np.where(
            topology.out_arcs >= 0, 0.0, np.inf)

    def act(self, obs, sim):
        dest = np.maximum(obs[:, 0], 0)
        return np.argmin(self.q[np.arange(len(dest)), dest], axis=1)

    def observe(self, sim):
        ev = sim.events
        if ev is None or len(ev.senders) == 0:
            return
        x, a = ev.senders, ev.actions
        arcs = self.topo.out_arcs[x, a]
        y = self.topo.dst[arcs]
        d = sim.p_dst[ev.packets]
        t_y = np.where(y == d, 0.0, self.q[y, d].min(axis=1))
        target = np.where(ev.ok, ev.wait + self.topo.latency[arcs] + t_y, self.loss_penalty)
        self.q[x, d, a] += self.eta * (target - self.q[x, d, a])
