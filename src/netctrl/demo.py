"""``netctrl demo``: train a problem's default recipe for a few minutes, compare it with the baselines, plot it."""

from __future__ import annotations

import json
from pathlib import Path

from .config import experiment, leaf_paths
from .evaluate import compare, print_table, rows_to_records, table_keys
from .train import atomic_write_text, remove_run_files


def plot_learning_curve(history: list[dict], baselines: dict[str, float], path: Path, title: str, label: str) -> None:
    """Validation reward of the agent against training episodes, with each baseline as a horizontal line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [(r["episodes"], r["eval_reward"]) for r in history if "eval_reward" in r and "episodes" in r]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=f"{label} (validation)")
    styles = ["--", ":", "-.", (0, (5, 1)), (0, (1, 3))]
    for k, (name, value) in enumerate(baselines.items()):
        ax.axhline(value, ls=styles[k % len(styles)], color=f"C{k + 1}", label=name)
    ax.set_xlabel("training episodes")
    ax.set_ylabel("episode reward (validation seeds)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_demo(
    problem: str,
    *,
    minutes: float,
    episodes: int,
    out: Path,
    seed: int = 0,
    iterations: int | None = None,
    algo: str | None = None,
    scenario: str | None = None,
    sets: dict | None = None,
) -> list[dict]:
    """Train ``algo`` (default: the problem's first recipe) for up to ``minutes`` (and ``iterations``), then
    compare it with every baseline on ``episodes`` test seeds; writes ``out/table.json`` and, where training
    validates, ``out/learning_curve.png``."""
    sets = dict(sets or {})
    probe = experiment(problem=problem, scenario=scenario, algo=algo, seed=seed, sets=sets)
    recipe = probe.recipe
    if iterations is not None and recipe.budget and "." in recipe.budget:  # validate within the tiny budget too
        every = recipe.budget.rsplit(".", 1)[0] + ".eval_every"
        if every in leaf_paths(recipe.config):
            current = probe.config
            for part in every.split("."):
                current = getattr(current, part)
            sets.setdefault(every, max(1, min(int(current), iterations)))
    time_limit = 60.0 * minutes if recipe.time_limit else None
    exp = experiment(
        problem=problem,
        scenario=scenario,
        algo=algo,
        seed=seed,
        sets=sets,
        iterations=iterations,
        time_limit=time_limit,
    )
    spec = exp.spec
    out = Path(out)
    run_dir = out / "run"
    limit = f" for up to {minutes:g} min" if time_limit else ""
    print(f"netctrl demo: training {recipe.name} on {spec.name}{limit} (seed {seed})")
    exp.run_dir = str(run_dir)
    remove_run_files(run_dir)  # the demo's run directory is scratch: the previous demo run goes
    exp.write(run_dir / "config.toml")
    res = recipe.train(spec, exp.config, run_dir, resume=False, progress=True, verbose=False)
    agent = recipe.load(run_dir / "best.pt", spec, name=recipe.name)
    controllers = {recipe.name: agent, **spec.baselines(seed)}
    seeds = list(spec.test_seeds)[:episodes]
    print(f"evaluating on {len(seeds)} test episodes (seeds {seeds[0]}..{seeds[-1]}, shared by every controller)")
    records = rows_to_records(spec, compare(spec, controllers, seeds, progress=True))
    done = f"{res.episodes} training episodes" if res.episodes else f"{res.iterations} training iterations"
    print_table(
        f"{spec.name} after {done} ({res.wall_s:.0f}s)", records, [k for k in table_keys(spec) if k != "decision_ms"]
    )
    written = [out / "table.json"]
    if any("eval_reward" in r for r in res.history):
        val = compare(spec, spec.baselines(seed), list(spec.val_seeds), progress=True)
        plot_learning_curve(
            res.history,
            {r.controller: float(r.result.rewards.mean()) for r in val},
            out / "learning_curve.png",
            f"{spec.name}: {recipe.name} vs baselines",
            recipe.name,
        )
        written.insert(0, out / "learning_curve.png")
    atomic_write_text(
        out / "table.json",
        json.dumps(
            {
                "problem": spec.name,
                "recipe": recipe.name,
                "train_episodes": res.episodes,
                "train_wall_s": res.wall_s,
                "rows": records,
            },
            indent=2,
        ),
    )
    print("wrote " + " and ".join(map(str, written)))
    return records
