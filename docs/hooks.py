"""MkDocs hooks (``hooks:`` in mkdocs.yml): the pages generated at build time, so none of them goes stale.

* ``cli.md``: ``netctrl [COMMAND] --help`` for every command (``docs/gen_cli.py``);
* the tables of the results pages (the line ``<!-- results:generated -->`` of ``docs/results/*.md``, and a page
  of its own for a results file no page claims), with the plots and JSON files they show, from
  ``results/*.json`` (``docs/gen_results.py``);
* a line ``<!-- netctrl list FAMILY -->`` in a page becomes the output of ``netctrl list FAMILY``.

``python docs/gen_cli.py`` and ``python docs/gen_results.py NAME`` print these pages as the site shows them.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from functools import cache
from pathlib import Path

from mkdocs.structure.files import File

HERE = Path(__file__).resolve().parent
LIST_MARKER = re.compile(r"^<!-- netctrl list (\w+) -->$", re.M)


def _load(name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def on_files(files, config):
    gen_cli, gen_results = _load("gen_cli"), _load("gen_results")
    files.append(File.generated(config, "cli.md", content=gen_cli.render()))
    pages, assets = gen_results.render(Path(config["docs_dir"]))
    for path, text in pages.items():
        if files.get_file_from_path(path) is not None:  # a page of docs/results/: expanded in on_page_markdown
            continue
        files.append(File.generated(config, path, content=text))
    for path, src in assets.items():
        files.append(File.generated(config, path, abs_src_path=str(src)))
    return files


@cache
def _netctrl_list(family: str) -> str:
    from typer.testing import CliRunner

    from netctrl.cli import app

    result = CliRunner().invoke(app, ["list", family], env=_load("gen_cli").ENV, prog_name="netctrl")
    if result.exit_code != 0:
        raise RuntimeError(f"netctrl list {family} exited {result.exit_code}: {result.output}")
    return result.output.rstrip()


def on_page_markdown(markdown, page, config, files):
    gen_results = _load("gen_results")
    markdown = gen_results.expand(page.file.src_uri, markdown, gen_results.assign(), {})
    return LIST_MARKER.sub(lambda m: f"```text\n$ netctrl list {m[1]}\n{_netctrl_list(m[1])}\n```", markdown)


def on_serve(server, config, builder):
    server.watch(str(HERE.parent / "results"))
    server.watch(str(HERE.parent / "src" / "netctrl" / "cli.py"))
    return server
