"""How much load a router network can carry: per-router forwarding loads of a routing, and the smallest
largest load that any routing can reach (a multi-commodity LP on HiGHS).

In :class:`~netctrl.problems.routing.sim.PacketSim` every router forwards one packet per tick, and every router
receives ``Poisson(load)`` new packets per tick, addressed uniformly to the other routers. With routing fixed,
router ``v`` then forwards ``load * w_v`` packets per tick on average, where ``w_v`` (its *load per unit of
load*) counts every packet it originates plus the share of other routers' packets that pass through it (a
packet is forwarded by every router on its path except its destination). Its queue stays bounded only if
``load * w_v < 1``; so ``1 / max_v w_v`` is the load at which the routing saturates.

:func:`unit_loads` gives ``w`` for a routing given as next hops (e.g. ``ShortestPath.next_hop``) or as splits;
:func:`balanced_routing` solves for the routing (splittable, any paths) whose largest ``w_v`` is smallest,
:func:`min_max_unit_load` returns that load alone. Above ``1 / min_max_unit_load`` no routing keeps every queue
bounded.

>>> from netctrl.problems.routing import load_topology
>>> round(min_max_unit_load(load_topology("b4")), 2)
3.18
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ...graph import FlowNetwork
from ...lp import solve_lp
from .scenario import RoutingTopology


def unit_loads(topology: RoutingTopology, routing: np.ndarray) -> np.ndarray:
    """(N,) packets each router forwards per tick per unit of load under ``routing``: either next hops
    ``routing[v, d]`` (router ``v``'s local action for destination ``d``, e.g. ``ShortestPath.next_hop``) or
    splits ``routing[v, d, a]`` (the share of those packets on local action ``a``, e.g. from
    :func:`balanced_routing`)."""
    N, D = topology.num_nodes, topology.max_degree
    split = np.asarray(routing, dtype=float)
    if split.ndim == 2:  # next hops -> one-hot splits
        split = np.eye(D)[np.asarray(routing, dtype=np.int64)]
    nbr = topology.dst[np.maximum(topology.out_arcs, 0)]  # (N, D) neighbour behind each local action
    w = np.zeros(N)
    for d in range(N):
        P = np.zeros((N, N))  # P[v, u]: share of v's packets for d passed to u
        for a in range(D):
            np.add.at(P, (np.arange(N), nbr[:, a]), np.where(topology.out_arcs[:, a] >= 0, split[:, d, a], 0.0))
        P[d] = 0.0  # delivered at the destination
        origin = np.full(N, 1.0 / (N - 1))
        origin[d] = 0.0
        try:  # forwarded = originated + received: f = o + P' f
            f = np.linalg.solve(np.eye(N) - P.T, origin)
        except np.linalg.LinAlgError:
            raise ValueError(f"the routing never delivers some packets for router {d}: it loops") from None
        f[d] = 0.0
        w += f
    return w


def _load_lp(topology: RoutingTopology) -> tuple:
    """``(matrix, row_lower, row_upper, col_upper)`` of the busiest-load LP: variables ``x[d * E + e]`` (flow
    of destination ``d``'s packets on arc ``e``, per unit of load) and ``w`` (last). Rows: flow conservation
    per destination (the node-arc incidence matrix: every router other than ``d`` sends out ``1 / (N - 1)``
    more than it receives), then each router's forwarding load ``<= w``. Failed
    arcs and arcs leaving the destination carry nothing."""
    N = topology.num_nodes
    src = np.asarray(topology.src)
    B = FlowNetwork(N, np.stack([src, topology.dst])).incidence()  # (N, E): +1 head, -1 tail
    out = -B.minimum(0)  # (N, E): 1 where the arc leaves
    keep = ~np.eye(N, dtype=bool).ravel()  # rows (d, i) with i != d
    conservation = sp.hstack([sp.kron(sp.eye(N), -B).tocsr()[keep], sp.csr_matrix((keep.sum(), 1))])
    load = sp.hstack([sp.kron(np.ones((1, N)), out), -np.ones((N, 1))])
    net_outflow = np.full(keep.sum(), 1.0 / (N - 1))
    usable = (np.asarray(topology.capacity) > 0)[None, :] & (src[None, :] != np.arange(N)[:, None])
    col_upper = np.append(np.where(usable, np.inf, 0.0).ravel(), np.inf)
    return (
        sp.vstack([conservation, load]).tocsr(),
        np.append(net_outflow, np.full(N, -np.inf)),
        np.append(net_outflow, np.zeros(N)),
        col_upper,
    )


def _min_max(lp: tuple) -> float:
    matrix, lo, hi, upper = lp
    cost = np.zeros(matrix.shape[1])
    cost[-1] = 1.0
    return float(solve_lp(cost, matrix, lo, hi, np.zeros(len(cost)), upper).x[-1])


def min_max_unit_load(topology: RoutingTopology) -> float:
    """The smallest possible ``max_v w_v`` over all routings (flows may split over any paths; failed links,
    with capacity 0, carry nothing)."""
    return _min_max(_load_lp(topology))


def balanced_routing(topology: RoutingTopology) -> tuple[float, np.ndarray]:
    """``(w*, split)``: the smallest possible busiest-router load per unit of load ``w*`` (see
    :func:`min_max_unit_load`) and a routing that reaches it: ``split[v, d, a]`` = the share of router ``v``'s
    packets for destination ``d`` sent on its local action ``a``. Among the routings with the busiest load
    ``w*`` it takes one of least total latency (a second LP), so it has no detours that the load does not need."""
    N, E = topology.num_nodes, topology.num_arcs
    lp = _load_lp(topology)
    w = _min_max(lp)
    matrix, lo, hi, upper = lp
    upper = upper.copy()
    upper[-1] = w * (1 + 1e-7) + 1e-9  # keep the busiest load, minimise the total latency
    cost = np.append(np.tile(np.asarray(topology.latency, dtype=float), N), 0.0)
    x = solve_lp(cost, matrix, lo, hi, np.zeros(len(cost)), upper).x[:-1].reshape(N, E)
    arcs = np.maximum(topology.out_arcs, 0)  # (N, D)
    split = np.where((topology.out_arcs >= 0)[:, None, :], np.maximum(x[:, arcs], 0).transpose(1, 0, 2), 0.0)
    total = split.sum(axis=2, keepdims=True)  # (N, dest, 1); zero only at the destination itself
    split = np.divide(split, total, out=np.zeros_like(split), where=total > 0)
    return w, split
