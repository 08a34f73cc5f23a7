"""Property: a randomly mutated scenario file loads, or fails with a :class:`~netctrl.errors.NetctrlError`.

Each family starts from a small valid scenario (the packaged B4 topology for network flow and routing), applies
random mutations to the parsed document (delete a key or an entry, replace a value by a random JSON value or by
an awkward one: NaN, infinity, huge, negative, zero, a string, a boolean; truncate a list, duplicate an entry)
and reads the result through the command line's loader (:func:`netctrl.registry.load_problem`). Any other
exception is a bug. The default run tries a few examples per family; ``-m slow`` tries 500 each.
"""

from __future__ import annotations

import copy
import json
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netctrl.errors import NetctrlError
from netctrl.problems.supply_chain.scenario import REFERENCE
from netctrl.registry import load_problem

from .conftest import TINY_SETTINGS, tiny_city_dict

TOLL = {
    "name": "braess",
    "temperature": 0.2,
    "nodes": ["s", "v", "w", "t"],
    "links": [
        {"from": "s", "to": "v", "latency": {"type": "affine", "a": 0, "b": 1}, "tollable": False},
        {"from": "v", "to": "t", "latency": {"type": "affine", "a": 1, "b": 0}, "tollable": False},
        {"from": "s", "to": "w", "latency": {"type": "bpr", "free_flow": 1, "capacity": 2}},
        {"from": "w", "to": "t", "latency": {"type": "affine", "a": 0, "b": 1}, "tollable": False},
        {"from": "v", "to": "w", "latency": {"type": "affine", "a": 0, "b": 0}},
    ],
    "demand": [{"origin": "s", "destination": "t", "rate": 1.0}],
}
#: the MCN text format's fields as a document (written back as ``key = repr(value)`` lines)
MCN = {"opt": 4, "V": [1, 2, 3, 4, 5, 6], "A": [(1, 2), (2, 1), (2, 3), (3, 2), (3, 4), (4, 3), (5, 6), (6, 5)]}


def _b4() -> dict:
    return json.loads(resources.files("netctrl").joinpath("data", "topologies", "b4.json").read_text(encoding="utf-8"))


#: family -> (base document, settings the loader gets, file name)
BASES = {
    "mobility": (tiny_city_dict(), TINY_SETTINGS, "city.json"),
    "supply_chain": (REFERENCE["1f2s"], {}, "net.json"),
    "network_flow": (_b4(), {"steps": 10}, "topo.json"),
    "routing": (_b4(), {"horizon": 10}, "topo.json"),
    "toll_design": (TOLL, {}, "toll.json"),
    "critical_node": (MCN, {}, "inst_1-1-1_001.txt"),
}

SCALARS = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats() | st.text(max_size=6)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
AWKWARD = st.sampled_from(
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        -1,
        0,
        -0.5,
        2.5,
        10**12,
        10**15,
        1e300,
        10**400,
        "false",
        "1",
        "",
        True,
        False,
        None,
        [],
        {},
        [[[]]],
    ]
)


def _paths(node, path=()):
    """Every path (tuple of keys / indices) into the document, the root included."""
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, path + (i,))


def _mutate(doc, draw):
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(doc))))
        op = draw(st.sampled_from(["delete", "replace", "awkward", "truncate", "duplicate", "nest"]))
        if not path:  # the root: only replaced
            if op in ("replace", "awkward"):
                doc = copy.deepcopy(draw(JSON_VALUES if op == "replace" else AWKWARD))
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key, value = path[-1], parent[path[-1]]
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(JSON_VALUES)
        elif op == "awkward":
            parent[key] = copy.deepcopy(draw(AWKWARD))  # a fresh copy: later mutations may change it
        elif op == "truncate" and isinstance(value, list):
            parent[key] = value[: draw(st.integers(0, max(len(value) - 1, 0)))]
        elif op == "duplicate" and isinstance(value, list) and value:
            value.append(copy.deepcopy(value[draw(st.integers(0, len(value) - 1))]))
        elif op == "nest":
            parent[key] = [value]
    return doc


def _write(family: str, doc, path: Path) -> None:
    if family == "critical_node":
        if isinstance(doc, dict):
            lines = [f"{v!r}  #opt" if k == "opt" else f"{k} = {v!r}" for k, v in doc.items()]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        else:
            path.write_text(repr(doc), encoding="utf-8")
    else:
        path.write_text(json.dumps(doc), encoding="utf-8")


def _check(family: str, data) -> None:
    """A mutated file gives a typed error, or a problem whose environment steps with finite rewards."""
    base, kw, name = BASES[family]
    doc = _mutate(base, data.draw)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        _write(family, doc, path)
        try:
            spec = load_problem(family, path, **kw)
        except NetctrlError:
            return  # a typed error: what a bad file must give
        if spec.kind == "gymnasium":  # what loads must also run: finite rewards, no exception
            env = spec.make_env()
            env.reset(seed=0)
            for _ in range(3):
                _, reward, terminated, truncated, _ = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
                assert np.isfinite(reward), f"non-finite reward {reward} from {json.dumps(doc)[:300]}"
                if terminated or truncated:
                    break


@pytest.mark.parametrize("family", list(BASES))
def test_unmutated_bases_load(family, tmp_path):
    base, kw, name = BASES[family]
    _write(family, base, tmp_path / name)
    load_problem(family, tmp_path / name, **kw)


@pytest.mark.parametrize("family", list(BASES))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(data=st.data())
def test_mutated_files_load_or_give_typed_errors(family, data):
    _check(family, data)


@pytest.mark.slow
@pytest.mark.parametrize("family", list(BASES))
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_files_load_or_give_typed_errors_many(family, data):
    _check(family, data)
