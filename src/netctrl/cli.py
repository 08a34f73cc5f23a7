"""The ``netctrl`` command: ``list``, ``train``, ``eval``, ``demo``, ``sweep``.

Thin on purpose: every command resolves an experiment (:func:`netctrl.config.experiment`: the problem, the
user's file, settings, the recipe and its config, validated) and dispatches through the registries; nothing
here knows a problem family. A user's error (a malformed file, an unknown key, a foreign checkpoint) is printed
as one line naming the field or cause, with exit status 2.

**Errors.** An expected error (a bad option or value, a malformed file, a foreign or corrupt checkpoint, an
infeasible problem, a file that cannot be read or written) is printed as one line on stderr, ``Error: <cause>``,
and ends the command with the exit status of its kind (:data:`netctrl.errors.EXIT_CODES`: 2 command line or
configuration, 3 input file or graph, 4 checkpoint, 5 solver, 6 action, 7 missing extra, 8 file system, 130
interrupted, 9 Ray worker lost). ``netctrl --debug ...`` (or ``NETCTRL_DEBUG=1``) shows the full traceback
instead. Anything else is a bug: it keeps its traceback and exit status 1.

Benchmarks are scripts of a source checkout (``python benchmarks/<name>.py``), not commands of the package.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 vendors click
    from typer import _click as click
except ImportError:  # pragma: no cover
    import click  # type: ignore[no-redef]


def _debug(args) -> bool:
    return "--debug" in (args or ()) or os.environ.get("NETCTRL_DEBUG", "").lower() not in ("", "0", "false", "no")


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


class _Group(TyperGroup):
    """The ``netctrl`` group: every expected error becomes one line on stderr and its exit status (the group always
    ends the process, also when invoked with ``standalone_mode=False``)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        from .errors import NetctrlError

        argv = list(sys.argv[1:] if args is None else args)
        try:
            rc = super().main(argv, "netctrl", complete_var, standalone_mode=False, **extra)
        except click.exceptions.UsageError as exc:
            if exc.ctx is not None and type(exc).__name__ == "NoArgsIsHelpError":  # bare `netctrl`: its help
                click.echo(exc.ctx.get_help())
                sys.exit(0)
            cmd = exc.ctx.command_path if exc.ctx is not None else "netctrl"
            _fail(f"{exc.format_message()} (see '{cmd} --help')", exc.exit_code)
        except click.exceptions.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except (typer.Abort, KeyboardInterrupt):
            rc = 130
        except NetctrlError as exc:
            if _debug(argv):
                raise
            _fail(str(exc), exc.exit_code)
        except OSError as exc:  # missing file, permission denied, disk full ...
            if _debug(argv):
                raise
            where = f" ({exc.filename})" if exc.filename and str(exc.filename) not in str(exc.strerror) else ""
            _fail(f"{exc.strerror or exc}{where}", 8)
        if rc == 130:
            click.echo("Interrupted: a training run keeps its last checkpoint (continue it with --resume).", err=True)
        sys.exit(rc if isinstance(rc, int) else 0)


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Learn to control flows on networks. `netctrl list` shows the problems, their baselines and "
    "training recipes. Errors are one line; exit status 2 command line or config, 3 input "
    "file, 4 checkpoint, 5 solver, 6 action, 7 missing extra, 8 file system, 9 Ray worker; --debug shows "
    "tracebacks.",
)

ProblemArg = Annotated[
    str | None,
    typer.Argument(
        help="problem: an instance (mobility/nyc_brooklyn, routing/b4, ...) or, with --scenario, a family (mobility, "
        "supply_chain, network_flow, routing, critical_node, toll_design); see `netctrl list`"
    ),
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--scenario",
        "--topology",
        "--instance",
        help="your own file for the family (a city/supply-network/toll JSON file, a topology JSON file or topohub key, "
        "an MCN instance file); see `netctrl list FAMILY` for its format",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="an experiment file (TOML or YAML: problem, scenario, settings, algo, seed, config sections); "
        "command-line options win over it",
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="key=value: a family setting (demand_ratio=2) or a recipe option (iterations=100, "
        "policy.hidden=32); bare keys must be unambiguous (repeatable)",
    ),
]


def _print_version(value: bool) -> None:
    if value:
        from ._version import __version__

        typer.echo(f"netctrl {__version__}")
        raise typer.Exit()


@app.callback()
def _setup(
    threads: Annotated[int, typer.Option(min=1, help="torch threads (1 is fastest for these small graphs)")] = 1,
    debug: Annotated[
        bool, typer.Option("--debug", help="show the full traceback of an error (also NETCTRL_DEBUG=1)")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    from .train import configure_threads

    configure_threads(threads)


def _positive(**options: float | None) -> None:
    from .errors import ConfigError

    for name, value in options.items():
        if value is not None and not value > 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be > 0 (got {value})")


# ------------------------------------------------------------------------------------------------ list
@app.command("list")
def list_cmd(family: Annotated[str | None, typer.Argument(help="one family (default: all)")] = None) -> None:
    """List the problem families: their instances (and Gymnasium ids), baselines, recipes, settings and files."""
    import dataclasses

    from .registry import get_family, get_problem, get_recipe, list_families, list_problems, list_recipes

    for name in [get_family(family).name] if family else list_families():
        fam = get_family(name)
        typer.secho(f"{fam.name}: {fam.description} [{fam.kind}]", bold=True)
        instances = list_problems(fam.name)
        for inst in instances:
            spec = get_problem(inst)
            env_id = f"  [{spec.env_id}]" if spec.env_id else ""
            typer.echo(f"    {inst}{env_id}  {spec.description}")
        spec = get_problem(instances[0])
        typer.echo(
            f"  baselines: {', '.join(spec.baselines(0))}"
            + (f" (reference for %: {spec.reference})" if spec.reference else "")
        )
        if spec.lowers:
            typer.echo(f"  lower levels: {', '.join(spec.lowers)}")
        typer.echo("  recipes (--algo, first = default): " + ", ".join(spec.recipes))
        settings = ", ".join(f"{f.name}={getattr(spec.settings, f.name)!r}" for f in dataclasses.fields(fam.settings))
        typer.echo(f"  settings (--set): {settings}")
        typer.echo(f"  your own (--{fam.source_option}): {fam.source_help}")
    shown = [r for r in list_recipes() if family is None or r in spec.recipes]
    typer.secho("recipes:", bold=True)
    for r in shown:
        rec = get_recipe(r)
        extra = ", ".join(
            x
            for x in (
                rec.budget and f"--iterations sets {rec.budget}",
                rec.time_limit and f"--time-limit sets {rec.time_limit}",
            )
            if x
        )
        typer.echo(f"    {r}: {rec.description}" + (f" ({extra})" if extra else ""))


# ------------------------------------------------------------------------------------------------ train
@app.command()
def train(
    problem: ProblemArg = None,
    scenario: SourceOpt = None,
    config: ConfigOpt = None,
    algo: Annotated[str | None, typer.Option(help="recipe (default: the problem's first; see `netctrl list`)")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="the one seed of the run (default 0)")] = None,
    iterations: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="the recipe's budget: PPO iterations, A2C episodes, online episodes, DQN updates, outer iterations",
        ),
    ] = None,
    time_limit: Annotated[float | None, typer.Option(min=0, help="stop training after this many seconds (> 0)")] = None,
    run_dir: Annotated[Path | None, typer.Option(help="where checkpoints, metrics and config.toml go")] = None,
    resume: Annotated[bool, typer.Option(help="continue the run in --run-dir from its last checkpoint")] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            help="replace the run that --run-dir holds (its checkpoints, config and metrics are deleted first)"
        ),
    ] = False,
    set_: SetOpt = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar (on stderr, when it is a terminal)")] = True,
    tensorboard: Annotated[
        bool,
        typer.Option(
            "--tensorboard",
            help="also log the metrics to TensorBoard event files in <run-dir>/tensorboard/ (needs the "
            "tensorboard extra; --resume continues the log)",
        ),
    ] = False,
    workers: Annotated[
        int, typer.Option(min=0, help="PPO rollouts on N Ray actors (needs the ray extra); 0: this process")
    ] = 0,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster to use (e.g. auto, ray://host:10001)")] = None,
) -> None:
    """Train a controller; writes best.pt (the one to evaluate), last.pt, config.toml (the resolved experiment:
    `netctrl train --config <run>/config.toml --run-dir <new>` repeats it) and metrics to the run directory."""
    from .config import experiment, parse_sets
    from .recipes import train_experiment

    _positive(time_limit=time_limit)
    sets = parse_sets(set_)
    if workers:
        sets["workers"] = workers
    exp = experiment(
        config,
        problem=problem,
        scenario=scenario,
        algo=algo,
        seed=seed,
        run_dir=None if run_dir is None else str(run_dir),
        sets=sets,
        iterations=iterations,
        time_limit=time_limit,
    )
    if workers:
        from .scale import init_ray

        init_ray(ray_address)
    res = train_experiment(
        exp, resume=resume, progress=progress, verbose=True, overwrite=overwrite, tensorboard=tensorboard
    )
    spec, recipe, rd = exp.spec, exp.recipe, exp.run_dir
    best = "" if res.best_eval is None else f"; best validation reward {res.best_eval:.6g}"
    typer.echo(
        f"trained {recipe.name} on {spec.name}: {res.iterations} iterations ({res.episodes} episodes) in "
        f"{res.wall_s:.1f}s{best}; run directory {rd}"
    )


# ------------------------------------------------------------------------------------------------ eval
@app.command("eval")
def eval_cmd(
    problem: ProblemArg = None,
    scenario: SourceOpt = None,
    config: ConfigOpt = None,
    checkpoint: Annotated[
        list[Path] | None, typer.Option(help="trained controller(s) (a run's best.pt; repeatable)")
    ] = None,
    baselines: Annotated[
        str | None, typer.Option(help="comma-separated baselines, 'all' or 'none' (default all)")
    ] = None,
    episodes: Annotated[
        int | None, typer.Option(min=1, help="episodes on the problem's test seeds (default 10)")
    ] = None,
    pretrained: Annotated[
        bool,
        typer.Option(
            "--pretrained", help="also evaluate the controller shipped with netctrl for this problem (no training)"
        ),
    ] = False,
    set_: SetOpt = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the rows as JSON")] = None,
    progress: Annotated[
        bool, typer.Option(help="show a progress bar: controller, episodes, steps (on stderr, when it is a terminal)")
    ] = True,
) -> None:
    """Evaluate trained controllers and baselines on the same test seeds; print reward and % of the reference."""
    from . import recipes
    from .config import experiment, parse_sets
    from .errors import ConfigError
    from .evaluate import compare, print_table, rows_to_records, table_keys

    sets = parse_sets(set_)
    if episodes is not None:
        sets["eval.episodes"] = episodes
    if baselines is not None:
        sets["eval.baselines"] = baselines
    exp = experiment(config, problem=problem, scenario=scenario, sets=sets, need_recipe=False)
    spec = exp.spec
    available = spec.baselines(0)
    wanted = exp.eval.baselines
    names = list(available) if wanted == "all" else [] if wanted == "none" else [b.strip() for b in wanted.split(",")]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ConfigError(f"unknown baseline(s) {unknown}; {spec.name} has: {', '.join(available)}")
    controllers = {}
    if pretrained:
        from .pretrained import load_pretrained

        agent = load_pretrained(spec.name, spec=spec)
        controllers[agent.name] = agent
    for path in checkpoint or []:
        agent = recipes.load(path, spec)
        if agent.name in controllers or agent.name in names:
            agent.name = f"{agent.name}:{path.parent.name}"
        controllers[agent.name] = agent
    controllers.update({n: available[n] for n in names})
    if not controllers:
        raise ConfigError("nothing to evaluate: give --checkpoint, --pretrained or baselines")
    seeds = _test_seeds(spec, exp.eval.episodes)
    rows = compare(spec, controllers, seeds, progress=progress)
    records = rows_to_records(spec, rows)
    print_table(f"{spec.name}: {len(seeds)} episodes, seeds {seeds[0]}..{seeds[-1]}", records, table_keys(spec))
    if spec.kind == "instance" and len(seeds) == 1:  # one instance: show each controller's solution
        for row in rows:
            info = row.result.episodes[0].last_info
            typer.echo(f"{row.controller}: " + "; ".join(f"{k} {_short(v)}" for k, v in info.items()))
    if json_out:
        from .train import atomic_write_text

        atomic_write_text(json_out, json.dumps(records, indent=2))


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list) and len(value) > 12:
        return "[" + ", ".join(_short(v) for v in value[:12]) + f", ... ({len(value)} values)]"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)


def _test_seeds(spec, episodes: int) -> list[int]:
    """The first ``episodes`` test seeds, extended by the seeds after the last one (a problem with one instance
    has one)."""
    seeds = list(spec.test_seeds)
    if len(seeds) == 1:
        return seeds
    while len(seeds) < episodes:
        seeds.append(seeds[-1] + 1)
    return seeds[:episodes]


@app.command("generate-city")
def generate_city_cmd(
    regions: Annotated[int, typer.Argument(help="number of regions (2-2000)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the city JSON file to write")],
    seed: Annotated[int, typer.Option(help="seed of every draw (region centres, populations)")] = 0,
    layout: Annotated[str, typer.Option(help="planar (Delaunay graph of random centres) or grid")] = "planar",
    pairs: Annotated[str, typer.Option(help="adjacent (intra-region and adjacent pairs) or all")] = "adjacent",
    trips: Annotated[float, typer.Option(help="requests per region and hour, on average")] = 80.0,
) -> None:
    """Write a synthetic city in the scenario format (gravity-model demand with a time-of-day profile; the rules
    are in netctrl.problems.mobility.generate). Use it with `--scenario FILE`, or skip the file:
    `--scenario generated/REGIONS/SEED`."""
    from .problems.mobility.generate import generate_city
    from .train import atomic_write_text

    city = generate_city(regions, seed=seed, layout=layout, pairs=pairs, trips_per_region_hour=trips)
    atomic_write_text(out, json.dumps(city, separators=(",", ":")))
    typer.echo(
        f"wrote {out}: {regions} regions, {len(city['topology_graph'])} adjacent pairs, "
        f"fleet {city['totalAcc'][0]['acc']}, {len(city['demand'])} demand records"
    )


# ------------------------------------------------------------------------------------------------ demo
@app.command("pretrained")
def pretrained_cmd(family: Annotated[str | None, typer.Argument(help="one family (default: all)")] = None) -> None:
    """List the controllers shipped with netctrl: evaluate one with `netctrl eval PROBLEM --pretrained`, load
    it in Python with `netctrl.load_pretrained(PROBLEM)`."""
    from .pretrained import list_pretrained

    items = list_pretrained(family)
    if not items:
        typer.echo(f"no pretrained controllers{f' for {family}' if family else ''}")
        return
    for p in items:
        others = [a for a in p.applies_to if a != p.problem]
        typer.echo(f"{p.problem}  [{p.recipe}, {p.bytes / 1e6:.2f} MB]")
        if others:
            typer.echo(f"    also the default for: {', '.join(others)}")
        typer.echo(f"    trained with: {p.command}")
        if p.notes:
            typer.echo(f"    {p.notes}")


@app.command()
def demo(
    problem: Annotated[
        str, typer.Argument(help="problem to demo (default mobility/nyc_brooklyn)")
    ] = "mobility/nyc_brooklyn",
    scenario: SourceOpt = None,
    algo: Annotated[str | None, typer.Option(help="recipe (default: the problem's first)")] = None,
    minutes: Annotated[float, typer.Option(min=0, help="training budget in minutes (> 0)")] = 4.0,
    episodes: Annotated[int, typer.Option(min=1, help="evaluation episodes (test seeds)")] = 10,
    out: Annotated[
        Path, typer.Option(help="output directory (run, table, plot); a previous demo there is replaced")
    ] = Path("runs/demo"),
    seed: Annotated[int, typer.Option(min=0, help="seed")] = 0,
    iterations: Annotated[
        int | None, typer.Option(min=1, help="cap on the recipe's budget (tests use a tiny one)")
    ] = None,
    set_: SetOpt = None,
) -> None:
    """Train a controller briefly, then compare it with the oracle (or exact solver), heuristics and random."""
    from .config import parse_sets
    from .demo import run_demo

    _positive(minutes=minutes)
    run_demo(
        problem,
        minutes=minutes,
        episodes=episodes,
        out=out,
        seed=seed,
        iterations=iterations,
        algo=algo,
        scenario=scenario,
        sets=parse_sets(set_),
    )


# ------------------------------------------------------------------------------------------------ sweep
@app.command()
def sweep(
    problems: Annotated[list[str], typer.Argument(help="problem(s), e.g. network_flow/gabriel-20 supply_chain/1f2s")],
    algo: Annotated[str, typer.Option(help="recipe")] = "bilevel-ppo",
    seeds: Annotated[str, typer.Option(help="comma-separated seeds")] = "0",
    grid: Annotated[list[str] | None, typer.Option(help="hyper-parameter values key=v1,v2 (repeatable)")] = None,
    set_: SetOpt = None,
    minutes: Annotated[float | None, typer.Option(min=0, help="training budget per job, minutes (> 0)")] = None,
    runs: Annotated[Path, typer.Option(help="run directories (shared storage on a cluster)")] = Path("runs/sweep"),
    out: Annotated[Path, typer.Option(help="results file")] = Path("runs/sweep/sweep.json"),
    ray: Annotated[bool, typer.Option(help="run jobs as Ray tasks (--no-ray: one after the other here)")] = True,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster (e.g. auto, ray://host:10001)")] = None,
    progress: Annotated[
        bool, typer.Option(help="show a progress bar over the jobs (on stderr, when a terminal)")
    ] = True,
) -> None:
    """Train seeds x problems x hyper-parameters (Ray tasks, or in this process) and write validation rows."""
    from .config import parse_sets
    from .errors import ConfigError
    from .evaluate import print_table
    from .results import command_line
    from .sweep import parse_grid, run_sweep, sweep_jobs

    _positive(minutes=minutes)
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seeds expects comma-separated integers (got {seeds!r})") from None
    grid_values: dict[str, Sequence[Any]] = dict(parse_grid(grid))
    jobs = sweep_jobs(problems, seed_list, grid_values, algo=algo, fixed=parse_sets(set_), runs=runs)
    typer.echo(f"{len(jobs)} job(s) on {'Ray' if ray else 'this process'}")
    doc = run_sweep(
        jobs,
        minutes=minutes,
        use_ray=ray,
        ray_address=ray_address,
        out=out,
        command=command_line(),
        progress=progress,
    )
    print_table(
        f"sweep ({doc['backend']}, validation seeds)",
        doc["rows"],
        ["scenario", "controller", "seed", "reward_mean", "reward_std", "train_wall_s"],
    )
    typer.echo(f"wrote {out}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
