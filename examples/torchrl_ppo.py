"""PPO from TorchRL on a netctrl bi-level environment, with netctrl's graph encoder in the actor and the critic.

    pip install 'netctrl[torchrl]'
    python examples/torchrl_ppo.py --env netctrl/Mobility-NYCBrooklyn-Bilevel-v0 --total-frames 20000

The loop itself is :func:`netctrl.integrations.torchrl.ppo` (TorchRL's collector, GAE and clipped PPO loss).
"""

import argparse

import netctrl  # noqa: F401  (registers the ids)
from netctrl.integrations import bilevel_ids
from netctrl.integrations.torchrl import ppo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="netctrl/Mobility-NYCBrooklyn-Bilevel-v0", choices=bilevel_ids())
    parser.add_argument("--frames-per-batch", type=int, default=200)
    parser.add_argument("--total-frames", type=int, default=2000)
    parser.add_argument("--reward-scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = ppo(
        args.env,
        frames_per_batch=args.frames_per_batch,
        total_frames=args.total_frames,
        reward_scale=args.reward_scale,
        seed=args.seed,
    )
    for k, r in enumerate(result.mean_reward):
        print(f"batch {k}: mean reward per step {r / args.reward_scale:.3f}")
    print(f"frames {result.frames}, gradient steps {len(result.losses)}")


if __name__ == "__main__":
    main()
