"""The controllers shipped in the package (``src/netctrl/data/pretrained``): each loads safely, and a short
evaluation reproduces its committed row of ``results/pretrained.json`` (written by
``python benchmarks/pretrained.py evaluate``) within noise."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import netctrl
from netctrl import manifest
from netctrl.cli import app
from netctrl.errors import CheckpointError, ConfigError
from netctrl.pretrained import STRIPPED_KEYS, find_pretrained, list_pretrained, load_pretrained, verify
from netctrl.train import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
RESULTS = json.loads((ROOT / "results" / "pretrained.json").read_text())
ENTRIES = list_pretrained()
SHORT = 2  # episodes of the short evaluation


def _row(entry) -> dict:
    """The committed row of ``entry`` on the first problem it was evaluated on."""
    for problem in (entry.problem, *entry.applies_to):
        for r in RESULTS["rows"]:
            if r["problem"] == problem and r["pretrained"] == entry.problem and r["controller"] == entry.label:
                return r
    raise AssertionError(f"results/pretrained.json has no row for {entry.problem}")


def test_every_family_with_learned_results_ships_a_controller():
    shipped = {p.problem for p in ENTRIES}
    expected = {
        "mobility/nyc_brooklyn",
        "mobility/shenzhen_downtown_west",
        *(f"supply_chain/{s}" for s in ("1f2s", "1f3s", "1f10s", "1f3w30s")),
        "network_flow/gabriel-mix",
        "network_flow/backbone-mix",
        *(f"routing/{t}" for t in ("b4", "geant", "att")),
        "critical_node/d1",
    }
    assert expected <= shipped
    assert sum(p.bytes for p in ENTRIES) < 20e6  # the wheel stays small


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda p: p.problem)
def test_shipped_file_matches_its_manifest_and_holds_no_training_state(entry):
    data = entry.path.read_bytes()
    assert len(data) == entry.bytes and hashlib.sha256(data).hexdigest() == entry.sha256
    ck = load_checkpoint(verify(entry), recipe=entry.recipe)  # weights_only=True and the checksum
    assert ck["version"] == 3 and ck["pretrained"]["problem"] == entry.problem
    assert not set(STRIPPED_KEYS) & set(ck), "optimiser / random state shipped"
    assert entry.command and entry.trained.get("config")


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda p: p.problem)
def test_short_evaluation_reproduces_the_committed_row(entry):
    row = _row(entry)
    spec = netctrl.get_problem(row["problem"])
    seeds = row["seeds"][:SHORT]
    got = netctrl.evaluate(
        load_pretrained(row["problem"], entry.recipe),
        spec.make_env,
        seeds,
        make_lower=spec.make_lower,
        sum_keys=spec.info_keys,
    ).rewards
    committed = np.asarray(row["episode_rewards"][: len(seeds)])
    # Same seeds, so on the machine that wrote the row the rewards are the same to the last digit; another CPU
    # may round an LP tie differently, hence "within noise": 3 standard errors of the committed episodes.
    noise = 3 * row["reward_std"] / math.sqrt(len(seeds))
    assert abs(got.mean() - committed.mean()) <= max(noise, 1e-9 * abs(committed.mean()))


def test_transfer_lookup_and_unknown_problems():
    assert find_pretrained("network_flow/att").problem == "network_flow/gabriel-mix"
    assert find_pretrained("critical_node/rnd05-40").recipe == "multil-cur"
    with pytest.raises(ConfigError, match="no pretrained controller for 'toll_design/pigou'; shipped: "):
        find_pretrained("toll_design/pigou")
    with pytest.raises(ConfigError, match="no pretrained edge-ppo controller"):
        find_pretrained("mobility/nyc_brooklyn", recipe="edge-ppo")
    # a user's graph: the network-flow graph policy is its family's default; a user's city has none
    assert [p.problem for p in list_pretrained() if p.family_default] == ["network_flow/gabriel-mix"]
    assert find_pretrained("network_flow/backbone/europe").problem == "network_flow/gabriel-mix"
    with pytest.raises(ConfigError, match="no pretrained controller for 'mobility/my_city'"):
        find_pretrained("mobility/my_city")


def test_the_graph_policy_acts_on_a_users_topology(tmp_path):
    net = {
        "name": "ring",
        "nodes": [{"id": i, "pos": [math.cos(i), math.sin(i)]} for i in range(7)],
        "links": [{"u": i, "v": (i + 1) % 7} for i in range(7)] + [{"u": 0, "v": 3}],
    }
    path = tmp_path / "ring.json"
    path.write_text(json.dumps(net))
    spec = netctrl.load_problem("network_flow", str(path), steps=10)
    ctrl = load_pretrained(spec)
    (row,) = netctrl.compare(spec, {"agent": ctrl}, [1000, 1001], reference=None)
    assert ctrl.name == "bilevel-ppo (pretrained)" and len(row.result.episodes) == 2
    assert np.isfinite(row.result.rewards).all()


def test_a_modified_file_is_refused(tmp_path, monkeypatch):
    entry = find_pretrained("supply_chain/1f2s")
    shutil.copy(entry.path, tmp_path / entry.file)
    shutil.copy(manifest.MANIFEST, tmp_path / "manifest.json")
    monkeypatch.setattr(manifest, "PRETRAINED_DIR", tmp_path)
    monkeypatch.setattr(manifest, "MANIFEST", tmp_path / "manifest.json")
    load_pretrained("supply_chain/1f2s")  # the copy loads
    data = bytearray((tmp_path / entry.file).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / entry.file).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256 is not the manifest's"):
        load_pretrained("supply_chain/1f2s")
    (tmp_path / entry.file).unlink()
    with pytest.raises(CheckpointError, match="pretrained file missing"):
        load_pretrained("supply_chain/1f2s")
    (tmp_path / "manifest.json").write_text('{"pretrained": [{"problem": "x"}]}')
    with pytest.raises(CheckpointError, match="malformed pretrained manifest"):
        list_pretrained()


def test_cli_eval_pretrained_prints_the_committed_figures(tmp_path):
    entry = find_pretrained("mobility/nyc_brooklyn")
    row = _row(entry)
    out = tmp_path / "rows.json"
    args = ["eval", "mobility/nyc_brooklyn", "--pretrained", "--baselines", "none", "--episodes", str(SHORT)]
    res = CliRunner().invoke(app, [*args, "--json", str(out)])
    assert res.exit_code == 0, res.output
    (rec,) = json.loads(out.read_text())
    assert rec["controller"] == "bilevel-ppo (pretrained)"
    assert rec["reward_mean"] == pytest.approx(np.mean(row["episode_rewards"][:SHORT]), abs=0.01)


def test_cli_lists_pretrained_and_names_the_problem_without_one():
    res = CliRunner().invoke(app, ["pretrained"])
    assert res.exit_code == 0
    for entry in ENTRIES:
        assert entry.problem in res.output and entry.command in res.output
    res = CliRunner().invoke(app, ["eval", "toll_design/pigou", "--pretrained", "--baselines", "none"])
    assert res.exit_code == 2 and "no pretrained controller for 'toll_design/pigou'" in res.output
