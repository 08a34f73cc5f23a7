"""Pretrained controllers shipped in the package: evaluate a learned controller with no training.

Every benchmark instance whose results include a learned controller ships one here (``src/netctrl/data/
pretrained``): a checkpoint in the one format of :mod:`netctrl.train` with the optimiser state and random
states removed (loaded with ``torch.load(..., weights_only=True)`` and its checksum checked, as every
checkpoint), listed in ``manifest.json`` with the command and config that trained it, the file's SHA-256 and
the problems it is evaluated on. ``results/pretrained.json`` holds each one's evaluation on the test seeds
(``python benchmarks/pretrained.py evaluate``); a test re-runs a short evaluation of every entry and compares.

>>> [p.problem for p in list_pretrained("mobility")]
['mobility/nyc_brooklyn', 'mobility/shenzhen_downtown_west']
>>> find_pretrained("network_flow/b4").problem  # a graph policy of the family that transfers to b4
'network_flow/gabriel-mix'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .manifest import (
    MANIFEST,
    PRETRAINED_DIR,
    STRIPPED_KEYS,
    Pretrained,
    find_pretrained,
    list_pretrained,
    verify,
)

__all__ = [
    "MANIFEST",
    "PRETRAINED_DIR",
    "STRIPPED_KEYS",
    "Pretrained",
    "find_pretrained",
    "list_pretrained",
    "load_pretrained",
    "strip_checkpoint",
    "verify",
    "write_manifest",
]


def load_pretrained(problem: str | Any, recipe: str | None = None, spec: Any = None):
    """The shipped controller for ``problem`` (a registry name, or a :class:`~netctrl.registry.ProblemSpec`, whose
    name is looked up), ready to evaluate: ``netctrl.evaluate(load_pretrained("supply_chain/1f3s"), ...)``.
    ``spec``: the problem it acts on (default: ``problem``'s own spec)."""
    from .recipes import load
    from .registry import ProblemSpec, get_problem

    if isinstance(problem, ProblemSpec):
        spec = spec or problem
        problem = problem.name
    entry = find_pretrained(problem, recipe)
    if spec is None:
        spec = get_problem(problem)
    return load(verify(entry), spec, name=entry.label)


def strip_checkpoint(ckpt: dict, meta: dict) -> dict:
    """A checkpoint payload for shipping: without :data:`STRIPPED_KEYS` and the format header, with ``meta``
    under ``pretrained`` (what :func:`netctrl.train.save_checkpoint` then writes with a fresh checksum)."""
    drop = {*STRIPPED_KEYS, "format", "version", "netctrl", "checksum"}
    return {**{k: v for k, v in ckpt.items() if k not in drop}, "pretrained": meta}


def write_manifest(entries: list[dict], path: Path = MANIFEST) -> None:
    """Write the manifest (atomically)."""
    from .train import atomic_write_text

    atomic_write_text(path, json.dumps({"format": "netctrl-pretrained", "pretrained": entries}, indent=2) + "\n")
