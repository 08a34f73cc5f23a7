"""The recipe of toll design: projected Adam on the tolls, driven by the hyper-gradient of the agents' equilibrium.

``hypergrad`` designs the tolls of the problem's network (its ``scenario`` hook and objective): each iteration
solves the agents' equilibrium under the current tolls (warm-started at the previous one), computes the
hyper-gradient (:func:`netctrl.algos.hypergrad.hypergradient`, model-based; or from sampled trajectories,
``method = "model-free"``) and takes a projected Adam step (:func:`netctrl.algos.hypergrad.optimize`).
``last.pt`` (every iteration: the tolls, Adam's moments, the equilibrium warm start) resumes the loop exactly;
``best.pt`` holds the tolls of the best objective seen, which :func:`load` turns into a controller (the
problem's ``tolls`` hook). The objective of every iteration goes through :class:`~netctrl.train.MetricsLogger`
(``metrics.jsonl``, ``metrics.csv`` and, with ``tensorboard``, ``tensorboard/``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..algos.hypergrad import OuterConfig, hypergradient, optimize, stochastic_hypergradient
from ..config import to_dict
from ..errors import ConfigError
from ..progress import Progress
from ..registry import ProblemSpec, Recipe, register_recipe
from ..train import MetricsLogger, TrainResult, atomic_write_text, load_checkpoint, save_checkpoint


@dataclass(frozen=True)
class HypergradConfig:
    """The outer loop and the hyper-gradient it follows."""

    outer: OuterConfig = field(default_factory=lambda: OuterConfig(iterations=150, lr=0.05, lr_final=0.1))
    method: str = "model-based"
    """``model-based`` (implicit differentiation of the equilibrium) or ``model-free`` (sampled trajectories)."""
    trips: int = 2000
    """model-free: sampled trajectories per origin-destination group and iteration."""
    batches: int = 10
    """model-free: batches the trajectories are split into (the estimate is their mean)."""
    seed: int = 0
    """model-free: seed of the trajectory samples."""

    def __post_init__(self) -> None:
        if self.method not in ("model-based", "model-free"):
            raise ConfigError(f"'method' must be 'model-based' or 'model-free' (got {self.method!r})")
        if self.trips < 2 or self.batches < 2:
            raise ConfigError(f"'trips' and 'batches' >= 2 expected (got {self.trips}, {self.batches})")


def train(
    spec: ProblemSpec,
    cfg: HypergradConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    verbose: bool = True,
    tensorboard: bool = False,
) -> TrainResult:
    if spec.kind != "instance" or "scenario" not in spec.hooks:
        raise ConfigError(
            f"recipe 'hypergrad' designs tolls of a toll-design scenario; {spec.name} has none "
            f"(its recipes: {', '.join(spec.recipes) or 'none'})"
        )
    import time

    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    problem = spec.make_env()
    scen, agents, obj = spec.hooks["scenario"], problem.agents, problem.objective
    meta = {"recipe": "hypergrad", "problem": spec.identity(), "config": to_dict(cfg)}
    atomic_write_text(run_dir / "config.json", json.dumps(meta, indent=2, default=str))
    warm: dict = {}
    rng = np.random.default_rng(cfg.seed)
    state = None
    last = run_dir / "last.pt"
    if resume and last.exists():
        ck = load_checkpoint(last, recipe="hypergrad", problem=spec)
        if ck["config"] != meta["config"]:
            from ..errors import CheckpointError

            raise CheckpointError(f"{last}: made with another config; use another run directory")
        state = {k: ck["state"][k].numpy() if torch.is_tensor(ck["state"][k]) else ck["state"][k] for k in ck["state"]}
        if ck.get("warm") is not None:
            warm["x"] = ck["warm"].numpy()
        if ck.get("rng") is not None:
            rng.bit_generator.state = ck["rng"]

    def model_based(theta):
        eq = agents.solve(scen.arc_tolls(theta), x0=warm.get("x"))
        warm["x"] = eq.x
        g = obj.flow_gradient(eq.x, scen.arc_tolls(theta))
        return obj.of(eq, theta), hypergradient(eq.jac, eq.slope, g, scen.toll_arcs, obj.theta_gradient(theta))

    def model_free(theta):
        eq = agents.solve(scen.arc_tolls(theta), x0=warm.get("x"))
        warm["x"] = eq.x
        weights, counts = agents.sample_counts(eq, cfg.trips, rng)
        tolls = scen.arc_tolls(theta)
        est = stochastic_hypergradient(
            weights,
            counts,
            scen.temperature,
            scen.latency_slope,
            lambda x: obj.flow_gradient(x, tolls),
            scen.toll_arcs,
            obj.theta_gradient(theta),
            batches=cfg.batches,
        )
        return obj.of(eq, theta), est.mean

    best = {"value": None, "theta": None}
    if state is not None and state.get("best_theta") is not None:
        best = {"value": float(state["best_value"]), "theta": np.asarray(state["best_theta"])}

    done = None if state is None else int(state["k"])
    metrics = MetricsLogger(run_dir, done, tensorboard=tensorboard)
    bar = Progress(cfg.outer.iterations, "hypergrad iterations", enabled=progress, start=done or 0)

    def callback(k, theta, value):
        if value is not None and (best["value"] is None or value < best["value"]):
            best.update(value=float(value), theta=np.asarray(theta).copy())
        if verbose and (k + 1) % 25 == 0:
            print(f"[hypergrad] iteration {k + 1}: objective {value:.6g}")
        metrics.log({"iteration": k + 1, "objective": value})
        bar.update(1, "" if value is None else f"objective {value:.6g}")
        return False

    def on_step(st):
        save_checkpoint(
            last,
            {
                **meta,
                "state": {
                    **{k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in st.items()},
                    "best_value": best["value"],
                    "best_theta": torch.as_tensor(best["theta"]),
                },
                "warm": None if "x" not in warm else torch.as_tensor(warm["x"]),
                "rng": rng.bit_generator.state,
            },
        )

    vg = model_based if cfg.method == "model-based" else model_free
    try:
        res = optimize(vg, np.zeros(len(scen.toll_arcs)), cfg.outer, callback, state=state, on_step=on_step)
    finally:
        bar.close()
        metrics.close()
    value, _ = problem.value(res.theta)  # the last iterate, exactly
    if best["value"] is None or value < best["value"]:
        best.update(value=float(value), theta=res.theta.copy())
    save_checkpoint(
        run_dir / "best.pt",
        {
            **meta,
            "theta": torch.as_tensor(best["theta"]),
            "objective": best["value"],
            "values": [v for v in res.values if v is not None],
        },
    )
    history = [{"iteration": k + 1, "objective": v} for k, v in enumerate(res.values)]
    return TrainResult(run_dir, best["theta"], res.iterations, 0, time.perf_counter() - t0, -best["value"], history)


def load(checkpoint: str | Path, spec: ProblemSpec | None = None, name: str | None = None):
    """The designed tolls of a ``hypergrad`` checkpoint as a controller (the problem's ``tolls`` hook: a
    controller that answers with given tolls and refuses a network with other tollable arcs)."""
    from ..errors import CheckpointError
    from ..registry import problem_of

    ck = load_checkpoint(Path(checkpoint), recipe="hypergrad", problem=spec)
    if "theta" not in ck:
        raise CheckpointError(f"{checkpoint}: holds no finished design (use best.pt)")
    trained = ck.get("problem") or {}
    if spec is not None and (trained.get("name"), _where(trained.get("source"))) != (spec.name, _where(spec.source)):
        made = trained.get("name") + (f" ({trained['source']})" if trained.get("source") else "")
        raise CheckpointError(
            f"{checkpoint}: tolls designed for {made}; a design holds one toll per tollable "
            f"arc of that network, so it does not apply to {spec.name}" + (f" ({spec.source})" if spec.source else "")
        )
    spec = spec or problem_of(ck["problem"])
    return spec.hooks["tolls"](ck["theta"].numpy(), name or "hypergrad")


def _where(source: str | None) -> str | None:
    """A problem's source for comparison: a file by its resolved path (``a.json`` and ``./a.json`` are one
    network), a topohub key or packaged name as it is."""
    if source and Path(source).is_file():
        return str(Path(source).resolve())
    return source


def _register() -> None:
    register_recipe(
        Recipe(
            "hypergrad",
            "toll design by hyper-gradient: projected Adam through the agents' equilibrium",
            HypergradConfig,
            train,
            load,
            budget="outer.iterations",
        )
    )


_register()
