"""How much load a router network can carry: per-router forwarding loads of a routing, and the smallest
largest load that any routing can reach (a multi-commodity LP on HiGHS).

In :class:`~netctrl.problems.routing.sim.PacketSim` every router forwards one packet per tick, and every router
receives ``Poisson(load)`` new packets per tick, addressed uniformly to the other routers. With routing fixed,
router ``v`` then forwards ``load * w_v`` packets per tick on average, where ``w_v`` (its *load per unit of
load*) counts every packet it originates plus the share of other routers' packets that pass through it (a
packet is forwarded by every router on its path except its destination). Its queue stays bounded only if
``load * w_v < 1``; so ``1 / max_v w_v`` is the load at which the routing saturates.

:func:`unit_loads` gives ``w`` for next-hop routing tables (e.g. :class:`~netctrl.problems.routing.baselines.ShortestPath`);
:func:`min_max_unit_load` solves for the routing (splittable, any paths) whose largest ``w_v`` is smallest. Above
``1 / min_max_unit_load`` no routing keeps every queue bounded.

>>> from netctrl.problems.routing import load_topology
>>> round(min_max_unit_load(load_topology("b4")), 2)
3.18
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ...lp import solve_lp
from .scenario import RoutingTopology


def unit_loads(topology: RoutingTopology, next_hop: np.ndarray) -> np.ndarray:
    """(N,) packets each router forwards per tick per unit of load, with ``next_hop[v, d]`` the local action of
    router ``v`` for destination ``d`` (an index into ``topology.out_arcs[v]``)."""
    N = topology.num_nodes
    w = np.zeros(N)
    for s in range(N):
        for d in range(N):
            v, hops = s, 0
            while v != d:
                w[v] += 1.0 / (N - 1)
                v = int(topology.dst[topology.out_arcs[v, next_hop[v, d]]])
                hops += 1
                if hops > N:
                    raise ValueError(f"next_hop loops between routers {s} and {d}")
    return w


def min_max_unit_load(topology: RoutingTopology) -> float:
    """The smallest possible ``max_v w_v`` over all routings (flows may split over any paths; failed links,
    with capacity 0, carry nothing)."""
    N, E = topology.num_nodes, topology.num_arcs
    src, dst = np.asarray(topology.src), np.asarray(topology.dst)
    usable = np.asarray(topology.capacity) > 0
    nv = N * E + 1                                        # flow of destination d on arc e: d * E + e; then t
    rows, cols, vals, lo, hi = [], [], [], [], []
    r = 0
    for d in range(N):                                    # conservation: out - in = 1 / (N - 1) at i != d
        for i in range(N):
            if i == d:
                continue
            for e in np.nonzero(src == i)[0]:
                rows.append(r), cols.append(d * E + e), vals.append(1.0)
            for e in np.nonzero(dst == i)[0]:
                rows.append(r), cols.append(d * E + e), vals.append(-1.0)
            lo.append(1.0 / (N - 1)), hi.append(1.0 / (N - 1))
            r += 1
    for i in range(N):                                    # forwarding load of router i <= t
        for d in range(N):
            if d != i:
                for e in np.nonzero(src == i)[0]:
                    rows.append(r), cols.append(d * E + e), vals.append(1.0)
        rows.append(r), cols.append(nv - 1), vals.append(-1.0)
        lo.append(-np.inf), hi.append(0.0)
        r += 1
    upper = np.array([np.inf if usable[e] and src[e] != d else 0.0 for d in range(N) for e in range(E)] + [np.inf])
    cost = np.zeros(nv)
    cost[-1] = 1.0
    sol = solve_lp(cost, sp.csr_matrix((vals, (rows, cols)), shape=(r, nv)), np.array(lo), np.array(hi),
                   np.zeros(nv), upper)
    return float(sol.x[-1])
