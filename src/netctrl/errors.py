"""Typed exceptions of netctrl.

Every error a user can cause (a malformed scenario file, an infeasible demand, a corrupt checkpoint, a NaN
coming out of a policy) is raised as a subclass of :class:`NetctrlError`, and its message names the field or
cause, what was expected and what was found.
"""

from __future__ import annotations


class NetctrlError(Exception):
    """Base class of every exception raised by netctrl."""

    exit_code = 2


class ScenarioError(NetctrlError, ValueError):
    """A scenario or instance file (or the equivalent dict) is malformed; the message names the field."""

    exit_code = 3


class GraphError(NetctrlError, ValueError):
    """A graph is invalid: bad edge index, negative capacity, disconnected where connectivity is required..."""

    exit_code = 3


class SolverError(NetctrlError, RuntimeError):
    """The LP solver failed, or returned a status other than optimal."""

    exit_code = 5


class InfeasibleFlowError(SolverError):
    """The flow problem has no feasible solution (e.g. demand that the network cannot carry)."""


class UnboundedFlowError(SolverError):
    """The flow problem is unbounded (a modelling error: a negative-cost cycle without capacity)."""


class ActionError(NetctrlError, ValueError):
    """An action given to an environment or lower level is invalid (NaN, wrong shape, out of range)."""

    exit_code = 6


class CheckpointError(NetctrlError, RuntimeError):
    """A checkpoint is missing, corrupt, or belongs to another configuration."""

    exit_code = 4


class ConfigError(NetctrlError, ValueError):
    """A configuration value is inconsistent; the message names the field."""

    exit_code = 2


class DependencyNotInstalled(NetctrlError, ImportError):
    """An optional dependency is missing; the message says which extra to install."""

    exit_code = 7


class WorkerError(NetctrlError, RuntimeError):
    """A worker of a scale-out backend (a Ray actor) died for good or did not answer in time."""

    exit_code = 9


EXIT_CODES = {
    0: "success",
    1: "an unexpected error (a bug: the traceback is shown; please report it)",
    2: "a bad command line or configuration value (ConfigError, or an unknown option / command)",
    3: "a malformed or invalid input file or graph (ScenarioError, GraphError)",
    4: "a missing, corrupt or foreign checkpoint (CheckpointError)",
    5: "the solver failed or the problem is infeasible (SolverError)",
    6: "an invalid action, e.g. NaN from a diverging policy (ActionError)",
    7: "an optional dependency is missing (DependencyNotInstalled)",
    8: "a file could not be read or written (missing, permission denied, disk full)",
    9: "a Ray worker died for good or did not answer in time (WorkerError)",
    130: "interrupted (Ctrl-C); a training run keeps its last checkpoint",
}
"""The exit statuses of the ``netctrl`` command, by kind of error."""


def require_finite(name: str, value) -> None:
    """Raise :class:`ActionError` naming ``name`` when ``value`` holds NaN or infinity."""
    import numpy as np

    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ActionError(f"Expected '{name}' to be finite (got {bad} NaN/inf entries of {arr.size})")


def require_in_box(name: str, value, low, high, rtol: float = 1e-6) -> None:
    """Raise :class:`ActionError` when ``value`` holds NaN/inf or an entry outside ``[low, high]`` (elementwise,
    with a relative tolerance for rounding), naming the first offending index, its value and its bounds."""
    import numpy as np

    require_finite(name, value)
    arr = np.asarray(value, dtype=float)
    lo, hi = (np.broadcast_to(np.asarray(b, dtype=float), arr.shape).reshape(-1) for b in (low, high))
    arr = arr.reshape(-1)
    slack = rtol * np.maximum(
        1.0, np.maximum(np.abs(np.where(np.isfinite(lo), lo, 0.0)), np.abs(np.where(np.isfinite(hi), hi, 0.0)))
    )
    bad = np.flatnonzero((arr < lo - slack) | (arr > hi + slack))
    if bad.size:
        i = int(bad[0])
        raise ActionError(
            f"'{name}'[{i}] = {arr[i]:.6g} is outside its bounds [{lo[i]:.6g}, {hi[i]:.6g}] "
            f"({bad.size} of {arr.size} entries out of bounds)"
        )


def require_integer(name: str, value, error: type[NetctrlError] = ConfigError) -> None:
    """Raise ``error`` naming ``name`` unless ``value`` is an integer (``True`` is not one, nor is ``2.0``)."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise error(f"'{name}' must be an integer (got {_shown(value)})")


def require_number(name: str, value, error: type[NetctrlError] = ConfigError) -> None:
    """Raise ``error`` naming ``name`` unless ``value`` is a finite real number (not a bool, not a string)."""
    import math
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise error(f"'{name}' must be a finite number (got {_shown(value)})")


def _shown(value) -> str:
    from .files import shown

    return shown(value)


def require_at_least(obj, least: float, *names: str, strict: bool = False) -> None:
    """Raise :class:`ConfigError` unless each field ``names`` of the config ``obj`` is a number ``>= least``
    (``> least`` when ``strict``) or ``None`` where the field allows it; ``None`` passes."""
    import math

    for name in names:
        v = getattr(obj, name)
        if v is None:
            continue
        ok = (
            isinstance(v, (int, float))
            and not isinstance(v, bool)
            and not math.isnan(v)
            and (v > least if strict else v >= least)
        )
        if not ok:
            raise ConfigError(f"'{name}' must be {'>' if strict else '>='} {least:g} (got {v!r})")
