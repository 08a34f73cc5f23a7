"""Shared training infrastructure: seeding, run names, atomic checkpoints, metrics, progress, evaluation.

Every algorithm (``netctrl.algos.*``) and every recipe (``netctrl.recipes.*``) uses these pieces in the same way:

* one seed drives everything: :func:`seed_everything` seeds Python, NumPy and torch; the environments of
  iteration ``k`` are reset with :func:`episode_seeds` ``(seed, k, n)``, so a run is a pure function of its
  config, and resuming from the checkpoint of iteration ``k`` reproduces the uninterrupted run;
* **one checkpoint format** (:func:`save_checkpoint` / :func:`load_checkpoint`): a dict of tensors and plain
  data written atomically (temporary file + ``fsync`` + ``os.replace``) and loaded by torch's weights-only
  unpickler (``weights_only=True``), so nothing in it can run code. It carries ``format``, ``version``
  (:data:`CHECKPOINT_VERSION`), the netctrl version, the ``recipe`` that made it, the ``problem`` it was
  trained on (name, family, source, settings), the ``graph`` sizes of its training instance where the recipe
  has one, then the recipe's state, and a SHA-256 ``checksum`` of all of that. Loading checks the identity
  first: a file that is not a checkpoint, a damaged one (its checksum), or a checkpoint of another recipe or
  problem family raises :class:`CheckpointError` saying which; a failed write (disk full, read-only
  directory) keeps the previous file;
* metrics go to ``metrics.csv`` and ``metrics.jsonl`` in the run directory (:class:`MetricsLogger`), and with
  ``tensorboard`` to TensorBoard event files in ``<run_dir>/tensorboard/`` (the ``tensorboard`` extra);
* the full configuration is saved as ``config.json`` next to the checkpoints and printed at start-up;
* training shows a progress bar (:class:`~netctrl.progress.Progress`, on stderr when it is a terminal).
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import CheckpointError, DependencyNotInstalled
from .progress import Progress

CHECKPOINT_FORMAT = "netctrl-checkpoint"
CHECKPOINT_VERSION = 3
"""Versions and their migrations (every older version is still read):

* 3 (netctrl 0.3): a SHA-256 ``checksum`` over the whole payload (verified on load) and, for graph agents,
  the ``graph`` sizes of the training instance;
* 2 (netctrl 0.2): one format for every recipe (``recipe`` and ``problem`` recorded); read as is, without a
  checksum to verify;
* 1 (netctrl 0.1, ``format = "netctrl-checkpoint-v1"``: bi-level and edge-level agents only): upgraded on
  load to the version-2 layout (recipe and problem read from its config)."""
_V1_FORMAT = "netctrl-checkpoint-v1"


# ---------------------------------------------------------------------------------------------- seeding
def seed_everything(seed: int) -> None:
    """Seed Python, NumPy's global generator and torch."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def episode_seeds(seed: int, iteration: int, n: int) -> list[int]:
    """Reset seeds of the ``n`` environments at training iteration ``iteration`` (independent streams)."""
    ss = np.random.SeedSequence([int(seed), int(iteration)])
    return [int(s) for s in ss.generate_state(n, dtype=np.uint32)]


def run_name(env_id: str, algo: str, seed: int) -> str:
    """``{env}__{algo}__{seed}__{time}``, with path separators removed."""
    return f"{env_id.replace('/', '-')}__{algo}__{seed}__{int(time.time())}"


def configure_threads(n: int | None = None) -> None:
    """Use ``n`` intra-op threads (default 1: small graph batches are faster on one thread)."""
    torch.set_num_threads(n or 1)


# ---------------------------------------------------------------------------------------------- reward scaling
class RunningMeanStd:
    """Running mean/variance (parallel algorithm of Chan et al.), e.g. to scale rewards by the return's std."""

    def __init__(self, epsilon: float = 1e-4) -> None:
        self.mean, self.var, self.count = 0.0, 1.0, epsilon

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if x.size == 0:
            return
        b_mean, b_var, b_count = float(x.mean()), float(x.var()), x.size
        delta = b_mean - self.mean
        tot = self.count + b_count
        self.mean += delta * b_count / tot
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / tot
        self.var, self.count = m2 / tot, tot

    @property
    def std(self) -> float:
        return math.sqrt(self.var + 1e-8)

    def state_dict(self) -> dict:
        return {"mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, d: dict) -> None:
        self.mean, self.var, self.count = float(d["mean"]), float(d["var"]), float(d["count"])


# ---------------------------------------------------------------------------------------------- checkpoints
def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the permissions of a normal one
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}; the previous file is kept") from exc
        raise


RUN_FILES = (
    "last.pt",
    "best.pt",
    "meta_init.pt",
    "config.toml",
    "config.json",
    "metrics.jsonl",
    "metrics.csv",
    "pretrain.json",
    "tensorboard",
)
"""The files a run writes in its directory (a copy of the user's scenario file may sit beside them);
``tensorboard`` is a directory (:data:`TENSORBOARD_DIR`)."""

TENSORBOARD_DIR = "tensorboard"
"""The run directory's folder of TensorBoard event files (``tensorboard --logdir <run_dir>``)."""


def remove_run_files(run_dir: Path, names: tuple[str, ...] = RUN_FILES) -> None:
    """Delete the run files ``names`` of ``run_dir`` that exist (a directory, such as the TensorBoard log, with
    everything in it)."""
    for name in names:
        path = Path(run_dir) / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def clean_stale_temporaries(run_dir: Path) -> None:
    """Remove the temporary files an interrupted atomic write of a run's file left in ``run_dir``
    (``.<name>.<random>``, see :func:`atomic_write_bytes`)."""
    for name in RUN_FILES:
        for tmp in Path(run_dir).glob(f".{name}.*"):
            if tmp.is_file():
                tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def save_checkpoint(path: Path, payload: dict) -> None:
    """Write ``payload`` (tensors, numbers, strings, lists, dicts) atomically, with the format header."""
    import io

    from ._version import __version__

    body = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "netctrl": __version__, **payload}
    body.pop("checksum", None)
    body["checksum"] = payload_digest(body)
    buf = io.BytesIO()
    torch.save(body, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def payload_digest(payload: dict) -> str:
    """SHA-256 (hex) of a checkpoint payload without its ``checksum`` entry: every tensor's dtype, shape and
    bytes and every plain value, in a canonical order (dict keys sorted), so a flipped weight byte or an edited
    entry shows."""
    import hashlib

    h = hashlib.sha256()

    def walk(v) -> None:
        if isinstance(v, torch.Tensor):
            t = v.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(v, np.ndarray):
            h.update(f"A{v.dtype}{v.shape}".encode())
            h.update(np.ascontiguousarray(v).tobytes())
        elif isinstance(v, dict):
            h.update(b"{")
            for k in sorted(v, key=lambda k: (type(k).__name__, str(k))):
                if k == "checksum" and v is payload:
                    continue
                h.update(repr(k).encode())
                walk(v[k])
            h.update(b"}")
        elif isinstance(v, (list, tuple)):
            h.update(b"[")
            for x in v:
                walk(x)
            h.update(b"]")
        else:
            h.update(f"{type(v).__name__}:{v!r};".encode())

    walk(payload)
    return h.hexdigest()


def _upgrade_v1(ckpt: dict) -> dict:
    """A netctrl 0.1 checkpoint (bi-level / edge-level agents) in the version-2 layout."""
    cfg = ckpt.get("config", {}) or {}
    agent, algo = cfg.get("agent", "bilevel"), cfg.get("algo", "ppo")
    problem = cfg.get("problem")
    recipe = ckpt["kind"] if ckpt.get("kind") in ("multil-cur", "multil-dqn") else f"{agent}-{algo}"
    if recipe.startswith("multil"):
        problem = "critical_node/d1"
    return {
        **ckpt,
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "recipe": recipe,
        "problem": {
            "name": problem,
            "family": str(problem).split("/", 1)[0] if problem else None,
            "source": None,
            "settings": None,
        },
    }


def load_checkpoint(path: Path, *, recipe: str | tuple[str, ...] | None = None, problem: Any = None) -> dict:
    """Load a checkpoint with ``weights_only=True``; raise :class:`CheckpointError` naming the cause.

    ``recipe`` (a name or several): the recipe(s) that may have made it; ``problem`` (a
    :class:`~netctrl.registry.ProblemSpec`): the problem it will act on, whose family must be the one it was
    trained on (another instance of the family is fine: graph policies transfer).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory; give a checkpoint file (e.g. {path / 'best.pt'})")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except Exception as exc:  # torch raises many types for damaged or foreign files
        if "Unsupported global" in str(exc):
            reason = (
                "it holds Python objects other than tensors and plain data; loading them could run code, "
                "so netctrl refuses it"
            )
        else:
            reason = "not a file written by torch.save, or a damaged one"
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason})") from None
    if isinstance(ckpt, dict) and ckpt.get("format") == _V1_FORMAT:
        ckpt = _upgrade_v1(ckpt)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a netctrl checkpoint (expected format {CHECKPOINT_FORMAT!r})")
    version = ckpt.get("version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: checkpoint has no valid format version (got {version!r})")
    if version > CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {version} is newer than this netctrl reads "
            f"({CHECKPOINT_VERSION}); upgrade netctrl"
        )
    if version >= 3:
        stored = ckpt.get("checksum")
        if not isinstance(stored, str) or payload_digest(ckpt) != stored:
            raise CheckpointError(
                f"{path}: damaged checkpoint (its contents do not match the checksum written with "
                "it); use another copy, e.g. last.pt instead of best.pt, or retrain"
            )
    made_by = ckpt.get("recipe")
    allowed = (recipe,) if isinstance(recipe, str) else tuple(recipe or ())
    if allowed and made_by not in allowed:
        raise CheckpointError(f"{path} was made by recipe {made_by!r}, not {' or '.join(map(repr, allowed))}")
    if problem is not None:
        trained = ckpt.get("problem") or {}
        if trained.get("family") and trained["family"] != problem.family:
            raise CheckpointError(
                f"{path}: this checkpoint is for {trained.get('name') or trained['family']} "
                f"(family {trained['family']}), not {problem.name}"
            )
    return ckpt


class Checkpointer:
    """Writes ``last.pt`` / ``best.pt`` and ``config.json`` in a run directory."""

    def __init__(self, run_dir: Path, config: dict, meta: dict | None = None, fresh: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        clean_stale_temporaries(self.run_dir)
        self.config = config
        self.meta = dict(meta or {})
        """what every checkpoint records besides the config: the ``recipe`` and the ``problem``."""
        cfg_path = self.run_dir / "config.json"
        if fresh or not cfg_path.exists():  # a resumed run keeps the config.json it started with
            atomic_write_text(cfg_path, json.dumps({**self.meta, **config}, indent=2, default=str))

    @property
    def last(self) -> Path:
        return self.run_dir / "last.pt"

    @property
    def best(self) -> Path:
        return self.run_dir / "best.pt"

    def save(self, payload: dict, best: bool = False) -> None:
        """Write ``last.pt`` (and first ``best.pt``, when ``best``): a kill between the two writes leaves a
        ``best.pt`` one iteration ahead of ``last.pt``, which the resumed run writes again identically, never
        a ``last.pt`` that claims a best model ``best.pt`` does not hold."""
        body = {**self.meta, "config": self.config, **payload}
        if best:
            save_checkpoint(self.best, body)
        save_checkpoint(self.last, body)

    def resume_state(self, resume_keys: tuple[str, ...] = ()) -> dict | None:
        """The last checkpoint if it exists, after checking it was made with the same config."""
        if not self.last.exists():
            return None
        ckpt = load_checkpoint(self.last)
        stored = ckpt.get("config", {})
        diff = [k for k in self.config if k not in resume_keys and stored.get(k) != self.config[k]]
        if diff:
            k = diff[0]
            raise CheckpointError(
                f"{self.last}: made with a different config ('{k}' = {stored.get(k)!r}, now {self.config[k]!r}); "
                "use another run directory"
            )
        return ckpt


# ---------------------------------------------------------------------------------------------- metrics
def require_tensorboard():
    """torch's ``SummaryWriter`` class, or :class:`DependencyNotInstalled` naming the extra that provides it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise DependencyNotInstalled(
            "TensorBoard logging needs the tensorboard package: pip install 'netctrl[tensorboard]' "
            "(or train without --tensorboard)"
        ) from exc
    return SummaryWriter


def tensorboard_writer(log_dir: Path, purge_step: int | None = None):
    """A ``SummaryWriter`` on ``log_dir``; ``purge_step``: TensorBoard drops the events the directory holds from
    this step on (those of an interrupted run that a resumed one logs again)."""
    return require_tensorboard()(log_dir=str(log_dir), purge_step=purge_step)


class MetricsLogger:
    """Append-only metrics in ``metrics.csv`` and ``metrics.jsonl`` and, with ``tensorboard``, in TensorBoard
    event files in ``<run_dir>/tensorboard/`` (:data:`TENSORBOARD_DIR`); rows after a resume point are dropped.

    A row's *step* is its ``step_key`` entry (PPO's and A2C's 1-based ``iteration``); with ``step_key=None``, or
    for a row without that entry, its 1-based line number in ``metrics.jsonl``. ``resume_iteration=k`` keeps
    the rows of steps ``<= k`` and continues the TensorBoard log with ``purge_step = k + 1`` (TensorBoard drops
    the earlier events of the steps the resumed run logs again: no step is shown twice; a run resumed with
    TensorBoard that had none gets its kept rows first); a fresh log (``resume_iteration=None``) starts empty
    files and an empty TensorBoard directory. Every number of a row but
    its step is a TensorBoard scalar at the row's step, tagged by its key (``<phase>/<key>`` for rows with a
    ``phase``, e.g. MAMRL's ``meta`` and ``online`` rows).
    """

    def __init__(
        self,
        run_dir: Path,
        resume_iteration: int | None = None,
        *,
        tensorboard: bool = False,
        step_key: str | None = "iteration",
    ) -> None:
        self.run_dir = Path(run_dir)
        self.jsonl = self.run_dir / "metrics.jsonl"
        self.csv = self.run_dir / "metrics.csv"
        self.step_key = step_key
        self.rows: list[dict] = []
        self._tb = None
        if tensorboard:
            require_tensorboard()  # before any file is touched
        if resume_iteration is not None and self.jsonl.exists():
            with open(self.jsonl) as fh:
                for line in fh:
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:  # a line cut by an interruption
                        continue
                    if self.step(row, len(self.rows) + 1) <= resume_iteration:
                        self.rows.append(row)
        self._rewrite()
        if tensorboard:
            log_dir = self.run_dir / TENSORBOARD_DIR
            if resume_iteration is None and log_dir.is_dir():
                shutil.rmtree(log_dir)
            backfill = not log_dir.is_dir()  # e.g. a run trained without TensorBoard, resumed with it
            self._tb = tensorboard_writer(log_dir, None if resume_iteration is None else int(resume_iteration) + 1)
            if backfill:
                for n, kept in enumerate(self.rows, 1):
                    self._scalars(kept, n)

    def step(self, row: dict, line: int) -> int:
        """The step of ``row``, the ``line``-th row (1-based) of the log."""
        if self.step_key is not None and isinstance(row.get(self.step_key), (int, float)):
            return int(row[self.step_key])
        return line

    def _rewrite(self) -> None:
        atomic_write_text(self.jsonl, "".join(json.dumps(r) + "\n" for r in self.rows))
        self._write_csv()

    def _write_csv(self) -> None:
        keys: list[str] = []
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys)
        w.writeheader()
        w.writerows(self.rows)
        atomic_write_text(self.csv, buf.getvalue())

    def log(self, row: dict) -> None:
        self.rows.append(row)
        with open(self.jsonl, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        if self._tb is not None:
            self._scalars(row, len(self.rows))

    def _scalars(self, row: dict, line: int) -> None:
        if self._tb is None:
            return
        step = self.step(row, line)
        phase = row.get("phase")
        prefix = f"{phase}/" if isinstance(phase, str) and phase else ""
        for key, value in row.items():
            if key != self.step_key and isinstance(value, (int, float)) and not isinstance(value, bool):
                self._tb.add_scalar(prefix + key, value, step)

    def flush(self) -> None:
        self._write_csv()
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        """Write the CSV file and close the TensorBoard log (a closed logger logs nothing more to TensorBoard)."""
        self.flush()
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def print_config(title: str, cfg: dict, enabled: bool = True) -> None:
    """Print a configuration as a table (CleanRL logs its hyper-parameters the same way)."""
    if not enabled:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=True)
    table.add_column("parameter")
    table.add_column("value")
    for k, v in cfg.items():
        table.add_row(k, str(v))
    Console().print(table)


# ---------------------------------------------------------------------------------------------- run bookkeeping
class RunTracker:
    """What every algorithm does around its updates: resume, validate, keep the best, log, checkpoint, stop.

    Args:
        run_dir: run directory.
        config: the full configuration (saved as ``config.json`` and in every checkpoint).
        total: number of iterations of the run.
        eval_fn: validation of the current policy (``None``: no validation, ``best.pt`` is never written).
        eval_every, checkpoint_every: periods in iterations.
        time_limit_s: stop after this much wall time (the last iteration is validated and checkpointed).
        resume: continue from ``last.pt`` if it exists (``resume_keys`` may differ from the stored config).
        progress, verbose: progress bar; configuration table.
        meta: recorded in every checkpoint besides the config (the recipe and the problem).
        tensorboard: also log the metrics to TensorBoard (``<run_dir>/tensorboard/``).
    """

    def __init__(
        self,
        run_dir: Path,
        config: dict,
        *,
        total: int,
        eval_fn: EvalFn | None,
        eval_every: int,
        checkpoint_every: int,
        time_limit_s: float | None,
        resume: bool,
        resume_keys: tuple[str, ...],
        progress: bool,
        verbose: bool,
        title: str,
        meta: dict | None = None,
        tensorboard: bool = False,
    ) -> None:
        self.ckpt = Checkpointer(
            Path(run_dir), config, meta, fresh=not (resume and (Path(run_dir) / "last.pt").exists())
        )
        self.total, self.eval_fn = total, eval_fn
        self.eval_every, self.checkpoint_every, self.time_limit_s = eval_every, checkpoint_every, time_limit_s
        self.state = self.ckpt.resume_state(resume_keys) if resume else None
        self.start = int(self.state["iteration"]) if self.state else 0
        self.best_eval = self.state.get("best_eval") if self.state else None
        self.logger = MetricsLogger(
            self.ckpt.run_dir, resume_iteration=self.start if resume else None, tensorboard=tensorboard
        )
        print_config(title, {k: v for k, v in config.items() if k != "policy"}, enabled=verbose and self.start == 0)
        self.bar = Progress(total, config.get("algo", "train"), enabled=progress, start=self.start)
        self.t0 = time.perf_counter()
        self.iterations = self.start

    @property
    def run_dir(self) -> Path:
        return self.ckpt.run_dir

    def restore(self, model: Any, **optimizers: Any) -> dict:
        """Load model, optimisers (by name) and torch's RNG from the resumed checkpoint; return its state."""
        if self.state is None:
            return {}
        model.load_state_dict(self.state["model"])
        for name, opt in optimizers.items():
            opt.load_state_dict(self.state[name])
        torch.set_rng_state(self.state["torch_rng"])
        return self.state

    @staticmethod
    def snapshot(model: Any, **optimizers: Any) -> dict:
        """The checkpoint entries every algorithm writes: weights, policy config, optimisers, torch's RNG."""
        return {
            "model": model.state_dict(),
            "policy_config": model.config_dict(),
            "torch_rng": torch.get_rng_state(),
            **{name: opt.state_dict() for name, opt in optimizers.items()},
        }

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def end_iteration(self, it: int, row: dict, model: Any, payload: Callable[[], dict]) -> bool:
        """Validate/log/checkpoint after iteration ``it`` (0-based); return ``True`` when the run must stop."""
        self.iterations = it + 1
        last = it + 1 == self.total
        over_time = self.time_limit_s is not None and self.elapsed() > self.time_limit_s
        is_best = False
        if self.eval_fn is not None and self.eval_every and ((it + 1) % self.eval_every == 0 or last or over_time):
            row.update(self.eval_fn(model))
            if self.best_eval is None or row["eval_reward"] >= self.best_eval:
                self.best_eval, is_best = float(row["eval_reward"]), True
        self.logger.log(row)
        if (it + 1) % self.checkpoint_every == 0 or last or is_best or over_time:
            self.ckpt.save({"iteration": it + 1, "best_eval": self.best_eval, **payload()}, best=is_best)
        status = f"train {row.get('train_reward', float('nan')):.0f}"
        if "eval_reward" in row:
            status += f" | eval {row['eval_reward']:.0f}"
        self.bar.update(1, status)
        return over_time

    def close(self) -> None:
        self.bar.close()
        self.logger.close()

    def result(self, model: Any, episodes: int) -> TrainResult:
        return TrainResult(
            self.run_dir, model, self.iterations, episodes, self.elapsed(), self.best_eval, self.logger.rows
        )


# ---------------------------------------------------------------------------------------------- results
@dataclass
class TrainResult:
    """What every algorithm's and every recipe's ``train(...)`` returns."""

    run_dir: Path | None
    model: Any
    """the trained policy (or value networks, tolls...)."""
    iterations: int
    episodes: int
    wall_s: float
    best_eval: float | None = None
    history: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    """whatever else the algorithm reports (e.g. the game encoding of value networks)."""

    @property
    def best(self) -> Path | None:
        """The checkpoint to evaluate (``best.pt`` of the run directory), if it exists."""
        if self.run_dir is None:
            return None
        p = Path(self.run_dir) / "best.pt"
        return p if p.exists() else None


EvalFn = Callable[[Any], dict]
"""``eval_fn(model) -> {"eval_reward": ..., ...}``: validation of the current policy during training."""
