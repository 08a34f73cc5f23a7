"""Checkpoints (atomic, weights_only, clear errors) and exact resumption of interrupted training."""

import json

import pytest
import torch

from netctrl.errors import CheckpointError, ConfigError
from netctrl.recipes import train
from netctrl.recipes.bilevel import load_policy, make_training_env
from netctrl.registry import get_problem, get_recipe
from netctrl.train import atomic_write_bytes, load_checkpoint, save_checkpoint

TINY = dict(
    num_envs=2, group_size=2, rollout_steps=20, minibatch_size=20, update_epochs=2, eval_every=2, checkpoint_every=1
)


class Interrupt(Exception):
    pass


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_checkpoint_round_trip(tmp_path):
    res = train("mobility/nyc_brooklyn", "bilevel-ppo", tmp_path, iterations=2, **TINY)
    model, ckpt = load_policy(tmp_path / "last.pt")
    assert torch.equal(_params(model), _params(res.model))
    assert ckpt["problem"]["name"] == "mobility/nyc_brooklyn" and ckpt["problem"]["family"] == "mobility"
    assert ckpt["recipe"] == "bilevel-ppo" and ckpt["version"] == 3 and ckpt["iteration"] == 2
    assert ckpt["graph"] == {
        "nodes": 14,
        "edges": 56,
        "node_features": ckpt["policy_config"]["node_features"],
        "edge_features": ckpt["policy_config"]["edge_features"],
    }
    assert json.loads((tmp_path / "config.json").read_text())["num_envs"] == 2
    assert (tmp_path / "metrics.csv").read_text().startswith("iteration,")
    assert (tmp_path / "config.toml").exists()


def test_corrupt_checkpoint_gives_clear_error_and_keeps_files(tmp_path):
    path = tmp_path / "best.pt"
    atomic_write_bytes(path, b"definitely not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)
    assert path.read_bytes() == b"definitely not a checkpoint"
    save_checkpoint(tmp_path / "other.pt", {"recipe": "bilevel-ppo", "hello": 1})
    with pytest.raises(CheckpointError, match="lacks 'model'"):
        load_policy(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_checkpoint_refuses_code_execution(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "netctrl-checkpoint-v1", "model": Evil(), "policy_config": {}}, path)
    with pytest.raises(CheckpointError, match="could run code") as err:
        load_checkpoint(path)
    assert "weights_only=False" not in str(err.value)  # never the advice to turn the guard off


@pytest.mark.parametrize(
    "problem, algo",
    [
        ("mobility/nyc_brooklyn", "bilevel-ppo"),
        ("mobility/nyc_brooklyn", "bilevel-a2c"),
        ("supply_chain/1f2s", "bilevel-ppo"),
        ("network_flow/gabriel-10", "bilevel-ppo"),
    ],
)
def test_resumed_run_reproduces_uninterrupted_run(tmp_path, problem, algo):
    prob = get_problem(problem)
    kw = dict(TINY) if algo.endswith("ppo") else dict(num_envs=2, eval_every=2, checkpoint_every=1)
    if prob.recipes[algo].get("imitation"):
        kw["imitation"] = False  # PPO from scratch: the interruption lands in PPO
    length = {"iterations": 4} if algo.endswith("ppo") else {"episodes": 4}
    full = train(prob, algo, tmp_path / "full", **length, **kw)

    # the same run, interrupted at the third iteration's first reset
    from netctrl.recipes import bilevel

    real = bilevel.make_training_env
    calls = {"n": 0}

    def flaky(problem, lower, make_raw=None):
        make = real(problem, lower, make_raw)

        def make_env():
            env = make()
            orig = env.reset

            def reset(**kwargs):
                calls["n"] += kwargs.get("seed") is not None
                # each iteration starts with a seeded reset of every env (autoresets inside it have no seed)
                if calls["n"] > 2 * kw["num_envs"]:
                    raise Interrupt()
                return orig(**kwargs)

            env.reset = reset
            return env

        return make_env

    bilevel.make_training_env = flaky
    try:
        with pytest.raises(Interrupt):
            train(prob, algo, tmp_path / "cut", **length, **kw)
    finally:
        bilevel.make_training_env = real
    assert load_checkpoint(tmp_path / "cut" / "last.pt")["iteration"] == 2
    resumed = train(prob, algo, tmp_path / "cut", resume=True, **length, **kw)
    assert torch.equal(_params(resumed.model), _params(full.model))
    for name in ("last.pt", "best.pt"):
        a, b = load_checkpoint(tmp_path / "full" / name), load_checkpoint(tmp_path / "cut" / name)
        assert a["iteration"] == b["iteration"] and a["best_eval"] == b["best_eval"]
        assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
        assert torch.equal(a["torch_rng"], b["torch_rng"])
    rows = [json.loads(line) for line in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4]


def test_resume_with_other_config_is_refused(tmp_path):
    train("mobility/nyc_brooklyn", "bilevel-ppo", tmp_path, iterations=1, **TINY)
    with pytest.raises(ConfigError, match=r"made with another config \('ppo.gamma' = 0.97, now 0.5\)"):
        train("mobility/nyc_brooklyn", "bilevel-ppo", tmp_path, iterations=1, resume=True, **{**TINY, "gamma": 0.5})
    # without the run's config.toml (a recipe called directly), the checkpoint itself refuses
    prob, recipe = get_problem("mobility/nyc_brooklyn"), get_recipe("bilevel-ppo")
    cfg = recipe.make_config(prob, {"ppo": {**TINY, "iterations": 1, "gamma": 0.5}})
    with pytest.raises(CheckpointError, match="different config"):
        recipe.train(prob, cfg, tmp_path, resume=True, progress=False, verbose=False)
    # a larger budget is what resuming is for
    res = train("mobility/nyc_brooklyn", "bilevel-ppo", tmp_path, iterations=2, resume=True, **TINY)
    assert res.iterations == 2


def test_config_errors_name_the_field():
    prob = get_problem("mobility/nyc_brooklyn")
    recipe = get_recipe("bilevel-ppo")
    with pytest.raises(ConfigError, match="minibatch_size"):
        recipe.make_config(prob, {"ppo": dict(num_envs=4, rollout_steps=10, minibatch_size=64)})
    with pytest.raises(ConfigError, match="group_size"):
        recipe.make_config(prob, {"ppo": dict(num_envs=6, group_size=4)})
    with pytest.raises(ConfigError, match="unknown key 'ppo.learning_rate'"):
        recipe.make_config(prob, {"ppo": dict(learning_rate=1.0)})
    with pytest.raises(ConfigError, match="'ppo.iterations' expects an integer"):
        recipe.make_config(prob, {"ppo": dict(iterations="many")})
    with pytest.raises(ConfigError, match="Unknown recipe"):
        train(prob, "quantum", "unused")
    with pytest.raises(ConfigError, match="does not apply to mobility/nyc_brooklyn"):
        train("mobility/nyc_brooklyn", "mamrl", "unused")
    assert recipe.make_config(prob).policy.head == "dirichlet"
    env = make_training_env(prob, "lp")()
    assert env.action_space.shape == (14,)


def test_atomic_write_leaves_no_temporary_files_and_normal_permissions(tmp_path):
    target = tmp_path / "a" / "file.txt"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]
    assert target.stat().st_mode & 0o044  # readable by group/others as with a plain open()


def test_ppo_cycles_through_the_training_graphs(tmp_path):
    """A problem with several training graphs: iteration i collects on graph i mod 3; validation on make_env."""
    import dataclasses

    from netctrl.problems.network_flow import NetworkFlowEnv

    resets = {}

    def factory(source):
        def make(**kw):
            env = NetworkFlowEnv(source, steps=10, **kw)
            orig = env.reset

            def reset(**kwargs):
                resets[source] = resets.get(source, 0) + 1
                return orig(**kwargs)

            env.reset = reset
            return env

        return make

    sources = ("gabriel/10/0", "gabriel/15/0", "b4")
    base = get_problem("network_flow/gabriel-mix")
    prob = dataclasses.replace(
        base,
        hooks={**base.hooks, "train_envs": tuple(factory(s) for s in sources)},
        make_env=lambda **kw: NetworkFlowEnv("gabriel/10/1", steps=10, **kw),
        val_seeds=(1,),
    )
    res = train(
        prob,
        "bilevel-ppo",
        tmp_path,
        iterations=4,
        imitation=False,
        **{**TINY, "rollout_steps": 10, "minibatch_size": 10, "eval_every": 4},
    )
    assert res.iterations == 4 and res.best_eval is not None
    # iterations 0 and 3 on the first graph, 1 on the second, 2 on the third; per iteration each of the 2
    # environments is reset by the collector and once more by the vector env when its 10-step episode ends
    assert resets == {"gabriel/10/0": 2 * 2 * 2, "gabriel/15/0": 1 * 2 * 2, "b4": 1 * 2 * 2}


def test_a_version_1_checkpoint_still_loads_and_a_foreign_recipe_is_named(tmp_path):
    """netctrl 0.1 wrote format 'netctrl-checkpoint-v1' with the problem inside the config; it loads as a
    bilevel-ppo checkpoint of that problem. A checkpoint of another recipe is refused naming its recipe."""
    train("mobility/nyc_brooklyn", "bilevel-ppo", tmp_path / "run", iterations=1, **TINY)
    ck = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    old = {k: v for k, v in ck.items() if k not in ("recipe", "problem", "version", "netctrl")}
    old.update(
        format="netctrl-checkpoint-v1", config={**ck["config"], "problem": "mobility/nyc_brooklyn", "agent": "bilevel"}
    )
    torch.save(old, tmp_path / "v1.pt")
    _, got = load_policy(tmp_path / "v1.pt", get_problem("mobility/shenzhen_downtown_west"))  # same family
    assert got["version"] == 1 and got["recipe"] == "bilevel-ppo" and got["problem"]["family"] == "mobility"
    with pytest.raises(CheckpointError, match="for mobility/nyc_brooklyn .family mobility., not supply_chain/1f2s"):
        load_policy(tmp_path / "v1.pt", get_problem("supply_chain/1f2s"))
    with pytest.raises(CheckpointError, match="made by recipe 'bilevel-ppo', not 'hypergrad'"):
        get_recipe("hypergrad").load(tmp_path / "run" / "best.pt")
    newer = {**ck, "version": 99}
    torch.save(newer, tmp_path / "v99.pt")
    with pytest.raises(CheckpointError, match="newer than this netctrl reads"):
        load_checkpoint(tmp_path / "v99.pt")
