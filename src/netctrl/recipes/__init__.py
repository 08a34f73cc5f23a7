"""Recipes: how each kind of controller is trained and loaded, selected by name (``netctrl train --algo``).

Each recipe is a config dataclass (its sections: the algorithm's and the policy's configs), ``train(spec, cfg,
run_dir, resume)`` and ``load(checkpoint, spec) -> Controller``, registered in :mod:`netctrl.registry`:

============================  ================================================================================
``bilevel-ppo``, ``bilevel-a2c``  bi-level agents of the flow families (desired next state + LP), :mod:`.bilevel`
``edge-ppo``, ``edge-a2c``    the naive edge-level agents, :mod:`.bilevel`
``mamrl``, ``pg``, ``q-routing``  multi-agent packet routing, :mod:`.routing`
``multil-cur``, ``multil-dqn``  value functions of multilevel games on graphs, :mod:`.curriculum`
``hypergrad``                 toll design by hyper-gradient, :mod:`.hypergrad`
============================  ================================================================================

Recipes read what they need from the problem spec (its environments, lower levels and hooks) and import no
problem package. Every recipe writes the one checkpoint format of :mod:`netctrl.train` (``best.pt`` is the
controller to evaluate) and returns a :class:`~netctrl.train.TrainResult`.
"""

from __future__ import annotations

from pathlib import Path

from . import bilevel, curriculum, hypergrad, routing  # noqa: F401  (register the recipes)


def train_experiment(
    exp,
    resume: bool = False,
    progress: bool = True,
    verbose: bool = True,
    overwrite: bool = False,
    tensorboard: bool = False,
):
    """Run a resolved experiment (:func:`netctrl.config.experiment`): refuse a run directory that already holds a
    run unless ``resume`` (then check the experiment against its ``config.toml`` and continue) or ``overwrite``
    (then delete that run's files first), write ``config.toml``, train. ``exp.run_dir`` defaults to
    ``runs/<problem>__<recipe>__<seed>__<time>``. ``tensorboard``: the metrics also go to TensorBoard event
    files in ``<run_dir>/tensorboard/`` (needs the ``tensorboard`` extra; a resumed run continues that log)."""
    from ..config import check_resume
    from ..errors import ConfigError
    from ..train import RUN_FILES, clean_stale_temporaries, remove_run_files, require_tensorboard, run_name

    if tensorboard:
        require_tensorboard()  # before anything is written

    spec, recipe = exp.spec, exp.recipe
    run_dir = Path(exp.run_dir) if exp.run_dir else Path("runs") / run_name(spec.name, recipe.name, exp.seed)
    exp.run_dir = str(run_dir)
    if resume and overwrite:
        raise ConfigError("--resume continues a run and --overwrite deletes it: give one of them")
    held = [f for f in RUN_FILES if (run_dir / f).exists()]
    if resume:
        check_resume(exp, run_dir / "config.toml")
    elif held and overwrite:
        remove_run_files(run_dir, tuple(held))
    elif held:
        raise ConfigError(
            f"{run_dir} already holds a run ({', '.join(held)}); continue it with --resume, replace "
            "it with --overwrite, or choose another --run-dir"
        )
    if run_dir.is_dir():  # recipes that write without a Checkpointer (routing, curriculum ...)
        clean_stale_temporaries(run_dir)
    exp.write(run_dir / "config.toml")
    extra = {"tensorboard": True} if tensorboard else {}  # recipes registered elsewhere may not take it
    return recipe.train(spec, exp.config, run_dir, resume=resume, progress=progress, verbose=verbose, **extra)


def train(
    problem,
    algo: str | None = None,
    run_dir: str | Path | None = None,
    *,
    scenario: str | None = None,
    seed: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    verbose: bool = False,
    tensorboard: bool = False,
    **sets,
):
    """Train ``algo`` (default: the problem's first recipe) on ``problem`` (a name, a spec, or with ``scenario`` a
    family) -- what ``netctrl train`` does, from Python; ``sets`` are config options by (bare or qualified)
    name, as ``--set`` takes them: ``train("supply_chain/1f2s", "bilevel-ppo", "runs/x", iterations=50)``.
    Returns the recipe's :class:`~netctrl.train.TrainResult`; the run directory (default ``runs/<name>``)
    gets ``config.toml`` too, except for a spec given as an object (which no file can name). ``progress``: bars
    on stderr (when it is a terminal); ``tensorboard``: the metrics also go to ``<run_dir>/tensorboard/``."""
    from ..config import experiment, route_sets
    from ..registry import ProblemSpec, get_recipe
    from ..train import run_name

    if isinstance(problem, ProblemSpec):
        recipe = get_recipe(algo or problem.default_recipe)
        _, tree, _ = route_sets(sets, None, recipe.config)
        cfg = recipe.make_config(problem, tree, seed=seed)
        run_dir = Path(run_dir) if run_dir is not None else Path("runs") / run_name(problem.name, recipe.name, seed)
        extra = {"tensorboard": True} if tensorboard else {}
        return recipe.train(problem, cfg, run_dir, resume=resume, progress=progress, verbose=verbose, **extra)
    exp = experiment(
        problem=problem,
        scenario=scenario,
        algo=algo,
        seed=seed,
        sets=sets,
        run_dir=None if run_dir is None else str(run_dir),
    )
    return train_experiment(
        exp, resume=resume, progress=progress, verbose=verbose, overwrite=overwrite, tensorboard=tensorboard
    )


def load(checkpoint: str | Path, spec=None, name: str | None = None):
    """The controller of any recipe's checkpoint (the recipe is read from the checkpoint); ``spec``: the problem
    it will act on (its family must be the one it was trained on)."""
    from ..registry import get_recipe
    from ..train import load_checkpoint

    ck = load_checkpoint(Path(checkpoint), problem=spec)
    return get_recipe(ck["recipe"]).load(checkpoint, spec, name=name)
