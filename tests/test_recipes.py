"""Recipes other than the bi-level ones: an interrupted run resumes to exactly the uninterrupted result, and every
recipe's checkpoint loads as a controller of its problem (and is refused by another family's)."""

import numpy as np
import pytest
import torch

from netctrl.errors import CheckpointError
from netctrl.evaluate import evaluate
from netctrl.recipes import load, train
from netctrl.registry import get_problem


class Interrupt(Exception):
    pass


def interrupt_after(monkeypatch, module, n: int, name: str = "last.pt"):
    """Make ``module.save_checkpoint`` raise once it has written ``name`` ``n`` times (the run is cut there)."""
    real = module.save_checkpoint
    calls = {"n": 0}

    def flaky(path, payload):
        real(path, payload)
        if str(path).endswith(name):
            calls["n"] += 1
            if calls["n"] == n:
                raise Interrupt()

    monkeypatch.setattr(module, "save_checkpoint", flaky)


def test_hypergrad_resumes_exactly_and_its_tolls_load_as_a_controller(tmp_path, monkeypatch):
    from netctrl.recipes import hypergrad

    full = train("toll_design/braess", "hypergrad", tmp_path / "full", iterations=8)
    interrupt_after(monkeypatch, hypergrad, 3)
    with pytest.raises(Interrupt):
        train("toll_design/braess", "hypergrad", tmp_path / "cut", iterations=8)
    monkeypatch.undo()
    resumed = train("toll_design/braess", "hypergrad", tmp_path / "cut", iterations=8, resume=True)
    assert np.array_equal(resumed.model, full.model) and [h["objective"] for h in resumed.history] == [
        h["objective"] for h in full.history
    ]
    spec = get_problem("toll_design/braess")
    ctrl = load(tmp_path / "full" / "best.pt", spec)
    r = evaluate(ctrl, spec.make_env, spec.test_seeds)
    assert r.episodes[0].last_info["objective"] == pytest.approx(-full.best_eval)
    with pytest.raises(CheckpointError, match="family toll_design"):
        load(tmp_path / "full" / "best.pt", get_problem("critical_node/d1"))


def test_multil_cur_resumes_after_its_last_stage_exactly(tmp_path, monkeypatch):
    from netctrl.recipes import curriculum

    tiny = dict(max_budget=3, states_per_stage=16, val_states=4, epochs=2)
    full = train("critical_node/d1", "multil-cur", tmp_path / "full", **tiny)
    interrupt_after(monkeypatch, curriculum, 2)  # cut after the budget-2 stage
    with pytest.raises(Interrupt):
        train("critical_node/d1", "multil-cur", tmp_path / "cut", **tiny)
    monkeypatch.undo()
    resumed = train("critical_node/d1", "multil-cur", tmp_path / "cut", resume=True, **tiny)
    for b in (1, 2, 3):
        for (k, v), w in zip(full.model[b].state_dict().items(), resumed.model[b].state_dict().values()):
            assert torch.equal(v, w), (b, k)
    spec = get_problem("critical_node/d1", omega=1, phi=1, lam=1)
    ctrl = load(tmp_path / "cut" / "best.pt", spec)
    r = evaluate(ctrl, spec.make_env, spec.test_seeds[:3])
    assert all(e.info_sums == {} and e.last_info["saved"] == e.reward for e in r.episodes)


def test_mamrl_resumes_its_online_phase_exactly(tmp_path, monkeypatch):
    from netctrl.recipes import routing

    tiny = dict(
        meta_iterations=2,
        episodes=4,
        **{"mamrl.horizon": 20, "mamrl.hidden": 8, "teacher.episodes": 1, "teacher.epochs": 1},
    )
    full = train("routing/b4", "mamrl", tmp_path / "full", **tiny)
    interrupt_after(monkeypatch, routing, 2)  # cut after the second online episode
    with pytest.raises(Interrupt):
        train("routing/b4", "mamrl", tmp_path / "cut", **tiny)
    monkeypatch.undo()
    resumed = train("routing/b4", "mamrl", tmp_path / "cut", resume=True, **tiny)
    assert all(torch.equal(a, b) for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()))
    assert [h.get("delivery_time") for h in resumed.history] == [h.get("delivery_time") for h in full.history]
    spec = get_problem("routing/b4", horizon=30)
    res = evaluate(load(tmp_path / "full" / "best.pt", spec), spec.make_env, [1000], sum_keys=spec.info_keys)
    assert res.episodes[0].steps == 30 and "delivery_time" in res.episodes[0].metrics


def test_q_routing_recipe_warms_up_a_table_that_keeps_learning(tmp_path):
    spec = get_problem("routing/b4", horizon=40)
    res = train(spec, "q-routing", tmp_path, episodes=2)
    assert res.iterations == 2 and len(res.history) == 2
    ctrl = load(tmp_path / "best.pt", spec)
    before = ctrl.q.copy()
    evaluate(ctrl, spec.make_env, [1000])
    assert np.array_equal(before, res.model.q) and not np.array_equal(before, ctrl.q)  # it learned online
    with pytest.raises(CheckpointError, match="family routing"):
        load(tmp_path / "best.pt", get_problem("mobility/nyc_brooklyn"))
