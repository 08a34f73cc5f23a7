"""The ``netctrl`` command: ``list``, ``demo``, ``train``, ``eval``, ``bench``.

Thin on purpose: every command builds the dataclass configs and calls :mod:`netctrl.runner`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Learn to control flows on networks.")


@app.callback()
def _setup(threads: Annotated[int, typer.Option(help="torch threads (1 is fastest for these small graphs)")] = 1) -> None:
    from .train import configure_threads

    configure_threads(threads)

ProblemArg = Annotated[str, typer.Argument(help="problem, e.g. mobility/nyc_brooklyn (see `netctrl list`)")]


def _parse_sets(values: list[str] | None) -> dict:
    """``key=value`` pairs (values parsed as JSON when possible)."""
    out = {}
    for item in values or []:
        if "=" not in item:
            raise typer.BadParameter(f"expected key=value (got {item!r})")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


@app.command("list")
def list_cmd() -> None:
    """List problems, their Gymnasium ids, lower levels and baselines, and the algorithms."""
    from .registry import get_problem, list_problems
    from .runner import AGENTS, ALGOS

    for name in list_problems():
        p = get_problem(name)
        typer.echo(f"{name}  [{p.env_id}]  {p.description}")
        typer.echo(f"    lower levels: {', '.join(p.lowers)}   baselines: {', '.join(p.baselines(0))}")
    typer.echo(f"agents: {', '.join(AGENTS)}   algorithms: {', '.join(ALGOS)}")


@app.command()
def train(
    problem: ProblemArg,
    agent: Annotated[str, typer.Option(help="bilevel (desired state + LP) or edge (naive per-edge flows)")] = "bilevel",
    algo: Annotated[str, typer.Option(help="ppo or a2c (the reference actor-critic)")] = "ppo",
    seed: Annotated[int, typer.Option(help="seed of everything")] = 0,
    iterations: Annotated[Optional[int], typer.Option(help="PPO iterations / A2C episodes (default: the problem's)")] = None,
    time_limit: Annotated[Optional[float], typer.Option(help="stop after this many seconds")] = None,
    run_dir: Annotated[Optional[Path], typer.Option(help="where checkpoints and metrics go")] = None,
    resume: Annotated[bool, typer.Option(help="continue from run_dir/last.pt")] = False,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="algorithm option key=value (repeatable)")] = None,
    policy_set: Annotated[Optional[list[str]], typer.Option("--policy-set", help="policy option key=value")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Train an agent; writes last.pt, best.pt (by validation), config.json and metrics to the run directory."""
    from .registry import get_problem
    from .runner import train_agent
    from .train import run_name

    prob = get_problem(problem)
    overrides = {"seed": seed, **_parse_sets(set_)}
    if iterations is not None:
        overrides["iterations" if algo == "ppo" else "episodes"] = iterations
    if time_limit is not None:
        overrides["time_limit_s"] = time_limit
    run_dir = run_dir or Path("runs") / run_name(prob.name, f"{agent}-{algo}", seed)
    res = train_agent(prob, agent=agent, algo=algo, run_dir=run_dir, resume=resume, progress=progress,
                      policy_overrides=_parse_sets(policy_set), **overrides)
    typer.echo(f"trained {res.iterations} iterations ({res.episodes} episodes) in {res.wall_s:.1f}s; "
               f"best validation reward {res.best_eval}; run directory {res.run_dir}")


@app.command("eval")
def eval_cmd(
    problem: ProblemArg,
    checkpoint: Annotated[Optional[list[Path]], typer.Option(help="trained agent checkpoint(s) (best.pt)")] = None,
    baselines: Annotated[str, typer.Option(help="comma-separated baselines, or 'all' or 'none'")] = "all",
    episodes: Annotated[int, typer.Option(help="episodes on the problem's test seeds")] = 10,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="write the rows as JSON")] = None,
) -> None:
    """Evaluate agents and baselines on the same test seeds; print reward and % of the oracle."""
    from .registry import get_problem
    from .runner import compare, load_agent, print_table, rows_to_records

    prob = get_problem(problem)
    available = prob.baselines(0)
    names = list(available) if baselines == "all" else [] if baselines == "none" else [b.strip() for b in baselines.split(",")]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise typer.BadParameter(f"unknown baseline(s) {unknown}; choose from {list(available)}")
    controllers = {}
    for path in checkpoint or []:
        agent, _ = load_agent(path)
        if agent.name in controllers or agent.name in names:
            agent.name = f"{agent.name}:{path.parent.name}"
        controllers[agent.name] = agent
    controllers.update({n: available[n] for n in names})
    if not controllers:
        raise typer.BadParameter("nothing to evaluate: give --checkpoint or baselines")
    seeds = list(prob.test_seeds)[:episodes] if episodes <= len(prob.test_seeds) else list(range(1000, 1000 + episodes))
    records = rows_to_records(prob, compare(prob, controllers, seeds, reference="oracle"))
    keys = ["controller", "reward_mean", "reward_std", "pct_of_oracle"] + [f"{k}_mean" for k in prob.info_keys] + ["decision_ms"]
    print_table(f"{prob.name}: {len(seeds)} episodes, seeds {seeds[0]}..{seeds[-1]}", records, keys)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(records, indent=2))


@app.command()
def demo(
    problem: Annotated[str, typer.Option(help="problem to demo")] = "mobility/nyc_brooklyn",
    minutes: Annotated[float, typer.Option(help="training budget in minutes")] = 4.0,
    episodes: Annotated[int, typer.Option(help="evaluation episodes (test seeds)")] = 10,
    out: Annotated[Path, typer.Option(help="output directory (run, table, plot)")] = Path("runs/demo"),
    seed: Annotated[int, typer.Option(help="seed")] = 0,
    iterations: Annotated[Optional[int], typer.Option(help="cap on training iterations (tests use a tiny one)")] = None,
) -> None:
    """Train the bi-level agent briefly, then compare it with the oracle, the heuristics and random."""
    from .demo import run_demo

    run_demo(problem, minutes=minutes, episodes=episodes, out=out, seed=seed, iterations=iterations)


BENCHMARKS = ("mobility", "supply-chain")


@app.command()
def bench(
    benchmark: Annotated[str, typer.Argument(help=f"benchmark to run: {', '.join(BENCHMARKS)}")] = "mobility",
    quick: Annotated[bool, typer.Option(help="tiny budgets (a smoke run, not a result)")] = False,
    minutes: Annotated[Optional[float], typer.Option(help="training budget per agent and instance, minutes (default: per agent)")] = None,
    out: Annotated[Path, typer.Option(help="results directory")] = Path("results"),
    runs: Annotated[Path, typer.Option(help="where the benchmark's training runs go (reused if present)")] = Path("runs/bench"),
    retrain: Annotated[bool, typer.Option(help="train again even if runs exist")] = False,
) -> None:
    """Run a benchmark: train (or reuse) the agents, evaluate them against the baselines, write results/<name>.json."""
    from .bench.common import command_line

    key = benchmark.lower().replace("_", "-")
    if key not in BENCHMARKS:
        raise typer.BadParameter(f"unknown benchmark {benchmark!r}; available: {', '.join(BENCHMARKS)}")
    if key == "mobility":
        from .bench.mobility import run
    else:
        from .bench.supply_chain import run
    run(out=out, runs=runs, minutes=minutes, quick=quick, retrain=retrain, command=command_line())


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
