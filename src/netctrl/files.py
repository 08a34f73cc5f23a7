"""Reading users' files safely: every failure is a typed error naming the file (and the field), never another
exception.

A user's file may be missing, unreadable, huge, not UTF-8, invalid JSON, nested deep enough to overflow the
parser's stack, or a YAML document whose aliases expand to billions of values; :func:`read_text`,
:func:`parse_json`, :func:`read_json` and :func:`check_nesting` turn each into a
:class:`~netctrl.errors.ScenarioError` (or the error class the caller names). :func:`as_number` and
:func:`shown` help loaders name a bad value in their messages. Every loader of the package (scenario, instance,
topology and config files) reads through these.
"""

from __future__ import annotations

from .errors import NetctrlError, ScenarioError

# ------------------------------------------------------------------------------------- reading users' files
#: the largest file a loader reads (the packaged scenarios are a few MB)
MAX_FILE_BYTES = 256 * 2**20
#: the deepest nesting of lists and objects a loader accepts (every format netctrl reads needs fewer than 10)
MAX_NESTING = 64
#: the most lists and objects a loader accepts in one file (aliases of a YAML file counted once per use)
MAX_VALUES = 10_000_000


def shown(value, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages about values of any size.

    >>> shown(list(range(100)), 20)
    '[0, 1, 2, 3, 4, 5...'
    """
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # a deeply nested value, an int too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_number(value) -> float | None:
    """``value`` as a float when it is a real number (an int or a float, not a bool nor a string) that a float
    can hold; ``None`` otherwise. NaN and infinity pass (the caller decides whether they are allowed).

    >>> as_number(2), as_number(2.5), as_number("2"), as_number(True), as_number(10**400)
    (2.0, 2.5, None, None, None)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def read_text(path, *, what: str = "file", error: type[NetctrlError] = ScenarioError) -> str:
    """The text of a user's file, or ``error`` (a :class:`NetctrlError` subclass) naming the file: missing,
    unreadable, larger than :data:`MAX_FILE_BYTES` or not UTF-8."""
    from pathlib import Path

    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise error(f"{path}: the {what} is {size} bytes, more than the limit of {MAX_FILE_BYTES} bytes")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: the {what} must be UTF-8 text (byte {exc.start} is {raw[exc.start : exc.start + 1]!r}: "
            f"{exc.reason})"
        ) from None


def _containers(node) -> list:
    children = node.values() if isinstance(node, dict) else node if isinstance(node, (list, tuple)) else ()
    return [c for c in children if isinstance(c, (dict, list, tuple))]


def check_nesting(data, where: str, *, error: type[NetctrlError] = ScenarioError, limit: int = MAX_NESTING) -> None:
    """Raise ``error`` when the lists and dicts of ``data`` nest deeper than ``limit`` levels, hold more than
    :data:`MAX_VALUES` of them once shared ones (YAML aliases) are expanded, or contain themselves (a recursive
    YAML alias). Checked without recursion, each shared object once, so any input is safe to check."""
    height: dict[int, int] = {}
    count: dict[int, int] = {}
    active: set[int] = set()  # the objects on the current path from the top
    stack = [(data, False)]
    while stack:
        node, leaving = stack.pop()
        key = id(node)
        if not leaving:
            if key in height or not isinstance(node, (dict, list, tuple)):
                continue
            if key in active:
                raise error(f"{where}: a list or object contains itself (a recursive alias)")
            active.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in _containers(node))
            continue
        active.discard(key)
        kids = _containers(node)
        height[key] = 1 + max((height[id(c)] for c in kids), default=0)
        count[key] = 1 + sum(count[id(c)] for c in kids)
        if height[key] > limit:
            raise error(f"{where}: lists and objects nest deeper than {limit} levels")
        if count[key] > MAX_VALUES:
            raise error(f"{where}: holds more than {MAX_VALUES} lists and objects (with aliases expanded)")


def parse_json(text: str, where: str, *, error: type[NetctrlError] = ScenarioError):
    """``json.loads(text)``, or ``error`` naming ``where``: invalid JSON, numbers too long to convert, nesting
    deeper than :data:`MAX_NESTING` (which would otherwise overflow the stack)."""
    import json

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{where}: not valid JSON ({exc})") from None
    except RecursionError:
        raise error(f"{where}: lists and objects nest deeper than {MAX_NESTING} levels") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise error(f"{where}: not valid JSON ({exc})") from None
    check_nesting(data, where, error=error)
    return data


def read_json(path, *, what: str = "file", error: type[NetctrlError] = ScenarioError):
    """A user's JSON file, parsed: :func:`read_text` then :func:`parse_json`."""
    return parse_json(read_text(path, what=what, error=error), str(path), error=error)
