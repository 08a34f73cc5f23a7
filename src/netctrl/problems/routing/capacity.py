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


def _as_split(topology: RoutingTopology, routing) -> np.ndarray:
    split = np.asarray(routing, dtype=float)
    if split.ndim == 2:  # next hops -> one-hot splits
        split = np.eye(topology.max_degree)[np.asarray(routing, dtype=np.int64)]
    return split


def _forwarded(topology: RoutingTopology, split: np.ndarray) -> np.ndarray:
    """(dest, N): packets for each destination that each router forwards per tick per unit of load."""
    N, D = topology.num_nodes, topology.max_degree
    nbr = topology.dst[np.maximum(topology.out_arcs, 0)]  # (N, D) neighbour behind each local action
    out = np.zeros((N, N))
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
        out[d] = f
    return out


def unit_loads(topology: RoutingTopology, routing: np.ndarray) -> np.ndarray:
    """(N,) packets each router forwards per tick per unit of load under ``routing``: either next hops
    ``routing[v, d]`` (router ``v``'s local action for destination ``d``, e.g. ``ShortestPath.next_hop``) or
    splits ``routing[v, d, a]`` (the share of those packets on local action ``a``, e.g. from
    :func:`balanced_routing`)."""
    return _forwarded(topology, _as_split(topology, routing)).sum(axis=0)


def modelled_delay(topology: RoutingTopology, routing, load: float) -> float:
    """Mean delivery time (ticks) per packet of ``routing`` (next hops or splits, as in :func:`unit_loads`) at
    ``load`` in :func:`delay_routing`'s model: the latencies of its arcs plus the wait :func:`queue_wait` at every
    router that forwards it, interpolated on :data:`_RHO_GRID` as in the LP (``inf`` if a router would be at
    utilisation >= 0.99). The interpolation is of a router's total wait per tick, ``rho W(rho)``, as in the LP."""
    split = _as_split(topology, routing)
    f = _forwarded(topology, split)  # (dest, N)
    lat = np.where(topology.out_arcs >= 0, topology.latency[np.maximum(topology.out_arcs, 0)], 0.0)  # (N, D)
    latency = float(np.einsum("dv,vda,va->", f, split, lat))
    w = f.sum(axis=0)
    rho = load * w
    if (rho > _RHO_GRID[-1] + 1e-9).any():
        return float("inf")
    wait = float(np.interp(rho, _RHO_GRID, _RHO_GRID * queue_wait(_RHO_GRID)).sum()) / load if load > 0 else 0.0
    return (latency + wait) / topology.num_nodes


def _flow_rows(topology: RoutingTopology) -> tuple:
    """The multi-destination flow of one unit of load: ``(conservation, outflow, net, x_upper)``. Variables
    ``x[d * E + e]`` (flow of destination ``d``'s packets on arc ``e``); ``conservation @ x = net`` (every router
    other than ``d`` sends out ``1 / (N - 1)`` more than it receives); ``outflow @ x`` = each router's forwarding
    load ``w``; failed arcs and arcs leaving the destination carry nothing (``x_upper``)."""
    N = topology.num_nodes
    src = np.asarray(topology.src)
    B = FlowNetwork(N, np.stack([src, topology.dst])).incidence()  # (N, E): +1 head, -1 tail
    out = -B.minimum(0)  # (N, E): 1 where the arc leaves
    keep = ~np.eye(N, dtype=bool).ravel()  # rows (d, i) with i != d
    conservation = sp.kron(sp.eye(N), -B).tocsr()[keep]
    outflow = sp.kron(np.ones((1, N)), out).tocsr()
    net = np.full(keep.sum(), 1.0 / (N - 1))
    usable = (np.asarray(topology.capacity) > 0)[None, :] & (src[None, :] != np.arange(N)[:, None])
    return conservation, outflow, net, np.where(usable, np.inf, 0.0).ravel()


def _load_lp(topology: RoutingTopology) -> tuple:
    """``(matrix, row_lower, row_upper, col_upper)`` of the busiest-load LP: the flows of :func:`_flow_rows` and
    ``w`` (last); rows: flow conservation, then each router's forwarding load ``<= w``."""
    N = topology.num_nodes
    conservation, outflow, net, x_upper = _flow_rows(topology)
    return (
        sp.vstack(
            [
                sp.hstack([conservation, sp.csr_matrix((conservation.shape[0], 1))]),
                sp.hstack([outflow, -np.ones((N, 1))]),
            ]
        ).tocsr(),
        np.append(net, np.full(N, -np.inf)),
        np.append(net, np.zeros(N)),
        np.append(x_upper, np.inf),
    )


def _splits(topology: RoutingTopology, x: np.ndarray) -> np.ndarray:
    """``split[v, d, a]`` of per-destination arc flows ``x`` ``(N, E)``: the share of router ``v``'s packets for
    ``d`` on its local action ``a`` (all zero at ``d`` itself and where ``v`` forwards nothing for ``d``)."""
    arcs = np.maximum(topology.out_arcs, 0)  # (N, D)
    split = np.where((topology.out_arcs >= 0)[:, None, :], np.maximum(x[:, arcs], 0).transpose(1, 0, 2), 0.0)
    total = split.sum(axis=2, keepdims=True)
    return np.divide(split, total, out=np.zeros_like(split), where=total > 1e-12)


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
    return w, _splits(topology, x)


#: utilisation grid of the queueing-delay curve's pieces in :func:`delay_routing`
_RHO_GRID = np.array(
    [0, 0.01, 0.03, 0.06, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99]
)
#: above this utilisation of the capacity-optimal routing, :func:`delay_routing` returns it
DELAY_ROUTING_MAX_UTILISATION = 0.95


def queue_wait(rho):
    """Mean wait (ticks) of a packet at a router forwarding one packet per tick at utilisation ``rho`` < 1 (the
    M/D/1 queue's ``rho / (2 (1 - rho))``; the model behind :func:`delay_routing`)."""
    rho = np.asarray(rho, dtype=float)
    return rho / (2.0 * (1.0 - rho))


def delay_routing(
    topology: RoutingTopology, load: float, balanced: tuple[float, np.ndarray] | None = None
) -> tuple[float, np.ndarray]:
    """``(cost, split)``: the routing (splittable, any paths) of least expected delivery time at ``load`` new
    packets per router and tick, and its modelled mean delivery time (ticks) per packet: every packet pays the
    latencies of its arcs plus, at every router ``v`` that forwards it, the M/D/1 wait :func:`queue_wait` at
    ``v``'s utilisation ``load * w_v`` (Gallager's minimum-delay routing with that delay model; the convex wait
    curve is piecewise linear on :data:`_RHO_GRID`, so it is one LP on HiGHS).

    At light load it is a least-latency routing (SPA's paths); as the load grows it spreads packets away from the
    busiest routers. Above :data:`DELAY_ROUTING_MAX_UTILISATION` of the best possible busiest load (``load *
    w* >= 0.95``; :func:`min_max_unit_load`), where the modelled waits blow up, it returns
    :func:`balanced_routing`'s split and ``inf``. ``balanced``: that routing's ``(w*, split)`` if already solved
    (e.g. for many loads), else it is solved here."""
    if not (np.isfinite(load) and load >= 0):
        raise ValueError(f"'load' >= 0 expected (got {load!r})")
    N, E = topology.num_nodes, topology.num_arcs
    w_star, balanced_split = balanced if balanced is not None else balanced_routing(topology)
    if load * w_star >= DELAY_ROUTING_MAX_UTILISATION:
        return float("inf"), balanced_split
    lam = max(float(load), 1e-9)
    conservation, outflow, net, x_upper = _flow_rows(topology)
    bps = _RHO_GRID / lam  # breakpoints of w
    total = bps * queue_wait(_RHO_GRID)  # wait per unit load at router load w: w * W(lam w)
    widths, slopes = np.diff(bps), np.diff(total) / np.diff(bps)
    K = len(widths)
    # variables: x (N E), then segments s[v, k] (N K) with w_v = sum_k s[v, k]
    seg = sp.kron(sp.eye(N), np.ones((1, K))).tocsr()
    matrix = sp.vstack(
        [sp.hstack([conservation, sp.csr_matrix((conservation.shape[0], N * K))]), sp.hstack([outflow, -seg])]
    ).tocsr()
    lo = np.append(net, np.zeros(N))
    cost = np.concatenate([np.tile(np.asarray(topology.latency, dtype=float), N), np.tile(slopes, N)])
    upper = np.concatenate([x_upper, np.tile(widths, N)])
    sol = solve_lp(cost, matrix, lo, lo, np.zeros(len(cost)), upper)
    x = sol.x[: N * E].reshape(N, E)
    return float(sol.objective) / N, _splits(topology, x)
