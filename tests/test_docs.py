"""The documentation's examples run as tests: README.md and every page under docs/.

Which blocks run, and how (a decision, kept here; docs/index.md tells readers the same):

* Every ```python block is exec'd in a fresh namespace, in a temporary working directory: one directory per
  page, whose blocks run in the page's order, so that a later block may use a file an earlier one wrote.
* A block with a file-name title (```json title="my_wan.json"```, Material's syntax, any language) is written
  to that file in the page's directory before the blocks after it run: pages show a user's file, then use it.
* In ```bash, ```sh and ```console blocks (console: only the lines that start with ``$ ``), every line whose
  command is ``netctrl ...`` or ``python ...`` runs through subprocess with this environment's ``netctrl``
  (next to ``sys.executable``) and ``python`` (``sys.executable``; a script path that is a file of the repository,
  such as ``examples/torchrl_ppo.py``, is taken from the repository), in the page's directory, and must exit 0.
  Comments after ``#`` are dropped and ``\\`` continuations joined; there is no shell (no pipes, variables or
  redirections). Other lines (``make``, ``pip``, ``ray start`` ...) are not run: they set up machines.
* ``python benchmarks/NAME.py ...`` is never run (a full benchmark takes an hour or more), wherever it appears:
  in a block, inline in the text, or as the ``command`` of a results file (which the generated results pages
  show as text). Instead the script must exist and ``python benchmarks/NAME.py --help`` must exit 0.
* So every command the docs show must be fast: examples use tiny budgets (``--iterations 2``, ``--episodes 2``)
  and the text says how to scale them up. A command that cannot be made fast belongs in the text, not a block.

Tiers: README.md's examples run in the default tier (FAST_PAGES; with the checks below, under a minute on two
cores); every page of docs/ is one test marked ``slow`` (``-m slow``, ``make test-all``), since a page's commands
take 5-40 s together and there are twenty pages. The README's python blocks, its two commands, its size (at most
12 KiB), its links, its headline figures (each one :func:`gen_results.fmt` of its results file), the benchmark
scripts' ``--help``, the nav of mkdocs.yml and the generated pages are checked in the default tier too; the
strict build of the site (``mkdocs build --strict``) is slow.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
NETCTRL = Path(sys.executable).with_name("netctrl")
PAGES = [README, *sorted(DOCS.rglob("*.md"))]
#: the pages whose examples run in the default tier; the others are marked slow
FAST_PAGES = {"README.md"}
SHELLS = {"bash", "sh", "shell", "console"}
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
TITLE = re.compile(r'title="([^"]+)"')
BENCHMARK = re.compile(r"python3? (benchmarks/[a-z0-9_]+\.py)")
ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


# ------------------------------------------------------------------------------------------------ parsing
def blocks(text: str) -> list[tuple[str, str, str]]:
    """``(language, info string, body)`` of every fenced block, in order, indentation removed."""
    out = []
    for m in FENCE.finditer(text):
        indent = len(m["indent"])
        body = "".join(line[indent:] if line[:indent].isspace() else line for line in m["body"].splitlines(True))
        out.append((m["lang"].lower(), m["info"], body))
    return out


def commands(lang: str, body: str) -> list[list[str]]:
    """The commands of a shell block, as argument lists (continuations joined, comments dropped)."""
    lines = body.replace("\\\n", " ").splitlines()
    if lang == "console":
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    return [args for line in lines if (args := shlex.split(line, comments=True))]


def runnable(args: list[str]) -> list[str] | None:
    """The argument list to run for a docs command, or None (not run here: not netctrl/python, or a benchmark)."""
    if args[0] == "netctrl":
        return [str(NETCTRL), *args[1:]]
    if args[0] in ("python", "python3") and not (len(args) > 1 and BENCHMARK.match(f"python {args[1]}")):
        if len(args) > 1 and (ROOT / args[1]).is_file():  # a script of the repository (examples/...)
            return [sys.executable, str(ROOT / args[1]), *args[2:]]
        return [sys.executable, *args[1:]]
    return None


def run_page(page: Path, workdir: Path) -> None:
    """Run every example of ``page`` in ``workdir`` by the rules of the module docstring."""
    for lang, info, body in blocks(page.read_text()):
        title = TITLE.search(info)
        if title:
            target = workdir / title[1]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body)
        if lang == "python":
            cwd = os.getcwd()
            os.chdir(workdir)
            try:
                exec(compile(body, f"{rel(page)} (python block)", "exec"), {"__name__": "__docs__"})
            finally:
                os.chdir(cwd)
        elif lang in SHELLS:
            for args in commands(lang, body):
                cmd = runnable(args)
                if cmd is None:
                    continue
                r = subprocess.run(cmd, cwd=workdir, env=ENV, capture_output=True, text=True, timeout=900)
                assert r.returncode == 0, (
                    f"{rel(page)}: `{shlex.join(args)}` exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
                )


def _page_params():
    for page in PAGES:
        marks = [] if rel(page) in FAST_PAGES else [pytest.mark.slow]
        yield pytest.param(page, id=rel(page), marks=marks)


# ------------------------------------------------------------------------------------------------ the examples
@pytest.mark.parametrize("page", list(_page_params()))
def test_page_examples_run(page, tmp_path):
    run_page(page, tmp_path)


def test_benchmark_commands_exist_and_answer_help():
    """Every ``python benchmarks/NAME.py`` the docs or a results file's command name: the script exists and its
    ``--help`` exits 0 (the scripts run side by side: each spends its time importing)."""
    scripts = set(_load("gen_results").benchmark_scripts())
    for page in PAGES:
        scripts.update(BENCHMARK.findall(page.read_text()))
    missing = [s for s in sorted(scripts) if not (ROOT / s).is_file()]
    assert not missing, f"the docs name benchmark scripts that do not exist: {missing}"
    procs = {
        s: subprocess.Popen(
            [sys.executable, s, "--help"], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for s in sorted(scripts)
    }
    failed = {}
    for s, p in procs.items():
        out, _ = p.communicate(timeout=300)
        if p.returncode != 0:
            failed[s] = out.decode(errors="replace")[-2000:]
    assert not failed, failed


# ------------------------------------------------------------------------------------------------ the README
def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = [body for lang, _, body in blocks(README.read_text()) if lang == "python"]
    assert found, "README has no python example"
    for code in found:
        exec(compile(code, "README.md", "exec"), {})


def test_readme_names_the_two_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text


def test_readme_is_at_most_12_kib():
    size = len(README.read_text().encode())
    assert size <= 12 * 1024, f"README.md is {size:,} bytes (at most {12 * 1024:,}): move detail to docs/"


#: the README's headline figures: (results file, row filter or None for ``speed``, key)
HEADLINES = {
    "mobility": [
        ("mobility", {"scenario": "nyc_brooklyn", "controller": "bilevel-ppo"}, "pct_of_oracle"),
        ("mobility", {"scenario": "shenzhen_downtown_west", "controller": "bilevel-ppo"}, "pct_of_oracle"),
    ],
    "supply-chain": [
        ("supply_chain", {"scenario": "1f10s", "controller": "bilevel-ppo"}, "pct_of_oracle"),
        ("supply_chain", {"scenario": "1f10s", "controller": "order-up-to"}, "pct_of_oracle"),
    ],
    "network-flow": [
        ("network_flow", {"scenario": "gabriel/200/0", "controller": "bilevel-ppo"}, "pct_of_oracle"),
        ("network_flow", None, "decision_speedup_vs_oracle_200"),
    ],
    "routing": [
        (
            "routing",
            {"topology": "b4", "controller": "mamrl-prior", "experiment": "utilisation", "utilisation": 0.9},
            "sojourn_time_vs_spa",
        ),
        (
            "routing",
            {"topology": "att", "controller": "mamrl-prior", "experiment": "utilisation", "utilisation": 0.9},
            "sojourn_time_vs_spa",
        ),
        (
            "routing",
            {"topology": "b4", "controller": "mamrl-prior", "experiment": "utilisation", "utilisation": 0.1},
            "delivery_time_vs_spa",
        ),
    ],
    "critical-node": [
        ("critical_node", {"size": "small", "controller": "multil-cur-la2"}, "gap_pct"),
        ("critical_node", {"size": "small", "controller": "multil-cur-la2"}, "optimal_pct"),
    ],
    "toll-design": [
        ("hypergrad", None, "solves_ratio_vs_zeroth_order"),
        ("hypergrad", None, "model_based_rel_error"),
    ],
}


def test_readme_headlines_are_the_results_files_figures():
    """Each row of the README's results table links its results page and shows its figures as the pages do."""
    fmt = _load("gen_results").fmt
    rows = {m[1]: m[0] for m in re.finditer(r"^\|.*\(docs/results/([\w-]+)\.md\) \|$", README.read_text(), re.M)}
    assert set(rows) == set(HEADLINES), f"README results rows: {sorted(rows)}"
    for page, checks in HEADLINES.items():
        for name, where, key in checks:
            doc = json.loads((ROOT / "results" / f"{name}.json").read_text())
            if where is None:
                value = doc["speed"][key]
            else:
                (row,) = [r for r in doc["rows"] if all(r.get(k) == v for k, v in where.items())]
                value = row[key]
            assert fmt(value) in rows[page], f"README row {page}: expected {fmt(value)} ({name}.json {key})"


def test_readme_links_exist():
    targets = re.findall(r"\]\(((?!https?://|#)[^)#]+)(?:#[^)]*)?\)", README.read_text())
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"


# ------------------------------------------------------------------------------------------------ the site
def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    def entries(nav):
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            yield from entries(value) if isinstance(value, list) else [value]

    nav = set(entries(config["nav"]))
    generated = {"cli.md"} | {f"results/{slug}.md" for slug in _load("gen_results").assign()} | {"results/index.md"}
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages <= nav, f"pages missing from the nav of mkdocs.yml: {sorted(pages - nav)}"
    assert nav <= pages | generated, f"nav entries with no page: {sorted(nav - pages - generated)}"


def test_generated_pages_cover_every_command_and_results_file():
    from netctrl.cli import app

    gen_cli, gen_results = _load("gen_cli"), _load("gen_results")
    cli = gen_cli.render()
    for name in gen_cli.commands(app):
        assert f"## `netctrl {name}`" in cli and f"Usage: netctrl {name}" in cli
    md, assets = gen_results.render()
    shown = {Path(p).stem for p in assets if p.endswith(".json")}
    assert shown == {p.stem for p in (ROOT / "results").glob("*.json")}
    assert all(gen_results.MARKER not in text for text in md.values())
    for png in (ROOT / "results").glob("*.png"):
        assert f"results/{png.name}" in assets


@pytest.mark.slow
def test_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    mkdocs = Path(sys.executable).with_name("mkdocs")
    r = subprocess.run(
        [str(mkdocs), "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
