"""The layering of DESIGN.md is a test: import-linter's contracts in pyproject.toml (algorithms, policies and the
core import no problem family, problems import only the core and never each other, ...), and nothing in the
package imports the benchmark scripts."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept():
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_a_problem_importing_an_algorithm_would_break_the_contract(tmp_path):
    """The contracts really bite: the same check fails on a copy of the package with one upward import."""
    import shutil
    import subprocess
    import sys

    pkg = tmp_path / "src" / "netctrl"
    shutil.copytree(ROOT / "src" / "netctrl", pkg, ignore=shutil.ignore_patterns("__pycache__", "data"))
    target = pkg / "problems" / "toll_design" / "objectives.py"
    target.write_text(target.read_text() + "\nfrom ...algos import hypergrad  # noqa\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        f"sys.exit(lint_imports(config_filename={str(tmp_path / 'pyproject.toml')!r}, no_cache=True))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert res.returncode != 0 and "netctrl.problems.toll_design.objectives -> netctrl.algos" in res.stdout


def test_nothing_in_the_package_imports_the_benchmarks():
    scripts = {p.stem for p in (ROOT / "benchmarks").glob("*.py")} | {"benchmarks"}
    for path in (ROOT / "src" / "netctrl").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            for name in names:
                assert name.split(".")[0] not in scripts, f"{path.relative_to(ROOT)} imports {name}"
