"""Network flow at the scale of real backbones: shipped policies, trained on graphs of at most 200 nodes, on
graphs of 500-3,815 nodes they never saw.

The agents (:data:`AGENTS`) are pretrained bi-level agents shipped with netctrl (see ``docs/pretrained.md``):
``network_flow/backbone-mix``, the benchmark's agent, is the Gabriel policy fine-tuned on real backbones of
136-174 nodes (chosen on the :data:`VALIDATION` graphs by the rule in ``docs/development-log.md``), and
``network_flow/gabriel-mix``, the family's default, trained on Gabriel graphs of 10-50 nodes (imitation on 100).
Neither is retrained or tuned on the graphs here:

* ``gabriel/500/0`` with the reference rules (``sources="all"``), on 10 test episodes (``results/network_flow.json``
  has 2);
* topohub's real backbones (``backbone/europe`` 852 nodes, ``americas`` 1,138, ``emea`` 1,560, ``eurasia`` 2,031,
  ``world`` 3,815) with ``sources="in-time"`` (units arrive only where their sink can be reached in the 40-step
  episode; with the reference rule 45-92 % of their units could never be delivered, see
  :mod:`netctrl.problems.network_flow.scenario`), on 5 test episodes each. Every other rule is the family's default
  (4 commodities, 40 steps, load 2).

Controllers, all on the same test seeds of a graph: the agents, ``shortest-path-deadline`` (the greedy that moves
only units that can still arrive; the agent's prior), ``shortest-path`` and ``random``; and ``oracle``, the exact
optimum of each episode (one time-expanded LP per episode with perfect foresight, HiGHS interior point), on the
graphs of at most :data:`ORACLE_MAX_NODES` nodes: it is the bound every ``pct_of_oracle`` refers to. Its row
has the wall time and peak memory of one episode's solve (``plan_s``, ``plan_peak_rss_mb``, measured in a fresh
process), and ``decision_ms`` is the receding-horizon oracle MPC (horizon 15, one LP per step, what a
deployment would run) timed on the first :data:`MPC_STEPS` steps of one episode. ``--forecast`` adds the
forecast MPC an operator could run within :data:`FORECAST_BUDGET_S` per decision on one core: the longest horizon
of :data:`FORECAST_HORIZONS` whose median decision (first steps of the first test episode) fits the budget,
on the same test seeds (``forecast_mpc``: the horizon, the times that chose it, agent minus forecast MPC).
The edge-level agent is not run here (at 500 nodes it is at -53 % of the oracle, ``results/network_flow.json``).

Per graph, ``profile``: the agent's decision time per step split into the lower level's LP (``lp_ms``: building
the right-hand side and HiGHS, hot-started), the policy (``policy_ms``: the observation's tensors and the GNN
forward) and the rest, and the peak resident memory of a process that evaluates one agent episode
(``peak_rss_mb``), all on one core (``torch.set_num_threads(1)``), for the benchmark's agent.
``paired_vs_deadline_greedy``: each agent minus the deadline greedy per test episode, mean and standard error.
``--agents`` evaluates the agents again on the records' seeds (after an agent changed), keeping the other rows.

``--long-forecast N`` runs the forecast MPC with horizon :data:`LONG_HORIZON` (that of the imitation stage's
teacher) and no time budget on the first ``N`` test seeds of a graph (``same_seeds``: the other controllers'
means on those seeds): what planning on forecasts reaches when time is no object. ``--validate CHECKPOINT...``
compares candidate agents with the benchmark's agent on the :data:`VALIDATION` graphs and seeds (none of them a test
graph or seed; ``runs/bench/network_flow_scale/validation.json``): how a new agent for this benchmark is chosen.

Records per graph go to ``runs/bench/network_flow_scale/<graph>.json`` (reused unless ``--rerun``), so graphs can
run in separate processes, one per core (``--graphs``); the results file is written from all records present.

Usage::

    python benchmarks/network_flow_scale.py                     # every graph -> results/network_flow_scale.json
    python benchmarks/network_flow_scale.py --graphs gabriel/500/0 --no-write   # one graph's record only
    python benchmarks/network_flow_scale.py --quick             # smoke run: 1 episode, 2 graphs, no oracle
    python benchmarks/network_flow_scale.py --long-forecast 2 --graphs backbone/europe --no-write
    python benchmarks/network_flow_scale.py --validate runs/nf_backbone_mix/run/best.pt
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from common import command_line, in_fresh_process, paired_difference, write_results
from network_flow import mpc_step_ms

import netctrl
from netctrl.evaluate import compare, print_table, rows_to_records
from netctrl.problems.network_flow import (
    ForecastMPC,
    GreedyShortestPath,
    MultiCommodityLP,
    OracleMPC,
    RandomDistribution,
)
from netctrl.problems.network_flow.baselines import oracle_plan
from netctrl.recipes import load
from netctrl.registry import load_problem
from netctrl.train import atomic_write_text

#: (topohub key, scenario settings, test episodes)
GRAPHS = {
    "gabriel/500/0": ({"sources": "all"}, 10),
    "backbone/europe": ({"sources": "in-time"}, 5),
    "backbone/americas": ({"sources": "in-time"}, 5),
    "backbone/emea": ({"sources": "in-time"}, 5),
    "backbone/eurasia": ({"sources": "in-time"}, 5),
    "backbone/world": ({"sources": "in-time"}, 5),
}
#: the largest graph whose episode optimum is solved (one LP of about 40 x 4 x (E + 2N) variables)
ORACLE_MAX_NODES = 2_100
MPC_STEPS = 2
#: the forecast MPC's time budget per decision (one core), and the horizons it may use, shortest first
FORECAST_BUDGET_S = 1.0
FORECAST_HORIZONS = (1, 2, 3, 5, 8, 10, 15)
#: the agents, by row label: the benchmark's agent first (its ``profile``, and the one ``--validate`` compares
#: candidates with), then the one it replaced, the family's default transferred from Gabriel graphs as it is
AGENTS = {
    "bilevel-ppo (backbone-mix)": "network_flow/backbone-mix",
    "bilevel-ppo (gabriel-mix)": "network_flow/gabriel-mix",
}
AGENT_LABEL, AGENT = next(iter(AGENTS.items()))
RECORDS = Path("runs/bench/network_flow_scale")
#: graphs on which a new agent for this benchmark is chosen (``--validate``), none of them a test graph: three
#: topohub backbones of 403-778 nodes (``sources="in-time"``) and a 500-node Gabriel graph of another instance
VALIDATION = {
    "backbone/africa": {"sources": "in-time"},
    "backbone/europe_nosc": {"sources": "in-time"},
    "backbone/emea_nosc": {"sources": "in-time"},
    "gabriel/500/1": {"sources": "all"},
}
VALIDATION_SEEDS = (2000, 2001, 2002)
#: ``--long-forecast``: the forecast MPC with the imitation expert's horizon and no time budget, on the first
#: test episodes of a graph (what planning on forecasts reaches when time is no object)
LONG_HORIZON = 15


def spec_of(graph: str):
    settings, _ = GRAPHS[graph]
    return load_problem("network_flow", graph, **settings)


def agent_profile(graph: str, seed: int) -> dict:
    """One agent episode on one core: decision time per step split into LP and policy (run in a fresh process)."""
    spec = spec_of(graph)
    agent = netctrl.load_pretrained(AGENT, spec=spec)
    lp_s = [0.0]
    solve = MultiCommodityLP.solve

    def timed(self, *a, **kw):
        t0 = time.perf_counter()
        try:
            return solve(self, *a, **kw)
        finally:
            lp_s[0] += time.perf_counter() - t0

    MultiCommodityLP.solve = timed
    try:
        row = compare(spec, {"agent": agent}, [seed], reference=None)[0]
    finally:
        MultiCommodityLP.solve = solve
    ep = row.result.episodes[0]
    env = spec.make_env()
    decision_ms = 1e3 * ep.decision_s / ep.steps
    lp_ms = 1e3 * lp_s[0] / ep.steps
    return {
        "nodes": int(env.unwrapped.N),
        "arcs": int(env.unwrapped.E),
        "steps": ep.steps,
        "decision_ms": round(decision_ms, 2),
        "lp_ms": round(lp_ms, 2),
        "policy_ms": round(decision_ms - lp_ms, 2),
    }


def oracle_solve(graph: str, seed: int) -> float:
    """Wall time (s) of one episode's exact plan (run in a fresh process, for its peak memory)."""
    env = spec_of(graph).make_env()
    env.reset(seed=seed)
    t0 = time.perf_counter()
    oracle_plan(env, env.unwrapped.T, all_steps=True)
    return time.perf_counter() - t0


def fit_horizon(spec, seed: int) -> tuple[int | None, dict]:
    """The longest horizon of :data:`FORECAST_HORIZONS` whose decision fits :data:`FORECAST_BUDGET_S` (tried
    shortest first, stopping at the first that does not fit), and the times measured."""
    chosen, times = None, {}
    for h in FORECAST_HORIZONS:
        times[h] = round(mpc_step_ms(spec, seed, steps=MPC_STEPS, horizon=h, foresight=False) / 1e3, 3)
        if times[h] > FORECAST_BUDGET_S:
            break
        chosen = h
    return chosen, times


def graph_records(graph: str, spec, rows, oracle: dict | None = None) -> list[dict]:
    """The records of ``compare``'s ``rows`` on ``graph``: with its size and settings and the per-episode rewards;
    ``pct_of_oracle`` against ``oracle`` (a record's oracle row on the same seeds) where one is given."""
    env = spec.make_env().unwrapped
    recs = rows_to_records(spec, rows)
    for rec, row in zip(recs, rows, strict=True):
        rec.update(graph=graph, nodes=int(env.N), arcs=int(env.E), **GRAPHS[graph][0])
        rec["rewards"] = [round(float(e.reward), 2) for e in row.result.episodes]
        if oracle is not None:
            rec["pct_of_oracle"] = round(100.0 * rec["reward_mean"] / oracle["reward_mean"], 2)
    return recs


def oracle_row(record: dict) -> dict | None:
    return next((r for r in record["rows"] if r["controller"] == "oracle"), None)


def run_forecast(graph: str, record: dict) -> dict:
    """The forecast MPC within its time budget on a graph's test seeds (those of its record), as a row beside
    the record's: ``pct_of_oracle`` against the record's oracle row where it has one."""
    spec = spec_of(graph)
    seeds = [int(x) for x in record["rows"][0]["seeds"]]
    horizon, times = fit_horizon(spec, seeds[0])
    if horizon is None:
        return {"graph": graph, "horizon": None, "step_s_by_horizon": times, "rows": []}
    name = f"mpc-forecast (horizon {horizon}, <= {FORECAST_BUDGET_S:g} s)"
    rows = compare(spec, {name: ForecastMPC(horizon=horizon)}, seeds, reference=None, progress=True)
    recs = graph_records(graph, spec, rows, oracle_row(record))
    for rec in recs:
        rec["horizon"], rec["step_s_by_horizon"] = horizon, times
    return {
        "graph": graph,
        "horizon": horizon,
        "step_s_by_horizon": times,
        "rows": recs,
        "paired_agent_minus_forecast": agents_minus(record, recs[0]["rewards"]),
    }


def agents_minus(record: dict, other: list[float]) -> dict:
    """Each agent of a graph's record minus ``other`` per episode (the same seeds), by agent label."""
    return {r["controller"]: paired(r["rewards"], other) for r in record["rows"] if r["controller"] in AGENTS}


def evaluate_agents(graph: str, record: dict) -> dict:
    """Evaluate :data:`AGENTS` again on a graph's record (its seeds) and replace its agent rows, the pairings
    with the deadline greedy and the profile (the benchmark's agent's, in a fresh process); the baselines' and
    the oracle's rows are kept."""
    spec = spec_of(graph)
    seeds = [int(x) for x in record["rows"][0]["seeds"]]
    controllers = {label: netctrl.load_pretrained(name, spec=spec) for label, name in AGENTS.items()}
    oracle = oracle_row(record)
    rows = compare(spec, controllers, seeds, reference=None, progress=True)
    recs = graph_records(graph, spec, rows, oracle)
    record["rows"] = recs + [r for r in record["rows"] if not r["controller"].startswith("bilevel-ppo")]
    greedy = next(r for r in record["rows"] if r["controller"] == "shortest-path-deadline")
    record["paired_vs_deadline_greedy"] = agents_minus(record, greedy["rewards"])
    profile, peak = in_fresh_process(agent_profile, graph, seeds[0])
    profile["peak_rss_mb"] = round(peak, 1)
    if oracle is not None:
        profile["decision_speedup_vs_oracle_mpc"] = round(float(oracle["decision_ms"]) / profile["decision_ms"], 1)
    record["profile"] = profile
    return record


def run_long_forecast(graph: str, record: dict, episodes: int) -> dict:
    """The forecast MPC with horizon :data:`LONG_HORIZON`, no time budget, on a graph's first ``episodes`` test
    seeds, with ``pct_of_oracle`` against the record's oracle on the same seeds."""
    spec = spec_of(graph)
    seeds = [int(x) for x in record["rows"][0]["seeds"]][:episodes]
    name = f"mpc-forecast (horizon {LONG_HORIZON}, no time budget)"
    rows = compare(spec, {name: ForecastMPC(horizon=LONG_HORIZON)}, seeds, reference=None, progress=True)
    (rec,) = graph_records(graph, spec, rows)
    same_seeds(rec, record)
    return {"graph": graph, "horizon": LONG_HORIZON, "rows": [rec], "command": command_line()}


def same_seeds(rec: dict, record: dict) -> None:
    """Put in ``rec`` (a row on the first test seeds of a graph) the means of the agents, the deadline greedy and
    the oracle of the graph's ``record`` on those seeds, and its ``pct_of_oracle``."""
    n = len(rec["rewards"])
    rec["same_seeds"] = {
        r["controller"]: round(sum(r["rewards"][:n]) / n, 2)
        for r in record["rows"]
        if r["controller"] in ("oracle", "shortest-path-deadline", *AGENTS)
    }
    oracle = rec["same_seeds"].get("oracle")
    rec["pct_of_oracle"] = round(100.0 * rec["reward_mean"] / oracle, 2) if oracle else None


def validate(checkpoints: list[Path]) -> dict:
    """Return over the deadline greedy's (ratio of the mean returns) of the shipped agent and of each checkpoint
    on the :data:`VALIDATION` graphs and seeds (never the test ones)."""
    out: dict = {"seeds": list(VALIDATION_SEEDS), "graphs": {}}
    for graph, settings in VALIDATION.items():
        spec = load_problem("network_flow", graph, **settings)
        controllers = {"current": netctrl.load_pretrained(AGENT, spec=spec)}
        controllers.update({str(c): load(c, spec) for c in checkpoints})
        controllers["shortest-path-deadline"] = GreedyShortestPath(deadline=True)
        rows = compare(spec, controllers, list(VALIDATION_SEEDS), reference=None)
        rewards = {r.controller: [round(float(e.reward), 2) for e in r.result.episodes] for r in rows}
        base = sum(rewards["shortest-path-deadline"])
        ratios = {c: round(sum(v) / base, 4) for c, v in rewards.items() if c != "shortest-path-deadline"}
        out["graphs"][graph] = {"rewards": rewards, "ratio_to_deadline_greedy": ratios}
        print(graph, json.dumps(ratios), flush=True)
    return out


def paired(agent: list[float], other: list[float]) -> dict:
    mean, se = paired_difference(agent, other)
    return {"mean": round(mean, 2), "se": None if se is None else round(se, 2), "episodes": len(agent)}


def measure_memory(record: dict) -> dict:
    """Measure again, each in a fresh process, the agent's profile and the oracle's solve of a graph's record."""
    graph = record["graph"]
    seed = int(record["rows"][0]["seeds"][0])
    profile, peak = in_fresh_process(agent_profile, graph, seed)
    profile["peak_rss_mb"] = round(peak, 1)
    if "decision_speedup_vs_oracle_mpc" in record["profile"]:
        profile["decision_speedup_vs_oracle_mpc"] = record["profile"]["decision_speedup_vs_oracle_mpc"]
    record["profile"] = profile
    for rec in record["rows"]:
        if rec["controller"] == "oracle":
            plan_s, plan_rss = in_fresh_process(oracle_solve, graph, seed)
            rec.update(plan_s=round(plan_s, 1), plan_peak_rss_mb=round(plan_rss, 1))
            mpc_ms = float(rec["decision_ms"])
            profile["decision_speedup_vs_oracle_mpc"] = round(mpc_ms / profile["decision_ms"], 1)
    return record


def run_graph(graph: str, quick: bool) -> dict:
    episodes = GRAPHS[graph][1]
    spec = spec_of(graph)
    seeds = [int(s) for s in spec.test_seeds[: 1 if quick else episodes]]
    env = spec.make_env().unwrapped
    T = env.T
    with_oracle = env.N <= ORACLE_MAX_NODES and not quick
    controllers = {
        **{label: netctrl.load_pretrained(name, spec=spec) for label, name in AGENTS.items()},
        "shortest-path-deadline": GreedyShortestPath(deadline=True),
        "shortest-path": GreedyShortestPath(),
        "random": RandomDistribution(seed=0),
    }
    if with_oracle:
        controllers["oracle"] = OracleMPC(horizon=T, replan_every=T)
    t0 = time.perf_counter()
    rows = compare(spec, controllers, seeds, reference="oracle" if with_oracle else None, progress=True)
    wall = time.perf_counter() - t0
    records = graph_records(graph, spec, rows)
    rewards = {r.controller: [float(e.reward) for e in r.result.episodes] for r in rows}
    profile, peak = in_fresh_process(agent_profile, graph, seeds[0])
    profile["peak_rss_mb"] = round(peak, 1)
    out = {
        "graph": graph,
        "rows": records,
        "profile": profile,
        "paired_vs_deadline_greedy": {a: paired(rewards[a], rewards["shortest-path-deadline"]) for a in AGENTS},
        "wall_s": round(wall, 1),
    }
    if with_oracle:
        plan_s, plan_rss = in_fresh_process(oracle_solve, graph, seeds[0])
        mpc_ms = mpc_step_ms(spec, seeds[0], steps=MPC_STEPS)
        for rec in records:
            if rec["controller"] == "oracle":
                rec.update(
                    decision_ms=round(mpc_ms, 1),
                    plan_s=round(plan_s, 1),
                    plan_peak_rss_mb=round(plan_rss, 1),
                    decision_ms_note="receding-horizon oracle MPC (horizon 15), median of the first steps",
                )
        profile["decision_speedup_vs_oracle_mpc"] = round(mpc_ms / profile["decision_ms"], 1)
    print_table(graph, records, ["controller", "reward_mean", "reward_std", "pct_of_oracle", "decision_ms"])
    return out


def main() -> None:
    torch.set_num_threads(1)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--graphs", nargs="+", default=list(GRAPHS), choices=list(GRAPHS))
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--rerun", action="store_true", help="recompute the graphs' records even if present")
    p.add_argument("--no-write", action="store_true", help="only the graphs' records, not the results file")
    p.add_argument("--quick", action="store_true", help="1 episode, no oracle, records in a scratch folder")
    p.add_argument(
        "--memory", action="store_true", help="measure the profiles and peak memory of existing records again"
    )
    p.add_argument(
        "--forecast",
        action="store_true",
        help=f"run the forecast MPC (<= {FORECAST_BUDGET_S:g} s per decision) on the graphs with a record",
    )
    p.add_argument(
        "--agents",
        action="store_true",
        help="evaluate the agents again on the graphs' records (keeps the baselines' and the oracle's rows)",
    )
    p.add_argument(
        "--validate",
        nargs="+",
        type=Path,
        metavar="CHECKPOINT",
        help="compare checkpoints with the shipped agent on the validation graphs (runs/.../validation.json)",
    )
    p.add_argument(
        "--long-forecast",
        type=int,
        metavar="EPISODES",
        help=f"run the forecast MPC with horizon {LONG_HORIZON} (no time budget) on the first EPISODES test seeds",
    )
    a = p.parse_args()
    folder = RECORDS / "quick" if a.quick else RECORDS
    folder.mkdir(parents=True, exist_ok=True)
    if a.validate:
        out = validate(a.validate)
        out["command"] = command_line()
        atomic_write_text(folder / "validation.json", json.dumps(out, indent=1) + "\n")
        return
    for graph in a.graphs:
        if a.agents:
            path = folder / f"{graph.replace('/', '__')}.json"
            if path.exists():
                rec = evaluate_agents(graph, json.loads(path.read_text()))
                rec["agents_command"] = command_line()
                atomic_write_text(path, json.dumps(rec, indent=1) + "\n")
                fpath = path.with_suffix(".forecast.json")
                if fpath.exists():  # the forecast MPC's pairing with the agents
                    frec = json.loads(fpath.read_text())
                    if frec["rows"]:
                        frec["paired_agent_minus_forecast"] = agents_minus(rec, frec["rows"][0]["rewards"])
                        atomic_write_text(fpath, json.dumps(frec, indent=1) + "\n")
                lpath = path.with_suffix(".forecast-long.json")
                if lpath.exists():
                    lrec = json.loads(lpath.read_text())
                    same_seeds(lrec["rows"][0], rec)
                    atomic_write_text(lpath, json.dumps(lrec, indent=1) + "\n")
            continue
        if a.long_forecast:
            path = folder / f"{graph.replace('/', '__')}.json"
            lpath = folder / f"{graph.replace('/', '__')}.forecast-long.json"
            if path.exists() and (a.rerun or not lpath.exists()):
                rec = run_long_forecast(graph, json.loads(path.read_text()), a.long_forecast)
                atomic_write_text(lpath, json.dumps(rec, indent=1) + "\n")
            continue
        path = folder / f"{graph.replace('/', '__')}.json"
        if a.forecast:
            fpath = folder / f"{graph.replace('/', '__')}.forecast.json"
            if path.exists() and (a.rerun or not fpath.exists()):
                rec = run_forecast(graph, json.loads(path.read_text()))
                rec["command"] = command_line()
                atomic_write_text(fpath, json.dumps(rec, indent=1) + "\n")
            continue
        if a.memory and path.exists():
            rec = measure_memory(json.loads(path.read_text()))
            atomic_write_text(path, json.dumps(rec, indent=1) + "\n")
            continue
        if path.exists() and not a.rerun:
            continue
        rec = run_graph(graph, a.quick)
        rec["command"] = command_line()
        atomic_write_text(path, json.dumps(rec, indent=1) + "\n")
    if a.no_write or a.quick:
        return
    found = [folder / f"{g.replace('/', '__')}.json" for g in GRAPHS]
    recs = [json.loads(f.read_text()) for f in found if f.exists()]
    forecasts = [
        json.loads(f.with_suffix(".forecast.json").read_text())
        for f in found
        if f.with_suffix(".forecast.json").exists()
    ]
    longs = [
        json.loads(f.with_suffix(".forecast-long.json").read_text())
        for f in found
        if f.with_suffix(".forecast-long.json").exists()
    ]
    rows = [row for rec in recs for row in rec["rows"]] + [row for f in forecasts + longs for row in f["rows"]]
    speed = {rec["graph"]: rec["profile"] for rec in recs}
    write_results(
        a.out / "network_flow_scale.json",
        "network_flow_scale",
        rows,
        speed,
        command="python benchmarks/network_flow_scale.py",
        paired_vs_deadline_greedy={rec["graph"]: rec["paired_vs_deadline_greedy"] for rec in recs},
        forecast_mpc={
            f["graph"]: {
                "horizon": f["horizon"],
                "step_s_by_horizon": f["step_s_by_horizon"],
                "paired_agent_minus_forecast": f.get("paired_agent_minus_forecast"),
                "command": f["command"],
            }
            for f in forecasts
        },
        forecast_budget_s=FORECAST_BUDGET_S,
        records={rec["graph"]: {"command": rec["command"], "wall_s": rec["wall_s"]} for rec in recs},
        agents={label: f"netctrl.load_pretrained({name!r})" for label, name in AGENTS.items()},
        agent=f"{AGENT_LABEL}: the benchmark's agent (speed, pairings); trained on graphs of at most 200 nodes, "
        "never on these graphs",
        oracle_max_nodes=ORACLE_MAX_NODES,
        note="pct_of_oracle: % of the episode optimum (time-expanded LP with perfect foresight) on the same seeds; "
        "backbones use sources='in-time'",
    )


if __name__ == "__main__":
    main()
