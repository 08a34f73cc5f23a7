"""Bi-level and edge-level agents of the flow families, trained by PPO or the reference actor-critic (A2C).

An *agent* is "graph policy + action head + lower level + algorithm" (RL4CO calls this binding a model):

* ``bilevel-ppo``, ``bilevel-a2c``: the problem's policy (a Dirichlet over nodes = the desired next state)
  acting through the problem's LP lower level ``"lp"``; PPO may start from imitation (DAgger) of the
  problem's expert (``imitation = true``, hook ``expert``);
* ``edge-ppo``, ``edge-a2c``: the naive end-to-end baseline, a per-edge Gaussian acting through the problem's
  ``"edge-share"`` map (flows straight from the policy, no optimisation).

Hooks read from the problem (:attr:`~netctrl.registry.ProblemSpec.hooks`): ``train_envs`` (raw-environment
factories to train on instead of ``make_env``, e.g. graphs of several sizes: PPO cycles through them, one per
iteration), ``expert`` (``expert()`` -> a teacher with ``target(env)``, see :mod:`netctrl.algos.imitation`) and
``pretrain_envs`` (the imitation stage's factories). Validation and evaluation always use ``make_env``.

Checkpoints (``last.pt``, ``best.pt``) hold the policy's weights and config, the optimisers, the reward
normaliser and torch's RNG: a run resumes exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..algos.a2c import A2CConfig
from ..algos.imitation import ImitationConfig
from ..algos.ppo import PPOConfig
from ..bilevel import BilevelWrapper
from ..errors import CheckpointError, ConfigError
from ..evaluate import evaluate
from ..policies.actor_critic import GraphActorCritic, PolicyConfig, PolicyController
from ..registry import ProblemSpec, Recipe, register_recipe
from ..train import TrainResult, atomic_write_text, load_checkpoint

LOWER = {"bilevel": "lp", "edge": "edge-share"}
"""the lower level each kind of agent acts through."""


@dataclass(frozen=True)
class PPORecipeConfig:
    """An agent trained by PPO (:mod:`netctrl.algos.ppo`), optionally after imitation of the problem's expert."""

    ppo: PPOConfig = field(default_factory=PPOConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    imitation: bool = False
    """DAgger from the problem's expert before PPO (bi-level agents of problems with an ``expert`` hook)."""
    pretrain: ImitationConfig = field(default_factory=ImitationConfig)
    """the imitation stage (:mod:`netctrl.algos.imitation`), when ``imitation`` is on."""
    init: str = ""
    """start from the policy of a checkpoint of these recipes instead of a fresh one (fine-tuning): a path,
    ``pretrained`` for the model netctrl ships for the problem, or ``pretrained:<problem>`` for the one shipped
    for another problem of the family (:func:`netctrl.load_pretrained`). Its policy config replaces ``policy``;
    the imitation stage, if on, and PPO continue from its weights."""


@dataclass(frozen=True)
class A2CRecipeConfig:
    """An agent trained by the reference study's actor-critic (:mod:`netctrl.algos.a2c`)."""

    a2c: A2CConfig = field(default_factory=A2CConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)


# ------------------------------------------------------------------------------------------------ pieces
def make_training_env(problem: ProblemSpec, lower: str, make_raw: Callable | None = None) -> Callable:
    """A factory of raw environments (``make_raw``, default the problem's) wrapped with the named lower level."""
    make_raw = make_raw or problem.make_env

    def make():
        env = make_raw()
        return BilevelWrapper(env, problem.make_lower(lower, env))

    return make


def training_envs(problem: ProblemSpec, lower: str, raw: Sequence[Callable] = ()) -> list[Callable]:
    """The wrapped environment factories an agent trains on (several for a problem with ``train_envs``), or
    the wrapped ``raw`` factories if given."""
    return [
        make_training_env(problem, lower, f) for f in (raw or problem.hooks.get("train_envs") or (problem.make_env,))
    ]


def init_policy(make_env: Callable, cfg: PolicyConfig, seed: int) -> GraphActorCritic:
    """A freshly initialised (seeded) policy for the observations of ``make_env()``."""
    import torch

    env = make_env()
    torch.manual_seed(seed)
    model = GraphActorCritic.for_space(env.observation_space, cfg)
    env.close()
    return model


def initial_policy(spec: ProblemSpec, agent: str, init: str) -> GraphActorCritic:
    """The policy (in train mode) of ``init``: a checkpoint path, ``"pretrained"`` (the model shipped for
    ``spec``) or ``"pretrained:<problem>"``. The checkpoint must be of the same kind of agent and read the
    features of ``spec``'s observations (:func:`load_policy` checks that)."""
    if init == "pretrained" or init.startswith("pretrained:"):
        from ..manifest import find_pretrained, verify

        path = verify(find_pretrained(init.partition(":")[2] or spec.name, f"{agent}-ppo"))
    else:
        path = Path(init)
    model, ckpt = load_policy(path, spec)
    if ckpt["recipe"].split("-", 1)[0] != agent:
        raise ConfigError(f"'init' {init}: a {ckpt['recipe']} checkpoint cannot start a {agent} agent")
    return model.train()


def graph_identity(make_env: Callable) -> dict:
    """The sizes of an environment's graph observation, recorded in checkpoints: nodes, edges, node and edge
    features (the policy needs the feature counts of its training graphs; the sizes may differ: it transfers)."""
    env = make_env()
    space = env.observation_space
    env.close()
    n, f = space["x"].shape[-2:]
    e = space["edge_index"].shape[-1]
    d = space["edge_attr"].shape[-1] if "edge_attr" in space.spaces else 0
    return {"nodes": int(n), "edges": int(e), "node_features": int(f), "edge_features": int(d)}


def validation_fn(problem: ProblemSpec, lower: str, label: str = "agent") -> Callable[[GraphActorCritic], dict]:
    """``eval_fn`` for training: deterministic return on the problem's validation seeds."""

    def eval_fn(model: GraphActorCritic) -> dict:
        ctrl = PolicyController(model, lower=lower, deterministic=True, name=label)
        r = evaluate(ctrl, problem.make_env, problem.val_seeds, make_lower=problem.make_lower)
        return {"eval_reward": float(r.rewards.mean())}

    return eval_fn


def _ray_collector(make_env, model, cfg: PPOConfig, share: float):
    from ..scale import RayCollector

    return RayCollector(
        make_env, model, cfg.num_envs, cfg.rollout_steps, cfg.workers, seed=cfg.seed, cpus_per_worker=share
    )


def _check_kind(spec: ProblemSpec, recipe: str) -> None:
    if spec.kind != "gymnasium" or not spec.lowers:
        raise ConfigError(
            f"recipe {recipe!r} trains graph agents of Gymnasium flow problems with a lower level; "
            f"{spec.name} is a {spec.kind} problem (its recipes: {', '.join(spec.recipes) or 'none'})"
        )


# ------------------------------------------------------------------------------------------------ train
def train_ppo(
    agent: str,
    spec: ProblemSpec,
    cfg: PPORecipeConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    verbose: bool = True,
    tensorboard: bool = False,
) -> TrainResult:
    """Train a ``bilevel`` or ``edge`` agent with PPO; checkpoints and metrics go to ``run_dir``.

    With ``cfg.init``, the policy starts from that checkpoint's (fine-tuning). With ``cfg.imitation``, DAgger
    from the problem's expert comes first (skipped when a resumed run already
    has a checkpoint: it holds the pretrained and further trained weights); its cost is added to the result,
    and ``ppo.time_limit_s`` bounds the two stages together (PPO gets what the imitation left, at least 1 s).
    """
    from ..algos import ppo
    from ..algos.imitation import pretrain as imitate

    name = f"{agent}-ppo"
    _check_kind(spec, name)
    lower = LOWER[agent]
    factories = training_envs(spec, lower)
    make_env = factories[0] if len(factories) == 1 else factories
    meta: dict[str, Any] = {"recipe": name, "problem": spec.identity(), "graph": graph_identity(spec.make_env)}
    if cfg.init:  # a resumed run rebuilds the policy from its own last checkpoint (the init may be gone)
        last = Path(run_dir) / "last.pt"
        model = initial_policy(spec, agent, str(last) if resume and last.exists() else cfg.init)
        meta["init"] = cfg.init
    else:
        model = init_policy(factories[0], cfg.policy, cfg.ppo.seed)
    eval_fn = validation_fn(spec, lower, name)
    imitation = None
    if cfg.imitation and not (resume and (Path(run_dir) / "last.pt").exists()):
        expert = spec.hooks.get("expert")
        if expert is None or agent != "bilevel":
            raise ConfigError(
                f"'imitation' needs a bi-level agent of a problem with an expert ({spec.name}: "
                f"expert={'yes' if expert else 'none'}, agent={agent})"
            )
        imitation = imitate(
            cfg.pretrain,
            training_envs(spec, lower, spec.hooks.get("pretrain_envs", ())),
            model,
            expert,
            eval_fn=eval_fn,
            verbose=verbose,
            progress=progress,
        )
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            Path(run_dir) / "pretrain.json",
            json.dumps(
                {
                    "config": asdict(cfg.pretrain),
                    "wall_s": round(imitation.wall_s, 1),
                    "episodes": imitation.episodes,
                    "states": imitation.states,
                    "best_eval": imitation.best_eval,
                    "history": imitation.history,
                },
                indent=2,
            ),
        )
        meta["pretrain"] = asdict(cfg.pretrain)
    extra = {} if imitation is None else {"initial_eval": imitation.best_eval}
    ppo_cfg = cfg.ppo
    if imitation is not None and ppo_cfg.time_limit_s is not None:  # the time limit covers the whole run
        ppo_cfg = replace(ppo_cfg, time_limit_s=max(ppo_cfg.time_limit_s - imitation.wall_s, 1.0))
    result = ppo.train(
        ppo_cfg,
        make_env,
        model,
        run_dir=run_dir,
        eval_fn=eval_fn,
        resume=resume,
        progress=progress,
        verbose=verbose,
        metadata=meta,
        make_collector=_ray_collector if cfg.ppo.workers else None,
        tensorboard=tensorboard,
        **extra,
    )
    if imitation is not None:  # the training cost includes the pretraining
        result.wall_s += imitation.wall_s
        result.episodes += imitation.episodes
    return result


def train_a2c(
    agent: str,
    spec: ProblemSpec,
    cfg: A2CRecipeConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    verbose: bool = True,
    tensorboard: bool = False,
) -> TrainResult:
    """Train a ``bilevel`` or ``edge`` agent with the reference actor-critic (one environment)."""
    from ..algos import a2c

    name = f"{agent}-a2c"
    _check_kind(spec, name)
    lower = LOWER[agent]
    factories = training_envs(spec, lower)
    if len(factories) > 1:
        raise ConfigError(f"{spec.name} trains on several graphs, which only PPO supports (got {name})")
    model = init_policy(factories[0], cfg.policy, cfg.a2c.seed)
    return a2c.train(
        cfg.a2c,
        factories[0],
        model,
        run_dir=run_dir,
        eval_fn=validation_fn(spec, lower, name),
        resume=resume,
        progress=progress,
        verbose=verbose,
        metadata={"recipe": name, "problem": spec.identity(), "graph": graph_identity(spec.make_env)},
        tensorboard=tensorboard,
    )


# ------------------------------------------------------------------------------------------------ load
RECIPES = ("bilevel-ppo", "bilevel-a2c", "edge-ppo", "edge-a2c")


def load_policy(checkpoint: str | Path, spec: ProblemSpec | None = None) -> tuple[GraphActorCritic, dict]:
    """The :class:`GraphActorCritic` of a checkpoint of these recipes (in eval mode) and the checkpoint."""
    ckpt = load_checkpoint(Path(checkpoint), recipe=RECIPES, problem=spec)
    for key in ("model", "policy_config"):
        if key not in ckpt:
            raise CheckpointError(f"{checkpoint}: checkpoint lacks '{key}'")
    if spec is not None:
        want, have = graph_identity(spec.make_env), ckpt["policy_config"]
        for key in ("node_features", "edge_features"):
            if key in have and have[key] != want[key]:
                trained = (ckpt.get("problem") or {}).get("name") or "another problem"
                raise CheckpointError(
                    f"{checkpoint}: its policy reads {have[key]} {key.replace('_', ' ')} "
                    f"(trained on {trained}), but {spec.name} has {want[key]}"
                )
    try:
        model = GraphActorCritic.from_config_dict(ckpt["policy_config"])
        model.load_state_dict(ckpt["model"])
    except (TypeError, KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(
            f"{checkpoint}: weights do not match the stored policy config ({str(exc)[:200]})"
        ) from None
    return model.eval(), ckpt


def load(checkpoint: str | Path, spec: ProblemSpec | None = None, name: str | None = None) -> PolicyController:
    """The trained agent of a checkpoint as a controller (deterministic: the distribution's mode)."""
    model, ckpt = load_policy(checkpoint, spec)
    recipe = ckpt["recipe"]
    return PolicyController(model, lower=LOWER[recipe.split("-", 1)[0]], deterministic=True, name=name or recipe)


def _register() -> None:
    from functools import partial

    from ..algos.a2c import RESUMABLE_KEYS as A2C_RESUMABLE
    from ..algos.ppo import RESUMABLE_KEYS as PPO_RESUMABLE

    for agent, what in (
        ("bilevel", "bi-level agent: graph policy -> desired next state -> LP lower level"),
        ("edge", "edge-level agent: a Gaussian per edge, flows straight from the policy"),
    ):
        register_recipe(
            Recipe(
                f"{agent}-ppo",
                f"{what}; PPO",
                PPORecipeConfig,
                partial(train_ppo, agent),
                load,
                budget="ppo.iterations",
                time_limit="ppo.time_limit_s",
                aliases=("ppo",) if agent == "bilevel" else (),
                resumable=tuple(f"ppo.{k}" for k in PPO_RESUMABLE),
            )
        )
        register_recipe(
            Recipe(
                f"{agent}-a2c",
                f"{what}; the reference actor-critic",
                A2CRecipeConfig,
                partial(train_a2c, agent),
                load,
                budget="a2c.episodes",
                time_limit="a2c.time_limit_s",
                aliases=("a2c",) if agent == "bilevel" else (),
                resumable=tuple(f"a2c.{k}" for k in A2C_RESUMABLE),
            )
        )


_register()
