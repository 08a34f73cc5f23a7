"""netctrl: learning to control flows on networks (bi-level graph RL with in-process LP lower levels).

One interface for every problem family: :func:`get_problem` (a registered instance) or :func:`load_problem`
(your own file) gives a :class:`~netctrl.registry.ProblemSpec`; :func:`get_recipe` gives a training recipe;
:func:`evaluate` / :func:`netctrl.evaluate.compare` run controllers side by side; :func:`load` turns any
checkpoint into a controller.
"""

from ._version import __version__  # noqa: F401
from .bilevel import BilevelWrapper
from .controllers import Controller, InstanceProblem, run_episode
from .errors import NetctrlError
from .evaluate import compare, evaluate
from .graph import FlowNetwork
from .lp import LinearProgram
from .registry import (
    get_family,
    get_problem,
    get_recipe,
    list_families,
    list_problems,
    list_recipes,
    load_problem,
)


def load(checkpoint, spec=None, name=None):
    """The controller of any recipe's checkpoint (see :func:`netctrl.recipes.load`)."""
    from .recipes import load as _load

    return _load(checkpoint, spec, name)


def load_pretrained(problem, recipe=None, spec=None):
    """The controller shipped with netctrl for ``problem`` (see :mod:`netctrl.pretrained`)."""
    from .pretrained import load_pretrained as _load_pretrained

    return _load_pretrained(problem, recipe, spec)


def _register_envs() -> None:
    from .problems import mobility, network_flow, supply_chain  # noqa: F401  (register Gymnasium ids)


_register_envs()

__all__ = [
    "BilevelWrapper",
    "Controller",
    "FlowNetwork",
    "InstanceProblem",
    "LinearProgram",
    "NetctrlError",
    "compare",
    "evaluate",
    "get_family",
    "get_problem",
    "get_recipe",
    "list_families",
    "list_problems",
    "list_recipes",
    "load",
    "load_pretrained",
    "load_problem",
    "run_episode",
]
