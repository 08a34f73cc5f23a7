"""Supply-chain inventory management: the reference 1F2S, 1F3S, 1F10S and any network in the scenario format.

Registered Gymnasium ids (raw environments: production + shipments)::

    netctrl/SupplyChain-1F2S-v0   netctrl/SupplyChain-1F3S-v0   netctrl/SupplyChain-1F10S-v0
    netctrl/SupplyChain-1F3W30S-v0   (factory -> 3 warehouses -> 30 stores, generated with seed 0)

and each one's bi-level version, ``netctrl/SupplyChain-<tag>-Bilevel-v0`` (desired production and stock
distribution in, :class:`SupplyLP` in the loop; ``lower="edge-share"`` for the naive map): see
:mod:`netctrl.integrations`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gymnasium as gym

from ...bilevel import BilevelWrapper, make_bilevel
from ...registry import Family, ProblemSpec, register_family, register_problem
from .baselines import (
    ForecastMPC,
    OracleMPC,
    OrderUpTo,
    RandomDistribution,
    SampleAverageMPC,
    oracle_plan,
    tune_order_up_to,
    tuned_levels,
)
from .env import (
    FEATURE_BASE_PRODUCTION,
    FEATURE_BASE_STOCK,
    FEATURE_FACTORY,
    FEATURE_POSITION,
    SupplyChainEnv,
    SupplyState,
)
from .lower import EdgeShareMap, SupplyLP
from .scenario import (
    REFERENCE,
    SupplyChainScenario,
    SupplySettings,
    load_named,
    load_scenario,
    multi_echelon_dict,
    scenario_from_dict,
)

__all__ = [
    "FEATURE_BASE_PRODUCTION",
    "FEATURE_BASE_STOCK",
    "FEATURE_FACTORY",
    "FEATURE_POSITION",
    "REFERENCE",
    "EdgeShareMap",
    "ForecastMPC",
    "OracleMPC",
    "OrderUpTo",
    "RandomDistribution",
    "SampleAverageMPC",
    "SupplyChainEnv",
    "SupplyChainScenario",
    "SupplyLP",
    "SupplySettings",
    "SupplyState",
    "bilevel_env",
    "load_named",
    "load_scenario",
    "multi_echelon_dict",
    "oracle_plan",
    "scenario_from_dict",
    "tune_order_up_to",
    "tuned_levels",
]

SCENARIOS = {"1f2s": "1F2S", "1f3s": "1F3S", "1f10s": "1F10S", "1f3w30s": "1F3W30S", "1f10w100s": "1F10W100S"}
#: the same networks with demand forecasts only (``advance_info = 0``; issue 24's imperfect information)
SCENARIOS |= {f"{k}-forecast": f"{v}-Forecast" for k, v in SCENARIOS.items() if k != "1f2s"}
#: and with stochastic lead times as well (``lead_time_noise = 1``: a link takes its lead time or one step more)
SCENARIOS |= {f"{k}-lead": f"{v}-Lead" for k, v in SCENARIOS.items() if k.endswith("-forecast")}

#: production by a Gaussian on the factories (in units of the mean total demand per step), then a Dirichlet
#: over every node's share of the inventory position; both are residuals on the textbook base-stock policy's
#: decision, read from the observation (no safety stock, no tuning): the untrained policy's mean is that
#: policy, and learning moves it from there (as the mobility agent starts from "stay where you are");
#: messages flow both ways
POLICY = dict(
    encoder="edgeconv",
    hidden=64,
    layers=2,
    head="gaussian+dirichlet",
    parameterization="mean-precision",
    prior_feature=FEATURE_BASE_STOCK,
    prior_eps=1e-6,
    init_precision=1000.0,
    gaussian_mask_feature=FEATURE_FACTORY,
    gaussian_prior_feature=FEATURE_BASE_PRODUCTION,
    gaussian_init_mean=0.0,
    init_std=0.1,
    exact_prior=True,
    critic_pool="sum",
    bidirectional=True,
)
#: the Dirichlet explores little (a precision of 1000 per node: more noise on the distribution makes PPO drift
#: to over-stocking, which pays off only under the noise); a short discount (an action's effects are over
#: within the lead times) keeps the group advantages of the last steps, where the prior is wrong, apart from
#: the noise of the whole episode
TRAIN = dict(
    num_envs=8,
    rollout_steps=30,
    iterations=2000,
    gamma=0.9,
    actor_lr=1e-3,
    critic_lr=1e-3,
    update_epochs=4,
    minibatch_size=60,
    advantage="group",
    group_size=4,
    eval_every=25,
    checkpoint_every=50,
)
#: the edge-level agent keeps the settings it was tuned with
EDGE_TRAIN = dict(TRAIN, gamma=0.99, actor_lr=3e-4)
#: per-network changes of the bi-level agent's settings: on the 30-store network the factory's echelon
#: features are ~30x a store's, and at 1e-3 the first updates of the residual heads wrecked the prior (the
#: 100-store network, ~100x, keeps the 30-store network's setting)
TRAIN_OVERRIDES = {
    f"{k}{v}": dict(actor_lr=1e-4) for k in ("1f3w30s", "1f10w100s") for v in ("", "-forecast", "-forecast-lead")
}
EDGE_POLICY = dict(
    encoder="edgeconv",
    hidden=64,
    layers=2,
    head="gaussian+edge-gaussian",
    gaussian_mask_feature=FEATURE_FACTORY,
    gaussian_init_mean=1.0,
    init_std=0.3,
    critic_pool="sum",
    bidirectional=True,
)


#: the lower levels of every supply network (and of the bi-level Gymnasium ids)
LOWERS = {"lp": SupplyLP.for_env, "edge-share": EdgeShareMap.for_env}


def bilevel_env(scenario: SupplyChainScenario | str = "1f2s", lower: str = "lp", **kwargs) -> BilevelWrapper:
    """The entry point of ``netctrl/SupplyChain-*-Bilevel-v0``: :class:`SupplyChainEnv` with a lower level."""
    return make_bilevel(SupplyChainEnv(scenario, **kwargs), LOWERS, lower)


def _baselines(seed: int = 0):
    # the order-up-to levels are tuned (per node, on training seeds) when the controller is first bound
    return {
        "oracle": OracleMPC(horizon=10),
        "forecast-mpc": ForecastMPC(horizon=10),
        "saa-mpc": SampleAverageMPC(horizon=10, samples=10, seed=seed),
        "order-up-to": OrderUpTo(),
        "order-up-to-horizon": OrderUpTo(horizon_aware=True),
        "random": RandomDistribution(seed),
    }


def _a2c(train: dict) -> dict:
    return {k: train[k] for k in ("gamma", "eval_every", "checkpoint_every")}


def problem(
    name: str,
    scenario: Callable[[], SupplyChainScenario],
    settings: SupplySettings,
    *,
    env_id: str | None = None,
    source: str | None = None,
    train_overrides: dict | None = None,
    description: str = "",
    rebuild=None,
) -> ProblemSpec:
    """The problem spec of a supply network (the packaged ones and users' files alike)."""

    def make_env():
        return SupplyChainEnv(scenario())

    train = {**TRAIN, **(train_overrides or {})}
    return ProblemSpec(
        name=name,
        make_env=make_env,
        baselines=_baselines,
        kind="gymnasium",
        env_id=env_id,
        lowers=dict(LOWERS),
        test_seeds=tuple(range(1000, 1100)),
        val_seeds=tuple(range(2000, 2010)),
        info_keys=("demand", "produced", "backlog_cost", "storage_cost", "violations"),
        reference="oracle",
        description=description,
        recipes={
            "bilevel-ppo": {"ppo": train, "policy": dict(POLICY)},
            "bilevel-a2c": {"a2c": _a2c(train), "policy": dict(POLICY)},
            "edge-ppo": {"ppo": dict(EDGE_TRAIN), "policy": dict(EDGE_POLICY)},
            "edge-a2c": {"a2c": _a2c(EDGE_TRAIN), "policy": dict(EDGE_POLICY)},
        },
        settings=settings,
        source=source,
        rebuild=rebuild,
    )


def _packaged(key: str, settings: SupplySettings) -> ProblemSpec:
    tag = SCENARIOS[key]
    cache: list = []

    def scenario():
        if not cache:
            cache.append(load_named(key, settings))
        return cache[0]

    return problem(
        f"supply_chain/{key}",
        scenario,
        settings,
        env_id=f"netctrl/SupplyChain-{tag}-v0",
        train_overrides=TRAIN_OVERRIDES.get(key),
        description=(
            f"supply chain {tag} (reference parameters)"
            if key in REFERENCE
            else f"supply chain {tag.removesuffix('-Forecast')}, demand forecasts only (advance_info = 0)"
            if key.endswith("-forecast")
            else f"supply chain {tag.removesuffix('-Forecast-Lead')}, demand forecasts only, stochastic lead times"
            if key.endswith("-forecast-lead")
            else f"supply chain {tag}"
        ),
        rebuild=lambda s: _packaged(key, s),
    )


def _user(source: str, settings: SupplySettings) -> ProblemSpec:
    scenario = load_scenario(source, settings)  # read and validated now: a bad file fails here
    return problem(
        f"supply_chain/{Path(source).stem}",
        lambda: scenario,
        settings,
        source=source,
        description=f"supply chain, {source}",
        rebuild=lambda s: _user(source, s),
    )


def _register() -> None:
    register_family(
        Family(
            "supply_chain",
            "inventory networks: produce at factories, ship stock along the edges to meet store demand",
            kind="gymnasium",
            settings=SupplySettings,
            loader=_user,
            source_option="scenario",
            source_help="a supply-network JSON file (nodes with kind/capacity/costs/demand, edges with lead times)",
        )
    )
    for key, tag in SCENARIOS.items():
        env_id = f"netctrl/SupplyChain-{tag}-v0"
        if env_id not in gym.registry:
            gym.register(
                id=env_id, entry_point="netctrl.problems.supply_chain.env:SupplyChainEnv", kwargs={"scenario": key}
            )
        bilevel_id = env_id.replace("-v0", "-Bilevel-v0")
        if bilevel_id not in gym.registry:
            gym.register(
                id=bilevel_id, entry_point="netctrl.problems.supply_chain:bilevel_env", kwargs={"scenario": key}
            )
        register_problem(_packaged(key, SupplySettings()))


_register()
