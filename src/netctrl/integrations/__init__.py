"""netctrl environments in other RL libraries: registered bi-level ids, SB3 and TorchRL glue.

Every family with an LP lower level registers, next to each raw (edge-level) id, a **bi-level id**: the raw
environment inside :class:`~netctrl.bilevel.BilevelWrapper` with the family's LP, so a generic algorithm acts
on the nodes (a desired next state) and the LP turns that into edge flows::

    env = gymnasium.make("netctrl/SupplyChain-1F2S-Bilevel-v0")          # lower="lp" (default)
    env = gymnasium.make("netctrl/SupplyChain-1F2S-Bilevel-v0", lower="edge-share")   # the naive map instead

Observations are the raw environment's graph ``Dict`` (``x`` (N, F), ``edge_index`` (2, E), ``edge_attr``
(E, D)); every action ``Box`` is finite, as SB3 and TorchRL require:

======================================================  ===========  ==============================================
id (``netctrl/...-Bilevel-v0``)                          action       bounds
======================================================  ===========  ==============================================
``Mobility-NYCBrooklyn``, ``-NYCBrooklyn-AllPairs``      (14,)        [0, 1]: desired share of the idle vehicles per
                                                                      region (normalised; floored to whole vehicles)
``Mobility-ShenzhenDowntownWest`` (``-AllPairs``)        (17,)        [0, 1], as above
``SupplyChain-1F2S``                                     (1 + 3,)     production [0, 909.09], then [0, 1] per node
``SupplyChain-1F3S``                                     (1 + 4,)     production [0, 555.56], then [0, 1] per node
``SupplyChain-1F10S``                                    (1 + 11,)    production [0, 344.64], then [0, 1] per node
``SupplyChain-1F3W30S``                                  (1 + 34,)    production [0, 1.5], then [0, 1] per node
``NetworkFlow-B4`` / ``-GEANT`` / ``-ATT``               (K*N,)       [0, 1]: desired distribution of every one of
                                                         48/88/100    the K = 4 commodities over the nodes
``NetworkFlow-Gabriel{10,20,50,100,200,500}``            (4 * n,)     [0, 1], as above
======================================================  ===========  ==============================================

Supply chain: production of each factory in units of the mean total demand per step, up to what it can make
in one step (its capacity; where unlimited, the largest production the environment accepts), then the share of
every node in the network's inventory position (:class:`~netctrl.problems.supply_chain.SupplyLP`). Shares are
normalised, so ``[0, 1]`` holds every distribution. The lower levels take any finite action as before
(negative entries count as 0), so netctrl's own agents, whose Gaussian heads are unbounded, act as they did;
the bounds are what a library samples from or clips to.

Episodes end by termination (the raw environments' horizon); no ``TimeLimit`` is added. :func:`bilevel_ids`
lists the registered ids.

* :mod:`netctrl.integrations.sb3` (extra ``sb3``): a Stable-Baselines3 features extractor around netctrl's
  graph encoders and :func:`~netctrl.integrations.sb3.graph_policy_kwargs` for one-line models.
* :mod:`netctrl.integrations.torchrl` (extra ``torchrl``): the ids as TorchRL environments and a short PPO loop.
* :class:`~netctrl.integrations.features.GraphFeatures`: the library-independent piece (encoder + readout).

This package imports neither library (nor torch): the submodules do, on demand.
"""

from __future__ import annotations

import gymnasium as gym

__all__ = ["bilevel_ids"]


def bilevel_ids() -> list[str]:
    """The registered bi-level Gymnasium ids, sorted.

    >>> import netctrl
    >>> "netctrl/SupplyChain-1F2S-Bilevel-v0" in bilevel_ids()
    True
    """
    return sorted(i for i in gym.registry if i.startswith("netctrl/") and i.endswith("-Bilevel-v0"))
