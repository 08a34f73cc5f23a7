"""Dynamic multi-commodity network flow on any graph (packaged WAN topologies, topohub, Gabriel graphs).

Registered Gymnasium ids (raw environments: flows per commodity and arc)::

    netctrl/NetworkFlow-B4-v0   netctrl/NetworkFlow-GEANT-v0   netctrl/NetworkFlow-ATT-v0
    netctrl/NetworkFlow-Gabriel{10,20,50,100,200,500}-v0        (topohub ``gabriel/<n>/0``)
"""

from __future__ import annotations

import gymnasium as gym

from ...registry import ProblemSpec, register_problem
from .baselines import GreedyShortestPath, OracleMPC, RandomDistribution, baselines, oracle_plan
from .env import NetworkFlowEnv, FlowState
from .lower import EdgeShareMap, MultiCommodityLP
from .scenario import NetworkFlowScenario, from_graph, from_topohub, from_topology_json, load_named

__all__ = [
    "NetworkFlowEnv", "FlowState", "NetworkFlowScenario", "MultiCommodityLP", "EdgeShareMap", "OracleMPC",
    "GreedyShortestPath", "RandomDistribution", "baselines", "oracle_plan", "from_graph", "from_topohub",
    "from_topology_json", "load_named",
]

COMMODITIES = 4
INSTANCES = {
    "b4": ("b4", "B4"), "geant": ("geant", "GEANT"), "att": ("att", "ATT"),
    **{f"gabriel-{n}": (f"gabriel/{n}/0", f"Gabriel{n}") for n in (10, 20, 50, 100, 200, 500)},
}

#: one graph copy per commodity (shared weights), edge features include "how much closer to the sink"
POLICY = dict(encoder="edgeconv", hidden=64, layers=2, head="dirichlet", parameterization="mean-precision",
              prior_feature=None, init_precision=100.0, dirichlet_groups=COMMODITIES, critic_pool="mean")
TRAIN = dict(num_envs=8, rollout_steps=40, iterations=1500, gamma=0.97, actor_lr=3e-4, critic_lr=1e-3,
             update_epochs=4, minibatch_size=80, advantage="group", group_size=4, eval_every=50, checkpoint_every=50)
EDGE_POLICY = dict(encoder="edgeconv", hidden=64, layers=2, head="edge-gaussian", init_std=0.5, critic_pool="mean")


def _register() -> None:
    for key, (source, tag) in INSTANCES.items():
        env_id = f"netctrl/NetworkFlow-{tag}-v0"
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="netctrl.problems.network_flow.env:NetworkFlowEnv",
                         kwargs={"scenario": source})

        def make_env(source=source, **kw):
            return NetworkFlowEnv(source, **kw)

        register_problem(ProblemSpec(
            name=f"network_flow/{key}", env_id=env_id, make_env=make_env,
            lowers={"lp": MultiCommodityLP.for_env, "edge-share": EdgeShareMap.for_env}, baselines=baselines,
            policy=dict(POLICY), train=dict(TRAIN), edge_policy=dict(EDGE_POLICY), edge_train=dict(TRAIN),
            info_keys=("delivered",), description=f"dynamic 4-commodity network flow on {source}",
        ))


_register()
