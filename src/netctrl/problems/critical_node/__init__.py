"""The Multilevel Critical Node game (MCN): defender vaccinates, attacker infects, defender protects.

``game`` (instance, sequential state, spread), ``instances`` (random graphs, trees, the public text format)
and ``exact`` (the exact three-level search). The learned value function (MultiL-Cur, MultiL-DQN) lives in
:mod:`netctrl.algos.curriculum`; ``features`` turns states into PyG graphs for it.
"""

from .exact import ExactResult, ExactSolver, solve
from .game import PLAYERS, MCNInstance, MCNState, bits, spread
from .instances import (budgets_from_name, format_instance, parse_instance, random_instance, random_tree,
                        read_instance, sample_instance)

__all__ = ["MCNInstance", "MCNState", "PLAYERS", "bits", "spread", "ExactSolver", "ExactResult", "solve",
           "random_instance", "random_tree", "sample_instance", "parse_instance", "read_instance",
           "format_instance", "budgets_from_name"]
