"""``netctrl demo``: train the bi-level agent for a few minutes, compare it with the baselines, plot it."""

from __future__ import annotations

import json
from pathlib import Path

from .registry import get_problem
from .runner import compare, load_agent, print_table, rows_to_records, train_agent
from .train import atomic_write_text


def plot_learning_curve(history: list[dict], baselines: dict[str, float], path: Path, title: str) -> None:
    """Validation reward of the agent against training episodes, with each baseline as a horizontal line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [(r["episodes"], r["eval_reward"]) for r in history if "eval_reward" in r]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label="bi-level agent (validation)")
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


def run_demo(problem: str, *, minutes: float, episodes: int, out: Path, seed: int = 0, iterations: int | None = None) -> list[dict]:
    prob = get_problem(problem)
    out = Path(out)
    run_dir = out / "run"
    overrides = {"seed": seed, "time_limit_s": 60.0 * minutes}
    if iterations is not None:
        overrides["iterations"] = iterations
        overrides["eval_every"] = max(1, min(prob.train.get("eval_every", 50), iterations))
    print(f"netctrl demo: training the bi-level agent on {prob.name} for up to {minutes:g} min (seed {seed})")
    res = train_agent(prob, agent="bilevel", algo="ppo", run_dir=run_dir, progress=True, verbose=False, **overrides)
    agent, _ = load_agent(res.run_dir / "best.pt", name="bilevel-ppo")
    controllers = {"bilevel-ppo": agent, **prob.baselines(seed)}
    seeds = list(prob.test_seeds)[:episodes]
    print(f"evaluating on {len(seeds)} test episodes (seeds {seeds[0]}..{seeds[-1]}, shared by every controller)")
    records = rows_to_records(prob, compare(prob, controllers, seeds))
    keys = ["controller", "reward_mean", "reward_std", "pct_of_oracle"] + [f"{k}_mean" for k in prob.info_keys]
    print_table(f"{prob.name} after {res.episodes} training episodes ({res.wall_s:.0f}s)", records, keys)
    val = compare(prob, prob.baselines(seed), list(prob.val_seeds))
    plot_learning_curve(res.history, {r.controller: float(r.result.rewards.mean()) for r in val},
                        out / "learning_curve.png", f"{prob.name}: bi-level PPO vs baselines")
    atomic_write_text(out / "table.json", json.dumps({"problem": prob.name, "train_episodes": res.episodes,
                                                      "train_wall_s": res.wall_s, "rows": records}, indent=2))
    print(f"wrote {out / 'learning_curve.png'} and {out / 'table.json'}")
    return records
