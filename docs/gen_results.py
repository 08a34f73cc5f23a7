"""Render the results pages of the site from ``results/*.json`` (the format of RESULTS.md), never by hand.

One page per family of results files (:data:`PAGES`; a file that no page claims gets a page of its own). For
every file: its plot (``results/<name>.png`` where it exists), the command that produced it, the machine, the
date, the episodes and seeds shared by its rows, its notes, the table of its rows (grouped by ``experiment``,
``family`` or the family of ``problem`` where the file has them; a field with the same value in every row of a
table is stated once above it), its ``speed`` figures and any other fields. The page itself,
``docs/results/<page>.md``, is hand-written (what the setting is, how to read the tables, where it stands against
the bars); its line ``<!-- results:generated -->`` becomes the generated part (:func:`expand`). A file no page
claims gets a page of its own.

Numbers are shown as the file has them; a float with more than four decimals is shown to four significant
digits (:func:`fmt`), the same everywhere, so the README's headline figures can be checked against
:func:`fmt` of the file (``tests/test_docs.py``).

Run at build time by ``docs/hooks.py`` (the pages exist only in the built site); by hand::

    python docs/gen_results.py            # lists the pages it would write
    python docs/gen_results.py mobility   # prints one page
"""

from __future__ import annotations

import fnmatch
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"

#: page slug -> (title, glob patterns of results/*.json stems, in the order shown)
PAGES: dict[str, tuple[str, list[str]]] = {
    "mobility": ("Mobility-on-demand", ["mobility", "mobility_*"]),
    "supply-chain": ("Supply-chain inventory management", ["supply_chain", "supply_chain_*"]),
    "network-flow": ("Dynamic network flow", ["network_flow", "network_flow_*"]),
    "routing": ("WAN packet routing (MAMRL)", ["routing", "routing_*"]),
    "critical-node": ("Multilevel critical node", ["critical_node", "critical_node_*"]),
    "toll-design": ("Toll design by hyper-gradient", ["hypergrad"]),
    "pretrained": ("Pretrained controllers", ["pretrained"]),
    "reliability": ("Reliability: soak and re-evaluation", ["soak", "reevaluation"]),
}

#: the keys of the results format shown in a file's header, not in its tables
HEADER = ("benchmark", "command", "machine", "date", "rows", "speed")
#: top-level text fields shown as the file's notes
NOTE_KEYS = ("notes", "note", "adapted_rule")
#: rows are split into one table per value of the first of these keys they all have (``problem``: by its family)
GROUP_KEYS = ("experiment", "family", "problem")
#: a list longer than this is shown by its first values and its length
LIST_SHOWN = 12


# ------------------------------------------------------------------------------------------------ formatting
def fmt(v) -> str:
    """A value as the pages (and the README's headline table) show it.

    Integers with thousands separators; floats as the file has them where they have at most four decimals
    (``97.62``, ``457.8``, ``40.0``), otherwise to four significant digits (``0.628``, ``3.178e-09``)."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        text = repr(v)
        if "e" not in text and "." in text and len(text.split(".")[1]) <= 4:
            decimals = len(text.split(".")[1])
            return f"{v:,.{decimals}f}"
        if v == 0:
            return "0"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 1e-3:
            return f"{v:.4g}"
        return f"{v:.3e}"
    if isinstance(v, list):
        if v and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            return seeds_text(v)
        if len(v) > LIST_SHOWN:
            return "[" + ", ".join(fmt(x) for x in v[: LIST_SHOWN - 2]) + f", ... ({len(v)} values)]"
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "; ".join(f"{k}: {fmt(x)}" for k, x in v.items())
    return str(v)


def seeds_text(seeds: list[int]) -> str:
    """``[1000, ..., 1009]`` -> ``1000–1009``; gaps are kept (``0–2, 5``)."""
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def cell(v) -> str:
    return fmt(v).replace("|", "\\|").replace("\n", " ")


def table(rows: list[dict], columns: list[str]) -> list[str]:
    def num(key):
        return all(isinstance(r.get(key), int | float) or r.get(key) is None for r in rows)

    out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---:" if num(c) else "---" for c in columns) + "|"]
    out += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return out


def columns_of(rows: list[dict]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    return cols


# ------------------------------------------------------------------------------------------------ one file
def rows_section(rows: list[dict]) -> list[str]:
    """The rows as a table; fields equal in every row go above it as one line."""
    cols = columns_of(rows)
    same = [c for c in cols if len(rows) > 1 and all(c in r and r[c] == rows[0][c] for r in rows)]
    out = []
    if same:
        out += ["Every row: " + "; ".join(f"`{c}` {fmt(rows[0][c])}" for c in same) + ".", ""]
    out += table(rows, [c for c in cols if c not in same] or cols)
    return out + [""]


def other_section(key: str, value, level: int) -> list[str]:
    head = "#" * level
    if isinstance(value, str):
        return [f"**{key}**: {value}", ""]
    if (
        isinstance(value, dict)
        and value
        and all(
            not isinstance(v, dict | list) or (isinstance(v, list) and all(isinstance(x, int | float | str) for x in v))
            for v in value.values()
        )
    ):
        return [f"{head} {key}", "", *table([{"key": k, "value": v} for k, v in value.items()], ["key", "value"]), ""]
    if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        return [f"{head} {key}", "", *rows_section(value)]
    if isinstance(value, dict) and value:
        out = [f"{head} {key}", ""]
        for k, v in value.items():
            out += other_section(f"{key}.{k}", v, level + 1)
        return out
    return [f"**{key}**: {fmt(value)}", ""]


def file_section(name: str, doc: dict, assets: dict[str, Path]) -> list[str]:
    out = [f"## `results/{name}.json`", ""]
    png = RESULTS / f"{name}.png"
    if png.exists():
        assets[f"results/{name}.png"] = png
        out += [f"![results/{name}.png]({name}.png)", ""]
    for extra in doc.get("plots", []):  # further plots of the file's rows (their names are listed in it)
        if (RESULTS / extra).exists():
            assets[f"results/{extra}"] = RESULTS / extra
            out += [f"![results/{extra}]({extra})", ""]
    assets[f"results/{name}.json"] = RESULTS / f"{name}.json"
    out += [
        f"File: [`results/{name}.json`]({name}.json) (benchmark `{doc.get('benchmark', name)}`). Produced by:",
        "",
        "```text",
        str(doc.get("command", "(no command recorded)")),
        "```",
        "",
        f"Machine: {doc.get('machine', '(not recorded)')}. Date: {doc.get('date', '(not recorded)')}.",
        "",
    ]
    for key in NOTE_KEYS:
        if isinstance(doc.get(key), str):
            out += [f"**{key}**: {doc[key]}", ""]
    rows = doc.get("rows") or []
    if rows:
        out += [f"### Rows ({len(rows)})", ""]
        group = next((k for k in GROUP_KEYS if all(k in r for r in rows)), None)

        def key(r):
            return str(r[group]).split("/")[0] if group == "problem" else r[group]

        if group is None or len({key(r) for r in rows}) == 1:
            out += rows_section(rows)
        else:
            label = "family" if group == "problem" else group
            for value in dict.fromkeys(key(r) for r in rows):
                out += [f"#### `{label}` = `{value}`", "", *rows_section([r for r in rows if key(r) == value])]
    if doc.get("speed"):
        out += [
            "### Speed",
            "",
            *table([{"figure": k, "value": v} for k, v in doc["speed"].items()], ["figure", "value"]),
        ]
        out += [""]
    for key, value in doc.items():
        if key in HEADER or (key in NOTE_KEYS and isinstance(value, str)):
            continue
        out += other_section(key, value, 3)
    return out


# ------------------------------------------------------------------------------------------------ pages
#: the line of a results page (docs/results/<slug>.md) that becomes the tables of its files
MARKER = "<!-- results:generated -->"


def assign() -> dict[str, list[str]]:
    """page slug -> results file stems, every results/*.json on exactly one page."""
    stems = sorted(p.stem for p in RESULTS.glob("*.json"))
    pages: dict[str, list[str]] = {}
    taken: set[str] = set()
    for slug, (_, patterns) in PAGES.items():
        mine = []
        for pat in patterns:
            mine += [s for s in stems if fnmatch.fnmatchcase(s, pat) and s not in taken and s not in mine]
        taken.update(mine)
        if mine:
            pages[slug] = mine
    for s in stems:
        if s not in taken:
            pages[s.replace("_", "-")] = [s]
    return pages


def title_of(slug: str) -> str:
    return PAGES[slug][0] if slug in PAGES else slug.replace("-", " ").capitalize()


def stub(slug: str) -> str:
    """The page of a results file that has no page in docs/results/ yet."""
    return f"# Results: {title_of(slug)}\n\n{MARKER}\n"


def generated(stems: list[str], assets: dict[str, Path]) -> str:
    """What the marker of a page with these results files becomes."""
    out = [
        "*The rest of this page is generated from the results files when the site is built "
        "(`docs/gen_results.py`); the figures are the files' own. The commands are full benchmark runs (an hour "
        "or more each, from a source checkout); `python benchmarks/NAME.py --help` lists their options, and "
        "`--quick` is a smoke run with tiny budgets.*",
        "",
    ]
    for stem in stems:
        doc = json.loads((RESULTS / f"{stem}.json").read_text())
        out += file_section(stem, doc, assets)
    return "\n".join(out).rstrip()


def index_table(pages: dict[str, list[str]]) -> str:
    out = ["| page | files |", "|---|---|"]
    for slug, stems in pages.items():
        out.append(f"| [{title_of(slug)}]({slug}.md) | " + ", ".join(f"`{s}.json`" for s in stems) + " |")
    return "\n".join(out)


def expand(src_uri: str, markdown: str, pages: dict[str, list[str]], assets: dict[str, Path]) -> str:
    """A page with its marker replaced: the tables of its files, or (results/index.md) the list of pages."""
    if MARKER not in markdown:
        return markdown
    if src_uri == "results/index.md":
        return markdown.replace(MARKER, index_table(pages))
    slug = Path(src_uri).stem
    if not src_uri.startswith("results/") or slug not in pages:
        raise ValueError(f"{src_uri}: {MARKER} is for pages docs/results/<slug>.md with results files")
    return markdown.replace(MARKER, generated(pages[slug], assets))


def render(docs: Path | None = None) -> tuple[dict[str, str], dict[str, Path]]:
    """``{site path of a results page: markdown}`` (the pages in docs/results/ expanded, stubs for files without a
    page) and ``{site path of a copied file (plot, JSON): source}``."""
    docs = Path(__file__).resolve().parent if docs is None else docs
    pages = assign()
    assets: dict[str, Path] = {}
    md = {}
    for src_uri in ["results/index.md", *(f"results/{slug}.md" for slug in pages)]:
        path = docs / src_uri
        md[src_uri] = expand(src_uri, path.read_text() if path.exists() else stub(Path(src_uri).stem), pages, assets)
    return md, assets


def benchmark_scripts() -> list[str]:
    """The ``benchmarks/*.py`` scripts the results files' commands name (the test checks their ``--help``)."""
    import re

    scripts = set()
    for path in RESULTS.glob("*.json"):
        command = json.loads(path.read_text()).get("command", "")
        scripts.update(re.findall(r"(?:benchmarks/)?(\w+\.py)", command))
    return sorted(f"benchmarks/{s}" for s in scripts)


if __name__ == "__main__":
    md, assets = render()
    if len(sys.argv) > 1:
        print(md[f"results/{sys.argv[1].replace('_', '-')}.md"])
    else:
        for path, text in md.items():
            print(f"{path}: {len(text):,} characters")
        for path, src in assets.items():
            print(f"{path} <- {src.relative_to(ROOT)}")
