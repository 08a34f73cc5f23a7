"""Render results/<benchmark>.json as the README's markdown table (between <!-- results:NAME --> markers).

python benchmarks/readme_table.py mobility          # rewrites the README block from results/mobility.json
"""

import json
import re
import sys
from pathlib import Path

from network_flow import SHORT

from netctrl.problems.network_flow import MIX_SIZES, PRETRAIN_SIZES

ROOT = Path(__file__).resolve().parents[1]


def fmt(v, nd=1):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def mobility_table(doc: dict) -> str:
    lines = [
        "| city | controller | reward (mean ± std) | % of oracle | served trips | rebalancing cost | decision ms/step | training |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in doc["rows"]:
        train = f"{r['train_wall_s'] / 60:.1f} min, {r['train_episodes']:,} ep." if "train_wall_s" in r else ""
        lines.append(
            f"| {r['scenario']} | {r['controller']} | {fmt(r['reward_mean'], 0)} ± {fmt(r['reward_std'], 0)} | "
            f"{fmt(r['pct_of_oracle'])} | {fmt(r.get('served_mean'), 0)} | {fmt(r.get('rebalancing_cost_mean'), 0)} | "
            f"{fmt(r['decision_ms'], 2)} | {train} |"
        )
    sp = doc.get("speed", {})
    lines.append("")
    lines.append(
        f"Speed (NYC Brooklyn, one run, medians): a full bi-level step (policy forward + rebalancing LP + simulator "
        f"with matching) takes **{sp.get('step_ms_nyc')} ms** (policy {sp.get('step_policy_ms_nyc')} ms, LP "
        f"{sp.get('step_lp_ms_nyc')} ms, simulator {sp.get('step_sim_ms_nyc')} ms); the rebalancing LP hot-started "
        f"takes {sp.get('lp_hot_ms_nyc')} ms vs {sp.get('lp_rebuild_ms_nyc')} ms rebuilt every step "
        f"(**{sp.get('lp_hot_vs_rebuild_ratio')}x**). Machine: {doc['machine']}; {doc['date']}."
    )
    return "\n".join(lines)


def supply_chain_table(doc: dict) -> str:
    lines = [
        "| scenario | controller | profit (mean ± std) | % of oracle | decision ms/step | training |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in doc["rows"]:
        train = f"{r['train_wall_s'] / 60:.1f} min, {r['train_episodes']:,} ep." if "train_wall_s" in r else ""
        lines.append(
            f"| {r['scenario']} | {r['controller']} | {fmt(r['reward_mean'], 0)} ± {fmt(r['reward_std'], 0)} | "
            f"{fmt(r['pct_of_oracle'])} | {fmt(r['decision_ms'], 2)} | {train} |"
        )
    lines.append("")
    pairs = [
        f"{r['scenario']} {r['controller']} {r['vs_order_up_to_diff_mean']:+,.1f} ± {r['vs_order_up_to_diff_se']:,.1f} "
        f"(wins {r['vs_order_up_to_wins']}/{r['episodes']})"
        for r in doc["rows"]
        if "vs_order_up_to_wins" in r
    ]
    if pairs:
        lines.append(
            "Profit minus the tuned order-up-to's, episode by episode on the same seeds (mean ± standard "
            "error): " + "; ".join(pairs) + "."
        )
        lines.append("")
    sp = ", ".join(f"{k.replace('decision_speedup_vs_oracle_', '')}: **{v}x**" for k, v in doc.get("speed", {}).items())
    tune = ", ".join(f"{k} {v} s" for k, v in doc.get("heuristic_tuning_s", {}).items())
    lines.append(
        f"Decision time per step, oracle MPC / bi-level agent (same run): {sp}. Heuristic tuning: {tune}. "
        f"Machine: {doc['machine']}; {doc['date']}."
    )
    return "\n".join(lines)


def network_flow_table(doc: dict) -> str:
    ctrls = ["bilevel-ppo", "edge-ppo", "mpc-forecast", "shortest-path", "shortest-path-deadline", "random"]
    lines = [
        "| graph | nodes | split | "
        + " | ".join(f"{c} % of oracle" for c in ctrls)
        + " | oracle reward | decision ms: bi-level / edge / forecast MPC / oracle MPC |",
        "|---|---:|---|" + "---:|" * len(ctrls) + "---:|---:|",
    ]
    by: dict = {}
    for r in doc["rows"]:
        by.setdefault(r["scenario"], {})[r["controller"]] = r
    for graph, rows in by.items():
        any_row = next(iter(rows.values()))
        pct = " | ".join(fmt(rows[c]["pct_of_oracle"]) if c in rows else "–" for c in ctrls)
        ms = " / ".join(
            fmt(rows[c]["decision_ms"], 2) if c in rows else "–"
            for c in ("bilevel-ppo", "edge-ppo", "mpc-forecast", "oracle")
        )
        orc = rows.get("oracle", {})
        lines.append(
            f"| {graph} | {any_row['nodes']} | {any_row['split']} | {pct} | "
            f"{fmt(orc.get('reward_mean'), 0)} ({any_row['episodes']} ep.) | {ms} |"
        )
    sp = doc.get("speed", {})
    tr = "; ".join(
        f"{r['label']}: {r['train_wall_s'] / 60:.1f} min, {r['episodes']:,} episodes"
        for recs in doc.get("training", {}).values()
        for r in recs
    )
    lines.append("")
    lines.append(
        f"Training (once, PPO on Gabriel {'/'.join(map(str, MIX_SIZES))} and {SHORT}; the bi-level agent's time "
        f"includes its imitation pretraining on Gabriel {'/'.join(map(str, PRETRAIN_SIZES))}): "
        f"{tr}. Decision time at 200 nodes, oracle MPC / bi-level "
        f"agent: **{sp.get('decision_speedup_vs_oracle_200')}x**. Ray rollouts on this machine: 2 actors / 1 "
        f"actor **{sp.get('ray_rollout_speedup_2_workers')}x**, 2 actors / in-process "
        f"{sp.get('ray_rollout_speedup_vs_local')}x ({sp.get('rollout_steps_per_s_local')}, "
        f"{sp.get('rollout_steps_per_s_1_worker')}, {sp.get('rollout_steps_per_s_2_workers')} steps/s"
        + (
            f"; measured again by `{doc['ray_command']}`, {doc['ray_date']}, on the idle machine"
            if "ray_command" in doc
            else ""
        )
        + f"). Machine: {doc['machine']}; {doc['date']}."
    )
    return "\n".join(lines)


RENDER = {"mobility": mobility_table, "supply_chain": supply_chain_table, "network_flow": network_flow_table}

if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "mobility"
    doc = json.loads((ROOT / "results" / f"{name}.json").read_text())
    table = RENDER[name](doc)
    readme = ROOT / "README.md"
    text = readme.read_text()
    pattern = re.compile(rf"(<!-- results:{name} -->\n).*?(\n<!-- /results:{name} -->)", re.S)
    if not pattern.search(text):
        sys.exit(f"README has no <!-- results:{name} --> block")
    readme.write_text(pattern.sub(lambda m: m.group(1) + table + m.group(2), text))
    print(table)
