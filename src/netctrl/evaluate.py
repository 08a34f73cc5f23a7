"""Evaluate controllers side by side: same environment factory, same seeds, step by step, for every kind of
problem (Gymnasium, PettingZoo parallel, instance -> solution).

``progress=True`` shows a bar on stderr (when it is a terminal): the controller, the episodes done and the
steps of the current episode, so a slow controller (an MPC solving a large LP every step) shows it is alive.
The bar changes nothing evaluated: the same rewards with it as without.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .bilevel import BilevelWrapper
from .controllers import Controller, EpisodeResult, run_episode
from .progress import Progress

if TYPE_CHECKING:  # pragma: no cover
    from .registry import ProblemSpec


@dataclass
class EvalResult:
    controller: str
    episodes: list[EpisodeResult] = field(default_factory=list)

    @property
    def rewards(self) -> np.ndarray:
        return np.array([e.reward for e in self.episodes])

    def mean(self, key: str) -> float:
        """Mean over the episodes of an ``info`` sum or, failing that, of an episode metric."""
        vals = np.asarray(
            [e.info_sums[key] if key in e.info_sums else e.metrics.get(key, np.nan) for e in self.episodes], dtype=float
        )
        if vals.size == 0 or np.isnan(vals).all():
            return float("nan")
        return float(np.nanmean(vals) if np.isnan(vals).any() else np.mean(vals))

    def summary(self) -> dict:
        r = self.rewards
        steps = sum(e.steps for e in self.episodes)
        return {
            "controller": self.controller,
            "episodes": len(self.episodes),
            "seeds": [e.seed for e in self.episodes],
            "reward_mean": float(r.mean()),
            "reward_std": float(r.std()),
            "decision_ms": 1000.0 * sum(e.decision_s for e in self.episodes) / max(steps, 1),
            "wall_s": float(sum(e.wall_s for e in self.episodes)),
        }


def evaluate(
    controller: Controller,
    make_env: Callable[[], Any],
    seeds: Sequence[int],
    *,
    make_lower: Callable[[str, Any], object] | None = None,
    sum_keys: Iterable[str] = (),
    progress: bool = False,
) -> EvalResult:
    """Evaluate ``controller`` on one episode per seed.

    Controllers that act through a lower level (``controller.lower``) get the environment wrapped in a
    :class:`BilevelWrapper` with ``make_lower(controller.lower, env)``. ``progress``: a bar on stderr over the
    episodes (see the module docstring).
    """
    seeds = list(seeds)
    with Progress(len(seeds), f"eval {controller.name}", enabled=progress) as bar:
        return _evaluate(controller, make_env, seeds, make_lower, sum_keys, bar)


def _evaluate(
    controller: Controller,
    make_env: Callable[[], Any],
    seeds: list,
    make_lower: Callable[[str, Any], object] | None,
    sum_keys: Iterable[str],
    bar: Progress,
) -> EvalResult:
    """:func:`evaluate`, advancing ``bar`` by one per episode (its status: the episode and its steps)."""
    from .errors import ConfigError

    if not seeds:
        raise ConfigError("nothing to evaluate: no episodes (give at least one seed / --episodes >= 1)")
    env = make_env()
    if controller.lower is not None:
        if make_lower is None:
            raise ConfigError(
                f"controller {controller.name!r} acts through lower level {controller.lower!r}: give make_lower"
            )
        env = BilevelWrapper(env, make_lower(controller.lower, env))
    out = EvalResult(controller.name)
    try:
        for k, s in enumerate(seeds):
            episode = f"episode {k + 1}/{len(seeds)}"
            bar.update(0, episode)
            on_step = _step_status(bar, episode) if bar.enabled else None
            out.episodes.append(run_episode(controller, env, int(s), sum_keys, on_step=on_step))
            bar.update(1)
    finally:
        env.close()
    return out


def _step_status(bar: Progress, episode: str, every_s: float = 0.1) -> Callable[[int], None]:
    """``on_step`` of :func:`~netctrl.controllers.run_episode` that shows the steps done in ``bar``'s status (at
    most every ``every_s`` seconds: fast environments step thousands of times a second)."""
    shown = [time.monotonic()]

    def on_step(steps: int) -> None:
        now = time.monotonic()
        if now - shown[0] >= every_s:
            shown[0] = now
            bar.update(0, f"{episode}, step {steps}")

    return on_step


@dataclass
class ComparisonRow:
    controller: str
    result: EvalResult
    pct_of_reference: float | None
    gap_pct: float | None = None
    """mean over the episodes of ``100 |reward - reference's reward| / |reference's reward|`` (same seeds)."""

    @property
    def pct_of_oracle(self) -> float | None:
        return self.pct_of_reference


def compare(
    problem: str | ProblemSpec,
    controllers: dict[str, Controller],
    seeds: Sequence[int] | None = None,
    reference: str | None = None,
    *,
    progress: bool = False,
) -> list[ComparisonRow]:
    """Evaluate every controller on the same seeds; ``pct = 100 * mean / mean(reference)`` where ``reference``
    (default: the problem's, e.g. ``"oracle"`` or ``"exact"``) is among the controllers. ``progress``: one bar
    on stderr over every controller's episodes (see the module docstring)."""
    from .registry import get_problem

    problem = get_problem(problem)
    seeds = list(problem.test_seeds if seeds is None else seeds)
    reference = problem.reference if reference is None else reference
    results = {}
    with Progress(len(controllers) * len(seeds), "eval", enabled=progress) as bar:
        for k, (name, c) in enumerate(controllers.items()):
            bar.update(0, description=f"eval {name} ({k + 1}/{len(controllers)})")
            results[name] = _evaluate(c, problem.make_env, seeds, problem.make_lower, problem.info_keys, bar)
    ref = results.get(reference) if reference else None
    ref_mean = float(ref.rewards.mean()) if ref is not None else None
    rows = []
    for name, r in results.items():
        pct = 100.0 * float(r.rewards.mean()) / ref_mean if ref_mean not in (None, 0.0) else None
        gap = None
        if ref is not None:
            base = np.abs(ref.rewards)
            gap = float(np.mean(100.0 * np.abs(r.rewards - ref.rewards) / np.where(base > 0, base, 1.0)))
        rows.append(ComparisonRow(name, r, pct, gap))
    return rows


def rows_to_records(
    problem: ProblemSpec, rows: list[ComparisonRow], extra: dict[str, dict] | None = None
) -> list[dict]:
    """Rows in the results format of ``RESULTS.md`` (plus the problem's summed info keys and episode metrics)."""
    out = []
    scenario = problem.name.split("/", 1)[-1]
    for row in rows:
        s = row.result.summary()
        rec = {
            "scenario": scenario,
            "controller": row.controller,
            "episodes": s["episodes"],
            "seeds": s["seeds"],
            "reward_mean": round(s["reward_mean"], 2),
            "reward_std": round(s["reward_std"], 2),
            problem.pct_key: None if row.pct_of_reference is None else round(row.pct_of_reference, 2),
            **({"gap_pct": None if row.gap_pct is None else round(row.gap_pct, 2)} if problem.gap_to_reference else {}),
            "decision_ms": round(s["decision_ms"], 4),
        }
        for k in (*problem.info_keys, *problem.metric_keys):
            v = row.result.mean(k)
            rec[f"{k}_mean"] = None if not np.isfinite(v) else round(v, 2 if k in problem.info_keys else 4)
        rec.update((extra or {}).get(row.controller, {}))
        out.append(rec)
    return out


def table_keys(problem: ProblemSpec) -> list[str]:
    """The columns :func:`print_table` shows for a problem's records."""
    pct = [problem.pct_key] if problem.reference else []
    pct += ["gap_pct"] if problem.reference and problem.gap_to_reference else []
    return (
        ["controller", "reward_mean", "reward_std", *pct]
        + [f"{k}_mean" for k in (*problem.info_keys, *problem.metric_keys)]
        + ["decision_ms"]
    )


def _cell(v: float) -> str:
    """One decimal for large numbers, three significant digits for small ones."""
    return f"{v:,.1f}" if abs(v) >= 10 or v == 0 else f"{v:.3g}"


def print_table(title: str, records: list[dict], keys: Sequence[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.width = max(console.width, 150, sum(max(len(k), 9) + 3 for k in keys) + 4)  # no truncated headers
    table = Table(title=title)
    for k in keys:
        table.add_column(k, justify="right" if k != "controller" else "left")
    for r in records:
        cells = []
        for k in keys:
            v = r.get(k)
            cells.append("-" if v is None else _cell(v) if isinstance(v, float) else str(v))
        table.add_row(*cells)
    console.print(table)
