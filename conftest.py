"""Doctest collection of the package (``--doctest-modules`` over ``src/netctrl``) skips the integration modules
whose optional library is not installed: importing them without it is a clear ``DependencyNotInstalled``."""

import importlib.util

collect_ignore = [
    f"src/netctrl/integrations/{module}.py"
    for module, package in (("sb3", "stable_baselines3"), ("torchrl", "torchrl"))
    if importlib.util.find_spec(package) is None
]
