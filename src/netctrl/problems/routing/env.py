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
    network-wide mean MAMRL estimates with the consensus of :mod:`netctrl.algos.mamrl`. ``infos`` carry the
    parts: ``lost``, ``delivered``, ``delay_sum``.

Starting State
    Empty network, then the tick-0 arrivals.

Episode End
    Truncation of every agent after ``horizon`` ticks (the agents list is then emptied).

Arguments
    ``topology`` (name or :class:`RoutingTopology`), ``load`` (Poisson rate per router per tick),
    ``horizon`` (ticks), ``failed_links`` (undirected link indices with capacity 0), ``history``.

Version History
    v0: initial version.

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

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from ...errors import ConfigError
from .scenario import RoutingTopology, load_topology
from .sim import PacketSim


class RoutingParallelEnv(ParallelEnv):
    metadata = {"name": "netctrl_routing_v0", "render_modes": []}

    def __init__(self, topology: str | RoutingTopology = "b4", load: float = 0.3, horizon: int = 300,
                 failed_links=(), history: int = 5, render_mode=None):
        topo = load_topology(topology) if isinstance(topology, str) else topology
        if failed_links:
            topo = topo.with_failures(failed_links)
        if horizon < 1:
            raise ConfigError(f"'horizon' >= 1 expected (got {horizon!r})")
        self.topology = topo
        self.horizon = int(horizon)
        self.render_mode = render_mode
        self.sim = PacketSim(topo, load=load, history=history)
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

    def observation_space(self, agent):
        return self._obs_spaces[agent]

    def action_space(self, agent):
        return self._act_spaces[agent]

    def _obs(self, arr: np.ndarray) -> dict:
        return {a: arr[i].copy() for i, a in enumerate(self.possible_agents)}

    def reset(self, seed=None, options=None):
        if seed is not None:
            for k, a in enumerate(self.possible_agents):
                self._act_spaces[a].seed(seed + k)
        obs = self.sim.reset(seed)
        self.agents = list(self.possible_agents)
        return self._obs(obs), {a: {} for a in self.agents}

    def step(self, actions):
        acts = np.zeros(self.sim.n, np.int64)
        for i, a in enumerate(self.possible_agents):
            if a in actions and actions[a] is not None:
                acts[i] = int(actions[a])
        obs = self.sim.step(acts)
        ev = self.sim.events
        mean_delay = ev.delay_sum_at / np.maximum(ev.delivered_at, 1)
        rew = -ev.lost_at - mean_delay
        agents = self.possible_agents
        rewards = {a: float(rew[i]) for i, a in enumerate(agents)}
        infos = {a: {"lost": int(ev.lost_at[i]), "delivered": int(ev.delivered_at[i]),
                     "delay_sum": float(ev.delay_sum_at[i])} for i, a in enumerate(agents)}
        done = self.sim.t >= self.horizon
        terms = {a: False for a in agents}
        truncs = {a: done for a in agents}
        observations = self._obs(obs)
        if done:
            self.agents = []
        return observations, rewards, terms, truncs, infos


def env(**kwargs) -> RoutingParallelEnv:
    """The parallel environment (PettingZoo's ``parallel_env`` convention)."""
    return RoutingParallelEnv(**kwargs)


parallel_env = env
