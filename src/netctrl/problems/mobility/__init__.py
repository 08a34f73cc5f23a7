"""Mobility-on-demand (dynamic vehicle routing): NYC Brooklyn, Shenzhen downtown west, any city in the format.

Registered Gymnasium ids (raw, edge-level environments)::

    netctrl/Mobility-NYCBrooklyn-v0            netctrl/Mobility-NYCBrooklyn-AllPairs-v0
    netctrl/Mobility-ShenzhenDowntownWest-v0   netctrl/Mobility-ShenzhenDowntownWest-AllPairs-v0

``*-AllPairs-*`` simulate every origin-destination pair of the file instead of the reference's adjacent pairs.
"""

from __future__ import annotations

import gymnasium as gym

from ...registry import ProblemSpec, register_problem
from .baselines import OracleMPC, baselines
from .env import MobilityEnv, MobilityState, greedy_matching
from .lower import EdgeShareMap, RebalancingLP, desired_counts
from .scenario import CITIES, CitySettings, MobilityScenario, list_cities, load_city, load_scenario, scenario_from_dict

__all__ = [
    "MobilityEnv", "MobilityState", "MobilityScenario", "CitySettings", "RebalancingLP", "EdgeShareMap", "OracleMPC",
    "baselines", "desired_counts", "greedy_matching", "load_city", "load_scenario", "scenario_from_dict", "list_cities",
    "CITIES", "ENV_IDS",
]

ENV_IDS = {
    "nyc_brooklyn": "netctrl/Mobility-NYCBrooklyn-v0",
    "shenzhen_downtown_west": "netctrl/Mobility-ShenzhenDowntownWest-v0",
}

#: node feature 0 of MobilityEnv is the idle vehicles now: the prior of the desired distribution
POLICY = dict(encoder="gcn", hidden=64, layers=2, head="dirichlet", parameterization="mean-precision",
              prior_feature=0, init_precision=1000.0, critic_pool="sum")
#: PPO with a group baseline: 8 environments in 2 groups of 4 sharing a demand draw (common random numbers),
#: so advantages compare actions under the same demand; 3500 iterations (28,000 episodes) take ~20-25 min
TRAIN = dict(num_envs=8, rollout_steps=20, iterations=3500, gamma=0.97, actor_lr=3e-4, critic_lr=1e-3,
             update_epochs=4, minibatch_size=64, advantage="group", group_size=4, eval_every=50, checkpoint_every=50)
EDGE_POLICY = dict(encoder="gcn", hidden=64, layers=2, head="edge-gaussian", init_std=0.5, critic_pool="sum")


def _register() -> None:
    for city, env_id in ENV_IDS.items():
        for suffix, overrides in (("", {}), ("-AllPairs", {"demand_pairs": "all"})):
            gid = env_id.replace("-v0", f"{suffix}-v0")
            if gid not in gym.registry:
                gym.register(id=gid, entry_point="netctrl.problems.mobility.env:MobilityEnv",
                             kwargs={"scenario": city, **overrides})

        def make_env(city=city, **kw):
            return MobilityEnv(city, **kw)

        register_problem(
            ProblemSpec(
                name=f"mobility/{city}",
                env_id=env_id,
                make_env=make_env,
                lowers={"lp": RebalancingLP.for_env, "edge-share": EdgeShareMap.for_env},
                baselines=baselines,
                policy=dict(POLICY),
                train=dict(TRAIN),
                edge_policy=dict(EDGE_POLICY),
                edge_train=dict(TRAIN),
                info_keys=("served", "requests", "rebalancing_cost"),
                description=f"mobility-on-demand, {city.replace('_', ' ')} (reference setting)",
            )
        )


_register()
