"""The ``netctrl`` command: ``list``, ``demo``, ``train``, ``eval``, ``bench``, ``sweep``.

Thin on purpose: every command builds the dataclass configs and calls :mod:`netctrl.runner`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

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
    iterations: Annotated[int | None, typer.Option(help="PPO iterations / A2C episodes (default: the problem's)")] = None,
    time_limit: Annotated[float | None, typer.Option(help="stop the RL stage after this many seconds")] = None,
    run_dir: Annotated[Path | None, typer.Option(help="where checkpoints and metrics go")] = None,
    resume: Annotated[bool, typer.Option(help="continue from run_dir/last.pt")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="algorithm option key=value (repeatable)")] = None,
    policy_set: Annotated[list[str] | None, typer.Option("--policy-set", help="policy option key=value")] = None,
    pretrain: Annotated[bool | None, typer.Option(
        help="imitation pretraining (DAgger) from the problem's expert before RL (default: on where a problem has "
             "one, e.g. network flow)")] = None,
    pretrain_set: Annotated[list[str] | None, typer.Option("--pretrain-set", help="pretraining option key=value")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    workers: Annotated[int, typer.Option(help="PPO rollouts on N Ray actors (needs the ray extra); 0: this process")] = 0,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster to use (e.g. auto, ray://host:10001); default: local")] = None,
) -> None:
    """Train an agent; writes last.pt, best.pt (by validation), config.json and metrics to the run directory.

    WAN routing (``routing/b4``, ``routing/geant``, ``routing/att``) takes ``--algo mamrl`` or ``--algo pg``;
    ``--iterations`` = online episodes, ``--set meta_iterations=N`` (MAML) and other MAMRLConfig fields.
    ``netctrl train critical-node [--algo multil-cur|multil-dqn]`` trains the MCN value function instead
    (``--set features=...``: the feature set, default ``hybrid``; ``absolute`` is the first published one,
    ``relative`` the size-invariant one with a mean read-out)."""
    if problem.lower().startswith("routing/"):
        from .problems.routing.train import train_routing
        from .train import run_name

        sets = _parse_sets(set_)
        rd = run_dir or Path("runs") / run_name(problem, algo, seed)
        summary = train_routing(problem.split("/", 1)[1], algo=algo, run_dir=rd, seed=seed,
                                episodes=iterations or 300, time_limit_s=time_limit, **sets)
        typer.echo(json.dumps(summary))
        return
    if problem.lower().replace("_", "-") == "critical-node":
        from .bench.critical_node import train_cli
        from .problems.critical_node.features import DEFAULT_FEATURES

        sets = _parse_sets(set_)
        features = str(sets.pop("features", DEFAULT_FEATURES))
        path = train_cli(algo=algo, seed=seed, time_limit=time_limit, run_dir=run_dir, overrides=sets, features=features)
        typer.echo(f"wrote {path}")
        return
    from .registry import get_problem
    from .runner import train_agent
    from .train import run_name

    prob = get_problem(problem)
    overrides = {"seed": seed, **_parse_sets(set_)}
    if iterations is not None:
        overrides["iterations" if algo == "ppo" else "episodes"] = iterations
    if time_limit is not None:
        overrides["time_limit_s"] = time_limit
    if workers:
        if algo != "ppo":
            raise typer.BadParameter("--workers needs --algo ppo (A2C updates after every episode)")
        from .scale import init_ray

        init_ray(ray_address)
        overrides["workers"] = workers
    run_dir = run_dir or Path("runs") / run_name(prob.name, f"{agent}-{algo}", seed)
    if pretrain_set:
        pretrain = False if pretrain is False else _parse_sets(pretrain_set)
    res = train_agent(prob, agent=agent, algo=algo, run_dir=run_dir, resume=resume, progress=progress,
                      policy_overrides=_parse_sets(policy_set), pretrain=pretrain, **overrides)
    typer.echo(f"trained {res.iterations} iterations ({res.episodes} episodes) in {res.wall_s:.1f}s; "
               f"best validation reward {res.best_eval}; run directory {res.run_dir}")


@app.command("eval")
def eval_cmd(
    problem: ProblemArg,
    checkpoint: Annotated[list[Path] | None, typer.Option(help="trained agent checkpoint(s) (best.pt)")] = None,
    baselines: Annotated[str, typer.Option(help="comma-separated baselines, or 'all' or 'none'")] = "all",
    episodes: Annotated[int, typer.Option(help="episodes on the problem's test seeds")] = 10,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the rows as JSON")] = None,
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
    iterations: Annotated[int | None, typer.Option(help="cap on training iterations (tests use a tiny one)")] = None,
) -> None:
    """Train the bi-level agent briefly, then compare it with the oracle, the heuristics and random."""
    from .demo import run_demo

    run_demo(problem, minutes=minutes, episodes=episodes, out=out, seed=seed, iterations=iterations)


BENCHMARKS = ("mobility", "supply-chain", "network-flow", "hypergrad", "routing", "critical-node")


@app.command()
def bench(
    benchmark: Annotated[str, typer.Argument(help=f"benchmark to run: {', '.join(BENCHMARKS)}")] = "mobility",
    quick: Annotated[bool, typer.Option(help="tiny budgets (a smoke run, not a result)")] = False,
    minutes: Annotated[float | None, typer.Option(help="training budget per agent and instance, minutes (default: per agent)")] = None,
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
    elif key == "network-flow":
        from .bench.network_flow import run
    elif key == "hypergrad":
        from .bench.hypergrad import run
    elif key == "routing":
        from .bench.routing import run
    elif key == "critical-node":
        from .bench.critical_node import run
    else:
        from .bench.supply_chain import run
    run(out=out, runs=runs, minutes=minutes, quick=quick, retrain=retrain, command=command_line())


@app.command()
def solve(
    problem: Annotated[str, typer.Argument(help="critical-node")],
    instance: Annotated[Path, typer.Argument(help="instance file in the public MCN text format")],
    method: Annotated[str, typer.Option(help="exact, learned (greedy by a MultiL-Cur/DQN checkpoint) or both")] = "exact",
    checkpoint: Annotated[Path | None, typer.Option(help="value-function checkpoint (netctrl train critical-node)")] = None,
    budgets: Annotated[str | None, typer.Option(help="omega,phi,lambda (default: from the file name)")] = None,
    time_limit: Annotated[float | None, typer.Option(help="give up the exact search after this many seconds")] = None,
    lookahead_width: Annotated[int, typer.Option(help="learned play: two-ply look-ahead of this width (0: greedy)")] = 0,
) -> None:
    """Solve one instance: optimal value (saved nodes), the sets of one line of play, and the time."""
    if problem.lower().replace("_", "-") != "critical-node":
        raise typer.BadParameter(f"unknown problem {problem!r}; available: critical-node")
    from .bench.critical_node import solve_cli

    try:
        b = None if budgets is None else tuple(int(x) for x in budgets.split(","))
    except ValueError as exc:
        raise typer.BadParameter(f"--budgets expects omega,phi,lambda (got {budgets!r})") from exc
    if b is not None and len(b) != 3:
        raise typer.BadParameter(f"--budgets expects three numbers (got {budgets!r})")
    for line in solve_cli(instance, method=method, checkpoint=checkpoint, budgets=b, time_limit=time_limit,
                          lookahead_width=lookahead_width):
        typer.echo(line)


@app.command()
def sweep(
    problems: Annotated[list[str], typer.Argument(help="problem(s), e.g. network_flow/gabriel-20 supply_chain/1f2s")],
    seeds: Annotated[str, typer.Option(help="comma-separated seeds")] = "0",
    grid: Annotated[list[str] | None, typer.Option(help="hyper-parameter values key=v1,v2 (repeatable; PPO options)")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="fixed algorithm option key=value (repeatable)")] = None,
    agent: Annotated[str, typer.Option(help="bilevel or edge")] = "bilevel",
    algo: Annotated[str, typer.Option(help="ppo or a2c")] = "ppo",
    minutes: Annotated[float | None, typer.Option(help="training budget per job, minutes")] = None,
    runs: Annotated[Path, typer.Option(help="run directories (shared storage on a cluster)")] = Path("runs/sweep"),
    out: Annotated[Path, typer.Option(help="results file")] = Path("runs/sweep/sweep.json"),
    ray: Annotated[bool, typer.Option(help="run jobs as Ray tasks (--no-ray: one after the other here)")] = True,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster (e.g. auto, ray://host:10001); default: local")] = None,
) -> None:
    """Train seeds x problems x hyper-parameters (Ray tasks, or in this process) and write validation rows."""
    from .bench.common import command_line
    from .runner import print_table
    from .scale import parse_grid, run_sweep, sweep_jobs

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
        jobs = sweep_jobs(problems, seed_list, parse_grid(grid), agent=agent, algo=algo, fixed=_parse_sets(set_), runs=runs)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"{len(jobs)} job(s) on {'Ray' if ray else 'this process'}")
    doc = run_sweep(jobs, minutes=minutes, use_ray=ray, ray_address=ray_address, out=out, command=command_line())
    print_table(f"sweep ({doc['backend']}, validation seeds)", doc["rows"],
                ["scenario", "controller", "seed", "reward_mean", "reward_std", "train_wall_s"])
    typer.echo(f"wrote {out}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
