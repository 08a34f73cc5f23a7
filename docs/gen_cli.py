"""Render the command-line reference (cli.md) from the real Typer app, so it never goes stale.

Each section is the output of ``netctrl [COMMAND] --help``, taken in-process from :data:`netctrl.cli.app` (the
commands are the app's own list, so a new command appears by itself). Run at build time by ``docs/hooks.py``;
the page exists only in the built site. Run by hand to see it::

    python docs/gen_cli.py
"""

from __future__ import annotations

import typer
from typer.testing import CliRunner

#: a fixed terminal: the page does not depend on the machine that builds it
ENV = {"COLUMNS": "100", "LINES": "50", "NO_COLOR": "1", "TERM": "dumb"}

INTRO = """# Command-line reference

Generated from the `netctrl` command itself when this site is built (`docs/gen_cli.py` renders
`netctrl --help` and `netctrl COMMAND --help` for every command), so it shows exactly the commands and options
of this version. The same text is in your terminal with `--help`.

Every command ends with the exit status of its kind of error: 0 success, 2 command line or configuration,
3 input file or graph, 4 checkpoint, 5 solver, 6 action, 7 missing extra, 8 file system, 9 Ray worker lost,
130 interrupted. Errors are one line on stderr (`Error: ...`); `netctrl --debug COMMAND ...` (or
`NETCTRL_DEBUG=1`) shows the traceback instead.
"""


def help_text(app, args: list[str]) -> str:
    """The output of ``netctrl *args --help``."""
    result = CliRunner().invoke(app, [*args, "--help"], env=ENV, prog_name="netctrl")
    if result.exit_code != 0:
        raise RuntimeError(f"netctrl {' '.join(args)} --help exited {result.exit_code}: {result.output}")
    lines = [line.rstrip() for line in result.output.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def commands(app) -> list[str]:
    """The app's commands, in the order ``netctrl --help`` lists them."""
    group = typer.main.get_command(app)
    ctx = group.make_context("netctrl", [], resilient_parsing=True)
    return list(group.list_commands(ctx))


def render() -> str:
    from netctrl.cli import app

    names = commands(app)
    out = [INTRO, "Commands: " + ", ".join(f"[`{n}`](#netctrl-{n})" for n in names) + ".", ""]
    out += ["## `netctrl`", "", "```text", help_text(app, []), "```", ""]
    for name in names:
        out += [f"## `netctrl {name}`", "", "```text", help_text(app, [name]), "```", ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
