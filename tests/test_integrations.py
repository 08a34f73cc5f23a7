"""Other RL libraries work with a line: registered bi-level ids with finite action boxes that pass Gymnasium's
checker, the graph layout of flat observations, and Stable-Baselines3 / TorchRL training netctrl's encoders."""

import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

import netctrl  # noqa: F401  (registers the ids)
from netctrl.bilevel import BilevelWrapper, GraphLayout, make_bilevel
from netctrl.integrations import bilevel_ids
from netctrl.registry import get_problem, list_problems

ROOT = Path(__file__).resolve().parents[1]
IDS = bilevel_ids()
# as for the raw environments (test_envs.py), plus the checker's note that a wrapped environment is checked
ALLOWED_WARNINGS = (
    "symmetric and normalized space",
    "observation space maximum value is infinity",
    "observation space minimum value is -infinity",
    "is different from the unwrapped version",
)


def _bilevel(env) -> BilevelWrapper:
    while not isinstance(env, BilevelWrapper):
        env = env.env
    return env


@pytest.fixture
def one_thread():
    """Small networks train fastest on one thread (and the test machine's cores are shared)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# --------------------------------------------------------------------------------------------- registered ids
def test_every_gymnasium_family_with_an_lp_has_bilevel_ids():
    for expected in (
        "netctrl/SupplyChain-1F2S-Bilevel-v0",
        "netctrl/SupplyChain-1F3W30S-Bilevel-v0",
        "netctrl/Mobility-NYCBrooklyn-Bilevel-v0",
        "netctrl/Mobility-ShenzhenDowntownWest-AllPairs-Bilevel-v0",
        "netctrl/NetworkFlow-B4-Bilevel-v0",
        "netctrl/NetworkFlow-Gabriel500-Bilevel-v0",
    ):
        assert expected in IDS
    families = set()
    for name in list_problems():
        spec = get_problem(name)
        if spec.kind == "gymnasium" and spec.env_id and "lp" in spec.lowers:
            assert spec.env_id.replace("-v0", "-Bilevel-v0") in IDS, name
            families.add(name.split("/")[0])
    assert families == {"mobility", "supply_chain", "network_flow"}


@pytest.mark.parametrize("env_id", IDS)
def test_bilevel_action_boxes_are_finite(env_id):
    space = gym.make(env_id).action_space
    assert isinstance(space, spaces.Box)
    assert np.isfinite(space.low).all() and np.isfinite(space.high).all()
    assert (space.low < space.high).all()


@pytest.mark.parametrize("env_id", IDS)
def test_bilevel_ids_pass_check_env_and_a_random_rollout(env_id):
    env = gym.make(env_id)
    assert _bilevel(env).unwrapped is env.unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    unexpected = [str(w.message) for w in caught if not any(a in str(w.message) for a in ALLOWED_WARNINGS)]
    assert not unexpected, unexpected
    # a random policy inside the box, and the box's corners, are actions the environment accepts
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    box = env.action_space
    for action in (box.low, box.high, *(box.sample() for _ in range(4))):
        obs, reward, terminated, truncated, _ = env.step(action)
        assert env.observation_space.contains(obs) and np.isfinite(reward)
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()


def test_a_bilevel_id_takes_another_lower_level_by_name():
    env = gym.make("netctrl/SupplyChain-1F2S-Bilevel-v0", lower="edge_share")
    assert type(_bilevel(env).lower).__name__ == "EdgeShareMap"
    with pytest.raises(ValueError, match="Unknown lower level 'qp'; choose one of"):
        make_bilevel(get_problem("supply_chain/1f2s").make_env(), {"lp": None}, "qp")


def test_supply_chain_production_bound_is_capacity_or_what_the_environment_accepts():
    from netctrl.problems.supply_chain import SupplyChainEnv, SupplyLP, load_named

    for key, cap_limited in (("1f2s", False), ("1f3w30s", True)):
        sc = load_named(key)
        lower, env = SupplyLP(sc), SupplyChainEnv(sc)
        high = lower.action_space.high
        assert (high[lower.F :] == 1).all()
        pcap = sc.production_capacity[sc.factories]
        expected = pcap if cap_limited else np.floor(env.action_space.high[: lower.F].astype(np.float64))
        np.testing.assert_allclose(high[: lower.F] * lower.production_scale, expected, rtol=1e-6)
        # the bound is accepted: the lower level's production at it passes the environment's own check
        env.reset(seed=0)
        edge = lower.solve(env.flow_state(), high)
        env.step(edge)
        assert edge[: lower.F] == pytest.approx(expected, rel=1e-6)


def test_an_unbounded_production_above_the_box_still_acts_as_before():
    """The lower level does not clip to its new box: netctrl's own (Gaussian) agents act exactly as they did."""
    from netctrl.problems.supply_chain import SupplyChainEnv, SupplyLP, load_named

    sc = load_named("1f3w30s")
    lower, env = SupplyLP(sc), SupplyChainEnv(sc)
    env.reset(seed=0)
    state = env.flow_state()
    a = np.full(lower.F + lower.N, 0.5)
    a[0] = 2 * lower.action_space.high[0]  # above capacity: produces the capacity, raises the targets
    edge = lower.solve(state, a)
    assert edge[0] == pytest.approx(sc.production_capacity[sc.factories[0]])
    a[0] = -1.0  # counts as 0, as before
    assert lower.solve(state, a)[0] == pytest.approx(0.0, abs=1e-9)


# ------------------------------------------------------------------------------------------- graph layout
@pytest.mark.parametrize("env_id", ["netctrl/SupplyChain-1F2S-Bilevel-v0", "netctrl/Mobility-NYCBrooklyn-Bilevel-v0"])
def test_graph_layout_unflattens_what_gymnasium_flattens(env_id):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    layout = GraphLayout.of(env.observation_space)
    flat = spaces.flatten(env.observation_space, obs)
    assert flat.shape == (layout.size,) == spaces.flatten_space(env.observation_space).shape
    for batch in (flat, np.stack([flat, flat]), torch.as_tensor(flat)):
        back = layout.unflatten(batch)
        for k, v in obs.items():
            np.testing.assert_array_equal(np.asarray(back[k]).reshape(-1, *v.shape)[0], v)
    assert (layout.nodes, layout.node_features) == obs["x"].shape
    assert (layout.edges, layout.edge_features) == obs["edge_attr"].shape
    with pytest.raises(ValueError, match="Expected a graph observation space"):
        GraphLayout.of(spaces.Box(0, 1, (3,)))


def test_graph_features_read_dicts_and_flat_vectors_alike():
    from netctrl.integrations.features import GraphFeatures
    from netctrl.policies.encoders import EdgeConvEncoder

    env = gym.make("netctrl/SupplyChain-1F3S-Bilevel-v0")
    obs, _ = env.reset(seed=0)
    layout = GraphLayout.of(env.observation_space)
    feats = GraphFeatures(layout, hidden=8)
    assert isinstance(feats.encoder, EdgeConvEncoder) and feats.features_dim == layout.nodes * (8 + 22)
    as_dict = {k: torch.as_tensor(v).unsqueeze(0) for k, v in obs.items()}
    as_dict["edge_index"] = as_dict["edge_index"].float()  # as after a library's preprocessing
    flat = torch.as_tensor(spaces.flatten(env.observation_space, obs)).unsqueeze(0)
    z = feats(as_dict)
    assert z.shape == (1, feats.features_dim)
    torch.testing.assert_close(feats(flat), z)
    torch.testing.assert_close(feats({k: v[0] for k, v in as_dict.items()}), z[0])  # unbatched
    assert GraphFeatures(layout, hidden=8, readout="mean")(as_dict).shape == (1, 8 + 22)


def test_importing_netctrl_imports_no_rl_library():
    code = (
        "import sys, netctrl, netctrl.integrations; "
        "bad = [m for m in ('stable_baselines3', 'torchrl', 'tensordict') if m in sys.modules]; "
        "sys.exit(str(bad) if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr + res.stdout


# ------------------------------------------------------------------------------------------ Stable-Baselines3
@pytest.mark.parametrize(
    "env_id, flat",
    [("netctrl/SupplyChain-1F2S-Bilevel-v0", False), ("netctrl/Mobility-NYCBrooklyn-Bilevel-v0", True)],
)
def test_sb3_ppo_trains_netctrls_encoder(env_id, flat, one_thread):
    pytest.importorskip("stable_baselines3")
    from gymnasium.wrappers import FlattenObservation
    from stable_baselines3 import PPO

    from netctrl.integrations.sb3 import GraphFeaturesExtractor, graph_policy_kwargs
    from netctrl.policies.encoders import EdgeConvEncoder, GCNEncoder

    env = gym.make(env_id)
    if flat:
        env = FlattenObservation(env)
    kwargs = graph_policy_kwargs(env, hidden=16, encoder="gcn" if flat else None)
    model = PPO("MlpPolicy" if flat else "MultiInputPolicy", env, n_steps=64, batch_size=32, n_epochs=2, seed=0,
                policy_kwargs=kwargs, device="cpu")  # fmt: skip
    extractor = model.policy.features_extractor
    assert isinstance(extractor, GraphFeaturesExtractor)
    assert isinstance(extractor.encoder, GCNEncoder if flat else EdgeConvEncoder)
    encoder_params = list(extractor.encoder.parameters())
    assert encoder_params
    optimised = {id(p) for g in model.policy.optimizer.param_groups for p in g["params"]}
    assert all(id(p) in optimised for p in encoder_params)
    before = [p.detach().clone() for p in encoder_params]
    model.learn(256)
    assert model.num_timesteps == 256
    changed = [not torch.equal(b, p.detach()) for b, p in zip(before, encoder_params)]
    assert all(changed), changed  # the gradients reach every encoder parameter
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action.astype(np.float32))


def test_graph_policy_kwargs_finds_the_graph_below_a_vecenv():
    pytest.importorskip("stable_baselines3")
    from gymnasium.wrappers import FlattenObservation
    from stable_baselines3.common.env_util import make_vec_env

    from netctrl.integrations.sb3 import graph_policy_kwargs

    venv = make_vec_env(lambda: FlattenObservation(gym.make("netctrl/SupplyChain-1F2S-Bilevel-v0")), n_envs=2)
    kwargs = graph_policy_kwargs(venv, net_arch=[32])
    assert kwargs["features_extractor_kwargs"]["graph_space"] is not None and kwargs["net_arch"] == [32]
    with pytest.raises(ValueError, match="Expected a graph observation space"):
        graph_policy_kwargs(gym.make("CartPole-v1"))


# ------------------------------------------------------------------------------------------------- TorchRL
def test_torchrl_ppo_collects_and_updates_netctrls_encoder(one_thread):
    pytest.importorskip("torchrl")
    from netctrl.integrations.torchrl import make_env, make_modules, ppo
    from netctrl.policies.encoders import EdgeConvEncoder

    def initial_actor():  # the actor as ppo() builds it (same seed, same order)
        torch.manual_seed(0)
        env = make_env("netctrl/SupplyChain-1F2S-Bilevel-v0")
        env.set_seed(0)
        return make_modules(env)[0]

    reference = initial_actor()
    assert all(torch.equal(a, b) for a, b in zip(reference.parameters(), initial_actor().parameters()))
    result = ppo("netctrl/SupplyChain-1F2S-Bilevel-v0", frames_per_batch=32, total_frames=64, reward_scale=0.01)
    assert result.frames == 64 and len(result.mean_reward) == 2
    assert result.losses and all(np.isfinite(list(d.values())).all() for d in result.losses)
    encoders = [m for m in result.actor.modules() if isinstance(m, EdgeConvEncoder)]
    assert len(encoders) == 1
    start = next(m for m in reference.modules() if isinstance(m, EdgeConvEncoder))  # same seed, same init
    assert any(not torch.equal(a, b) for a, b in zip(start.parameters(), encoders[0].parameters()))


def test_the_torchrl_example_runs(one_thread, capsys):
    pytest.importorskip("torchrl")
    import runpy

    argv = sys.argv
    sys.argv = ["torchrl_ppo.py", "--frames-per-batch", "16", "--total-frames", "32"]
    try:
        runpy.run_path(str(ROOT / "examples" / "torchrl_ppo.py"), run_name="__main__")
    finally:
        sys.argv = argv
    assert "frames 32" in capsys.readouterr().out
