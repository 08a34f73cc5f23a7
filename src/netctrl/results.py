"""Results files in the one format of ``RESULTS.md``: the machine, the command, the date, rows and speed."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path


def machine() -> str:
    """Cores, CPU model, OS, Python and torch versions of this machine."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import torch

    return (
        f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}, torch {torch.__version__}"
    )


def command_line() -> str:
    """The command that is running, as a user would type it (``python benchmarks/x.py ...``, ``netctrl ...``)."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(".py"):
        argv = ["python", os.path.relpath(argv[0]) if os.path.isabs(argv[0]) else argv[0]] + argv[1:]
    elif argv:
        argv[0] = Path(argv[0]).name  # e.g. the `netctrl` entry point
    return " ".join(shlex.quote(a) for a in argv)


def write_results(
    path: Path, benchmark: str, rows: list[dict], speed: dict, command: str | None = None, **extra
) -> dict:
    """Write ``{"benchmark", "command", "machine", "date", "rows", "speed", **extra}`` atomically; return it."""
    from .train import atomic_write_text

    doc = {
        "benchmark": benchmark,
        "command": command or command_line(),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "rows": rows,
        "speed": speed,
        **extra,
    }
    atomic_write_text(Path(path), json.dumps(doc, indent=2) + "\n")
    return doc
