"""Synthetic cities of any size, in the scenario format of :mod:`.scenario` (seeded, every rule stated here).

:func:`generate_city` writes what a city file holds (``region``, ``topology_graph``, ``demand``, ``rebTime``,
``totalAcc``), so a generated city goes wherever a city file goes (``--scenario``, :func:`.scenario.
scenario_from_dict`). The rules, all drawn from ``numpy.random.default_rng(seed)``:

* **regions**: ``layout="planar"`` (default): ``regions`` centres drawn uniformly in a square of side
  ``sqrt(regions) * region_km`` km, adjacent where their Delaunay triangulation has an edge (a planar graph,
  fewer than six neighbours per region on average); ``layout="grid"``: a
  ``ceil(sqrt(regions))``-wide grid filled row by row, ``region_km`` apart, adjacent to their 4 neighbours.
* **travel times**: road distance = ``detour`` (1.3) x the straight-line distance between centres (half a region,
  ``region_km / 2``, within a region); minutes = road distance / ``speed_kmh`` x 60, times a congestion factor
  ``1 + congestion * profile(t)``, at least 1 minute. Rebalancing times (``rebTime``, per hour, between adjacent
  regions) follow the same rule at the hour's middle.
* **demand** (gravity model): every region has a population ``P_i`` drawn log-normal (sigma 0.6), times
  ``exp(-r_i / (0.5 side))`` for its distance ``r_i`` to the city centre (a denser centre). The per-minute request
  rate of a pair is ``P_i P_j exp(-d_ij / decay_km)`` (``decay_km`` default 2 ``region_km``), scaled so that the
  city's requests per hour average ``trips_per_region_hour x regions`` (default 80, about the packaged NYC
  Brooklyn's 100 per region and hour) over the generated hours, times the
  time-of-day profile ``profile(t) = exp(-((t - peak_hour) / peak_width)^2)`` through
  ``(1 - peak_share) + peak_share * profile(t) / mean(profile)``. ``pairs="adjacent"`` (default) writes only
  the pairs the reference setting serves (intra-region and adjacent regions; the file stays small at 400
  regions), ``"all"`` every pair.
* **prices**: ``base_fare + fare_per_minute x`` the trip's minutes.
* **fleet** (``totalAcc``, per hour): ``fleet_ratio`` (2.5) times the vehicles busy with trips at the busiest
  minute by Little's law (requests per minute x mean trip minutes), rounded up to a multiple of the region count.
  Trips last at least one control step and vehicles leave at step boundaries, so more than the busy count is
  needed: on a 30-region city (seed 2, one episode) the oracle serves 72 % of the requests with 1.5, 91 % with
  2.5 (where no rebalancing earns 83 % of the oracle's reward, as on the packaged NYC Brooklyn) and 94 % with 3.5.

The rates are written divided by ``demand_ratio`` (default 9, :class:`.scenario.CitySettings`' default), so that a
generated city read with the default settings has the stated requests. Minutes ``start_hour * 60`` to
``(start_hour + hours) * 60 - 1`` are written (default 19:00-22:00, as the packaged cities).

>>> city = generate_city(25, seed=1)
>>> city["region"], len(city["totalAcc"]), sorted(city)
(25, 3, ['demand', 'generator', 'rebTime', 'region', 'topology_graph', 'totalAcc'])
>>> from netctrl.problems.mobility.scenario import scenario_from_dict
>>> scenario_from_dict(city, name="gen-25").num_regions
25
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import Delaunay

from ...errors import ScenarioError, require_integer, require_number

LAYOUTS = ("planar", "grid")
PAIRS = ("adjacent", "all")
MAX_GENERATED_REGIONS = 2_000


def _profile(minutes: np.ndarray, peak_hour: float, peak_width: float) -> np.ndarray:
    return np.exp(-((((minutes / 60.0) - peak_hour) / peak_width) ** 2))


def _layout(regions: int, layout: str, region_km: float, rng) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Region centres (N, 2) in km and the undirected adjacency (i < j)."""
    if layout == "grid":
        cols = math.ceil(math.sqrt(regions))
        idx = np.arange(regions)
        pos = np.stack([idx % cols, idx // cols], axis=1).astype(float) * region_km
        edges = [(i, i + 1) for i in range(regions - 1) if (i + 1) % cols]
        edges += [(i, i + cols) for i in range(regions - cols)]
        return pos, sorted(edges)
    side = math.sqrt(regions) * region_km
    pos = rng.uniform(0.0, side, size=(regions, 2))
    if regions < 3:
        return pos, [(0, 1)] if regions == 2 else []
    tri = Delaunay(pos)
    edges = set()
    for a, b, c in tri.simplices.tolist():
        for u, v in ((a, b), (b, c), (a, c)):
            edges.add((min(u, v), max(u, v)))
    return pos, sorted(edges)


def generate_city(
    regions: int,
    *,
    seed: int = 0,
    layout: str = "planar",
    region_km: float = 1.0,
    speed_kmh: float = 20.0,
    detour: float = 1.3,
    congestion: float = 0.3,
    trips_per_region_hour: float = 80.0,
    decay_km: float | None = None,
    peak_hour: float = 19.5,
    peak_width: float = 1.5,
    peak_share: float = 0.5,
    base_fare: float = 2.5,
    fare_per_minute: float = 0.6,
    fleet_ratio: float = 2.5,
    start_hour: int = 19,
    hours: int = 3,
    pairs: str = "adjacent",
    demand_ratio: float = 9.0,
) -> dict:
    """A city scenario dict of ``regions`` regions by the rules of the module docstring (``seed``: all draws)."""
    require_integer("regions", regions)
    require_integer("seed", seed)
    require_integer("start_hour", start_hour)
    require_integer("hours", hours)
    if not 2 <= regions <= MAX_GENERATED_REGIONS:
        raise ScenarioError(f"Expected 2 <= 'regions' <= {MAX_GENERATED_REGIONS} (got {regions})")
    if layout not in LAYOUTS:
        raise ScenarioError(f"Expected 'layout' in {LAYOUTS} (got {layout!r})")
    if pairs not in PAIRS:
        raise ScenarioError(f"Expected 'pairs' in {PAIRS} (got {pairs!r})")
    if not (0 <= start_hour <= 23 and 1 <= hours <= 24 - start_hour):
        raise ScenarioError(
            f"Expected 0 <= 'start_hour' and 1 <= 'hours' <= 24 - start_hour (got {start_hour}, {hours})"
        )
    for name, value in (
        ("region_km", region_km),
        ("speed_kmh", speed_kmh),
        ("detour", detour),
        ("trips_per_region_hour", trips_per_region_hour),
        ("peak_width", peak_width),
        ("fleet_ratio", fleet_ratio),
        ("demand_ratio", demand_ratio),
    ):
        require_number(name, value)
        if value <= 0:
            raise ScenarioError(f"Expected '{name}' > 0 (got {value})")
    for name, value in (("congestion", congestion), ("base_fare", base_fare), ("fare_per_minute", fare_per_minute)):
        require_number(name, value)
        if value < 0:
            raise ScenarioError(f"Expected '{name}' >= 0 (got {value})")
    require_number("peak_share", peak_share)
    if not 0 <= peak_share <= 1:
        raise ScenarioError(f"Expected 0 <= 'peak_share' <= 1 (got {peak_share})")
    decay = 2.0 * region_km if decay_km is None else float(decay_km)
    if decay <= 0:
        raise ScenarioError(f"Expected 'decay_km' > 0 (got {decay_km})")

    rng = np.random.default_rng(seed)
    pos, edges = _layout(regions, layout, region_km, rng)
    side = math.sqrt(regions) * region_km
    dist = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)  # (N, N) km, at most 2,000 regions
    np.fill_diagonal(dist, region_km / 2.0)
    road = detour * dist
    centre = pos.mean(axis=0)
    population = rng.lognormal(0.0, 0.6, regions) * np.exp(-np.linalg.norm(pos - centre, axis=1) / (0.5 * side))

    if pairs == "adjacent":
        pair_list = [(i, i) for i in range(regions)] + edges + [(j, i) for i, j in edges]
    else:
        pair_list = [(i, j) for i in range(regions) for j in range(regions)]
    o = np.array([p[0] for p in pair_list])
    d = np.array([p[1] for p in pair_list])
    gravity = population[o] * population[d] * np.exp(-dist[o, d] / decay)

    minutes = np.arange(start_hour * 60, (start_hour + hours) * 60)
    prof = _profile(minutes.astype(float), peak_hour, peak_width)
    shape = (1.0 - peak_share) + peak_share * prof / prof.mean()  # mean 1 over the generated minutes
    per_minute = trips_per_region_hour * regions / 60.0  # requests per minute, on average
    rate = per_minute * shape[:, None] * (gravity / gravity.sum())[None, :]  # (minutes, pairs)
    free_minutes = road[o, d] / speed_kmh * 60.0
    trip_minutes = np.maximum(free_minutes[None, :] * (1.0 + congestion * prof[:, None]), 1.0)

    demand = [
        {
            "time_stamp": int(m),
            "origin": int(o[p]),
            "destination": int(d[p]),
            "demand": float(rate[t, p] / demand_ratio),
            "travel_time": round(float(trip_minutes[t, p]), 2),
            "price": round(float(base_fare + fare_per_minute * trip_minutes[t, p]), 2),
        }
        for t, m in enumerate(minutes.tolist())
        for p in range(len(pair_list))
    ]
    reb = []
    for h in range(start_hour, start_hour + hours):
        factor = 1.0 + congestion * float(_profile(np.array([h * 60.0 + 30.0]), peak_hour, peak_width)[0])
        for i, j in edges:
            t = max(float(road[i, j] / speed_kmh * 60.0 * factor), 1.0)
            reb += [
                {"time_stamp": h, "origin": i, "destination": j, "reb_time": round(t, 2)},
                {"time_stamp": h, "origin": j, "destination": i, "reb_time": round(t, 2)},
            ]
    busy = float((rate * trip_minutes).sum(axis=1).max())  # vehicles on trips at the busiest minute (Little's law)
    fleet = max(regions, math.ceil(fleet_ratio * busy / regions) * regions)
    return {
        "region": regions,
        "topology_graph": [{"i": int(i), "j": int(j)} for i, j in edges],
        "demand": demand,
        "rebTime": reb,
        "totalAcc": [{"hour": h, "acc": fleet} for h in range(start_hour, start_hour + hours)],
        "generator": {
            "regions": regions,
            "seed": seed,
            "layout": layout,
            "pairs": pairs,
            "trips_per_region_hour": trips_per_region_hour,
            "demand_ratio": demand_ratio,
        },
    }
