"""Toll design: bi-level RL where the upper level tolls links and entropy-regularized routing agents respond.

``scenario`` (validated JSON loading, Pigou, Braess, topologies with generated demand and latencies),
``lower`` (the agents: soft Bellman, equilibrium with congestion, Jacobian, trajectory samples, unrolled
torch version), ``objectives`` (social cost, travel time, target flow) and ``baselines`` (marginal-cost toll,
closed-form optimal tolls). The hyper-gradient and the outer loop are in :mod:`netctrl.algos.hypergrad`.
"""

from .baselines import braess_optimal_toll, marginal_cost_toll, pigou_optimal_toll
from .lower import Equilibrium, Loading, RoutingAgents
from .objectives import OBJECTIVES, SocialCost, TargetFlow, TravelTime
from .scenario import TollScenario, braess, from_topology, load_scenario, pigou, scenario_from_dict

__all__ = ["TollScenario", "RoutingAgents", "Equilibrium", "Loading", "SocialCost", "TravelTime", "TargetFlow",
           "OBJECTIVES", "braess", "pigou", "from_topology", "load_scenario", "scenario_from_dict",
           "marginal_cost_toll", "pigou_optimal_toll", "braess_optimal_toll"]
