"""WAN packet routing under load and link failures (MAMRL, Sun, Kiran, Ren 2021) on B4, GEANT and AT&T.

``scenario`` (topologies, link-failure tasks), ``sim`` (numpy packet simulator), ``env`` (PettingZoo parallel
env, one agent per router) and ``baselines`` (shortest path, Q-routing, random). The learners (per-router
policy gradient, MAMRL) are in :mod:`netctrl.algos.mamrl`.
"""

from .env import RoutingParallelEnv, parallel_env
from .scenario import PACKAGED, RoutingTopology, load_topology, topology_from_dict
from .sim import PacketSim, TickEvents

__all__ = ["RoutingParallelEnv", "parallel_env", "PACKAGED", "RoutingTopology", "load_topology",
           "topology_from_dict", "PacketSim", "TickEvents"]
