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


def train(problem, algo: str | None = None, run_dir: str | Path | None = None, *, scenario: str | None = None,
          seed: int = 0, resume: bool = False, progress: bool = False, verbose: bool = False, **sets):
    """Train ``algo`` (default: the problem's first recipe) on ``problem`` (a name, a spec, or with ``scenario`` a
    family) -- what ``netctrl train`` does, from Python; ``sets`` are config options by (bare or qualified)
    name, as ``--set`` takes them: ``train("supply_chain/1f2s", "bilevel-ppo", "runs/x", iterations=50)``.
    Returns the recipe's :class:`~netctrl.train.TrainResult`; ``run_dir`` (default ``runs/<name>``) gets
    ``config.toml`` too."""
    from ..config import experiment
    from ..registry import ProblemSpec, get_recipe
    from ..train import run_name

    if isinstance(problem, ProblemSpec):
        recipe = get_recipe(algo or problem.default_recipe)
        from ..config import route_sets

        _, tree, _ = route_sets(sets, None, recipe.config)
        cfg = recipe.make_config(problem, tree, seed=seed)
        spec = problem
    else:
        exp = experiment(problem=problem, scenario=scenario, algo=algo, seed=seed, sets=sets)
        spec, recipe, cfg = exp.spec, exp.recipe, exp.config
    run_dir = Path(run_dir) if run_dir is not None else Path("runs") / run_name(spec.name, recipe.name, seed)
    if not isinstance(problem, ProblemSpec):
        from ..config import check_resume

        exp.run_dir = str(run_dir)
        if resume:
            check_resume(exp, run_dir / "config.toml")
        exp.write(run_dir / "config.toml")
    return recipe.train(spec, cfg, run_dir, resume=resume, progress=progress, verbose=verbose)


def load(checkpoint: str | Path, spec=None, name: str | None = None):
    """The controller of any recipe's checkpoint (the recipe is read from the checkpoint); ``spec``: the problem
    it will act on (its family must be the one it was trained on)."""
    from ..registry import get_recipe
    from ..train import load_checkpoint

    ck = load_checkpoint(Path(checkpoint), problem=spec)
    return get_recipe(ck["recipe"]).load(checkpoint, spec, name=name)
