"""Mobility-on-demand scenarios: load and validate the scenario JSON format, turn it into per-step arrays.

The format (the one of the reference study's city files, e.g. ``scenario_nyc_brooklyn.json``):

=================  ======================================================================================
key                content
=================  ======================================================================================
``nlat, nlon``     the regions are ``0 .. nlat*nlon-1`` (or give ``region``: a count or a list of ids)
``demand``         list of ``{time_stamp, origin, destination, demand, travel_time, price}``: per-minute
                   request rate of an origin-destination pair at minute-of-day ``time_stamp``, with the
                   trip's travel time in minutes and its price
``rebTime``        list of ``{time_stamp, origin, destination, reb_time}``: empty-vehicle travel time in
                   minutes between two regions during hour ``time_stamp``
``totalAcc``       list of ``{hour, acc}``: fleet size per hour
``topology_graph`` list of ``{i, j}``: region adjacency; vehicles rebalance along these edges (both
                   directions)
=================  ======================================================================================

Every malformed input raises :class:`~netctrl.errors.ScenarioError` naming the key, the entry and the value.

Choices that reproduce the reference study (``demand_pairs="adjacent"``, the benchmark setting):

* a step aggregates ``step_minutes`` minutes; the per-step Poisson rate of a pair is the sum of its scaled
  per-minute rates, the price is the rate-weighted mean price, the trip time is the rate-weighted mean
  travel time in steps, rounded, at least 1;
* only origin-destination pairs that are adjacent in ``topology_graph`` (and intra-region trips) carry
  demand; ``demand_pairs="all"`` keeps every pair of the file (more realistic, about twice the requests);
* rebalancing times come from the start hour, in steps, rounded, at least 1 (``varying_time=True`` uses
  each hour's own times);
* the fleet is the ``totalAcc`` of hour ``start_hour + round(step_minutes * steps / 120)`` (the middle of
  the episode), split evenly (integer division) over regions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import GraphError, ScenarioError, require_integer, require_number
from ...files import as_number, read_json, shown
from ...graph import FlowNetwork


@dataclass(frozen=True)
class CitySettings:
    """How a scenario file is turned into an episode (defaults: the reference NYC Brooklyn setting)."""

    start_hour: int = 19
    """hour of day at which the episode starts (``json_hr``)."""
    step_minutes: int = 4
    """minutes per control step (``json_tstep``)."""
    steps: int = 20
    """control steps per episode."""
    demand_ratio: float = 9.0
    """multiplier of the file's request rates."""
    cost_per_minute: float = 0.5
    """operating cost of one vehicle per minute of driving (``beta``); per step it is ``beta * step_minutes``."""
    demand_pairs: str = "adjacent"
    """``"adjacent"`` (reference: adjacent and intra-region pairs only) or ``"all"`` (every pair in the file)."""
    varying_time: bool = False
    """use each hour's rebalancing times instead of the start hour's."""
    fleet: int | None = None
    """total fleet; default from ``totalAcc`` (see the module docstring)."""
    lookahead: int = 20
    """steps of demand data kept beyond the episode end (for forecasts and the oracle's horizon)."""
    shock_multiplier: float = 1.0
    """a demand shock: the request rates of the pairs leaving the shocked regions are multiplied by this during
    the shock (the scenario's rates, which every forecast uses, are not)."""
    shock_share: float = 0.0
    """share of the regions hit by the shock (at least one when positive), drawn afresh every episode."""
    shock_steps: int = 0
    """steps the shock lasts; its first step is drawn every episode, uniformly among those that keep it inside
    the episode (0: no shock)."""
    demand_scale: float = 1.0
    """realised request rates / the scenario's (every forecast, and the forecast MPC, keep the scenario's): a
    shifted-demand test of a controller built for the nominal demand."""
    demand_delay: int = 0
    """steps the realised demand's time profile lags the scenario's: the realised requests of step ``t`` total
    the scenario's of step ``t - demand_delay`` (clamped to the data's steps), spread over the pairs as the
    scenario's of step ``t`` (so every realised trip has the step's price and trip time); negative: earlier."""
    closed_links: tuple[str, ...] = ()
    """rebalancing links closed at deployment, named ``"FROM->TO"`` by region ids (one direction each; e.g.
    ``["3->4", "4->3"]``): no lower level sends an empty vehicle along them, and the environment refuses any
    rebalancing flow on them (counted in ``info['violations']``)."""

    def __post_init__(self) -> None:
        for name, low, high in (
            ("start_hour", 0, MAX_HOUR),
            ("step_minutes", 1, MAX_MINUTES),
            ("steps", 1, MAX_STEPS),
            ("lookahead", 0, MAX_STEPS),
        ):
            _check_int(name, getattr(self, name), low, high)
        if self.fleet is not None:
            _check_int("fleet", self.fleet, 1, MAX_FLEET)
        for name in ("demand_ratio", "cost_per_minute"):
            require_number(name, getattr(self, name), ScenarioError)
        if not 0 < self.demand_ratio <= MAX_DEMAND_RATIO:
            raise ScenarioError(f"Expected 0 < 'demand_ratio' <= {MAX_DEMAND_RATIO:g} (got {self.demand_ratio})")
        if not 0 <= self.cost_per_minute <= MAX_PRICE:
            raise ScenarioError(f"Expected 0 <= 'cost_per_minute' <= {MAX_PRICE:g} (got {self.cost_per_minute})")
        if self.demand_pairs not in ("adjacent", "all"):
            raise ScenarioError(f"Expected 'demand_pairs' in ('adjacent', 'all') (got {shown(self.demand_pairs)})")
        if not isinstance(self.varying_time, bool):
            raise ScenarioError(f"'varying_time' must be true or false (got {shown(self.varying_time)})")
        _check_int("shock_steps", self.shock_steps, 0, self.steps)
        for name in ("shock_multiplier", "shock_share"):
            require_number(name, getattr(self, name), ScenarioError)
        if not 0 <= self.shock_multiplier <= MAX_DEMAND_RATIO:
            raise ScenarioError(
                f"Expected 0 <= 'shock_multiplier' <= {MAX_DEMAND_RATIO:g} (got {self.shock_multiplier})"
            )
        if not 0 <= self.shock_share <= 1:
            raise ScenarioError(f"Expected 0 <= 'shock_share' <= 1 (got {self.shock_share})")
        require_number("demand_scale", self.demand_scale, ScenarioError)
        if not 0 <= self.demand_scale <= MAX_DEMAND_RATIO:
            raise ScenarioError(f"Expected 0 <= 'demand_scale' <= {MAX_DEMAND_RATIO:g} (got {self.demand_scale})")
        _check_int("demand_delay", self.demand_delay, -MAX_STEPS, MAX_STEPS)
        if not isinstance(self.closed_links, tuple) or not all(isinstance(x, str) for x in self.closed_links):
            raise ScenarioError(
                f"Expected 'closed_links' to be a list of 'FROM->TO' strings (got {self.closed_links!r})"
            )

    @property
    def has_shock(self) -> bool:
        """Whether episodes have a demand shock (a multiplier other than 1 on some regions for some steps)."""
        return self.shock_steps > 0 and self.shock_share > 0 and self.shock_multiplier != 1


#: upper bounds of the settings and of the file's sizes: beyond them the per-step arrays would not fit in memory
MAX_STEPS = 100_000
MAX_HOUR = 10_000
MAX_MINUTES = 10_000
MAX_FLEET = 10**12
MAX_REGIONS = 100_000
#: the longest trip or rebalancing time (minutes) a scenario may give: a week
MAX_TRAVEL_MINUTES = 7 * 24 * 60
#: the largest demand (trips of one pair and time stamp) and price accepted: far above a city's, low enough for
#: the Poisson sampler and finite rewards
MAX_TRIPS = 1e9
MAX_PRICE = 1e9
MAX_DEMAND_RATIO = 1e6


def _check_int(name: str, value, low: int, high: int) -> None:
    require_integer(name, value, ScenarioError)
    if not low <= value <= high:
        raise ScenarioError(f"'{name}' must be an integer in {low}..{high} (got {value})")


#: the packaged cities and the reference study's settings for them
CITIES: dict[str, tuple[str, CitySettings]] = {
    "nyc_brooklyn": (
        "scenario_nyc_brooklyn.json",
        CitySettings(start_hour=19, step_minutes=4, steps=20, demand_ratio=9.0),
    ),
    "shenzhen_downtown_west": (
        "scenario_shenzhen_downtown_west.json",
        CitySettings(start_hour=8, step_minutes=3, steps=20, demand_ratio=2.5),
    ),
}


@dataclass(frozen=True, eq=False)
class MobilityScenario:
    """A validated city, as arrays indexed by control step (``H = steps + lookahead`` rows).

    Shapes: ``N`` regions, ``E`` rebalancing edges, ``P`` simulated origin-destination pairs.
    """

    name: str
    network: FlowNetwork
    """regions and rebalancing edges (``edge_attr['reb_time']`` in steps, at the start hour)."""
    settings: CitySettings
    pairs: np.ndarray
    """(P, 2) int: origin and destination region positions of the simulated pairs."""
    rate: np.ndarray
    """(H, P) float: expected requests per step."""
    price: np.ndarray
    """(H, P) float: price of a trip (0 where the rate is 0)."""
    trip_time: np.ndarray
    """(H, P) int: trip duration in steps (>= 1)."""
    reb_time: np.ndarray
    """(H, E) int: rebalancing duration in steps (>= 1)."""
    fleet: np.ndarray
    """(N,) float: idle vehicles per region at the start."""
    meta: dict = field(default_factory=dict)
    closed: np.ndarray | None = None
    """(E,) bool: rebalancing links closed (``settings.closed_links``); ``None``: none."""

    @property
    def num_regions(self) -> int:
        return self.network.num_nodes

    @property
    def steps(self) -> int:
        return self.settings.steps

    @property
    def beta(self) -> float:
        """operating cost of one vehicle for one step of driving."""
        return self.settings.cost_per_minute * self.settings.step_minutes

    @property
    def realised_rate(self) -> np.ndarray:
        """(H, P) the request rates the environment draws its demand from: :attr:`rate` with the settings'
        ``demand_scale`` and ``demand_delay`` (a step's total from ``t - demand_delay``, its pairs' shares from
        ``t``; :attr:`rate` itself when neither is set)."""
        s = self.settings
        if s.demand_scale == 1.0 and s.demand_delay == 0:
            return self.rate
        total = self.rate.sum(axis=1)
        lagged = total[np.clip(np.arange(len(total)) - s.demand_delay, 0, len(total) - 1)]
        factor = np.divide(lagged, total, out=np.zeros_like(total), where=total > 0)
        return s.demand_scale * self.rate * factor[:, None]

    def __repr__(self) -> str:
        return (
            f"MobilityScenario({self.name!r}, regions={self.num_regions}, edges={self.network.num_edges}, "
            f"pairs={len(self.pairs)}, steps={self.steps}, fleet={int(self.fleet.sum())})"
        )


# ---------------------------------------------------------------------------------------------- loading
def list_cities() -> list[str]:
    return sorted(CITIES)


def load_city(name: str, **overrides: Any) -> MobilityScenario:
    """Load a packaged city (``nyc_brooklyn``, ``shenzhen_downtown_west``) with its reference settings.

    ``overrides`` replace fields of :class:`CitySettings` (e.g. ``demand_pairs="all"``).
    """
    key = name.lower().replace("-", "_")
    if key not in CITIES:
        raise ValueError(f"Unknown city {name!r}; choose one of {list_cities()} or pass a scenario file path")
    fname, settings = CITIES[key]
    return _load_packaged(key, fname, CitySettings(**{**settings.__dict__, **overrides}))


@lru_cache(maxsize=32)
def _load_packaged(key: str, fname: str, settings: CitySettings) -> MobilityScenario:
    """Packaged cities are parsed once per process (their arrays are read-only and shared)."""
    path = resources.files("netctrl").joinpath("data", "mobility", fname)
    with resources.as_file(path) as p:
        return load_scenario(p, settings, name=key)


def load_scenario(
    path: str | Path, settings: CitySettings | None = None, *, name: str | None = None, **overrides: Any
) -> MobilityScenario:
    """Load and validate a scenario JSON file (any city in the format above)."""
    path = Path(path)
    data = read_json(path, what="scenario file")
    settings = settings or CitySettings()
    if overrides:
        settings = CitySettings(**{**settings.__dict__, **overrides})
    try:
        return scenario_from_dict(data, settings, name=name or path.stem)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None


def _records(data: dict, key: str, fields: dict[str, str]) -> dict[str, np.ndarray]:
    """Validate a list of records; return one array per field. ``fields`` maps name -> 'int'|'num'."""
    if key not in data:
        raise ScenarioError(f"missing key '{key}'")
    recs = data[key]
    if not isinstance(recs, list):
        raise ScenarioError(f"Expected '{key}' to be a list of objects (got {type(recs).__name__})")
    out: dict[str, list] = {f: [] for f in fields}
    for k, rec in enumerate(recs):
        if not isinstance(rec, dict):
            raise ScenarioError(f"Expected '{key}[{k}]' to be an object (got {type(rec).__name__})")
        for f, kind in fields.items():
            if f not in rec:
                raise ScenarioError(f"'{key}[{k}]' is missing field '{f}'")
            v = rec[f]
            if as_number(v) is None:
                raise ScenarioError(f"Expected '{key}[{k}].{f}' to be a number (got {shown(v)})")
            if not np.isfinite(v):
                raise ScenarioError(f"Expected '{key}[{k}].{f}' to be finite (got {v!r})")
            if kind == "int" and float(v) != int(v):
                raise ScenarioError(f"Expected '{key}[{k}].{f}' to be an integer (got {v!r})")
            if kind == "int" and abs(v) > 2**62:
                raise ScenarioError(f"Expected '{key}[{k}].{f}' to be an integer of magnitude <= 2**62 (got {v!r})")
            out[f].append(v)
    return {f: np.asarray(v, dtype=np.int64 if fields[f] == "int" else np.float64) for f, v in out.items()}


def _nonneg(arrs: dict, key: str, f: str, *, positive: bool = False, maximum: float | None = None) -> None:
    bad = np.flatnonzero(arrs[f] <= 0 if positive else arrs[f] < 0)
    if bad.size:
        k = int(bad[0])
        raise ScenarioError(f"Expected '{key}[{k}].{f}' {'>' if positive else '>='} 0 (got {arrs[f][k]})")
    if maximum is not None:
        bad = np.flatnonzero(arrs[f] > maximum)
        if bad.size:
            k = int(bad[0])
            raise ScenarioError(f"Expected '{key}[{k}].{f}' <= {maximum:g} (got {arrs[f][k]:g})")


def scenario_from_dict(data: dict, settings: CitySettings | None = None, *, name: str = "city") -> MobilityScenario:
    """Validate the parsed JSON ``data`` and build a :class:`MobilityScenario`."""
    s = settings or CitySettings()
    if not isinstance(data, dict):
        raise ScenarioError(f"Expected the scenario to be a JSON object (got {type(data).__name__})")

    # regions
    if "region" in data:
        reg = data["region"]
        if isinstance(reg, int) and not isinstance(reg, bool) and reg > MAX_REGIONS:
            raise ScenarioError(f"Expected 'region' to be a count of at most {MAX_REGIONS} regions (got {reg})")
        region_ids = (
            list(range(reg))
            if isinstance(reg, int) and not isinstance(reg, bool)
            else list(reg)
            if isinstance(reg, list)
            else None
        )
        if (
            region_ids is None
            or not region_ids
            or not all(isinstance(r, int) and not isinstance(r, bool) for r in region_ids)
        ):
            raise ScenarioError(f"Expected 'region' to be a positive count or a list of integer ids (got {shown(reg)})")
    else:
        for key in ("nlat", "nlon"):
            if key not in data:
                raise ScenarioError(f"missing key '{key}' (or give 'region')")
            if isinstance(data[key], bool) or not isinstance(data[key], int) or data[key] <= 0:
                raise ScenarioError(f"Expected '{key}' to be a positive integer (got {shown(data[key])})")
        if data["nlat"] * data["nlon"] > MAX_REGIONS:
            raise ScenarioError(
                f"Expected 'nlat' * 'nlon' <= {MAX_REGIONS} regions (got {data['nlat']} * {data['nlon']})"
            )
        region_ids = list(range(data["nlat"] * data["nlon"]))
    if len(set(region_ids)) != len(region_ids):
        raise ScenarioError("'region' lists an id twice")
    pos = {r: i for i, r in enumerate(region_ids)}
    N = len(region_ids)

    def positions(arrs: dict, key: str, fields: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
        out = []
        for f in fields:
            vals = arrs[f]
            idx = np.array([pos.get(int(v), -1) for v in vals], dtype=np.int64)
            bad = np.flatnonzero(idx < 0)
            if bad.size:
                k = int(bad[0])
                raise ScenarioError(
                    f"'{key}[{k}].{f}' = {int(vals[k])} is not a region id (regions: {region_ids[0]}..{region_ids[-1]})"
                )
            out.append(idx)
        return out[0], out[1]

    # topology
    topo = _records(data, "topology_graph", {"i": "int", "j": "int"})
    if topo["i"].size == 0:
        raise ScenarioError("'topology_graph' is empty: vehicles could never rebalance")
    ti, tj = positions(topo, "topology_graph", ("i", "j"))
    loops = np.flatnonzero(ti == tj)
    if loops.size:
        raise ScenarioError(f"'topology_graph[{int(loops[0])}]' is a self-loop at region {region_ids[ti[loops[0]]]}")
    edges = sorted(set(zip(ti.tolist(), tj.tolist())) | set(zip(tj.tolist(), ti.tolist())))
    edge_index = np.array(edges, dtype=np.int64).T

    # rebalancing times
    rt = _records(data, "rebTime", {"time_stamp": "int", "origin": "int", "destination": "int", "reb_time": "num"})
    _nonneg(rt, "rebTime", "reb_time", maximum=MAX_TRAVEL_MINUTES)
    ro, rd = positions(rt, "rebTime", ("origin", "destination"))
    H = s.steps + s.lookahead
    step_hour = (s.start_hour * 60 + np.arange(H) * s.step_minutes) // 60  # hour of each step
    hours_needed = np.unique(step_hour) if s.varying_time else np.array([s.start_hour])
    table: dict[tuple[int, int, int], float] = {}
    for h, o, d, v in zip(rt["time_stamp"].tolist(), ro.tolist(), rd.tolist(), rt["reb_time"].tolist()):
        table[(h, o, d)] = v
    reb_time = np.zeros((H, len(edges)), dtype=np.int64)
    for e, (o, d) in enumerate(edges):
        for h in hours_needed.tolist():
            key = (h, o, d) if (h, o, d) in table else (h, d, o)  # undirected fallback
            if key not in table:
                if s.varying_time and h != s.start_hour and (s.start_hour, o, d) in table:
                    key = (s.start_hour, o, d)
                else:
                    raise ScenarioError(
                        f"'rebTime' has no entry for edge ({region_ids[o]}, {region_ids[d]}) at hour {h}"
                    )
            steps_needed = max(round(table[key] / s.step_minutes), 1)
            rows = step_hour == h if s.varying_time else slice(None)
            reb_time[rows, e] = steps_needed
    try:
        network = FlowNetwork(
            N,
            edge_index,
            edge_attr={"reb_time": reb_time[0].astype(float)},
            node_names=region_ids,
            require_connected="strong",
        )
    except GraphError as exc:
        raise ScenarioError(f"'topology_graph': {exc}") from None
    closed = None
    if s.closed_links:
        names = {f"{region_ids[o]}->{region_ids[d]}": e for e, (o, d) in enumerate(edges)}
        closed = np.zeros(len(edges), dtype=bool)
        for link in s.closed_links:
            if link not in names:
                raise ScenarioError(
                    f"'closed_links': no rebalancing link {link!r} (links join regions adjacent in 'topology_graph', "
                    f"named like {next(iter(names))!r})"
                )
            closed[names[link]] = True
        closed.setflags(write=False)

    # demand
    dm = _records(
        data,
        "demand",
        {
            "time_stamp": "int",
            "origin": "int",
            "destination": "int",
            "demand": "num",
            "travel_time": "num",
            "price": "num",
        },
    )
    if dm["demand"].size == 0:
        raise ScenarioError("'demand' is empty")
    _nonneg(dm, "demand", "demand", maximum=MAX_TRIPS)
    _nonneg(dm, "demand", "travel_time", maximum=MAX_TRAVEL_MINUTES)
    _nonneg(dm, "demand", "price", positive=True, maximum=MAX_PRICE)
    do, dd = positions(dm, "demand", ("origin", "destination"))
    step_of = (dm["time_stamp"] - s.start_hour * 60) // s.step_minutes
    if s.demand_pairs == "adjacent":
        adj = set(edges)
        keep_pair = np.array([(o, d) in adj or o == d for o, d in zip(do.tolist(), dd.tolist())], dtype=bool)
    else:
        keep_pair = np.ones(do.size, dtype=bool)
    in_window = (step_of >= 0) & (step_of < H) & keep_pair & (dm["demand"] > 0)
    if not np.any(in_window[(step_of < s.steps)]):
        start, end = s.start_hour * 60, s.start_hour * 60 + s.steps * s.step_minutes
        timed = (dm["time_stamp"] >= start) & (dm["time_stamp"] < end)
        pairs = "every pair of the file" if s.demand_pairs == "all" else "the adjacent and intra-region pairs"
        found = (
            f"holds {int(timed.sum())} of them, none with a positive rate for {pairs}"
            if timed.any()
            else f"holds none of them (their time stamps are {int(dm['time_stamp'].min())}.."
            f"{int(dm['time_stamp'].max())})"
        )
        raise ScenarioError(
            f"'demand' has {timed.size} entries but no request for the simulated pairs during the episode: its "
            f"window [{start}, {end}) of 'time_stamp' minutes (hour {s.start_hour}, {s.steps} steps of "
            f"{s.step_minutes} min) {found}"
        )
    pair_keys = sorted(set(zip(do[in_window].tolist(), dd[in_window].tolist())))
    pidx = {p: k for k, p in enumerate(pair_keys)}
    P = len(pair_keys)
    rate = np.zeros((H, P))
    pw = np.zeros((H, P))
    tw = np.zeros((H, P))
    sel = np.flatnonzero(in_window)
    cols = np.array([pidx[(int(do[k]), int(dd[k]))] for k in sel], dtype=np.int64)
    rows = step_of[sel]
    v = dm["demand"][sel] * s.demand_ratio
    np.add.at(rate, (rows, cols), v)
    np.add.at(pw, (rows, cols), v * dm["price"][sel])
    np.add.at(tw, (rows, cols), v * dm["travel_time"][sel] / s.step_minutes)
    pos_rate = rate > 0
    price = np.where(pos_rate, pw / np.where(pos_rate, rate, 1.0), 0.0)
    trip_time = np.where(pos_rate, np.maximum(np.rint(tw / np.where(pos_rate, rate, 1.0)), 1), 1).astype(np.int64)

    # fleet
    if s.fleet is not None:
        total = int(s.fleet)
    else:
        acc = _records(data, "totalAcc", {"hour": "int", "acc": "num"})
        _nonneg(acc, "totalAcc", "acc", maximum=MAX_FLEET)
        hour = s.start_hour + round(s.step_minutes / 2 * s.steps / 60)
        match = np.flatnonzero(acc["hour"] == hour)
        if match.size == 0:
            raise ScenarioError(f"'totalAcc' has no entry for hour {hour} (the fleet hour of this episode)")
        total = int(acc["acc"][match[0]])
    per_region = total // N
    if per_region <= 0:
        raise ScenarioError(f"fleet of {total} vehicles is smaller than the number of regions ({N})")
    fleet = np.full(N, float(per_region))

    for arr in (rate, price, trip_time, reb_time, fleet):
        arr.setflags(write=False)
    return MobilityScenario(
        name=name,
        network=network,
        settings=s,
        pairs=np.array(pair_keys, dtype=np.int64).reshape(-1, 2),
        rate=rate,
        price=price,
        trip_time=trip_time,
        reb_time=reb_time,
        fleet=fleet,
        meta={"region_ids": region_ids, "expected_requests": float(rate[: s.steps].sum())},
        closed=closed,
    )
