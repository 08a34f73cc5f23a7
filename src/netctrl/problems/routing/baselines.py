"""Routing controllers that need no training: shortest path (SPA), load-balanced static routing, minimum-delay
static routing for a known load (Gallager), Q-routing (Boyan and Littman 1994), random.

They follow the one controller interface (:class:`netctrl.controllers.Controller`) on the PettingZoo
environment (:class:`~netctrl.problems.routing.env.RoutingParallelEnv`): ``act(observations) -> actions``
(dicts by router), and ``observe(...)`` after every tick, where the online learner (Q-routing) updates from
the routers' infos. :func:`netctrl.controllers.run_episode` runs an episode of any of them.

>>> from netctrl.controllers import run_episode
>>> from netctrl.problems.routing import RoutingParallelEnv, load_topology
>>> topo = load_topology("b4")
>>> m = run_episode(ShortestPath(topo), RoutingParallelEnv(topo, load=0.01, horizon=300), seed=3).metrics
>>> m["packets_lost"], m["delivery_time"] < 15
(0, True)
"""

from __future__ import annotations

import numpy as np

from ...controllers import Controller
from ...errors import ConfigError
from .capacity import balanced_routing, delay_routing
from .scenario import RoutingTopology


class RoutingController(Controller):
    """Base class: :meth:`decide` maps the routers' observations ``(N, F)`` to their local actions ``(N,)``."""

    name = "controller"

    def bind(self, env) -> None:
        self.env = env
        self.agents = list(env.possible_agents)

    def decide(self, obs: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def act(self, observation: dict) -> dict:
        obs = np.stack([observation[a] for a in self.agents])
        actions = self.decide(obs)
        return {a: int(actions[i]) for i, a in enumerate(self.agents)}


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

    def decide(self, obs):
        dest = np.maximum(obs[:, 0], 0)
        return self.next_hop[np.arange(len(dest)), dest]


class BalancedRouting(RoutingController):
    """Static load-balanced routing: each packet takes a next hop drawn from the split of
    :func:`~netctrl.problems.routing.capacity.balanced_routing` (the routing whose busiest router carries the
    least, of least latency among those), from the environment's ``np_random``. Like SPA it knows only the intact
    topology and ignores failures; unlike SPA it spreads the packets of one destination over several paths."""

    name = "balanced"

    def __init__(self, topology: RoutingTopology):
        self.topo = topology
        self.unit_load, self.split = balanced_routing(topology)  # split: (N, dest, D)
        self.cum = np.cumsum(self.split, axis=2)

    def probs(self, obs) -> np.ndarray:
        """(N, D) each router's next-hop distribution for its head packet (the teacher of MAMRL's
        initialisation, :func:`netctrl.recipes.routing.teacher_init`)."""
        return self.split[np.arange(len(obs)), np.maximum(obs[:, 0], 0)]

    def decide(self, obs):
        dest = np.maximum(obs[:, 0], 0)
        cum = self.cum[np.arange(len(dest)), dest]
        u = self.env.np_random.random(len(dest))[:, None]
        return np.minimum((cum <= u).sum(axis=1), self.topo.degree - 1)


class DelayRouting(BalancedRouting):
    """Static minimum-delay routing for a known load: next hops drawn from the split of
    :func:`~netctrl.problems.routing.capacity.delay_routing` at ``load`` (packets per router and tick), the
    routing of least modelled delivery time (latency plus M/D/1 waits at the routers' utilisations; SPA's
    least-latency paths at light load, spread like ``balanced`` near capacity). What an operator who knows
    the traffic level and the topology runs; like SPA it ignores failures. ``balanced``: the balanced routing's
    ``(w*, split)`` if already solved (:func:`~netctrl.problems.routing.capacity.balanced_routing`)."""

    name = "min-delay"

    def __init__(self, topology: RoutingTopology, load: float, balanced: tuple[float, np.ndarray] | None = None):
        self.topo = topology
        self.load = float(load)
        self.modelled_delay, self.split = delay_routing(topology, self.load, balanced)
        self.cum = np.cumsum(self.split, axis=2)


class DelayPrior:
    """The minimum-delay routing (:func:`~netctrl.problems.routing.capacity.delay_routing`) for a measured packet
    rate, as next-hop distributions: the operator's routing that a learner can use as its prior.

    The rate is rounded to utilisation levels ``step`` apart (``rho = rate * w*``, ``w*`` of :func:`balanced_routing`);
    each level's LP is solved once, on first use. ``floor`` mixes every distribution with a uniform choice over
    the router's working links, so that no link that works has probability 0 (a learner can still move onto it);
    a failed link (capacity 0) has none.
    """

    def __init__(self, topology: RoutingTopology, step: float = 0.025, floor: float = 0.01):
        if not 0 < step <= 1:
            raise ConfigError(f"'step' in (0, 1] expected (got {step!r})")
        if not 0 <= floor < 1:
            raise ConfigError(f"'floor' in [0, 1) expected (got {floor!r})")
        self.topo, self.step, self.floor = topology, float(step), float(floor)
        self._balanced = balanced_routing(topology)  # every level's LP needs it: solved once
        self.unit_load = self._balanced[0]
        valid = (topology.out_arcs >= 0) & (topology.capacity[np.maximum(topology.out_arcs, 0)] > 0)
        self._uniform = valid / valid.sum(axis=1, keepdims=True)  # (N, D), over the working links
        self._levels: dict[int, np.ndarray] = {}

    def level(self, rate: float) -> int:
        """The utilisation level of a packet rate (its routing is the one for ``level * step``)."""
        top = round(1.0 / self.step)  # at and past capacity every level is the balanced routing
        return min(max(1, round(max(float(rate), 0.0) * self.unit_load / self.step)), top)

    def split(self, rate: float) -> np.ndarray:
        """(N, dest, D) the routing for the rate's level, floored."""
        k = self.level(rate)
        if k not in self._levels:
            _, split = delay_routing(self.topo, k * self.step / self.unit_load, self._balanced)
            self._levels[k] = (1 - self.floor) * split + self.floor * self._uniform[:, None, :]
        return self._levels[k]

    def probs(self, dest: np.ndarray, rate: float) -> np.ndarray:
        """(N, D) each router's next-hop distribution for a packet to ``dest[i]`` (-1: none; uniform then)."""
        split = self.split(rate)
        n = self.topo.num_nodes
        return np.where((dest >= 0)[:, None], split[np.arange(n), np.maximum(dest, 0)], self._uniform)


class PriorRouting(RoutingController):
    """Next hops drawn from the environment's :meth:`~netctrl.problems.routing.env.RoutingParallelEnv.next_hop_prior`
    (the minimum-delay routing for the measured traffic level; with the environment's ``link_state``, re-planned
    without the links the routers found down): the routing a residual learner (``MAMRLConfig.prior``) starts
    from, without the learning."""

    name = "prior"

    def decide(self, obs):
        cum = np.cumsum(self.env.next_hop_prior(), axis=1)
        u = self.env.np_random.random(len(cum))[:, None]
        return np.minimum((cum <= u).sum(axis=1), self.env.topology.degree - 1)


class RandomRouting(RoutingController):
    """A uniformly random neighbour (drawn from the environment's ``np_random``)."""

    name = "random"

    def decide(self, obs):
        degree = np.asarray([self.env.action_space(a).n for a in self.agents])
        return np.floor(self.env.np_random.random(len(degree)) * degree).astype(np.int64)


class QRouting(RoutingController):
    """Q-routing (Boyan and Littman 1994): ``Q[x, d, a]`` estimates the time to deliver a packet for ``d`` from
    router ``x`` via its link ``a``; packets go greedily to the lowest estimate. After ``x`` sends a packet
    that waited ``q`` ticks in its queue over a link of latency ``s`` to ``y``, ``y`` returns
    ``t = min_z Q[y, d, z]`` (0 if ``y = d``) and ``Q[x, d, a] += eta (q + s + t - Q[x, d, a])``. A lost packet
    uses ``loss_penalty`` as its target instead (the loss sensor of the paper's section 4.3). Initial estimates
    are the shortest-path latencies (the static knowledge SPA has). The table persists across episodes,
    so the controller keeps learning online (:meth:`observe`, from the routers' infos ``packet``, ``sent``,
    ``wait``).
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
            topology.out_arcs >= 0, 0.0, np.inf
        )

    def decide(self, obs):
        dest = np.maximum(obs[:, 0], 0)
        actions = np.argmin(self.q[np.arange(len(dest)), dest], axis=1)
        self._last = (obs[:, 0].copy(), actions)
        return actions

    def observe(self, observation, reward, terminated, truncated, info):
        """Learn from the tick: every router that forwarded a packet updates its estimate for that link."""
        dest, actions = self._last
        infos = [info[a] for a in self.agents]
        x = np.flatnonzero(np.fromiter((i["packet"] >= 0 for i in infos), bool, len(infos)))
        if len(x) == 0:
            return
        a, d = actions[x], dest[x]
        ok = np.fromiter((infos[i]["sent"] for i in x), bool, len(x))
        wait = np.fromiter((infos[i]["wait"] for i in x), float, len(x))
        arcs = self.topo.out_arcs[x, a]
        y = self.topo.dst[arcs]
        t_y = np.where(y == d, 0.0, self.q[y, d].min(axis=1))
        target = np.where(ok, wait + self.topo.latency[arcs] + t_y, self.loss_penalty)
        self.q[x, d, a] += self.eta * (target - self.q[x, d, a])

    def state_dict(self) -> dict:
        return {"q": self.q.copy()}

    def load_state_dict(self, state: dict) -> None:
        q = np.asarray(state["q"], dtype=float)
        if q.shape != self.q.shape:
            raise ConfigError(f"a Q-table of shape {self.q.shape} expected (got {q.shape}): another topology")
        self.q = q.copy()


def baselines_for(topology: RoutingTopology, load: float | None = None):
    """``baselines(seed)`` of a topology: fresh shortest-path, balanced, Q-routing and random controllers, and
    with ``load`` (the packet rate per router and tick) the minimum-delay routing for it."""

    def baselines(seed: int = 0) -> dict:
        out = {"spa": ShortestPath(topology), "balanced": BalancedRouting(topology)}
        if load is not None:
            out["min-delay"] = DelayRouting(topology, load)
        return out | {"q-routing": QRouting(topology), "random": RandomRouting()}

    return baselines
