"""Every registered netctrl environment passes Gymnasium's checker, without unexpected warnings."""

import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import netctrl  # noqa: F401  (registers the ids)

# the raw environments; their bi-level versions (``*-Bilevel-v0``, the same raw environment inside a wrapper) are
# checked as wrapped environments in test_integrations.py
ALL_IDS = sorted(i for i in gym.registry if i.startswith("netctrl/") and "-Bilevel-" not in i)
# quantities (vehicles, units) are not normalised Boxes, and observations hold unbounded counts
ALLOWED_WARNINGS = (
    "symmetric and normalized space",
    "observation space maximum value is infinity",
    "observation space minimum value is -infinity",
)


def test_ids_are_registered():
    for expected in (
        "netctrl/Mobility-NYCBrooklyn-v0",
        "netctrl/Mobility-ShenzhenDowntownWest-v0",
        "netctrl/SupplyChain-1F2S-v0",
        "netctrl/SupplyChain-1F3S-v0",
        "netctrl/SupplyChain-1F10S-v0",
    ):
        assert expected in ALL_IDS


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_check_env_passes_without_unexpected_warnings(env_id):
    env = gym.make(env_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    unexpected = [str(w.message) for w in caught if not any(a in str(w.message) for a in ALLOWED_WARNINGS)]
    assert not unexpected, unexpected
