"""The one place netctrl talks to a solver: a thin in-process wrapper around HiGHS (``highspy``).

A :class:`LinearProgram` is built once from arrays (cost vector, sparse constraint matrix, bounds) and then
re-solved many times after its bounds or costs change. HiGHS keeps the last basis, so each re-solve is a hot
start. Every solve branches on the *model* status (a run can return ``kOk`` while the model is infeasible)
and turns anything but an optimum into a typed :class:`~netctrl.errors.SolverError`.

>>> import numpy as np, scipy.sparse as sp
>>> lp = LinearProgram(cost=[1.0, 2.0], matrix=sp.csr_matrix([[1.0, 1.0]]), row_lower=[3.0], row_upper=[3.0])
>>> lp.solve().x.tolist()
[3.0, 0.0]
>>> lp.set_row_bounds([4.0], [4.0]); lp.solve().objective
4.0
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .errors import InfeasibleFlowError, SolverError, UnboundedFlowError

try:
    import highspy
except ImportError as exc:  # pragma: no cover - highspy is a hard dependency
    raise ImportError("netctrl needs highspy (pip install highspy)") from exc

INF = highspy.kHighsInf
_Status = highspy.HighsModelStatus
_BANNER_SILENCED = False


def _new_highs() -> highspy.Highs:
    """A silent ``Highs`` instance (the first construction in a process prints a banner to fd 1)."""
    global _BANNER_SILENCED
    if _BANNER_SILENCED:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _BANNER_SILENCED = True
    h.setOptionValue("output_flag", False)
    return h


@dataclass
class LPSolution:
    """The result of one solve: primal values ``x``, objective value, and solver statistics."""

    x: np.ndarray
    objective: float
    iterations: int
    row_dual: np.ndarray | None = None


@dataclass
class LPStats:
    """Counters kept by a :class:`LinearProgram` across its solves."""

    solves: int = 0
    cold_checks: int = 0
    hot_mismatches: int = 0
    canonical_resolves: int = 0
    """hot solves whose optimum was not clearly unique and that were repeated from a cold start (``unique_margin``)."""
    iterations: int = 0
    extra: dict = field(default_factory=dict)


class LinearProgram:
    """An LP ``min/max c'x s.t. row_lower <= A x <= row_upper, col_lower <= x <= col_upper`` held in HiGHS.

    Args:
        cost: objective coefficients, shape ``(n_cols,)``.
        matrix: constraint matrix ``A`` (any scipy sparse format or dense array), shape ``(n_rows, n_cols)``.
        row_lower, row_upper: row bounds (use ``-np.inf`` / ``np.inf`` for one-sided rows).
        col_lower, col_upper: column bounds; default ``0`` and ``+inf``.
        maximize: maximise instead of minimise.
        integer: optional boolean mask of integer columns (turns the model into a MIP).
        name: used in error messages.
        presolve: HiGHS presolve; off by default because it dominates the time of small re-solved LPs.
        method: ``"simplex"`` (default: vertex solutions, hot starts) or ``"ipm"``/``"choose"``.
        verify_every: if ``k > 0``, every ``k``-th solve is repeated from a cold start and the cold answer is
            kept when the objectives disagree (guards against a known, rare hot-start defect in HiGHS).
        tolerance: HiGHS primal and dual feasibility tolerance (default: HiGHS's ``1e-7``; at least ``1e-10``).
        unique_margin: if ``> 0``, a hot-started solve whose optimum is not *clearly unique* -- some nonbasic
            variable that could move (column or row slack not fixed by equal bounds) has a reduced cost of at
            most ``unique_margin`` in magnitude -- is repeated from a cold start (see :meth:`solve`).

    **Same input, same solution.** A hot start returns whichever optimal vertex the previous basis leads to,
    so an LP with several optima (ties) answers the same input differently after different histories. A
    lower level therefore (1) perturbs its costs (:func:`tie_break`) so that the optimum is unique, and (2)
    passes ``tolerance`` and ``unique_margin``: when every movable nonbasic variable has a reduced cost
    above the margin, the optimum is unique (any feasible move raises the objective), so a hot and a cold
    solve return the same vertex; otherwise (a near-tie the perturbation left within solver tolerance,
    rare) the answer is the cold solve's, a function of the input alone. Either way the solution does not
    depend on what the model solved before.
    """

    def __init__(
        self,
        cost,
        matrix,
        row_lower,
        row_upper,
        col_lower=None,
        col_upper=None,
        *,
        maximize: bool = False,
        integer=None,
        name: str = "lp",
        presolve: bool = False,
        method: str = "simplex",
        verify_every: int = 0,
        tolerance: float | None = None,
        unique_margin: float = 0.0,
    ) -> None:
        cost = np.asarray(cost, dtype=np.float64)
        A = sp.csc_matrix(matrix, dtype=np.float64)
        n_rows, n_cols = A.shape
        if cost.shape != (n_cols,):
            raise ValueError(f"{name}: expected 'cost' of shape ({n_cols},) (got {cost.shape})")
        self.name = name
        self.n_rows, self.n_cols = n_rows, n_cols
        self.maximize = maximize
        self.verify_every = int(verify_every)
        self.stats = LPStats()
        self._cost = cost.copy()
        self._col_lower = self._vec(col_lower, n_cols, 0.0, "col_lower")
        self._col_upper = self._vec(col_upper, n_cols, INF, "col_upper")
        self._row_lower = self._vec(row_lower, n_rows, -INF, "row_lower")
        self._row_upper = self._vec(row_upper, n_rows, INF, "row_upper")
        self._A = A
        self._integer = None if integer is None else np.asarray(integer, dtype=bool)
        self._options: dict[str, str | float] = {"presolve": "on" if presolve else "off", "solver": method}
        if tolerance is not None:
            self._options.update(
                primal_feasibility_tolerance=float(tolerance), dual_feasibility_tolerance=float(tolerance)
            )
        self.unique_margin = float(unique_margin)
        self._initial = tuple(
            a.copy() for a in (self._cost, self._col_lower, self._col_upper, self._row_lower, self._row_upper)
        )
        self._h = self._fresh_model()
        self._row_idx = np.arange(n_rows, dtype=np.int32)
        self._col_idx = np.arange(n_cols, dtype=np.int32)

    # ------------------------------------------------------------------ building
    def _vec(self, value, n: int, default: float, what: str) -> np.ndarray:
        if value is None:
            return np.full(n, default, dtype=np.float64)
        arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()
        if np.isnan(arr).any():
            raise ValueError(f"{self.name}: '{what}' contains NaN")
        return arr

    def _highs_lp(self) -> highspy.HighsLp:
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n_cols, self.n_rows
        lp.col_cost_ = self._cost
        lp.col_lower_, lp.col_upper_ = self._col_lower, self._col_upper
        lp.row_lower_, lp.row_upper_ = self._row_lower, self._row_upper
        lp.sense_ = highspy.ObjSense.kMaximize if self.maximize else highspy.ObjSense.kMinimize
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = self._A.indptr.astype(np.int32)
        lp.a_matrix_.index_ = self._A.indices.astype(np.int32)
        lp.a_matrix_.value_ = self._A.data
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = self.n_cols, self.n_rows
        if self._integer is not None:
            lp.integrality_ = [
                highspy.HighsVarType.kInteger if m else highspy.HighsVarType.kContinuous for m in self._integer
            ]
        return lp

    def _fresh_model(self) -> highspy.Highs:
        h = _new_highs()
        for key, val in self._options.items():
            self._check(h.setOptionValue(key, val), f"setOptionValue({key!r})")
        self._check(h.passModel(self._highs_lp()), "passModel")
        self._basis = False  # no basis yet: the next run is a cold start
        return h

    def _check(self, status, what: str) -> None:
        if status == highspy.HighsStatus.kError:
            raise SolverError(f"{self.name}: HiGHS {what} returned an error")

    # ------------------------------------------------------------------ changes
    def _index_and_values(self, idx, all_idx, what: str, *values):
        idx = all_idx if idx is None else np.asarray(idx, dtype=np.int32)
        out = [np.ascontiguousarray(np.broadcast_to(np.asarray(v, dtype=np.float64), idx.shape)) for v in values]
        if any(np.isnan(v).any() for v in out):
            raise ValueError(f"{self.name}: {what} contain NaN")
        return idx, out

    def set_row_bounds(self, lower, upper, rows=None) -> None:
        """Change the bounds of ``rows`` (all rows by default); the basis is kept for a hot start."""
        idx, (lo, hi) = self._index_and_values(rows, self._row_idx, "row bounds", lower, upper)
        self._row_lower[idx], self._row_upper[idx] = lo, hi  # keep our copy in sync for cold rebuilds
        # changeRowsBounds and getBasicVariables exist at run time but are missing from highspy's stubs
        self._check(self._h.changeRowsBounds(len(idx), idx, lo, hi), "changeRowsBounds")  # type: ignore[attr-defined]

    def set_col_bounds(self, lower, upper, cols=None) -> None:
        """Change the bounds of ``cols`` (all columns by default)."""
        idx, (lo, hi) = self._index_and_values(cols, self._col_idx, "column bounds", lower, upper)
        self._col_lower[idx], self._col_upper[idx] = lo, hi
        self._check(self._h.changeColsBounds(len(idx), idx, lo, hi), "changeColsBounds")

    def set_cost(self, cost, cols=None) -> None:
        """Change the objective coefficients of ``cols`` (all columns by default)."""
        idx, (c,) = self._index_and_values(cols, self._col_idx, "costs", cost)
        self._cost[idx] = c
        self._check(self._h.changeColsCost(len(idx), idx, c), "changeColsCost")

    def reset(self) -> None:
        """Back to the model as built: the construction's costs and bounds, no basis (the next solve is cold).
        After it the LP answers every sequence of changes and solves exactly as a newly built one does."""
        for mine, first in zip(
            (self._cost, self._col_lower, self._col_upper, self._row_lower, self._row_upper), self._initial
        ):
            mine[:] = first
        self._h = self._fresh_model()

    # ------------------------------------------------------------------ solving
    def solve(self, *, cold: bool = False, duals: bool = False) -> LPSolution:
        """Solve (hot-started from the previous basis unless ``cold``) and return the optimum.

        Raises:
            InfeasibleFlowError: the model is infeasible.
            UnboundedFlowError: the model is unbounded.
            SolverError: any other non-optimal outcome.
        """
        self.stats.solves += 1
        if cold:
            self._h = self._fresh_model()
        hot = self._basis
        sol = self._run(duals)
        if self.unique_margin > 0 and hot and self._near_tie():
            self.stats.canonical_resolves += 1
            self._h = self._fresh_model()
            return self._run(duals)
        if self.verify_every and not cold and self.stats.solves % self.verify_every == 0:
            self.stats.cold_checks += 1
            self._h = self._fresh_model()
            ref = self._run(duals)
            if abs(ref.objective - sol.objective) > 1e-7 * max(1.0, abs(ref.objective)):
                self.stats.hot_mismatches += 1
                sol = ref
        return sol

    def _run(self, duals: bool) -> LPSolution:
        h = self._h
        run_status = h.run()
        status = h.getModelStatus()
        if status != _Status.kOptimal:
            msg = f"{self.name}: HiGHS model status '{h.modelStatusToString(status)}'"
            if status == _Status.kInfeasible:
                raise InfeasibleFlowError(msg + " (no flow satisfies the constraints)")
            if status in (_Status.kUnbounded, _Status.kUnboundedOrInfeasible):
                raise UnboundedFlowError(msg)
            raise SolverError(msg)
        if run_status == highspy.HighsStatus.kError:
            raise SolverError(f"{self.name}: HiGHS run returned an error with an optimal model status")
        self._basis = True
        solution = h.getSolution()
        self._solution = solution
        info = h.getInfo()
        it = int(info.simplex_iteration_count)
        self.stats.iterations += it
        return LPSolution(
            x=np.asarray(solution.col_value, dtype=np.float64),
            objective=float(info.objective_function_value),
            iterations=it,
            row_dual=np.asarray(solution.row_dual, dtype=np.float64) if duals else None,
        )

    def _near_tie(self) -> bool:
        """Whether the last optimum is not clearly unique: a movable nonbasic variable with a reduced cost of
        at most ``unique_margin`` (a pivot on it could reach another optimum at no cost beyond the margin)."""
        status, basic = self._h.getBasicVariables()  # type: ignore[attr-defined]  # (see set_row_bounds)
        if status == highspy.HighsStatus.kError:
            return True
        basic = np.asarray(basic)
        col_basic = np.zeros(self.n_cols, dtype=bool)
        row_basic = np.zeros(self.n_rows, dtype=bool)
        col_basic[basic[basic >= 0]] = True
        row_basic[-basic[basic < 0] - 1] = True
        tau = self.unique_margin
        cols = ~col_basic & (self._col_upper > self._col_lower)
        if np.any(np.abs(np.asarray(self._solution.col_dual)[cols]) <= tau):
            return True
        rows = ~row_basic & (self._row_upper > self._row_lower)
        return bool(np.any(np.abs(np.asarray(self._solution.row_dual)[rows]) <= tau))

    def __repr__(self) -> str:
        return f"LinearProgram(name={self.name!r}, rows={self.n_rows}, cols={self.n_cols})"


def tie_break(n: int, scale: float, seed: int = 20230509) -> np.ndarray:
    """``n`` fixed pseudo-random cost perturbations in ``(scale/2, scale]``.

    Added to the costs of a re-solved LP they make its optimum unique (almost surely), so a hot-started solve
    returns the same vertex as a cold one: with equal costs, the previous basis decides among tied optima.
    (Random, not evenly spaced: sums of grid values tie again.)
    """
    return scale * (0.5 + 0.5 * np.random.default_rng(seed).random(n))


def solve_lp(cost, matrix, row_lower, row_upper, col_lower=None, col_upper=None, **kwargs) -> LPSolution:
    """Build and solve an LP once (for one-off models such as an oracle's receding-horizon plan)."""
    kwargs.setdefault("presolve", True)
    return LinearProgram(cost, matrix, row_lower, row_upper, col_lower, col_upper, **kwargs).solve()
