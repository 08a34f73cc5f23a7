r"""The lower level of toll design: a population of entropy-regularized routing agents with congestion.

Agents bound for destination ``d`` solve a shortest-path MDP: the state is the node they are at, an action
is an outgoing arc ``e = (i, j)``, ``d`` is absorbing, and taking ``e`` costs ``c_e = l_e(x_e) + theta_e``
(latency at the arc's flow plus toll). With entropy weight ``tau`` their optimal values and policy are

.. math::
    V_d(i) = -\tau \log \sum_{e=(i,j)} e^{-(c_e + V_d(j))/\tau}, \quad V_d(d) = 0, \qquad
    \pi_d(e \mid i) = e^{-(c_e + V_d(j) - V_d(i))/\tau}

(soft Bellman equation; the recursive-logit route choice model). In desirabilities ``z = exp(-V / tau)``
the equation is linear, ``(I - M) z = e_d`` with ``M_ij = sum_{e=(i,j)} exp(-c_e / tau)`` (row ``d``
removed), so one sparse LU per cost vector gives the exact fixed point of soft value iteration (which would
converge to it at the rate of ``M``'s spectral radius). Demand ``b_d`` sent under ``pi_d`` gives node flows
``n = b + P_pi^T n`` and arc flows ``x_de = n_i pi_d(e | i)``; with ``A = I - M``, ``n = z * y`` where
``A^T y = b / z`` (same LU). The response ``X(c) = sum_d x_d`` is the gradient of the agents' total soft
value ``S(c) = sum_{d,o} b_do V_d(o)``, so its Jacobian ``J = dX/dc`` is symmetric negative semi-definite.

Congestion couples the agents: the lower-level solution is the fixed point ``x = X(l(x) + theta)``
(stochastic user equilibrium of the recursive logit; the minimiser of the Beckmann potential plus ``-tau``
times the route entropy). :meth:`RoutingAgents.solve` finds it by Newton's method on
``F(x) = X(l(x) + theta) - x`` (Jacobian ``J D - I``, ``D = diag l'(x)``; ``I - J D`` has eigenvalues >= 1,
so the step always exists), with a backtracking line search on ``|F|`` that keeps flows non-negative and
an averaging step ``x + F / 2`` as fallback. Each call counts as one *lower-level solve* (``solves``).

``J`` comes from implicit differentiation of the two fixed points that define ``X`` -- the soft Bellman
equation (``A dz = dM z``: ``dV/dc`` is the expected number of visits of each arc, a policy evaluation)
and flow conservation under ``pi`` (``A^T dy = dM^T y - b dz / z^2``) -- two multi-right-hand-side solves
with the LU already factored, using only first-order quantities (``pi``, the arc structure); no second
derivative of any objective, no unrolling. ``J`` is dense (E x E) and its computation holds K x N x E
numbers, which suits networks of up to a few hundred arcs (the packaged WAN topologies, small topohub graphs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ...errors import SolverError, require_finite
from .scenario import TollScenario


@dataclass
class Loading:
    """The agents' response to fixed arc costs ``c`` (no congestion feedback)."""

    c: np.ndarray
    """(E,) arc costs."""
    x: np.ndarray
    """(E,) total arc flows ``X(c)``."""
    xd: np.ndarray
    """(K, E) arc flows per destination."""
    logpi: np.ndarray
    """(K, E) log-policy (0 on arcs leaving the destination, which carry no flow)."""
    V: np.ndarray
    """(K, N) soft values (cost-to-go)."""
    jac: np.ndarray | None = None
    """(E, E) ``dX/dc`` (symmetric, negative semi-definite), if asked for."""


@dataclass
class Equilibrium(Loading):
    """A lower-level solution ``x = X(l(x) + theta)`` (fields of :class:`Loading` at its costs)."""

    theta: np.ndarray | None = None
    """(E,) arc tolls."""
    slope: np.ndarray | None = None
    """(E,) ``l'(x)``."""
    residual: float = 0.0
    """``max |X(l(x) + theta) - x|`` at the returned point."""
    iterations: int = 0
    """Newton iterations."""


class RoutingAgents:
    """The agents of a :class:`TollScenario`: responses ``X(c)``, their Jacobian, the equilibrium, samples.

    Args:
        scenario: the instance.
        tol: equilibrium tolerance on ``max |F(x)|``, relative to ``max(1, total demand)``.
        max_iter: Newton iterations before :class:`SolverError`.
    """

    def __init__(self, scenario: TollScenario, *, tol: float = 1e-10, max_iter: int = 60) -> None:
        self.scenario = scenario
        self.tol = tol
        self.max_iter = max_iter
        self.solves = 0
        net = scenario.network
        self.tail, self.head = net.sources, net.targets
        self.N, self.E, self.K = net.num_nodes, net.num_edges, len(scenario.dests)
        self.tau = scenario.temperature
        self.b = scenario.demand
        self.mask = (self.tail[None, :] != scenario.dests[:, None]).astype(float)  # (K, E)
        kk, ee = np.nonzero(self.mask)
        self._rows = kk * self.N + self.tail[ee]
        self._cols = kk * self.N + self.head[ee]
        self._edge = ee
        self._unit = np.zeros((self.K, self.N))
        self._unit[np.arange(self.K), scenario.dests] = 1.0
        self._scale = max(1.0, float(self.b.sum()))
        self._table, self._deg = self._out_arcs()

    # ------------------------------------------------------------------------------ response to costs
    def loading(self, c: np.ndarray, *, jacobian: bool = False) -> Loading:
        """Soft-optimal policies and the flows they induce for arc costs ``c`` (one LU; see module doc)."""
        K, N, E, tau = self.K, self.N, self.E, self.tau
        w = np.exp(-np.asarray(c, dtype=float) / tau)
        A = sp.identity(K * N, format="csc") - sp.csc_matrix(
            (w[self._edge], (self._rows, self._cols)), shape=(K * N, K * N)
        )
        try:
            lu = splu(A)
        except RuntimeError as exc:
            raise SolverError(
                f"soft Bellman system is singular ({exc}); costs too low for temperature {tau:g}"
            ) from None
        z = lu.solve(self._unit.ravel()).reshape(K, N)
        if not np.all(np.isfinite(z)) or z.min() <= 0.0:
            raise SolverError(
                f"soft Bellman series diverges at these costs (min desirability {z.min():.3g}); "
                f"costs too low (negative tolls?) for temperature {tau:g}"
            )
        y = lu.solve((self.b / z).ravel(), trans="T").reshape(K, N)
        t, h = self.tail, self.head
        xd = self.mask * w[None, :] * z[:, h] * y[:, t]
        logz = np.log(z)
        logpi = self.mask * (-c[None, :] / tau + logz[:, h] - logz[:, t])
        out = Loading(c=np.asarray(c, dtype=float), x=xd.sum(axis=0), xd=xd, logpi=logpi, V=-tau * logz)
        if jacobian:
            cols = np.arange(E)
            r1 = np.zeros((K, N, E))
            r1[:, t, cols] = -self.mask * w[None, :] * z[:, h] / tau
            dz = lu.solve(r1.reshape(K * N, E)).reshape(K, N, E)  # d z / d c
            r2 = np.zeros((K, N, E))
            r2[:, h, cols] = -self.mask * w[None, :] * y[:, t] / tau
            r2 -= (self.b / z**2)[:, :, None] * dz
            dy = lu.solve(r2.reshape(K * N, E), trans="T").reshape(K, N, E)  # d y / d c
            a1 = self.mask * w[None, :] * y[:, t]
            a2 = self.mask * w[None, :] * z[:, h]
            jac = np.einsum("ke,kef->ef", a1, dz[:, h, :]) + np.einsum("ke,kef->ef", a2, dy[:, t, :])
            jac[cols, cols] -= out.x / tau
            out.jac = jac
        return out

    # ---------------------------------------------------------------------------------- equilibrium
    def solve(self, theta_arc: np.ndarray, *, x0: np.ndarray | None = None, tol: float | None = None) -> Equilibrium:
        """The congested equilibrium for arc tolls ``theta_arc`` (E,), warm-started at flows ``x0``."""
        require_finite("theta", theta_arc)
        scen = self.scenario
        theta_arc = np.asarray(theta_arc, dtype=float)
        tol = (self.tol if tol is None else tol) * self._scale
        self.solves += 1
        x = (
            self.loading(scen.latency(np.zeros(self.E)) + theta_arc).x
            if x0 is None
            else np.maximum(np.asarray(x0, float), 0.0)
        )
        cur = self.loading(scen.latency(x) + theta_arc, jacobian=True)
        for it in range(self.max_iter + 1):
            F = cur.x - x
            res = float(np.abs(F).max())
            if res <= tol:
                return Equilibrium(
                    **vars(cur), theta=theta_arc, slope=scen.latency_slope(cur.x), residual=res, iterations=it
                )
            if it == self.max_iter:
                break
            D = scen.latency_slope(x)
            step = np.linalg.solve(np.eye(self.E) - cur.jac * D[None, :], F)
            alpha, accepted = 1.0, False
            while alpha >= 1e-6:
                xn = x + alpha * step
                if xn.min() >= -1e-12 * self._scale:
                    xn = np.maximum(xn, 0.0)
                    trial = self.loading(scen.latency(xn) + theta_arc, jacobian=True)
                    if np.abs(trial.x - xn).max() <= (1.0 - 1e-4 * alpha) * res:
                        x, cur, accepted = xn, trial, True
                        break
                alpha *= 0.5
            if not accepted:  # averaging step: stays feasible
                x = x + 0.5 * F
                cur = self.loading(scen.latency(x) + theta_arc, jacobian=True)
        raise SolverError(
            f"equilibrium not reached in {self.max_iter} Newton iterations (residual {res:.3g} > {tol:.3g})"
        )

    def _out_arcs(self) -> tuple[np.ndarray, np.ndarray]:
        """``(table, degree)``: ``table[i, :degree[i]]`` are the arcs leaving node ``i`` (padded with -1)."""
        deg = np.bincount(self.tail, minlength=self.N)
        order = np.argsort(self.tail, kind="stable")
        start = np.concatenate([[0], np.cumsum(deg)])
        table = np.full((self.N, max(1, deg.max())), -1)
        for i in range(self.N):
            table[i, : deg[i]] = order[start[i] : start[i + 1]]
        return table, deg

    # ------------------------------------------------------------------------------------ sampling
    def sample_counts(self, eq: Loading, trips: int, rng: np.random.Generator, max_steps: int | None = None):
        """Sample ``trips`` trajectories of the agents' policy from every origin with demand.

        Returns ``(weights, counts)``: ``weights`` (G,) the demand of each (destination, origin) group and
        ``counts`` (G, trips, E) how often each trajectory used each arc (an agent may revisit arcs).
        """
        max_steps = max_steps or 50 * self.N
        table, deg = self._table, self._deg
        weights, counts = [], []
        for k, d in enumerate(self.scenario.dests):
            origins = np.flatnonzero(self.b[k] > 0)
            if origins.size == 0:
                continue
            pi = np.exp(eq.logpi[k]) * self.mask[k]
            prob = np.where(table >= 0, pi[np.maximum(table, 0)], 0.0)
            cum = np.cumsum(prob, axis=1)
            cum /= np.where(cum[:, -1:] > 0, cum[:, -1:], 1.0)
            node = np.repeat(origins, trips)
            cnt = np.zeros((node.size, self.E), dtype=np.int32)
            alive = np.flatnonzero(node != d)
            for _ in range(max_steps):
                if alive.size == 0:
                    break
                u = rng.random(alive.size)
                slot = (cum[node[alive]] < u[:, None]).sum(axis=1)
                slot = np.minimum(slot, deg[node[alive]] - 1)
                arc = table[node[alive], slot]
                cnt[alive, arc] += 1
                node[alive] = self.head[arc]
                alive = alive[node[alive] != d]
            if alive.size:
                raise SolverError(
                    f"{alive.size} sampled trajectories did not reach destination "
                    f"{self.scenario.network.name(d)} in {max_steps} steps"
                )
            weights.append(self.b[k, origins])
            counts.append(cnt.reshape(origins.size, trips, self.E))
        return np.concatenate(weights), np.concatenate(counts)

    # ------------------------------------------------------------------------- unrolled (torch)
    def unrolled(self, theta_arc, iters: int, step: float = 0.5):
        """Differentiable approximation (torch): ``iters`` joint steps of soft value iteration, flow
        propagation ``n <- b + P_pi^T n`` and flow averaging ``xbar <- (1 - step) xbar + step x`` from
        ``V = 0, n = b, xbar = 0``. Returns ``(xbar, xd, logpi)`` as torch tensors (autograd through all steps).
        """
        import torch

        scen, tau = self.scenario, self.tau
        dt = theta_arc.dtype
        t, h = torch.as_tensor(self.tail), torch.as_tensor(self.head)
        mask = torch.as_tensor(self.mask, dtype=dt)
        b = torch.as_tensor(self.b, dtype=dt)
        valid = torch.as_tensor(self._table >= 0)
        table = torch.as_tensor(np.maximum(self._table, 0))
        is_dest = torch.zeros(self.K, self.N, dtype=torch.bool)
        is_dest[torch.arange(self.K), torch.as_tensor(scen.dests)] = True
        V = torch.zeros(self.K, self.N, dtype=dt)
        n = b.clone()
        xbar = torch.zeros(self.E, dtype=dt)
        neg_inf = torch.tensor(-torch.inf, dtype=dt)
        for _ in range(iters):
            c = scen.latency(xbar) + theta_arc
            Q = c[None, :] + V[:, h]  # (K, E)
            logits = torch.where(valid[None], -Q[:, table] / tau, neg_inf)  # (K, N, deg)
            V = torch.where(is_dest, torch.zeros((), dtype=dt), -tau * torch.logsumexp(logits, dim=2))
            logpi = mask * (-(Q - V[:, t]) / tau)
            xd = mask * torch.exp(logpi) * n[:, t]
            n = b + torch.zeros_like(b).index_add(1, h, xd)
            xbar = (1.0 - step) * xbar + step * xd.sum(dim=0)
        return xbar, xd, logpi
