"""Recipes of multi-agent packet routing: MAMRL, independent per-router policy gradient, Q-routing.

* ``mamrl``: imitation of the problem's static teacher routing (hook ``teacher``: ``obs (N, F) -> (N, D)``
  next-hop distributions; the balanced routing of the intact topology, static knowledge as SPA's; skipped with
  ``mamrl.prior = true``, where the policies are residuals on the environment's prior routing), then
  first-order MAML from there over the problem's failure tasks (hook ``tasks``: every task an environment of
  hook ``task_env(task, horizon)``), saved as ``meta_init.pt``; then online episodes on the problem's network.
* ``pg``: the per-router learner without consensus, from random weights, online episodes only.
* ``q-routing``: Q-routing (hook ``q_routing(eta, loss_penalty)`` -> a fresh controller) learning online for a
  few warm-up episodes; its table is the checkpoint.

Every recipe writes ``best.pt`` (the controller to evaluate: for the learners, the policies after their last
episode) and ``last.pt`` (the state to resume from, every episode), ``config.json`` and the metrics
(:class:`~netctrl.train.MetricsLogger`: ``metrics.jsonl``, ``metrics.csv`` and, with ``tensorboard``, TensorBoard
event files in ``tensorboard/``; MAMRL's meta-iterations are its first rows, phase ``meta``), in the one
checkpoint format. A resumed run continues after the last finished episode exactly (the learner's
weights, optimiser and generators are in ``last.pt``); one interrupted during MAMRL's meta-training repeats that
phase from its start (it is a pure function of the config).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..algos.mamrl import (
    MAMRLConfig,
    RouterLearner,
    RouterPolicyController,
    clone_state,
    imitate,
    make_policy,
    meta_train,
    teacher_episode,
    train_online,
)
from ..config import to_dict
from ..controllers import run_episode
from ..errors import CheckpointError, ConfigError, require_at_least
from ..policies.router import RouterPolicies
from ..progress import Progress
from ..registry import ProblemSpec, Recipe, register_recipe
from ..train import MetricsLogger, TrainResult, atomic_write_text, load_checkpoint, save_checkpoint


@dataclass(frozen=True)
class TeacherConfig:
    """MAMRL's start: imitation of the problem's teacher routing (cross-entropy on its next-hop distributions)."""

    episodes: int = 20
    """teacher episodes (loads drawn from the learner's ``loads``)."""
    epochs: int = 30
    """passes over their decisions."""
    smooth: float = 0.05
    """the targets mix the teacher's next hops with a uniform choice: a policy that is not one-hot keeps a
    policy gradient, so a router next to a failed link moves off it within a few episodes."""

    def __post_init__(self) -> None:
        if self.episodes < 1 or self.epochs < 1:
            raise ConfigError(f"'episodes' and 'epochs' >= 1 expected (got {self.episodes}, {self.epochs})")
        if not 0 <= self.smooth < 1:
            raise ConfigError(f"'smooth' in [0, 1) expected (got {self.smooth})")


@dataclass(frozen=True)
class MAMRLRecipeConfig:
    """Teacher initialisation, first-order MAML over failure tasks, then online episodes."""

    mamrl: MAMRLConfig = field(default_factory=MAMRLConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    meta_iterations: int = 300
    """MAML iterations (``meta_batch`` tasks, two episodes each)."""
    episodes: int = 300
    """online episodes after meta-training."""
    time_limit_s: float | None = None
    """wall-time cap: 70 % for meta-training, 30 % for the online episodes."""

    def __post_init__(self) -> None:
        if not self.mamrl.consensus:
            raise ConfigError("'mamrl.consensus' must be true for MAMRL (the pg recipe is the learner without it)")
        if self.meta_iterations < 0 or self.episodes < 0:
            raise ConfigError(
                f"'meta_iterations' and 'episodes' >= 0 expected (got {self.meta_iterations}, {self.episodes})"
            )
        require_at_least(self, 0, "time_limit_s", strict=True)


@dataclass(frozen=True)
class PGRecipeConfig:
    """Independent per-router policy gradient (no consensus, no meta-learning), online episodes."""

    pg: MAMRLConfig = field(default_factory=lambda: MAMRLConfig(consensus=False))
    episodes: int = 300
    """online episodes."""
    time_limit_s: float | None = None

    def __post_init__(self) -> None:
        if self.pg.consensus:
            raise ConfigError("'pg.consensus' must be false for the pg recipe (MAMRL is the learner with it)")
        if self.episodes < 1:
            raise ConfigError(f"'episodes' >= 1 expected (got {self.episodes})")
        require_at_least(self, 0, "time_limit_s", strict=True)


@dataclass(frozen=True)
class QRoutingConfig:
    """Q-routing (Boyan and Littman 1994) learning online."""

    eta: float = 0.7
    """learning rate of the delivery-time estimates."""
    loss_penalty: float = 200.0
    """target of a lost packet (ticks)."""
    episodes: int = 5
    """warm-up episodes (on the problem's network and load, seeds ``50_000 + k``)."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.episodes < 0:
            raise ConfigError(f"'episodes' >= 0 expected (got {self.episodes})")


def _need(spec: ProblemSpec, recipe: str, *hooks: str) -> None:
    if spec.kind != "pettingzoo":
        raise ConfigError(
            f"recipe {recipe!r} trains multi-agent routing policies; {spec.name} is a {spec.kind} "
            f"problem (its recipes: {', '.join(spec.recipes) or 'none'})"
        )
    missing = [h for h in hooks if h not in spec.hooks]
    if missing:
        raise ConfigError(f"recipe {recipe!r} needs the problem hook(s) {missing}, which {spec.name} does not have")


# ------------------------------------------------------------------------------------------------ pieces
def teacher_init(
    spec: ProblemSpec,
    cfg: MAMRLConfig,
    teacher: TeacherConfig = TeacherConfig(),
    seed_base: int = 70_000,
    log=None,
    progress: bool = False,
) -> dict:
    """Initial weights of the per-router policies imitating the problem's teacher (hook ``teacher``) on the
    intact network: ``teacher.episodes`` episodes at loads drawn from ``cfg.loads``, every decision labelled
    with the teacher's next-hop distribution mixed with a uniform one (weight ``teacher.smooth``), fitted by
    cross-entropy (:func:`netctrl.algos.mamrl.imitate`)."""
    env = spec.hooks["task_env"]((), cfg.horizon)
    rng = np.random.default_rng(cfg.seed + 13)
    data = []
    with Progress(teacher.episodes, "mamrl teacher episodes", enabled=progress) as bar:
        for k in range(teacher.episodes):
            load = float(rng.uniform(*cfg.loads))
            data.append(teacher_episode(env, spec.hooks["teacher"], seed_base + k, options={"load": load}))
            bar.update(1)
    degree = np.asarray([env.action_space(a).n for a in env.possible_agents])
    D = int(degree.max())
    valid = (np.arange(D)[None, :] < degree[:, None]) / degree[:, None]  # (N, D) uniform over the links
    obs, target, mask = (np.concatenate(parts) for parts in zip(*data))
    torch.manual_seed(cfg.seed)
    policy = make_policy(env, cfg)
    target = (1 - teacher.smooth) * target + teacher.smooth * valid[None]
    target = np.pad(target, ((0, 0), (0, 0), (0, policy.d - target.shape[2])))
    hist = imitate(policy, obs, target, mask, epochs=teacher.epochs, seed=cfg.seed)
    if log:
        log(f"imitation of the teacher routing: {int(mask.sum())} decisions, KL {hist[0]:.3f} -> {hist[-1]:.3f}")
    return clone_state(policy)


def _policy_config(policy: RouterPolicies, cfg: MAMRLConfig) -> dict:
    deg = policy.mask.sum(1).tolist()
    return {
        "num_nodes": policy.n,
        "degree": [int(d) for d in deg],
        "history": policy.h,
        "hidden": cfg.hidden,
        "layers": cfg.layers,
    }


def _save_policy(
    path: Path, recipe: str, spec: ProblemSpec, cfg, learner_cfg: MAMRLConfig, policy: RouterPolicies, **extra
) -> None:
    save_checkpoint(
        path,
        {
            "recipe": recipe,
            "problem": spec.identity(),
            "config": to_dict(cfg),
            "learner": to_dict(learner_cfg),
            "model": policy.state_dict(),
            "policy_config": _policy_config(policy, learner_cfg),
            **extra,
        },
    )


def _online(
    recipe: str,
    spec: ProblemSpec,
    cfg,
    lcfg: MAMRLConfig,
    run_dir: Path,
    resume: bool,
    episodes: int,
    time_limit_s: float | None,
    learner_init: dict | None,
    history: list[dict],
    log,
    progress: bool = False,
    tensorboard: bool = False,
) -> tuple[RouterLearner, list]:
    """The online phase, with a ``last.pt`` after every episode (resumed from it if asked). The metrics are
    ``history`` (MAMRL's meta-iterations), then a row per episode; their step is the row's line number."""

    def make_env(task):
        return spec.hooks["task_env"](task, lcfg.horizon)

    learner = RouterLearner(make_env(()), lcfg)
    if learner_init is not None:
        learner.reset_to(learner_init)
    start, rng_state, online = 0, None, []
    resumed = False
    last = run_dir / "last.pt"
    if resume and last.exists():
        ck = load_checkpoint(last, recipe=recipe)
        if ck.get("phase") == "online":
            learner.load_state_dict(ck["state"])
            start, rng_state, online = int(ck["episode"]), ck["rng"], list(ck["history"])
            resumed = True
    metrics = MetricsLogger(run_dir, len(history) + start if resumed else None, tensorboard=tensorboard, step_key=None)
    if not resumed:
        for row in history:
            metrics.log(row)
    try:

        def checkpoint(k, lrn, rng, row):
            online.append({"phase": "online", "episode": k, **row})
            metrics.log(online[-1])
            _save_policy(
                last,
                recipe,
                spec,
                cfg,
                lcfg,
                lrn.policy,
                phase="online",
                episode=k,
                state=lrn.state_dict(),
                rng=rng,
                history=online,
            )

        learner, _ = train_online(
            make_env,
            lcfg,
            episodes,
            learner=learner,
            time_limit_s=time_limit_s,
            log=log,
            start=start,
            rng_state=rng_state,
            checkpoint=checkpoint,
            progress=progress,
            description=f"{recipe} online episodes",
        )
    finally:
        metrics.close()
    return learner, history + online


def _start(recipe: str, spec: ProblemSpec, cfg, run_dir: str | Path, *hooks: str) -> Path:
    """Check the problem, make the run directory and write its ``config.json``."""
    _need(spec, recipe, *hooks)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        run_dir / "config.json",
        json.dumps({"recipe": recipe, "problem": spec.identity(), **to_dict(cfg)}, indent=2, default=str),
    )
    return run_dir


def _summary(run_dir: Path, **fields_) -> None:
    atomic_write_text(run_dir / "summary.json", json.dumps(fields_, indent=2, default=str))


# ------------------------------------------------------------------------------------------------ train
def train_mamrl(
    spec: ProblemSpec,
    cfg: MAMRLRecipeConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    verbose: bool = True,
    tensorboard: bool = False,
) -> TrainResult:
    """Teacher initialisation, MAML over the failure tasks, online episodes (see the module docstring)."""
    run_dir = _start("mamrl", spec, cfg, run_dir, "task_env", "tasks", "teacher")
    t0 = time.perf_counter()
    log = print if verbose else None
    lcfg = cfg.mamrl
    meta_path = run_dir / "meta_init.pt"
    if resume and meta_path.exists():
        ck = load_checkpoint(meta_path, recipe="mamrl")
        meta_state, meta_hist = ck["model"], list(ck["history"])
    else:
        if not resume:
            (run_dir / "metrics.jsonl").write_text("")
        # residual policies on the environment's prior start from it: no imitation
        init = None if lcfg.prior else teacher_init(spec, lcfg, cfg.teacher, log=log, progress=progress)
        limit = None if cfg.time_limit_s is None else 0.7 * cfg.time_limit_s

        def make_env(task):
            return spec.hooks["task_env"](task, lcfg.horizon)

        policy, meta_hist = meta_train(
            make_env,
            spec.hooks["tasks"](),
            lcfg,
            cfg.meta_iterations,
            time_limit_s=limit,
            log=log,
            init=init,
            progress=progress,
        )
        meta_state = policy.state_dict()
        _save_policy(meta_path, "mamrl", spec, cfg, lcfg, policy, phase="meta", history=meta_hist)
    limit = None if cfg.time_limit_s is None else 0.3 * cfg.time_limit_s
    learner, history = _online(
        "mamrl",
        spec,
        cfg,
        lcfg,
        run_dir,
        resume,
        cfg.episodes,
        limit,
        meta_state,
        [{"phase": "meta", **h} for h in meta_hist],
        log,
        progress,
        tensorboard,
    )
    _save_policy(run_dir / "best.pt", "mamrl", spec, cfg, lcfg, learner.policy, phase="done")
    wall = time.perf_counter() - t0
    online = [h for h in history if h.get("phase") == "online"]
    _summary(
        run_dir,
        recipe="mamrl",
        problem=spec.name,
        meta_iterations=len(meta_hist),
        online_episodes=len(online),
        wall_s=round(wall, 1),
    )
    episodes = 2 * lcfg.meta_batch * len(meta_hist) + len(online) + (0 if lcfg.prior else cfg.teacher.episodes)
    return TrainResult(run_dir, learner.policy, len(meta_hist) + len(online), episodes, wall, None, history)


def train_pg(
    spec: ProblemSpec,
    cfg: PGRecipeConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    verbose: bool = True,
    tensorboard: bool = False,
) -> TrainResult:
    """The independent per-router learner from random weights (see the module docstring)."""
    run_dir = _start("pg", spec, cfg, run_dir, "task_env")
    t0 = time.perf_counter()
    if not resume:
        (run_dir / "metrics.jsonl").write_text("")
    learner, history = _online(
        "pg",
        spec,
        cfg,
        cfg.pg,
        run_dir,
        resume,
        cfg.episodes,
        cfg.time_limit_s,
        None,
        [],
        print if verbose else None,
        progress,
        tensorboard,
    )
    _save_policy(run_dir / "best.pt", "pg", spec, cfg, cfg.pg, learner.policy, phase="done")
    wall = time.perf_counter() - t0
    _summary(run_dir, recipe="pg", problem=spec.name, online_episodes=len(history), wall_s=round(wall, 1))
    return TrainResult(run_dir, learner.policy, len(history), len(history), wall, None, history)


def train_q(
    spec: ProblemSpec,
    cfg: QRoutingConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    verbose: bool = True,
    tensorboard: bool = False,
) -> TrainResult:
    """Q-routing's warm-up episodes on the problem's network (its table keeps learning when evaluated)."""
    run_dir = _start("q-routing", spec, cfg, run_dir, "q_routing")
    t0 = time.perf_counter()
    q = spec.hooks["q_routing"](cfg.eta, cfg.loss_penalty)
    q.name = "q-routing"
    start, history, resumed = 0, [], False
    last = run_dir / "last.pt"
    if resume and last.exists():
        ck = load_checkpoint(last, recipe="q-routing", problem=spec)
        q.load_state_dict({"q": ck["q"].numpy()})
        start, history, resumed = int(ck["episode"]), list(ck["history"]), True
    env = spec.make_env()
    meta = {"recipe": "q-routing", "problem": spec.identity(), "config": to_dict(cfg)}
    metrics = MetricsLogger(run_dir, start if resumed else None, tensorboard=tensorboard, step_key="episode")
    try:
        with Progress(cfg.episodes, "q-routing warm-up episodes", enabled=progress, start=start) as bar:
            for k in range(start, cfg.episodes):
                res = run_episode(q, env, 50_000 + 1000 * cfg.seed + k)
                history.append({"episode": k + 1, **res.metrics})
                metrics.log(history[-1])
                save_checkpoint(last, {**meta, "q": torch.as_tensor(q.q), "episode": k + 1, "history": history})
                bar.update(1)
    finally:
        metrics.close()
    save_checkpoint(
        run_dir / "best.pt", {**meta, "q": torch.as_tensor(q.q), "episode": cfg.episodes, "history": history}
    )
    return TrainResult(run_dir, q, cfg.episodes, cfg.episodes, time.perf_counter() - t0, None, history)


# ------------------------------------------------------------------------------------------------ load
def load_router_policy(checkpoint: str | Path, spec: ProblemSpec | None = None) -> tuple[RouterPolicies, dict]:
    """The :class:`RouterPolicies` of a ``mamrl`` / ``pg`` checkpoint and the checkpoint."""
    ckpt = load_checkpoint(Path(checkpoint), recipe=("mamrl", "pg"), problem=spec)
    try:
        pol = RouterPolicies(**ckpt["policy_config"])
        pol.load_state_dict(ckpt["model"])
    except (TypeError, KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"{checkpoint}: weights do not match the stored policy config ({str(exc)[:200]})"
        ) from None
    return pol, ckpt


def load_learner(
    checkpoint: str | Path, spec: ProblemSpec | None = None, *, learn: bool = False, name: str | None = None
) -> RouterPolicyController:
    """A trained MAMRL / PG policy as a controller (sampling its actions; ``learn``: keeps learning online)."""
    from ..config import build

    pol, ckpt = load_router_policy(checkpoint, spec)
    lcfg = build(MAMRLConfig, ckpt["learner"])
    return RouterPolicyController(policy=pol, cfg=lcfg, learn=learn, name=name or ckpt["recipe"])


def load_q(checkpoint: str | Path, spec: ProblemSpec | None = None, name: str | None = None):
    """A Q-routing controller with a trained table (it keeps learning online, as Q-routing does)."""
    from ..config import build
    from ..registry import problem_of

    ckpt = load_checkpoint(Path(checkpoint), recipe="q-routing", problem=spec)
    spec = spec or problem_of(ckpt["problem"])
    cfg = build(QRoutingConfig, ckpt["config"])
    q = spec.hooks["q_routing"](cfg.eta, cfg.loss_penalty)
    try:
        q.load_state_dict({"q": ckpt["q"].numpy()})
    except ConfigError as exc:
        raise CheckpointError(f"{checkpoint}: {exc}") from None
    q.name = name or "q-routing"
    return q


def _register() -> None:
    register_recipe(
        Recipe(
            "mamrl",
            "MAMRL: teacher initialisation, first-order MAML over link failures, online policy gradient with consensus",
            MAMRLRecipeConfig,
            train_mamrl,
            load_learner,
            budget="episodes",
            time_limit="time_limit_s",
        )
    )
    register_recipe(
        Recipe(
            "pg",
            "independent per-router policy gradient (no consensus, no meta-learning)",
            PGRecipeConfig,
            train_pg,
            load_learner,
            budget="episodes",
            time_limit="time_limit_s",
            resumable=("episodes", "time_limit_s"),
        )
    )
    register_recipe(
        Recipe(
            "q-routing",
            "Q-routing (Boyan and Littman 1994), online",
            QRoutingConfig,
            train_q,
            load_q,
            budget="episodes",
            resumable=("episodes",),
        )
    )


_register()
