"""Bind a problem, a policy, a lower level and an algorithm into an agent; train it; compare controllers.

An *agent* is "graph policy + action head + lower level + algorithm" (RL4CO calls this binding a model):

* ``bilevel``: the problem's default policy (a Dirichlet over nodes = the desired next state) acting through
  the LP lower level ``"lp"``;
* ``edge``: the naive end-to-end baseline, a per-edge Gaussian acting through the problem's ``"edge-share"``
  map (flows straight from the policy, no optimisation).

The CLI, the demo and the benchmarks all go through :func:`train_agent` and :func:`compare`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .bilevel import BilevelWrapper
from .controllers import Controller
from .evaluate import EvalResult, evaluate
from .policies.actor_critic import GraphActorCritic, PolicyConfig, PolicyController
from .registry import ProblemSpec, get_problem
from .train import TrainResult, atomic_write_text, load_policy

AGENTS = {"bilevel": "lp", "edge": "edge-share"}
ALGOS = ("ppo", "a2c")


def lower_of(agent: str) -> str:
    """The lower level an agent acts through (``bilevel`` -> ``lp``, ``edge`` -> ``edge-share``)."""
    if agent not in AGENTS:
        raise ValueError(f"Unknown agent {agent!r}; choose one of {sorted(AGENTS)}")
    return AGENTS[agent]


def make_training_env(problem: ProblemSpec, lower: str, make_raw=None):
    """A factory of raw environments (``make_raw``, default the problem's) wrapped with the named lower level."""
    make_raw = make_raw or problem.make_env

    def make():
        env = make_raw()
        return BilevelWrapper(env, problem.make_lower(lower, env))

    return make


def training_envs(problem: ProblemSpec, lower: str, raw: Sequence[Callable] = ()) -> list:
    """The wrapped environment factories an agent trains on (several for a problem with ``train_envs``), or
    the wrapped ``raw`` factories if given."""
    return [make_training_env(problem, lower, f) for f in (raw or problem.train_envs or (problem.make_env,))]


def _algo_module(algo: str):
    if algo == "ppo":
        from .algos import ppo as mod
    elif algo == "a2c":
        from .algos import a2c as mod
    else:
        raise ValueError(f"Unknown algorithm {algo!r}; choose one of {list(ALGOS)}")
    return mod


def algo_config(algo: str, problem: ProblemSpec, agent: str = "bilevel", **overrides: Any):
    """The algorithm's config: the problem's defaults for the agent, then ``overrides``."""
    mod = _algo_module(algo)
    cls = mod.PPOConfig if algo == "ppo" else mod.A2CConfig
    names = {f.name for f in fields(cls)}
    defaults = problem.train if agent == "bilevel" else (problem.edge_train or problem.train)
    if algo == "a2c":
        defaults = {k: v for k, v in defaults.items() if k in names and k not in ("num_envs", "actor_lr", "critic_lr")}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"Unknown {algo} option(s) {unknown}; choose from {sorted(names)}")
    return cls(**{**{k: v for k, v in defaults.items() if k in names}, **overrides})


def policy_config(problem: ProblemSpec, agent: str = "bilevel", **overrides: Any) -> PolicyConfig:
    base = problem.policy if agent == "bilevel" else problem.edge_policy
    return PolicyConfig(**{**base, **overrides})


def init_policy(problem: ProblemSpec, agent: str, make_env, seed: int, **overrides: Any) -> GraphActorCritic:
    """A freshly initialised (seeded) policy of ``agent`` for the observations of ``make_env()``."""
    import torch

    env = make_env()
    torch.manual_seed(seed)
    model = GraphActorCritic.for_space(env.observation_space, policy_config(problem, agent, **overrides))
    env.close()
    return model


def policy_controller(model: GraphActorCritic, agent: str, name: str | None = None) -> PolicyController:
    return PolicyController(model, lower=lower_of(agent), deterministic=True, name=name or agent)


def validation_fn(problem: ProblemSpec, agent: str):
    """``eval_fn`` for training: deterministic return on the problem's validation seeds."""

    def eval_fn(model: GraphActorCritic) -> dict:
        r = evaluate(policy_controller(model, agent), problem.make_env, problem.val_seeds, make_lower=problem.make_lower)
        return {"eval_reward": float(r.rewards.mean())}

    return eval_fn


def train_agent(
    problem: str | ProblemSpec,
    *,
    agent: str = "bilevel",
    algo: str = "ppo",
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    verbose: bool = True,
    policy_overrides: dict | None = None,
    pretrain: bool | dict | None = None,
    **algo_overrides: Any,
) -> TrainResult:
    """Train an agent on a problem; checkpoints and metrics go to ``run_dir``.

    ``pretrain``: imitation pretraining (DAgger, :mod:`netctrl.algos.imitation`) from the problem's expert
    before RL; a dict overrides the problem's :class:`~netctrl.algos.imitation.ImitationConfig` defaults.
    ``None`` (default): on for a bi-level PPO agent of a problem that has an expert. A resumed run that already
    has a checkpoint skips it (the checkpoint holds the pretrained and further trained weights).
    """
    problem = get_problem(problem)
    lower = lower_of(agent)
    cfg = algo_config(algo, problem, agent, **algo_overrides)
    factories = training_envs(problem, lower)
    if len(factories) > 1 and algo != "ppo":
        raise ValueError(f"{problem.name} trains on several graphs, which only PPO supports (got algo={algo!r})")
    make_env = factories[0] if len(factories) == 1 else factories
    model = init_policy(problem, agent, factories[0], cfg.seed, **(policy_overrides or {}))
    mod = _algo_module(algo)
    eval_fn = validation_fn(problem, agent)
    meta: dict[str, Any] = {"problem": problem.name, "agent": agent}
    imitation = None
    if pretrain is None:
        pretrain = problem.expert is not None and agent == "bilevel" and algo == "ppo"
    if pretrain and not (resume and (Path(run_dir) / "last.pt").exists()):
        from .algos.imitation import ImitationConfig
        from .algos.imitation import pretrain as imitate

        if problem.expert is None or agent != "bilevel" or algo != "ppo":
            raise ValueError(f"imitation pretraining needs a bi-level PPO agent of a problem with an expert "
                             f"({problem.name}: expert={'yes' if problem.expert else 'none'}, agent={agent}, algo={algo})")
        icfg = ImitationConfig(**{"seed": cfg.seed, **problem.pretrain, **(pretrain if isinstance(pretrain, dict) else {})})
        imitation = imitate(icfg, training_envs(problem, lower, problem.pretrain_envs), model, problem.expert,
                            eval_fn=eval_fn, verbose=verbose)
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(run_dir) / "pretrain.json", json.dumps({
            "config": asdict(icfg), "wall_s": round(imitation.wall_s, 1), "episodes": imitation.episodes,
            "states": imitation.states, "best_eval": imitation.best_eval, "history": imitation.history}, indent=2))
        meta["pretrain"] = asdict(icfg)
    extra = {} if imitation is None else {"initial_eval": imitation.best_eval}
    result = mod.train(
        cfg, make_env, model, run_dir=run_dir, eval_fn=eval_fn, resume=resume, progress=progress,
        verbose=verbose, metadata=meta, **extra,
    )
    if imitation is not None:          # the training cost includes the pretraining
        result.wall_s += imitation.wall_s
        result.episodes += imitation.episodes
    return result


def load_agent(checkpoint: str | Path, name: str | None = None) -> tuple[PolicyController, dict]:
    """A trained agent (as a controller) and its checkpoint's config."""
    model, ckpt = load_policy(Path(checkpoint))
    cfg = ckpt.get("config", {})
    agent = cfg.get("agent", "bilevel")
    label = name or (f"{agent}-{cfg.get('algo', 'rl')}" if agent == "bilevel" else f"edge-{cfg.get('algo', 'rl')}")
    return policy_controller(model, agent, label), cfg


@dataclass
class ComparisonRow:
    controller: str
    result: EvalResult
    pct_of_oracle: float | None


def compare(
    problem: str | ProblemSpec,
    controllers: dict[str, Controller],
    seeds: Sequence[int] | None = None,
    reference: str = "oracle",
) -> list[ComparisonRow]:
    """Evaluate every controller on the same seeds; ``pct_of_oracle = 100 * mean / mean(reference)``."""
    problem = get_problem(problem)
    seeds = list(problem.test_seeds if seeds is None else seeds)
    results = {
        name: evaluate(c, problem.make_env, seeds, make_lower=problem.make_lower, sum_keys=problem.info_keys)
        for name, c in controllers.items()
    }
    ref = results.get(reference)
    ref_mean = float(ref.rewards.mean()) if ref is not None else None
    rows = []
    for name, r in results.items():
        pct = 100.0 * float(r.rewards.mean()) / ref_mean if ref_mean not in (None, 0.0) else None
        rows.append(ComparisonRow(name, r, pct))
    return rows


def rows_to_records(problem: ProblemSpec, rows: list[ComparisonRow], extra: dict[str, dict] | None = None) -> list[dict]:
    """Rows in the results format of ``RESULTS.md`` (plus the problem's summed info keys)."""
    out = []
    scenario = problem.name.split("/", 1)[-1]
    for row in rows:
        s = row.result.summary()
        rec = {
            "scenario": scenario, "controller": row.controller, "episodes": s["episodes"], "seeds": s["seeds"],
            "reward_mean": round(s["reward_mean"], 2), "reward_std": round(s["reward_std"], 2),
            "pct_of_oracle": None if row.pct_of_oracle is None else round(row.pct_of_oracle, 2),
            "decision_ms": round(s["decision_ms"], 4),
        }
        for k in problem.info_keys:
            rec[f"{k}_mean"] = round(row.result.mean(k), 2)
        rec.update((extra or {}).get(row.controller, {}))
        out.append(rec)
    return out


def print_table(title: str, records: list[dict], keys: Sequence[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.width = max(console.width, 150)
    table = Table(title=title)
    for k in keys:
        table.add_column(k, justify="right" if k != "controller" else "left")
    for r in records:
        cells = []
        for k in keys:
            v = r.get(k)
            cells.append("-" if v is None else f"{v:,.1f}" if isinstance(v, float) else str(v))
        table.add_row(*cells)
    console.print(table)
