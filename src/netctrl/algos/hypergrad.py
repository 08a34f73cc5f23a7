r"""Bi-level RL by first-order hyper-gradients (Yang, Gao, Yuan, AISTATS 2025, arXiv 2405.19697).

The upper level chooses parameters ``theta`` that enter the lower level's costs, ``c = l(x) + T theta``
(``T`` puts the tunable parameters on their arcs/actions); the lower level is a population of
entropy-regularized RL agents whose aggregate response ``X(c)`` (expected action counts / flows of their
soft-optimal policies) feeds back into the costs through ``l`` (congestion). Its solution is the fixed point
``x = X(l(x) + T theta)``. The upper objective is ``F(theta) = f(x*(theta), theta)``.

Hyper-gradient (model-based). Differentiating the fixed point (implicit function theorem)

.. math::
    \frac{dx^*}{d\theta} = (I - J D)^{-1} J T, \qquad
    \nabla F = T^\top J^\top (I - J D)^{-\top} g + \partial_\theta f,

with ``J = dX/dc`` (first-order quantities of the soft Bellman fixed point: the policy, transition structure,
occupancies -- see the lower level), ``D = diag l'(x)`` and ``g = df/dx``. One linear solve; no second
derivatives of a lower-level objective, no convexity of the lower level, no unrolling. This is the paper's
fixed-point characterisation of the hyper-gradient, extended by the congestion coupling ``D``.

Hyper-gradient (model-free, :func:`stochastic_hypergradient`). For entropy-regularized agents with
deterministic transitions a trajectory ``w`` of the soft-optimal policy has probability proportional to
``exp(-c . N(w) / tau)`` (``N`` = action counts), so ``dlog p(w)/dc = sum_t dlog pi(a_t|s_t)/dc =
-(N(w) - dV(s_0)/dc) / tau`` (``dQ(s,a)/dc = 1_a + dV(s')/dc`` telescopes; ``dV(s_0)/dc = E[N]`` is a
policy evaluation) and the score-function identity gives ``J = -sum_groups q Cov(N) / tau``. Flows and
``J`` are estimated from sampled trajectories (Monte-Carlo policy evaluation; unbiased sample covariance)
and plugged into the formula above, batch by batch; the spread of the batch estimates gives a confidence
interval. Without congestion (``D = 0``) and with ``g`` independent of ``x`` the estimate is exactly
unbiased; with congestion the linear solve makes it consistent with an ``O(1/trips)`` bias.

Baselines: :func:`finite_difference_gradient` (central differences, ``2 P`` lower-level solves per
gradient), :func:`spsa_gradient` (2 solves per noisy gradient) and :func:`unrolled_gradient` (torch autograd
through a fixed number of unrolled lower-level iterations). The outer loop :func:`optimize` is projected
Adam, identical for every gradient source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError


# --------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class OuterConfig:
    """Projected Adam on ``theta``."""

    iterations: int = 200
    """outer iterations (upper bound; a callback may stop earlier)."""
    lr: float = 0.05
    """initial step size (same units as ``theta``)."""
    lr_final: float = 0.05
    """step size at the last iteration, as a fraction of ``lr`` (geometric decay in between)."""
    lower: float | None = 0.0
    """lower bound of every entry of ``theta`` (tolls are non-negative); None: unbounded."""
    upper: float | None = None
    """upper bound of every entry of ``theta``; None: unbounded."""
    betas: tuple[float, float] = (0.9, 0.999)
    """Adam's moment decay rates."""

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise ConfigError(f"Expected 'iterations' >= 1 (got {self.iterations})")
        if not self.lr > 0:
            raise ConfigError(f"Expected 'lr' > 0 (got {self.lr})")
        if not 0 < self.lr_final <= 1:
            raise ConfigError(f"Expected 0 < 'lr_final' <= 1 (got {self.lr_final})")
        if self.lower is not None and self.upper is not None and self.lower >= self.upper:
            raise ConfigError(f"Expected 'lower' < 'upper' (got {self.lower} >= {self.upper})")


# ------------------------------------------------------------------------------- hyper-gradient
def hypergradient(
    jac: np.ndarray, slope: np.ndarray, g: np.ndarray, toll_arcs: np.ndarray, explicit: np.ndarray | None = None
) -> np.ndarray:
    """``T^T J^T (I - J D)^{-T} g + explicit`` (see module docstring); ``jac`` (E, E), ``slope`` (E,) = diag D."""
    E = len(g)
    u = np.linalg.solve((np.eye(E) - jac * slope[None, :]).T, g)
    h = (jac.T @ u)[toll_arcs]
    return h if explicit is None else h + explicit


@dataclass
class StochasticEstimate:
    """A model-free hyper-gradient: mean of the batch estimates and a confidence interval."""

    mean: np.ndarray
    half_width: np.ndarray
    """half-width of the two-sided ``level`` confidence interval (Student t over batches)."""
    estimates: np.ndarray
    """(B, P) the batch estimates."""
    level: float = 0.95

    def contains(self, value: np.ndarray) -> np.ndarray:
        return np.abs(np.asarray(value) - self.mean) <= self.half_width


def stochastic_hypergradient(
    weights: np.ndarray,
    counts: np.ndarray,
    tau: float,
    slope: Callable[[np.ndarray], np.ndarray],
    flow_gradient: Callable[[np.ndarray], np.ndarray],
    toll_arcs: np.ndarray,
    explicit: np.ndarray | None = None,
    *,
    batches: int = 10,
    level: float = 0.95,
) -> StochasticEstimate:
    """Model-free hyper-gradient from sampled trajectories.

    Args:
        weights: (G,) demand of each group of trajectories (same start, same destination).
        counts: (G, M, E) action counts of ``M`` sampled trajectories per group.
        tau: the agents' temperature.
        slope: ``x -> l'(x)`` (congestion), evaluated at the estimated flows.
        flow_gradient: ``x -> df/dx`` at the estimated flows.
        toll_arcs: (P,) the arcs of ``theta``.
        explicit: ``df/dtheta``.
        batches: the ``M`` trajectories are split into this many batches of equal size.
        level: confidence level of the interval.
    """
    from scipy.stats import t as student_t

    G, M, E = counts.shape
    if batches < 2 or M // batches < 2:
        raise ConfigError(f"Expected 'batches' >= 2 with at least 2 trajectories each (got {batches} batches of {M})")
    m = M // batches
    est = []
    for b in range(batches):
        cnt = counts[:, b * m : (b + 1) * m, :].astype(float)
        mean = cnt.mean(axis=1)  # (G, E)
        x = weights @ mean
        centred = (cnt - mean[:, None, :]) * np.sqrt(weights / (m - 1))[:, None, None]
        flat = centred.reshape(G * m, E)
        jac = -(flat.T @ flat) / tau  # -sum_g q_g Cov_g(N) / tau
        est.append(hypergradient(jac, slope(x), flow_gradient(x), toll_arcs, explicit))
    est = np.asarray(est)
    half = student_t.ppf(0.5 + level / 2, batches - 1) * est.std(axis=0, ddof=1) / np.sqrt(batches)
    return StochasticEstimate(est.mean(axis=0), half, est, level)


# ------------------------------------------------------------------------------------ baselines
def finite_difference_gradient(f: Callable[[np.ndarray], float], theta: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central differences: ``2 P`` evaluations of ``f`` (each a lower-level solve)."""
    theta = np.asarray(theta, dtype=float)
    grad = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        grad[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    return grad


def spsa_gradient(
    f: Callable[[np.ndarray], float], theta: np.ndarray, c: float, rng: np.random.Generator
) -> np.ndarray:
    """Simultaneous-perturbation estimate (Spall): 2 evaluations, Rademacher directions."""
    delta = rng.choice([-1.0, 1.0], size=np.shape(theta))
    return (f(theta + c * delta) - f(theta - c * delta)) / (2 * c) * delta


def unrolled_gradient(forward: Callable, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """Value and gradient of ``forward(theta_tensor) -> scalar tensor`` by torch autograd (float64)."""
    import torch

    th = torch.tensor(np.asarray(theta, dtype=float), dtype=torch.float64, requires_grad=True)
    val = forward(th)
    (grad,) = torch.autograd.grad(val, th)
    return float(val.detach()), grad.numpy().copy()


# ------------------------------------------------------------------------------------ outer loop
@dataclass
class OuterResult:
    theta: np.ndarray
    values: list = field(default_factory=list)
    """objective value reported by ``value_and_grad`` at every iterate (None where it reports none)."""
    iterations: int = 0


def optimize(
    value_and_grad: Callable[[np.ndarray], tuple[float | None, np.ndarray]],
    theta0: np.ndarray,
    cfg: OuterConfig,
    callback: Callable[[int, np.ndarray, float | None], bool] | None = None,
    *,
    state: dict | None = None,
    on_step: Callable[[dict], None] | None = None,
) -> OuterResult:
    """Projected Adam: ``theta <- clip(theta - lr_k m_hat / (sqrt(v_hat) + eps))``; ``callback(k, theta, value)``
    after each gradient evaluation may return True to stop.

    ``state`` (``{"theta", "m", "v", "k", "values"}``, as given to ``on_step`` after every update) resumes a run
    exactly where it stopped.
    """
    theta = np.asarray(theta0, dtype=float).copy()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    res = OuterResult(theta)
    start = 0
    if state is not None:
        theta, m, v = (np.asarray(state[k], dtype=float).copy() for k in ("theta", "m", "v"))
        start = int(state["k"])
        res.values = list(state.get("values", []))
        res.iterations = start
    b1, b2 = cfg.betas
    for k in range(start, cfg.iterations):
        value, grad = value_and_grad(theta)
        res.values.append(value)
        res.iterations = k + 1
        if callback is not None and callback(k, theta, value):
            break
        lr = cfg.lr * cfg.lr_final ** (k / max(1, cfg.iterations - 1))
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad**2
        step = lr * (m / (1 - b1 ** (k + 1))) / (np.sqrt(v / (1 - b2 ** (k + 1))) + 1e-12)
        theta = theta - step
        if cfg.lower is not None or cfg.upper is not None:
            theta = np.clip(theta, cfg.lower, cfg.upper)
        if on_step is not None:
            on_step({"theta": theta.copy(), "m": m.copy(), "v": v.copy(), "k": k + 1, "values": list(res.values)})
    res.theta = theta
    return res
