"""Routing capacity of the B4, GEANT and AT&T topologies (issue 5): the load lambda at which shortest-path
routing saturates a router, and the load above which *every* routing does.

    python benchmarks/routing_capacity.py        # -> results/routing_capacity.json

Each router forwards one packet per tick and receives Poisson(lambda) new packets per tick with uniform
destinations (netctrl.problems.routing.sim.PacketSim). Rows: per topology (intact, and each of its file's
link-failure scenarios), ``max_unit_load`` = the busiest router's forwarding load per unit of lambda, for
shortest-path routing (``spa``, the controller's own next hops) and for the best routing (``any-routing``, a
multi-commodity LP on HiGHS, netctrl.problems.routing.capacity); ``saturating_load`` = 1 / max_unit_load;
``utilisation_at_<lambda>`` = lambda * max_unit_load (above 1, that router's queue grows without bound).

Rows with ``experiment="simulated"`` then run the best routing as a controller (``balanced``:
netctrl.problems.routing.baselines.BalancedRouting, each packet's next hop drawn from the LP's splits) beside
``spa`` in the packet simulator, with the routing benchmark's test seeds and episode length (seeds 1000-1002,
300 ticks, its loads), so the ``spa`` numbers equal those of results/routing.json: average delivery time of the
delivered packets, sojourn time per generated packet, packets lost, and their ratios to SPA.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import command_line, write_results
from routing import EVAL_HORIZON
from routing import LOADS as SIM_LOADS

from netctrl.controllers import run_episode
from netctrl.problems.routing import RoutingParallelEnv, load_topology
from netctrl.problems.routing.baselines import BalancedRouting, ShortestPath
from netctrl.problems.routing.capacity import min_max_unit_load, unit_loads
from netctrl.progress import track

LOADS = (0.3, 0.5)

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("results"))
    a = p.parse_args()
    rows = []
    for name in ("b4", "geant", "att"):
        base = load_topology(name)
        spa, balanced = ShortestPath(base), BalancedRouting(base)  # static routes of the intact topology
        capacity = [([], "spa", float(unit_loads(base, spa.next_hop).max())), ([], "any-routing", balanced.unit_load)]
        capacity += [
            (
                ["-".join(pair) for pair in base.link_names(failed)],
                "any-routing",  # SPA ignores failures
                min_max_unit_load(base.with_failures(failed)),
            )
            for failed in base.failure_scenarios
        ]
        for links, controller, w in capacity:
            row = {
                "topology": name,
                "experiment": "capacity",
                "failed_links": links,
                "controller": controller,
                "max_unit_load": round(w, 4),
                "saturating_load": round(1 / w, 4),
                **{f"utilisation_at_{lam}": round(lam * w, 3) for lam in LOADS},
            }
            rows.append(row)
            print(row)
        seeds = range(1000, 1003)
        for lam in track(SIM_LOADS, f"{name}: simulated loads"):
            res = {
                c.name: [
                    run_episode(c, RoutingParallelEnv(base, load=lam, horizon=EVAL_HORIZON), s).metrics for s in seeds
                ]
                for c in (spa, balanced)
            }
            ref = {k: float(np.mean([m[k] for m in res["spa"]])) for k in ("delivery_time", "sojourn_time")}
            for controller, ms in res.items():
                mean = {
                    k: float(np.mean([m[k] for m in ms])) for k in ("delivery_time", "sojourn_time", "packets_lost")
                }
                row = {
                    "topology": name,
                    "experiment": "simulated",
                    "controller": controller,
                    "load": lam,
                    "episodes": len(ms),
                    "seeds": list(seeds),
                    "horizon": EVAL_HORIZON,
                    **{k: round(v, 2) for k, v in mean.items()},
                    **{f"{k}_vs_spa": round(mean[k] / ref[k], 3) for k in ref},
                }
                rows.append(row)
                print(row)
    a.out.mkdir(parents=True, exist_ok=True)
    write_results(a.out / "routing_capacity.json", "routing_capacity", rows, {}, command=command_line())
