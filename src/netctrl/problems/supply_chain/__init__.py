"""Supply-chain inventory management: the reference 1F2S, 1F3S, 1F10S and any network in the scenario format.

Registered Gymnasium ids (raw environments: production + shipments)::

    netctrl/SupplyChain-1F2S-v0   netctrl/SupplyChain-1F3S-v0   netctrl/SupplyChain-1F10S-v0
    netctrl/SupplyChain-1F3W30S-v0   (factory -> 3 warehouses -> 30 stores, generated with seed 0)
"""

from __future__ import annotations

import gymnasium as gym

from ...registry import ProblemSpec, register_problem
from .baselines import OracleMPC, OrderUpTo, RandomDistribution, oracle_plan, tune_order_up_to, tuned_levels
from .env import FEATURE_BASE_PRODUCTION, FEATURE_BASE_STOCK, FEATURE_FACTORY, FEATURE_POSITION, SupplyChainEnv, SupplyState
from .lower import EdgeShareMap, SupplyLP
from .scenario import REFERENCE, SupplyChainScenario, load_named, load_scenario, multi_echelon_dict, scenario_from_dict

__all__ = [
    "SupplyChainEnv", "SupplyState", "SupplyChainScenario", "SupplyLP", "EdgeShareMap", "OracleMPC", "OrderUpTo",
    "RandomDistribution", "oracle_plan", "tune_order_up_to", "tuned_levels", "load_named", "load_scenario",
    "scenario_from_dict", "multi_echelon_dict", "REFERENCE", "FEATURE_FACTORY", "FEATURE_POSITION",
    "FEATURE_BASE_STOCK", "FEATURE_BASE_PRODUCTION",
]

SCENARIOS = {"1f2s": "1F2S", "1f3s": "1F3S", "1f10s": "1F10S", "1f3w30s": "1F3W30S"}

#: production by a Gaussian on the factories (in units of the mean total demand per step), then a Dirichlet
#: over every node's share of the inventory position; both are residuals on the textbook base-stock policy's
#: decision, read from the observation (no safety stock, no tuning): the untrained policy's mean is that
#: policy, and learning moves it from there (as the mobility agent starts from "stay where you are");
#: messages flow both ways
POLICY = dict(encoder="edgeconv", hidden=64, layers=2, head="gaussian+dirichlet", parameterization="mean-precision",
              prior_feature=FEATURE_BASE_STOCK, prior_eps=1e-6, init_precision=1000.0,
              gaussian_mask_feature=FEATURE_FACTORY, gaussian_prior_feature=FEATURE_BASE_PRODUCTION,
              gaussian_init_mean=0.0, init_std=0.1, exact_prior=True, critic_pool="sum", bidirectional=True)
#: the Dirichlet explores little (a precision of 1000 per node: more noise on the distribution makes PPO drift
#: to over-stocking, which pays off only under the noise); a short discount (an action's effects are over
#: within the lead times) keeps the group advantages of the last steps, where the prior is wrong, apart from
#: the noise of the whole episode
TRAIN = dict(num_envs=8, rollout_steps=30, iterations=2000, gamma=0.9, actor_lr=1e-3, critic_lr=1e-3,
             update_epochs=4, minibatch_size=60, advantage="group", group_size=4, eval_every=25, checkpoint_every=50)
#: the edge-level agent keeps the settings it was tuned with
EDGE_TRAIN = dict(TRAIN, gamma=0.99, actor_lr=3e-4)
#: per-network changes of the bi-level agent's settings: on the 30-store network the factory's echelon
#: features are ~30x a store's, and at 1e-3 the first updates of the residual heads wrecked the prior
TRAIN_OVERRIDES = {"1f3w30s": dict(actor_lr=1e-4)}
EDGE_POLICY = dict(encoder="edgeconv", hidden=64, layers=2, head="gaussian+edge-gaussian",
                   gaussian_mask_feature=FEATURE_FACTORY, gaussian_init_mean=1.0, init_std=0.3, critic_pool="sum",
                   bidirectional=True)


def _register() -> None:
    for key, tag in SCENARIOS.items():
        env_id = f"netctrl/SupplyChain-{tag}-v0"
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="netctrl.problems.supply_chain.env:SupplyChainEnv",
                         kwargs={"scenario": key})

        def make_env(key=key, **kw):
            return SupplyChainEnv(key, **kw)

        def baselines(seed: int = 0):
            # the order-up-to levels are tuned (per node, on training seeds) when the controller is first bound
            return {"oracle": OracleMPC(horizon=10), "order-up-to": OrderUpTo(),
                    "order-up-to-horizon": OrderUpTo(horizon_aware=True), "random": RandomDistribution(seed)}

        register_problem(ProblemSpec(
            name=f"supply_chain/{key}", env_id=env_id, make_env=make_env,
            lowers={"lp": SupplyLP.for_env, "edge-share": EdgeShareMap.for_env}, baselines=baselines,
            policy=dict(POLICY), train={**TRAIN, **TRAIN_OVERRIDES.get(key, {})}, edge_policy=dict(EDGE_POLICY), edge_train=dict(EDGE_TRAIN),
            test_seeds=tuple(range(1000, 1100)), val_seeds=tuple(range(2000, 2010)),
            info_keys=("demand", "produced", "backlog_cost", "storage_cost"),
            description=f"supply chain {tag} (reference parameters)" if key in REFERENCE else f"supply chain {tag}",
        ))


_register()
