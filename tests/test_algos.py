"""Advantage estimators against slow references and hand-computed cases."""

import numpy as np
import pytest

from netctrl.algos.ppo import gae, group_advantages


def slow_gae(rewards, values, dones, next_value, gamma, lam):
    S, n = rewards.shape
    adv = np.zeros((S, n))
    for k in range(n):
        for s in range(S):
            total, discount = 0.0, 1.0
            for u in range(s, S):
                nv = next_value[k] if u == S - 1 else values[u + 1, k]
                delta = rewards[u, k] + gamma * nv * (1 - dones[u, k]) - values[u, k]
                total += discount * delta
                if dones[u, k]:
                    break
                discount *= gamma * lam
            adv[s, k] = total
    return adv


def test_gae_matches_slow_reference():
    rng = np.random.default_rng(0)
    S, n = 12, 3
    rewards = rng.normal(size=(S, n)).astype(np.float32)
    values = rng.normal(size=(S, n)).astype(np.float32)
    dones = (rng.random((S, n)) < 0.2).astype(np.float32)
    nv = rng.normal(size=n).astype(np.float32)
    adv, ret = gae(rewards, values, dones, nv, 0.9, 0.8)
    assert np.allclose(adv, slow_gae(rewards, values, dones, nv, 0.9, 0.8), atol=1e-5)
    assert np.allclose(ret, adv + values)


def test_gae_with_lambda_one_is_monte_carlo():
    rewards = np.array([[1.0], [2.0], [3.0]], dtype=np.float32)
    values = np.zeros((3, 1), dtype=np.float32)
    dones = np.array([[0.0], [0.0], [1.0]], dtype=np.float32)
    adv, _ = gae(rewards, values, dones, np.array([100.0], dtype=np.float32), 0.5, 1.0)
    assert adv[:, 0].tolist() == pytest.approx([1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0])


def test_group_advantages_by_hand():
    # two groups of two; gamma = 0.5; episodes end at the last step
    rewards = np.array([[1.0, 3.0, 0.0, 0.0], [2.0, 0.0, 4.0, 4.0]], dtype=np.float32)
    dones = np.array([[0, 0, 0, 0], [1, 1, 1, 1]], dtype=np.float32)
    adv = group_advantages(rewards, dones, np.zeros(4, dtype=np.float32), 0.5, 2)
    # reward-to-go: env0 [2, 2], env1 [3, 0]; env2 [2, 4], env3 [2, 4]
    assert adv[:, 0].tolist() == [-1.0, 2.0] and adv[:, 1].tolist() == [1.0, -2.0]
    assert adv[:, 2].tolist() == [0.0, 0.0] and adv[:, 3].tolist() == [0.0, 0.0]
