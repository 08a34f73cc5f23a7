"""Typed exceptions of netctrl.

Every error a user can cause (a malformed scenario file, an infeasible demand, a corrupt checkpoint, a NaN
coming out of a policy) is raised as a subclass of :class:`NetctrlError`, and its message names the field or
cause, what was expected and what was found.
"""

from __future__ import annotations


class NetctrlError(Exception):
    """Base class of every exception raised by netctrl."""


class ScenarioError(NetctrlError, ValueError):
    """A scenario or instance file (or the equivalent dict) is malformed; the message names the field."""


class GraphError(NetctrlError, ValueError):
    """A graph is invalid: bad edge index, negative capacity, disconnected where connectivity is required..."""


class SolverError(NetctrlError, RuntimeError):
    """The LP solver failed, or returned a status other than optimal."""


class InfeasibleFlowError(SolverError):
    """The flow problem has no feasible solution (e.g. demand that the network cannot carry)."""


class UnboundedFlowError(SolverError):
    """The flow problem is unbounded (a modelling error: a negative-cost cycle without capacity)."""


class ActionError(NetctrlError, ValueError):
    """An action given to an environment or lower level is invalid (NaN, wrong shape, out of range)."""


class CheckpointError(NetctrlError, RuntimeError):
    """A checkpoint is missing, corrupt, or belongs to another configuration."""


class ConfigError(NetctrlError, ValueError):
    """A configuration value is inconsistent; the message names the field."""


class DependencyNotInstalled(NetctrlError, ImportError):
    """An optional dependency is missing; the message says which extra to install."""


def require_finite(name: str, value) -> None:
    """Raise :class:`ActionError` naming ``name`` when ``value`` holds NaN or infinity."""
    import numpy as np

    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ActionError(f"Expected '{name}' to be finite (got {bad} NaN/inf entries of {arr.size})")
