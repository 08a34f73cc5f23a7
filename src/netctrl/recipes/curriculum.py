"""Recipes of multilevel games on graphs: MultiL-Cur (the budget curriculum) and MultiL-DQN.

Both learn a value function of the problem's game (hook ``game(features)`` -> a game object of
:mod:`netctrl.algos.curriculum`; for the critical-node family, random graphs of the D1 distribution), then
play any instance of the problem with it, for every player (:class:`~netctrl.algos.curriculum.ValueFunctionController`;
``lookahead_width`` > 0: with the two-ply look-ahead of that width).

``multil-cur`` checkpoints after every budget stage (``last.pt``) and resumes exactly after the last finished
stage; ``multil-dqn`` (wall-time-limited Q-learning from a replay memory) has no mid-run checkpoint: an
interrupted run starts over. ``best.pt`` holds the trained value function. Metrics (a row per stage, or per
``target_every`` DQN updates) go through :class:`~netctrl.train.MetricsLogger` as they come (``metrics.jsonl``,
``metrics.csv`` and, with ``tensorboard``, ``tensorboard/``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..algos.curriculum import (
    CurriculumConfig,
    DQNConfig,
    ValueFunctionController,
    ValueFunctionResult,
    load_value_function,
    save_value_function,
    train_curriculum,
    train_dqn,
)
from ..config import to_dict
from ..errors import CheckpointError, ConfigError
from ..registry import ProblemSpec, Recipe, register_recipe
from ..train import MetricsLogger, TrainResult, atomic_write_text, load_checkpoint, save_checkpoint

FEATURE_SETS = ("hybrid", "absolute", "relative", "clipped")


@dataclass(frozen=True)
class CurRecipeConfig:
    """MultiL-Cur: experts for total budgets 1..max_budget, each labelled by the previous ones."""

    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    features: str = "hybrid"
    """the game's feature set (``hybrid``, ``absolute``, ``relative``, ``clipped``; see the family's ``features``)."""
    lookahead_width: int = 0
    """play with a two-ply look-ahead over this many best afterstates (0: greedy, as published)."""

    def __post_init__(self) -> None:
        _check_play(self)


@dataclass(frozen=True)
class DQNRecipeConfig:
    """MultiL-DQN: one value network for every budget, Q-learning on afterstates."""

    dqn: DQNConfig = field(default_factory=DQNConfig)
    features: str = "hybrid"
    """the game's feature set (as for ``multil-cur``)."""
    lookahead_width: int = 0
    """play with a two-ply look-ahead over this many best afterstates (0: greedy)."""

    def __post_init__(self) -> None:
        _check_play(self)


def _check_play(cfg) -> None:
    if cfg.features not in FEATURE_SETS:
        raise ConfigError(f"'features' must be one of {FEATURE_SETS} (got {cfg.features!r})")
    if cfg.lookahead_width < 0:
        raise ConfigError(f"'lookahead_width' >= 0 expected (got {cfg.lookahead_width})")


def _game(spec: ProblemSpec, recipe: str, features: str):
    if "game" not in spec.hooks:
        raise ConfigError(
            f"recipe {recipe!r} learns the value function of a game; {spec.name} has none "
            f"(its recipes: {', '.join(spec.recipes) or 'none'})"
        )
    return spec.hooks["game"](features)


def _finish(kind: str, spec: ProblemSpec, cfg, res: ValueFunctionResult, run_dir: Path) -> TrainResult:
    meta = {"recipe": kind, "problem": spec.identity(), "recipe_config": to_dict(cfg)}
    save_value_function(run_dir / "best.pt", res, kind, meta)
    atomic_write_text(run_dir / "config.json", json.dumps({**meta, "config": res.config}, indent=2, default=str))
    return TrainResult(
        run_dir, res.nets, len(res.history), 0, res.wall_s, None, res.history, extra={"encoding": res.encoding}
    )


def train_cur(
    spec: ProblemSpec,
    cfg: CurRecipeConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    verbose: bool = True,
    tensorboard: bool = False,
) -> TrainResult:
    game = _game(spec, "multil-cur", cfg.features)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    last = run_dir / "last.pt"
    meta = {"recipe": "multil-cur", "problem": spec.identity(), "recipe_config": to_dict(cfg)}
    state = None
    if resume and last.exists():
        ck = load_checkpoint(last, recipe="multil-cur", problem=spec)
        if ck.get("recipe_config") != meta["recipe_config"]:
            raise CheckpointError(f"{last}: made with another config; use another run directory")
        state = ck["stage"]
    done = None if state is None else len(state["history"])
    metrics = MetricsLogger(run_dir, done, tensorboard=tensorboard, step_key="budget")

    def on_stage(st: dict) -> None:
        metrics.log(st["history"][-1])
        save_checkpoint(last, {**meta, "stage": st})

    try:
        res = train_curriculum(
            game,
            cfg.curriculum,
            log=print if verbose else (lambda *_: None),
            state=state,
            on_stage=on_stage,
            progress=progress,
        )
    finally:
        metrics.close()
    return _finish("multil-cur", spec, cfg, res, run_dir)


def train_dqn_recipe(
    spec: ProblemSpec,
    cfg: DQNRecipeConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    verbose: bool = True,
    tensorboard: bool = False,
) -> TrainResult:
    game = _game(spec, "multil-dqn", cfg.features)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics = MetricsLogger(run_dir, tensorboard=tensorboard, step_key="update")
    try:
        res = train_dqn(
            game, cfg.dqn, log=print if verbose else (lambda *_: None), on_record=metrics.log, progress=progress
        )
    finally:
        metrics.close()
    return _finish("multil-dqn", spec, cfg, res, run_dir)


def load_value(
    checkpoint: str | Path, spec: ProblemSpec | None = None, name: str | None = None, features: str | None = None
):
    """``(value function, checkpoint)``, on a game with the encoding it was trained with (from the problem's
    ``game`` hook, or the critical-node game when no problem is given)."""
    ck = load_checkpoint(Path(checkpoint), recipe=("multil-cur", "multil-dqn"), problem=spec)
    trained = ck.get("encoding") or {"features": "absolute"}  # checkpoints without one: the absolute features
    make_game = spec.hooks["game"] if spec is not None and "game" in spec.hooks else None
    if make_game is None:
        from ..registry import problem_of

        make_game = problem_of(ck.get("problem") or {"name": "critical_node/d1"}).hooks["game"]
    return load_value_function(checkpoint, make_game(trained.get("features", features or "hybrid")))


def load(checkpoint: str | Path, spec: ProblemSpec | None = None, name: str | None = None) -> ValueFunctionController:
    """The learned value function of a checkpoint playing every player (with its recorded look-ahead width)."""
    vf, ck = load_value(checkpoint, spec)
    width = int((ck.get("recipe_config") or {}).get("lookahead_width", 0))
    if width:
        vf = vf.searching(2, width)
    label = name or (ck.get("recipe") or ck.get("kind")) + ("-la2" if width else "")
    return ValueFunctionController(vf, name=label)


def _register() -> None:
    register_recipe(
        Recipe(
            "multil-cur",
            "MultiL-Cur: value-function experts learned budget by budget (curriculum)",
            CurRecipeConfig,
            train_cur,
            load,
            time_limit="curriculum.time_limit_s",
            aliases=("cur",),
        )
    )
    register_recipe(
        Recipe(
            "multil-dqn",
            "MultiL-DQN: one value network, Q-learning on afterstates",
            DQNRecipeConfig,
            train_dqn_recipe,
            load,
            budget="dqn.updates",
            time_limit="dqn.time_limit_s",
            aliases=("dqn",),
        )
    )


_register()
