"""PettingZoo parallel environment of WAN packet routing: one agent per router (MAMRL, Sun, Kiran, Ren 2021).

Description
    A :class:`~netctrl.problems.routing.sim.PacketSim` exposed through PettingZoo's parallel API. Every tick,
    each router chooses the neighbour its head-of-queue packet is forwarded to.

Observation Space (per router ``i`` of degree ``d_i`` in a network of ``N`` routers), ``Box(int64, (2 + h,))``

    ==========  =====================================================  ===============
    index       meaning                                                bounds
    ==========  =====================================================  ===============
    0           destination router of the head packet (-1: empty)      -1 .. N-1
    1           local index of the neighbour with the longest queue    0 .. d_i-1
    2 .. 1+h    the router's last ``h`` actions, newest first (-1)     -1 .. d_i-1
    ==========  =====================================================  ===============

Action Space
    ``Discrete(d_i)``: the local index of the outgoing link (neighbours in the topology file's link order).
    The action of a router with an empty queue is ignored.

Rewards
    ``-(packets lost by the router this tick) - (mean delivery time of the packets delivered to it this
    tick, 0 if none)``: the paper's local loss term and the router's own delivery-time term ``r_hat``, whose
    network-wide mean MAMRL estimates with the consensus of :mod:`netctrl.algos.mamrl`.

Infos (per router, every tick)
    ==========  ===========================================================================================
    ``lost``    packets the router lost this tick (sent on a link without room)
    ``delivered``, ``delay_sum``  packets delivered to the router this tick, the sum of their delivery times
    ``packet``  id of the packet the router forwarded this tick (-1: its queue was empty)
    ``sent``    whether that packet got onto its link (False: lost)
    ``wait``    ticks that packet waited in the router's queue
    ``backlog`` packets queued at the router or in flight towards it, after the tick
    ``acked``   ids of the packets delivered to the router this tick (the acknowledgements it sends back)
    ==========  ===========================================================================================

Link state (``link_state=True``)
    A router that loses a packet on a link with nothing in flight on it (its loss sensor: the link cannot carry
    even one packet, so it is down, not busy) floods that to every router, as a link-state protocol (OSPF,
    IS-IS) does, at once. From then on :meth:`RoutingParallelEnv.next_hop_prior` is the minimum-delay routing
    re-planned without the links known down (:attr:`RoutingParallelEnv.known_down`); ``reset`` forgets them.
    Observations, rewards and the dynamics do not change.

Starting State
    Empty network (``initial_backlog``: that many packets queued and in flight per router), then the tick-0
    arrivals. ``reset(options={"load": x})`` changes the load from this
    episode on.

Episode End
    Truncation of every agent after ``horizon`` ticks (the agents list is then emptied).
    :meth:`RoutingParallelEnv.episode_metrics` gives the episode's delivery time, sojourn time, losses,
    throughput and backlog.

Other attributes
    ``agent_graph`` ``(2, 2L)``: the router graph (agent indices, both directions of every link), for
    algorithms whose agents talk to their neighbours (MAMRL's consensus); ``np_random``: the generator of
    the routers' random choices, reseeded by ``reset`` (a random or split routing draws from it, so every
    controller sees the same traffic and its own choices never shift it).

Arguments
    ``topology`` (name or :class:`RoutingTopology`), ``load`` (Poisson rate per router per tick),
    ``horizon`` (ticks), ``failed_links`` (undirected link indices with capacity 0), ``history``, and the
    authors' mode options ``arrivals``, ``initial_backlog``, ``half_duplex`` (:mod:`~netctrl.problems.routing.sim`;
    ``**AUTHORS_MODE`` sets all three); for :meth:`~RoutingParallelEnv.next_hop_prior`, ``prior_floor`` (the
    uniform share mixed into it), ``rate_window`` (ticks of :meth:`~RoutingParallelEnv.measured_rate`) and
    ``link_state``.

Version History
    v0: initial version (v0.2 adds the infos ``packet``, ``sent``, ``wait``, ``backlog``, ``acked``, the
    ``load`` reset option, ``agent_graph``, ``np_random`` and ``episode_metrics``).

>>> env = RoutingParallelEnv("b4", load=0.2, horizon=20)
>>> obs, infos = env.reset(seed=1)
>>> sorted(obs)[:3], env.action_space("A")
(['A', 'B', 'C'], Discrete(2))
>>> while env.agents:
...     obs, rew, term, trunc, infos = env.step({a: env.action_space(a).sample() for a in env.agents})
>>> env.sim.t
20
"""

from __future__ import annotations

import weakref

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from ...errors import ConfigError
from .baselines import DelayPrior
from .scenario import RoutingTopology, load_topology
from .sim import PacketSim

_PRIORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""topology -> {floor: DelayPrior}"""

_NONE = np.zeros(0, np.int64)
_NONE.setflags(write=False)


class RoutingParallelEnv(ParallelEnv):
    metadata = {"name": "netctrl_routing_v0", "render_modes": []}  # noqa: RUF012 -- PettingZoo reads it as a class attribute

    def __init__(
        self,
        topology: str | RoutingTopology = "b4",
        load: float = 0.3,
        horizon: int = 300,
        failed_links=(),
        history: int = 5,
        render_mode=None,
        arrivals: str = "poisson",
        initial_backlog: tuple[int, int] = (0, 0),
        half_duplex: bool = False,
        prior_floor: float = 0.01,
        rate_window: int = 100,
        link_state: bool = False,
    ):
        topo = load_topology(topology) if isinstance(topology, str) else topology
        if rate_window < 1:
            raise ConfigError(f"'rate_window' >= 1 expected (got {rate_window!r})")
        self._intact, self._prior_floor, self.rate_window = topo, float(prior_floor), int(rate_window)
        self._prior: DelayPrior | None = None
        self.link_state = bool(link_state)
        self._down: set[int] = set()
        self._arrivals: list[int] = []
        if failed_links:
            topo = topo.with_failures(failed_links)
        if horizon < 1:
            raise ConfigError(f"'horizon' >= 1 expected (got {horizon!r})")
        self.topology = topo
        self.horizon = int(horizon)
        self.render_mode = render_mode
        self.sim = PacketSim(
            topo,
            load=load,
            history=history,
            arrivals=arrivals,
            initial_backlog=initial_backlog,
            half_duplex=half_duplex,
        )
        self.possible_agents = list(topo.node_names)
        self.agents: list[str] = []
        n = topo.num_nodes
        self._obs_spaces = {}
        self._act_spaces = {}
        for i, a in enumerate(self.possible_agents):
            d = int(topo.degree[i])
            low = np.full(2 + history, -1, np.int64)
            low[1] = 0
            high = np.full(2 + history, d - 1, np.int64)
            high[0] = n - 1
            self._obs_spaces[a] = spaces.Box(low, high, dtype=np.int64)
            self._act_spaces[a] = spaces.Discrete(d)

    @property
    def agent_graph(self) -> np.ndarray:
        """``(2, 2L)`` neighbouring routers (agent indices), both directions of every link."""
        return np.stack([self.topology.src, self.topology.dst])

    @property
    def np_random(self) -> np.random.Generator:
        """The generator of the routers' random choices (reseeded by ``reset``, independent of the traffic)."""
        return self.sim.action_rng

    def measured_rate(self) -> float:
        """New packets per router and tick over the last ``rate_window`` ticks (what the operator's traffic
        monitoring, or a consensus over the routers' own arrival counts, measures)."""
        recent = self._arrivals[-self.rate_window :]
        return float(np.mean(recent)) / self.sim.n if recent else 0.0

    def next_hop_prior(self) -> np.ndarray:
        """(N, D) each router's next-hop distribution for its head packet under the minimum-delay routing of
        the intact topology (with ``link_state``: without the links :attr:`known_down`) for :meth:`measured_rate`
        (:class:`~netctrl.problems.routing.baselines.DelayPrior`, mixed ``prior_floor`` with a uniform choice over
        the working links): the prior of a learner's policies (``MAMRLConfig.prior``)."""
        if self._prior is None:  # shared by the environments of one topology (each level is one LP)
            per_topology = _PRIORS.setdefault(self._intact, {})
            key = (self._prior_floor, self.known_down)
            if key not in per_topology:
                topo = self._intact.with_failures(self.known_down) if self.known_down else self._intact
                per_topology[key] = DelayPrior(topo, floor=self._prior_floor)
            self._prior = per_topology[key]
        head = self.sim.head_packets()
        dest = np.where(head >= 0, self.sim.p_dst[np.maximum(head, 0)], -1)
        return self._prior.probs(dest, self.measured_rate())

    @property
    def known_down(self) -> tuple[int, ...]:
        """Undirected links the routers found down this episode (``link_state``; sorted link indices)."""
        return tuple(sorted(self._down))

    def _sense_links(self) -> None:
        """Link state: links that lost a packet with nothing in flight on them are down (if the network minus
        them stays connected; otherwise there is no routing to re-plan and the prior stays as it is)."""
        ev = self.sim.events
        dead = ~ev.ok & ev.empty
        if not dead.any():
            return
        links = set((self.topology.out_arcs[ev.senders[dead], ev.actions[dead]] // 2).tolist())
        if links <= self._down:
            return
        down = self._down | links
        if self._intact.surviving_connected(sorted(down)):
            self._down = down
            self._prior = None

    def episode_metrics(self) -> dict:
        """Delivery time, sojourn time, losses, throughput and backlog of the episode so far."""
        return self.sim.metrics()

    def observation_space(self, agent):
        return self._obs_spaces[agent]

    def action_space(self, agent):
        return self._act_spaces[agent]

    def _obs(self, arr: np.ndarray) -> dict:
        return {a: arr[i].copy() for i, a in enumerate(self.possible_agents)}

    def reset(self, seed=None, options=None):
        if options and "load" in options:
            load = options["load"]
            if not (isinstance(load, (int, float)) and np.isfinite(load) and load >= 0):
                raise ConfigError(f"reset option 'load' >= 0 expected (got {load!r})")
            self.sim.load = float(load)
        if seed is not None:
            for k, a in enumerate(self.possible_agents):
                self._act_spaces[a].seed(seed + k)
        obs = self.sim.reset(seed)
        self._arrivals = [self.sim.arrived]
        if self._down:
            self._down, self._prior = set(), None
        self.agents = list(self.possible_agents)
        return self._obs(obs), {a: {} for a in self.agents}

    def step(self, actions):
        acts = np.zeros(self.sim.n, np.int64)
        for i, a in enumerate(self.possible_agents):
            if a in actions and actions[a] is not None:
                acts[i] = int(actions[a])
        obs = self.sim.step(acts)
        self._arrivals.append(self.sim.arrived)
        if self.link_state:
            self._sense_links()
        ev = self.sim.events
        mean_delay = ev.delay_sum_at / np.maximum(ev.delivered_at, 1)
        rew = -ev.lost_at - mean_delay
        agents = self.possible_agents
        rewards = {a: float(rew[i]) for i, a in enumerate(agents)}
        n = self.sim.n
        packet = np.full(n, -1, np.int64)
        packet[ev.senders] = ev.packets
        sent = np.zeros(n, bool)
        sent[ev.senders] = ev.ok
        wait = np.zeros(n, np.int64)
        wait[ev.senders] = ev.wait
        backlog = self.sim.inbound()
        done_ids = self.sim.last_delivered
        acked = [_NONE] * n
        if len(done_ids):
            at = self.sim.p_dst[done_ids]
            for i in np.unique(at):
                acked[i] = done_ids[at == i]
        infos = {
            a: {
                "lost": lo,
                "delivered": de,
                "delay_sum": ds,
                "packet": pk,
                "sent": se,
                "wait": wa,
                "backlog": bl,
                "acked": ac,
            }
            for a, lo, de, ds, pk, se, wa, bl, ac in zip(
                agents,
                ev.lost_at.tolist(),
                ev.delivered_at.tolist(),
                ev.delay_sum_at.astype(float).tolist(),
                packet.tolist(),
                sent.tolist(),
                wait.tolist(),
                backlog.tolist(),
                acked,
            )
        }
        done = self.sim.t >= self.horizon
        terms = dict.fromkeys(agents, False)
        truncs = dict.fromkeys(agents, done)
        observations = self._obs(obs)
        if done:
            self.agents = []
        return observations, rewards, terms, truncs, infos


def env(**kwargs) -> RoutingParallelEnv:
    """The parallel environment (PettingZoo's ``parallel_env`` convention)."""
    return RoutingParallelEnv(**kwargs)


parallel_env = env
