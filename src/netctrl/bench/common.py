"""Helpers shared by benchmarks: machine description, results files in the ``RESULTS.md`` format."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

from ..train import atomic_write_text


def machine() -> str:
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

    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, Python {platform.python_version()}, torch {torch.__version__}"


def command_line() -> str:
    return " ".join(shlex.quote(a) for a in sys.argv)


def write_results(path: Path, benchmark: str, rows: list[dict], speed: dict, command: str | None = None, **extra) -> dict:
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
