"""The HiGHS wrapper against hand-solved LPs, status handling and hot-vs-cold equality."""

import numpy as np
import pytest
import scipy.sparse as sp

from netctrl.errors import InfeasibleFlowError, UnboundedFlowError
from netctrl.lp import LinearProgram, solve_lp


def test_two_variable_lp_by_hand():
    # min x + y  s.t. x + 2y >= 4, 3x + y >= 6  ->  optimum at x = 1.6, y = 1.2, objective 2.8
    lp = LinearProgram([1.0, 1.0], [[1.0, 2.0], [3.0, 1.0]], row_lower=[4.0, 6.0], row_upper=[np.inf, np.inf])
    sol = lp.solve()
    assert sol.x == pytest.approx([1.6, 1.2])
    assert sol.objective == pytest.approx(2.8)


def test_maximize_and_bounds():
    sol = solve_lp([1.0, 1.0], [[1.0, 1.0]], [-np.inf], [10.0], col_upper=[3.0, np.inf], maximize=True)
    assert sol.objective == pytest.approx(10.0)


def test_infeasible_raises_typed_error():
    lp = LinearProgram([1.0], [[1.0], [1.0]], row_lower=[2.0, -np.inf], row_upper=[np.inf, 1.0], name="toy")
    with pytest.raises(InfeasibleFlowError, match="toy"):
        lp.solve()


def test_unbounded_raises_typed_error():
    lp = LinearProgram([-1.0], [[1.0]], row_lower=[0.0], row_upper=[np.inf])
    with pytest.raises(UnboundedFlowError):
        lp.solve()


def test_nan_bounds_rejected():
    lp = LinearProgram([1.0], [[1.0]], row_lower=[0.0], row_upper=[1.0], name="toy")
    with pytest.raises(ValueError, match="NaN"):
        lp.set_row_bounds([np.nan], [1.0])


def test_recovers_after_infeasible_change():
    lp = LinearProgram([1.0], [[1.0]], row_lower=[1.0], row_upper=[2.0])
    assert lp.solve().objective == pytest.approx(1.0)
    lp.set_row_bounds([3.0], [2.0])
    with pytest.raises(InfeasibleFlowError):
        lp.solve()
    lp.set_row_bounds([1.5], [2.0])
    assert lp.solve().objective == pytest.approx(1.5)


def test_hot_started_solves_equal_cold_solves():
    rng = np.random.default_rng(0)
    n, m = 12, 30
    A = sp.random(n, m, density=0.3, random_state=1, data_rvs=lambda k: rng.uniform(0.1, 1.0, k))
    cost = rng.uniform(1.0, 2.0, m)
    hot = LinearProgram(cost, A, row_lower=np.ones(n), row_upper=np.full(n, np.inf), col_upper=np.full(m, 50.0))
    for _ in range(25):
        lo = rng.uniform(0.0, 3.0, n)
        c = rng.uniform(1.0, 2.0, m)
        hot.set_row_bounds(lo, np.full(n, np.inf))
        hot.set_cost(c)
        h = hot.solve()
        cold = solve_lp(c, A, lo, np.full(n, np.inf), col_upper=np.full(m, 50.0))
        assert h.objective == pytest.approx(cold.objective, rel=1e-9, abs=1e-9)
        assert hot.solve(cold=True).objective == pytest.approx(cold.objective, rel=1e-9, abs=1e-9)


def test_periodic_cold_verification_counts():
    lp = LinearProgram([1.0], [[1.0]], row_lower=[1.0], row_upper=[2.0], verify_every=2)
    for k in range(4):
        lp.set_row_bounds([1.0 + 0.1 * k], [2.0])
        lp.solve()
    assert lp.stats.cold_checks == 2 and lp.stats.hot_mismatches == 0
