"""Lower levels of the supply chain: desired production and stock distribution -> production and shipments.

:class:`SupplyLP` (the bi-level lower level). The upper level proposes, for every factory ``f``, a desired
production ``p_hat_f`` (in units of the mean demand of the whole network per step) and a distribution ``w``
over all nodes of the network's *inventory position* (on-hand stock plus everything on its way, negative for
a store with backlog). The desired position of node ``n`` is ``w_n * max(sum_m position_m + p_hat, 0)``:
shipments conserve the total and production adds to it. The LP, built once per network and
hot-started every step, generalises the reference study's ``lcp.mod`` to any multi-echelon network::

    minimise   sum_n |dev_n| + 10 * sum_f |p_f - p_hat_f| + M * sum_n over_n + eps * sum_e cost_e * q_e
    s.t.       position_n + inflow_n(q) - outflow_n(q) + p_n - target_n = dev_n     every node n
               outflow_n(q) <= available_n                                            every node n
               available_n - outflow_n(q) - demand_n <= capacity_n + over_n           every node n
               0 <= q_e <= edge capacity,  0 <= p_f <= production capacity

Shipments move inventory position from the source to the destination at once (in-transit stock counts
for the destination), so any one-step change of the distribution along the edges is reachable, and the
second row is the correct, cumulative stock check. For one factory and K stores this is the reference LCP
with the factory's stock split by ``w`` (the reference floors the desired inflows; here they stay real).

**Node preferences.** The deviation columns of node ``n`` cost ``1 + pi_n`` and the shipments of edge ``e``
``eps * cost_e + rho_e``, with fixed pseudo-random ``pi_n`` in ``(5e-4, 1e-3]`` (``NODE_PREFERENCE``) and
``rho_e`` in ``(5e-6, 1e-5]`` (``EDGE_PREFERENCE``). They were introduced as tie-breaks but they are larger than
the transport term (``eps * cost ~ 1e-5``), so they are part of the model: where the total position cannot
meet every target they decide which nodes keep the surplus or the shortfall, and surplus may be shipped
toward a node that prefers it at a transport cost (on 1F3W30S the plan without them is cheaper by up to
``7.6e-3`` in every sampled state, and the base-stock decision through the LP loses 1.6 % of its profit).
Trained agents and the committed results were obtained with them, so they stay.

**Same input, same solution.** A hot start returns whichever optimum the previous basis leads to, so ties
would make the same state and action give different plans after different histories (a resumed training run
diverged from the uninterrupted one). On top of the costs above, every column carries its own fixed
pseudo-random perturbation in ``(s/2, s]``, ``s = TIE_BREAK = 1e-8`` per unit (:func:`~netctrl.lp.tie_break`;
random, so that no sums of them tie), which makes the optimum unique almost surely. It changes no optimum of
the model's costs: a basis optimal for the perturbed costs stays optimal for the model's while every nonzero
model reduced cost exceeds the perturbation's share ``s (1 + |B^-1 A_j|_1)``; in this network LP ``B^-1 A_j``
is a path or cycle of a few columns (0/+-1 entries) and the model's cost differences are at least the
differences of the preferences (typically ``1e-6`` and more) or ``eps * cost`` (``>= 1e-5``), far above
``1e-7`` (tested: the perturbed plans' model cost equals the model's optimum). The model's near-ties were
rather the solver's: the positions of a state are float32 sums, so two vertices ``1e-8`` apart, one violating
a bound by ``1e-8``, both passed HiGHS's default tolerance (``1e-7``). The LP is therefore solved to
``1e-10`` (``LP_TOLERANCE``), and a hot-started optimum with a movable nonbasic variable of reduced cost below
``UNIQUE_MARGIN`` (not clearly unique) is solved again from a cold start (:class:`~netctrl.lp.LinearProgram`).

:class:`EdgeShareMap` (the naive edge-level agent): production and every edge's shipment straight from the
policy, as shares of the source's stock, without any optimisation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from gymnasium import spaces

from ...bilevel import largest_remainder
from ...errors import ActionError
from ...lp import INF, LinearProgram, tie_break
from .scenario import SupplyChainScenario

#: fixed per-unit preferences of the deviation columns of the nodes and of the shipments of the edges (see
#: "Node preferences" in the module docstring)
NODE_PREFERENCE = 1e-3
EDGE_PREFERENCE = 1e-5
#: largest tie-break perturbation per unit of any column (see "Same input, same solution")
TIE_BREAK = 1e-8
#: HiGHS feasibility tolerances of the LP, and the reduced-cost margin below which a hot-started optimum counts as
#: not clearly unique and is solved again from a cold start (:class:`~netctrl.lp.LinearProgram`)
LP_TOLERANCE = 1e-10
UNIQUE_MARGIN = 5e-10


def _check(action: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    a = np.asarray(action, dtype=np.float64)
    if a.shape != shape:
        raise ActionError(f"Expected {what} of shape {shape} (got {a.shape})")
    if not np.all(np.isfinite(a)):
        raise ActionError(f"Expected a finite {what} (got NaN/inf; is the policy diverging?)")
    return a


class SupplyLP:
    """Hot-started production-and-shipping LP (see the module docstring).

    Args:
        scenario: the network.
        production_scale: units of one ``p_hat`` (default: mean total demand per step).
        production_weight: weight of ``|p - p_hat|``; above the positions' weight (1) so that production
            follows the policy unless a capacity forbids it (at equal weights, a factory that cannot ship
            everything would be tempted to produce less to stay near its own target).
        overcapacity_weight: ``M``.
        whole_units: round desired positions to whole units (see :meth:`targets`).
        whole_production: round desired production to whole units too (off: production stays real-valued,
            so a small exploration noise on it still changes the outcome and carries a learning signal).
    """

    def __init__(
        self,
        scenario: SupplyChainScenario,
        production_scale: float | None = None,
        production_weight: float = 10.0,
        overcapacity_weight: float = 1e3,
        whole_units: bool = True,
        whole_production: bool = False,
    ) -> None:
        sc = scenario
        self.whole_units = whole_units
        self.whole_production = whole_production
        self.scenario = sc
        net = sc.network
        N, E = net.num_nodes, net.num_edges
        self.factories = sc.factories
        F = len(self.factories)
        self.N, self.E, self.F = N, E, F
        self.production_scale = float(production_scale or sc.production_scale())
        self.action_space = spaces.Box(0.0, self.action_high(), (F + N,), np.float32)
        B = net.incidence()  # +1 head, -1 tail
        out = sp.csr_matrix((np.ones(E), (net.sources, np.arange(E))), shape=(N, E))
        P = sp.csr_matrix((np.ones(F), (self.factories, np.arange(F))), shape=(N, F))
        I_N, I_F = sp.identity(N), sp.identity(F)
        Z = lambda r, c: sp.csr_matrix((r, c))
        # columns: q (E) | p (F) | dev+ (N) | dev- (N) | pd+ (F) | pd- (F) | over (N)
        rows_balance = sp.hstack([B, P, -I_N, I_N, Z(N, F), Z(N, F), Z(N, N)])
        rows_avail = sp.hstack([out, Z(N, F), Z(N, N), Z(N, N), Z(N, F), Z(N, F), Z(N, N)])
        rows_prod = sp.hstack([Z(F, E), I_F, Z(F, N), Z(F, N), -I_F, I_F, Z(F, N)])
        rows_cap = sp.hstack([-out, Z(N, F), Z(N, N), Z(N, N), Z(N, F), Z(N, F), -I_N])
        A = sp.vstack([rows_balance, rows_avail, rows_prod, rows_cap]).tocsc()
        eps = 1e-3 / max(sc.price, 1.0)
        # the node and edge preferences (fixed, see "Node preferences" in the module docstring), then a tie-break
        # perturbation of every column far below them (see "Same input, same solution")
        node_pref = tie_break(N, NODE_PREFERENCE, seed=1)
        cost = np.concatenate(
            [
                eps * net.edge_attr["cost"] + tie_break(E, EDGE_PREFERENCE, seed=2),
                np.zeros(F),
                1.0 + node_pref,
                1.0 + node_pref,
                np.full(2 * F, production_weight),
                np.full(N, overcapacity_weight),
            ]
        )
        cost = cost + tie_break(cost.size, TIE_BREAK, seed=4)
        col_upper = np.concatenate(
            [net.edge_attr["capacity"], sc.production_capacity[self.factories], np.full(2 * N + 2 * F + N, INF)]
        )
        self._n_rows = A.shape[0]
        self._lo = np.zeros(self._n_rows)
        self._hi = np.zeros(self._n_rows)
        self.lp = LinearProgram(
            cost,
            A,
            self._lo,
            self._hi,
            0.0,
            col_upper,
            name="supply-chain LP",
            tolerance=LP_TOLERANCE,
            unique_margin=UNIQUE_MARGIN,
        )

    def action_high(self) -> np.ndarray:
        """Upper bounds of the declared action ``Box`` (its lower bounds are 0): the distribution's weights at 1
        (they are normalised, so ``[0, 1]^N`` holds every distribution), a factory's production at what it can
        make in one step, in units of ``production_scale``: its capacity, or where that is unlimited, the
        largest production the environment accepts (:meth:`~.scenario.SupplyChainScenario.max_quantity`, rounded
        down to whole units; above it the environment refuses the production).

        :meth:`solve` takes any finite action, as before: negative entries count as 0, and production asked
        above a finite capacity raises the targets but produces no more. Trained agents (whose Gaussian
        production heads are unbounded) therefore act as they did; the bounds are what a generic RL library
        samples from or clips to.
        """
        cap = np.minimum(self.scenario.production_capacity[self.factories], np.floor(self.scenario.max_quantity()))
        return np.concatenate([cap / self.production_scale, np.ones(self.N)]).astype(np.float32)

    def reset(self) -> None:
        """Back to the state as built (see :meth:`netctrl.lp.LinearProgram.reset`): a new episode's flows do not
        depend on earlier episodes."""
        self._lo[:] = 0.0
        self._hi[:] = 0.0
        self.lp.reset()

    def targets(self, state, action) -> tuple[np.ndarray, np.ndarray]:
        """Desired production (F,) and desired inventory positions (N,) from the node-level action.

        With ``whole_units`` (default) the positions are whole units, rounded with the largest-remainder rule so
        that they still add up to the rounded total (and production too with ``whole_production``). Demand
        comes in whole units, so an upper level within half a unit of the right stock then gets it exactly.
        """
        a = _check(action, (self.F + self.N,), "supply-chain action (production + distribution)")
        p_hat = np.maximum(a[: self.F], 0.0) * self.production_scale
        if self.whole_production:
            p_hat = np.rint(p_hat)
        w = np.maximum(a[self.F :], 0.0)
        w = w / w.sum() if w.sum() > 0 else np.full(self.N, 1.0 / self.N)
        # shipments conserve the total position and production adds to it; backlog (negative position) counts
        total = max(float(state.position.sum() + p_hat.sum()), 0.0)
        if not self.whole_units:
            return p_hat, w * total
        return p_hat, largest_remainder(w, round(total))

    def solve(self, state, action) -> np.ndarray:
        """Production (F) and shipments (E), concatenated as the raw environment expects."""
        p_hat, target = self.targets(state, action)
        N, F = self.N, self.F
        avail = np.maximum(state.available, 0.0)
        lo, hi = self._lo, self._hi
        lo[:N] = hi[:N] = target - state.position  # balance (equality)
        lo[N : 2 * N], hi[N : 2 * N] = -INF, avail  # availability
        lo[2 * N : 2 * N + F] = hi[2 * N : 2 * N + F] = p_hat  # production target (equality)
        lo[2 * N + F :] = -INF  # capacity: -out - over <= C - avail + demand
        hi[2 * N + F :] = self.scenario.capacity - state.available + state.demand_now
        self.lp.set_row_bounds(lo, hi)
        x = self.lp.solve().x
        return np.maximum(np.concatenate([x[self.E : self.E + F], x[: self.E]]), 0.0)

    @classmethod
    def for_env(cls, env, **kwargs) -> SupplyLP:
        return cls(env.unwrapped.scenario, **kwargs)

    def __repr__(self) -> str:
        return f"SupplyLP(nodes={self.N}, edges={self.E}, factories={self.F})"


class EdgeShareMap:
    """Naive edge-level map: ``[z_prod (F), z_edge (E)]`` -> production ``softplus(z) * scale`` and shipments
    ``available_source * sigmoid(z_e + offset)`` (the environment scales a node's oversubscribed outflows)."""

    def __init__(self, scenario: SupplyChainScenario, offset: float = -1.0) -> None:
        self.scenario = scenario
        self.F, self.E = len(scenario.factories), scenario.network.num_edges
        self.offset = float(offset)
        self.scale = scenario.production_scale()
        self.action_space = spaces.Box(-np.inf, np.inf, (self.F + self.E,), np.float32)

    def solve(self, state, action) -> np.ndarray:
        z = _check(action, (self.F + self.E,), "edge-level action")
        prod = np.logaddexp(0.0, z[: self.F]) * self.scale
        share = 1.0 / (1.0 + np.exp(-np.clip(z[self.F :] + self.offset, -30, 30)))
        ship = np.maximum(state.available, 0.0)[self.scenario.network.sources] * share
        return np.concatenate([prod, ship])

    @classmethod
    def for_env(cls, env, **kwargs) -> EdgeShareMap:
        return cls(env.unwrapped.scenario, **kwargs)
