"""netctrl: learning to control flows on networks (bi-level graph RL with in-process LP lower levels)."""

__version__ = "0.1.0"

from .bilevel import BilevelWrapper  # noqa: E402
from .controllers import Controller  # noqa: E402
from .errors import NetctrlError  # noqa: E402
from .graph import FlowNetwork  # noqa: E402
from .lp import LinearProgram  # noqa: E402
from .registry import get_problem, list_problems  # noqa: E402


def _register_envs() -> None:
    from .problems import mobility, network_flow, supply_chain  # noqa: F401  (register Gymnasium ids)


_register_envs()

__all__ = ["BilevelWrapper", "Controller", "FlowNetwork", "LinearProgram", "NetctrlError", "get_problem", "list_problems"]
