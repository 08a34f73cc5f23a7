"""The manifest of the controllers shipped in the package (``src/netctrl/data/pretrained/manifest.json``): which
file serves which problem, and its integrity check. A core module, below the recipes, so that a recipe can start
from a shipped policy (``init = "pretrained"``); loading one as a controller is :mod:`netctrl.pretrained`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .errors import CheckpointError, ConfigError

PRETRAINED_DIR = Path(__file__).resolve().parent / "data" / "pretrained"
MANIFEST = PRETRAINED_DIR / "manifest.json"
STRIPPED_KEYS = ("actor_opt", "critic_opt", "opt", "optimizer", "torch_rng", "rng", "state", "history")
"""Checkpoint entries a pretrained file leaves out: optimiser and random states and the training history, which
only a resumed training run needs (the history stays in the source run's metrics files)."""


@dataclass(frozen=True)
class Pretrained:
    """One shipped controller (an entry of ``manifest.json``)."""

    problem: str
    """the problem it was trained on (a registry name, e.g. ``mobility/nyc_brooklyn``)."""
    recipe: str
    file: str
    """file name in :data:`PRETRAINED_DIR`."""
    sha256: str
    bytes: int
    applies_to: tuple[str, ...]
    """problems it is evaluated on and the default controller for (``netctrl eval <p> --pretrained``)."""
    command: str
    """the command that trained it."""
    trained: dict
    """how it was trained: seed, iterations/episodes, wall time, machine, date, netctrl version, config."""
    notes: str = ""
    family_default: bool = False
    """the controller of its family for any problem that has none of its own (e.g. a user's graph)."""

    @property
    def path(self) -> Path:
        return PRETRAINED_DIR / self.file

    @property
    def family(self) -> str:
        return self.problem.split("/", 1)[0]

    @property
    def label(self) -> str:
        """``<recipe> (pretrained)``: the controller's name in evaluation tables."""
        return f"{self.recipe} (pretrained)"


def _manifest() -> list[Pretrained]:
    if not MANIFEST.exists():
        return []
    from .files import read_json

    doc = read_json(MANIFEST, what="pretrained manifest", error=CheckpointError)
    try:
        return [
            Pretrained(**{**e, "applies_to": tuple(e.get("applies_to") or (e["problem"],))}) for e in doc["pretrained"]
        ]
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{MANIFEST}: malformed pretrained manifest ({exc})") from None


def list_pretrained(family: str | None = None) -> list[Pretrained]:
    """The shipped controllers (of one family if given), in manifest order."""
    items = _manifest()
    return [p for p in items if family is None or p.family == family.split("/", 1)[0]]


def find_pretrained(problem: str, recipe: str | None = None) -> Pretrained:
    """The shipped controller for ``problem``: trained on it, listing it in ``applies_to``, or else its family's
    default (``family_default``: a graph policy that any network-flow topology, a user's too, can use);
    ``recipe`` picks one where several are shipped. :class:`~netctrl.errors.ConfigError` lists what is shipped
    otherwise."""
    items = [p for p in _manifest() if recipe is None or p.recipe == recipe]
    family = problem.split("/", 1)[0]
    for match in (
        [p for p in items if p.problem == problem],
        [p for p in items if problem in p.applies_to],
        [p for p in items if p.family_default and p.family == family],
    ):
        if match:
            return match[0]
    shipped = ", ".join(sorted({p.problem for p in _manifest()})) or "none"
    what = f"{recipe} controller" if recipe else "controller"
    raise ConfigError(f"no pretrained {what} for {problem!r}; shipped: {shipped} (see `netctrl pretrained`)")


def verify(entry: Pretrained) -> Path:
    """The entry's file, after checking it exists and its SHA-256 is the manifest's."""
    path = entry.path
    if not path.is_file():
        raise CheckpointError(f"pretrained file missing: {path} (a broken installation; reinstall netctrl)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != entry.sha256:
        raise CheckpointError(
            f"{path}: its SHA-256 is not the manifest's (a modified or damaged file; reinstall netctrl)"
        )
    return path
