"""Imitation pretraining (DAgger) of the bi-level agent: the loss, the data, the fit, and its place before PPO."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from netctrl.algos.imitation import ImitationConfig, collect_episode, imitation_loss, pretrain
from netctrl.errors import ConfigError
from netctrl.problems.network_flow import ForecastMPCExpert, MultiCommodityLP, NetworkFlowEnv, oracle_plan
from netctrl.recipes import train
from netctrl.recipes.bilevel import init_policy, make_training_env
from netctrl.registry import get_problem, get_recipe
from netctrl.train import load_checkpoint

PROBLEM = "network_flow/b4"


def short_env(steps=8):
    return NetworkFlowEnv("b4", steps=steps)


def wrapped(steps=8):
    return make_training_env(get_problem(PROBLEM), "lp", lambda: short_env(steps))


def fresh_policy(**kw):
    problem = get_problem(PROBLEM)
    cfg = get_recipe("bilevel-ppo").make_config(problem, {"policy": kw})
    return init_policy(make_training_env(problem, "lp"), cfg.policy, 0)


def test_loss_is_zero_at_the_prior_and_positive_elsewhere():
    # with exact_prior the untrained mean is the greedy next state: imitating greedy costs nothing
    model = fresh_policy(exact_prior=True)
    env = wrapped()()
    obs, _ = env.reset(seed=0)
    raw = env.unwrapped
    K = raw.K
    greedy = raw.greedy_next()
    dist = greedy / greedy.sum(axis=1, keepdims=True)
    mask = greedy.sum(axis=1) > 0
    # the prior is smoothed by prior_eps on every node, so the loss is tiny rather than exactly 0
    assert imitation_loss(model, [(obs, dist.astype(np.float32), mask)]).item() < 1e-3 * K
    other = np.roll(dist, 1, axis=1)
    assert imitation_loss(model, [(obs, other.astype(np.float32), mask)]).item() > 1.0
    # commodities without waiting units carry no label
    assert imitation_loss(model, [(obs, other.astype(np.float32), np.zeros(K, bool))]).item() == 0.0


def test_expert_targets_are_the_forecast_mpc_next_state_and_drive_it_exactly():
    env = wrapped()()
    expert = ForecastMPCExpert(horizon=5)
    env.reset(seed=3)
    raw = env.unwrapped
    flows, _ = oracle_plan(raw, 5, foresight=False)
    target = expert.target(raw)
    assert target.sum() == pytest.approx(raw.waiting.sum())  # units are conserved
    np.testing.assert_allclose(target.reshape(raw.K, raw.N), raw.next_state(flows))
    # through the LP lower level the target is reached exactly: the expert drives the agent's own action path
    lp_flows = MultiCommodityLP(raw.scenario).solve(raw.flow_state(), target)
    np.testing.assert_allclose(raw.next_state(lp_flows), raw.next_state(flows), atol=1e-6)


def test_collected_states_are_labelled_distributions():
    model = fresh_policy()
    env = wrapped(steps=7)()
    states = collect_episode(env, ForecastMPCExpert(horizon=4), model, seed=1, groups=4)
    assert len(states) == 7
    for obs, dist, mask in states:
        assert obs["x"].shape == env.observation_space["x"].shape
        assert np.all(dist >= 0)
        assert dist.sum(axis=1)[mask] == pytest.approx(np.ones(mask.sum()), abs=1e-5)


def test_dagger_fits_the_expert(tmp_path):
    torch.manual_seed(0)
    model = fresh_policy()
    env = wrapped(steps=6)()
    held_out = collect_episode(env, ForecastMPCExpert(horizon=4), None, seed=99, groups=4)
    before = imitation_loss(model, held_out).item()
    cfg = ImitationConfig(episodes=3, rounds=1, round_episodes=1, epochs=15, round_epochs=5, lr=3e-3, batch_size=4)
    res = pretrain(cfg, [wrapped(steps=6)], model, lambda: ForecastMPCExpert(horizon=4), verbose=False)
    assert res.episodes == 4 and res.states == 4 * 6 and len(res.history) == 2
    after = imitation_loss(model, held_out).item()
    assert after < 0.7 * before, (before, after)


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="episodes"):
        ImitationConfig(episodes=0)
    with pytest.raises(ConfigError, match="rounds"):
        ImitationConfig(rounds=-1)
    with pytest.raises(ConfigError, match="lr"):
        ImitationConfig(lr=0.0)


def test_pretraining_needs_an_expert(tmp_path):
    with pytest.raises(ConfigError, match="expert"):
        train("supply_chain/1f2s", "bilevel-ppo", tmp_path, imitation=True, iterations=1)


def test_ppo_starts_from_the_pretrained_policy_and_keeps_it_as_best(tmp_path):
    tiny = {"pretrain.episodes": 1, "pretrain.rounds": 0, "pretrain.epochs": 1}
    res = train(
        PROBLEM,
        "bilevel-ppo",
        tmp_path,
        **tiny,
        iterations=1,
        num_envs=4,
        rollout_steps=8,
        minibatch_size=16,
        eval_every=1,
    )
    record = json.loads((tmp_path / "pretrain.json").read_text())
    assert record["episodes"] == 1 and record["config"]["epochs"] == 1
    best = load_checkpoint(tmp_path / "best.pt")
    # best.pt is the pretrained policy (iteration 0) unless PPO's iteration validated at least as well
    assert best["iteration"] in (0, 1)
    assert res.best_eval >= record["best_eval"]
    assert best["pretrain"]["episodes"] == 1


def test_imitation_stage_runs_on_the_problems_pretrain_graphs(tmp_path):
    # one labelled episode per graph of the imitation stage: two graphs there (PPO's own graph is not used)
    steps = {"b4": 6, "geant": 7}
    base = get_problem(PROBLEM)
    problem = dataclasses.replace(
        base,
        hooks={
            **base.hooks,
            "pretrain_envs": tuple((lambda name=name: NetworkFlowEnv(name, steps=steps[name])) for name in steps),
        },
    )
    train(
        problem,
        "bilevel-ppo",
        tmp_path,
        **{"pretrain.episodes": 1, "pretrain.rounds": 0, "pretrain.epochs": 1},
        iterations=1,
        num_envs=4,
        rollout_steps=4,
        minibatch_size=8,
        eval_every=1,
    )
    record = json.loads((tmp_path / "pretrain.json").read_text())
    assert record["episodes"] == 2 and record["states"] == sum(steps.values())


def test_the_time_limit_covers_imitation_and_ppo(tmp_path, monkeypatch):
    """``ppo.time_limit_s`` bounds the whole run: PPO is given what the imitation stage left."""
    from netctrl.algos import ppo

    seen = {}
    real = ppo.train

    def spy(cfg, *args, **kwargs):
        seen["limit"] = cfg.time_limit_s
        return real(cfg, *args, **kwargs)

    monkeypatch.setattr(ppo, "train", spy)
    tiny = {"pretrain.episodes": 1, "pretrain.rounds": 0, "pretrain.epochs": 1}
    train(PROBLEM, "bilevel-ppo", tmp_path, imitation=True, **tiny, iterations=1, num_envs=4, time_limit_s=500.0)
    wall = json.loads((tmp_path / "pretrain.json").read_text())["wall_s"]
    assert wall > 0 and seen["limit"] == pytest.approx(500.0 - wall, abs=0.06)


def _initial_params(monkeypatch) -> dict:
    """Spy on PPO: the parameters of the policy it is handed, before it trains it."""
    from netctrl.algos import ppo

    seen: dict = {}
    real = ppo.train

    def spy(cfg, make_env, model, *args, **kwargs):
        seen["params"] = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        seen["hidden"] = model.cfg.hidden
        return real(cfg, make_env, model, *args, **kwargs)

    monkeypatch.setattr(ppo, "train", spy)
    return seen


def test_fine_tuning_starts_from_the_checkpoints_policy(tmp_path, monkeypatch):
    from netctrl.recipes.bilevel import load_policy

    tiny = dict(iterations=1, num_envs=2, group_size=2, rollout_steps=4, minibatch_size=8, eval_every=1)
    train(PROBLEM, "bilevel-ppo", tmp_path / "a", imitation=False, **tiny, **{"policy.hidden": 16})
    seen = _initial_params(monkeypatch)
    # the checkpoint's policy config (hidden 16) wins over the recipe's policy section
    train(
        "network_flow/geant", "bilevel-ppo", tmp_path / "b", imitation=False, init=str(tmp_path / "a/best.pt"), **tiny
    )
    start, _ = load_policy(tmp_path / "a/best.pt")
    assert seen["hidden"] == 16
    assert torch.equal(seen["params"], torch.cat([p.detach().flatten() for p in start.parameters()]))
    assert load_checkpoint(tmp_path / "b/best.pt")["init"] == str(tmp_path / "a/best.pt")
    # "pretrained": the model netctrl ships for the problem (here the family's default graph policy)
    import netctrl

    train(PROBLEM, "bilevel-ppo", tmp_path / "c", imitation=False, init="pretrained", **tiny)
    shipped = netctrl.load_pretrained(PROBLEM).model
    assert torch.equal(seen["params"], torch.cat([p.detach().flatten() for p in shipped.parameters()]))


def test_fine_tuning_refuses_another_kind_of_agent_or_family(tmp_path):
    from netctrl.errors import CheckpointError

    tiny = dict(iterations=1, num_envs=2, group_size=2, rollout_steps=4, minibatch_size=8, eval_every=1)
    train(PROBLEM, "edge-ppo", tmp_path / "edge", **tiny)
    with pytest.raises(ConfigError, match="edge-ppo checkpoint cannot start a bilevel agent"):
        train(PROBLEM, "bilevel-ppo", tmp_path / "x", imitation=False, init=str(tmp_path / "edge/best.pt"), **tiny)
    with pytest.raises(CheckpointError, match="family network_flow"):
        train("mobility/nyc_brooklyn", "bilevel-ppo", tmp_path / "y", init=str(tmp_path / "edge/best.pt"), **tiny)
    with pytest.raises(CheckpointError, match="not found"):
        train(PROBLEM, "bilevel-ppo", tmp_path / "z", imitation=False, init=str(tmp_path / "missing.pt"), **tiny)
