"""MultiL-Cur (the budget curriculum) and MultiL-DQN for multilevel budgeted games on graphs.

Nabli & Carvalho, "Curriculum learning for multilevel budgeted combinatorial problems", NeurIPS 2020
(https://proceedings.neurips.cc/paper/2020/hash/4eb7d41ae6005c720a6c6a0bac8aa2e8-Abstract.html).

The game (e.g. :class:`netctrl.problems.critical_node.features.CriticalNodeGame`) is a zero-sum game in which
each move spends one unit of budget, so a state's total budget left is the number of moves to the end. It is
passed in as an object with ``budget(s)``, ``maximizing(s)``, ``afterstates(s) -> [(move, s')]``,
``final_value(s)`` (a finished game), ``sample_state(rng, budget)``, ``encode_each(states)`` (cacheable
per-state encodings), ``collate(encodings)`` and ``encode(states)`` ``-> (PyG batch, offsets, sizes)``, and, to
play instances behind the one controller interface (:class:`ValueFunctionController`), ``initial_state(instance)``
and ``solution(final state)``; this module never imports a problem package.

**MultiL-Cur.** If values of states with budget ``B - 1`` are known, the value of a state with budget ``B`` is a
one-step look-ahead over its afterstates (``max`` or ``min`` by the player to move), computable in polynomial
time. So: budget-1 states are labelled exactly (their afterstates are finished games); a network ("expert")
``V_1`` is fitted to them; budget-2 states are labelled by look-ahead with ``V_1``; ``V_2`` is fitted; and so on
up to the largest budget. Play is greedy by afterstate values: the expert of the afterstate's budget, or the
exact value when the afterstate ends the game. ``ValueFunction.searching(2, width)`` plays with a two-ply
look-ahead instead (a deviation from the reference, at play time only): the ``width`` best afterstates by
their one-ply values are each valued by their own look-ahead, i.e. by the experts of two budgets lower, which
are more accurate than the expert of one budget lower, or exactly where the game ends.

**MultiL-DQN.** The baseline of the paper: one network over all budgets, learned by Q-learning on afterstates
(``Q(s, a) = V(s')``): epsilon-greedy self-play episodes from sampled instances fill a replay memory of
states; each update regresses ``V(s)`` on the look-ahead target computed with a periodically copied target
network; no curriculum.

Deviations from the reference: a GIN encoder (sum aggregation, residual) with node and graph features instead
of the reference's 7-layer GAT with 200-dimensional embeddings; experts are warm-started from the previous
stage's weights; each stage keeps the epoch with the lowest loss on held-out states labelled the same way;
far fewer instances per stage (the reference uses 50,000) so that training fits minutes on one CPU thread.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..controllers import Controller
from ..errors import CheckpointError, ConfigError, require_at_least
from ..policies.value import ValueNet
from ..progress import Progress


def _predict(
    net: ValueNet | list[ValueNet], game, states, chunk: int = 512, on_chunk: Callable[[int], None] | None = None
) -> np.ndarray:
    """Values of ``states`` by ``net``, or the mean over a list of networks (each state encoded once);
    ``on_chunk(n)`` after each chunk of ``n`` states."""
    nets = net if isinstance(net, list) else [net]
    out = []
    with torch.no_grad():
        for k in range(0, len(states), chunk):
            batch, off, size = game.encode(states[k : k + chunk])
            out.append(np.mean([(off + size * m(batch)).numpy().astype(np.float64) for m in nets], axis=0))
            if on_chunk is not None:
                on_chunk(len(states[k : k + chunk]))
    return np.concatenate(out) if out else np.zeros(0)


# ---------------------------------------------------------------------------------------- value functions
class ValueFunction:
    """State values for greedy play: exact for finished games, otherwise ``nets[budget]`` (curriculum experts)
    or one shared network for every budget (DQN).

    Args:
        game: the game (see the module docstring).
        nets: experts by budget, or one shared network.
        depth: plies searched per move (1: greedy by afterstate values, the method as published; 2: each of the
            ``width`` best afterstates is valued by its own look-ahead, i.e. by the experts of two budgets
            lower, or exactly where the game ends, and the move with the best such value is played).
        width: afterstates (ranked by their one-ply values) searched deeper when ``depth`` is 2 (``None``: all).
    """

    def __init__(self, game, nets: dict[int, ValueNet] | ValueNet, depth: int = 1, width: int | None = None):
        self.game = game
        self.nets = nets
        self._set_search(depth, width)

    def _set_search(self, depth: int, width: int | None) -> None:
        if depth not in (1, 2):
            raise ConfigError(f"Expected 'depth' 1 or 2 (got {depth})")
        if width is not None and width < 1:
            raise ConfigError(f"Expected 'width' >= 1 or None (got {width})")
        self.depth, self.width = depth, width

    def searching(self, depth: int, width: int | None = None) -> ValueFunction:
        """A copy of this value function that plays with ``depth``-ply look-ahead (see the class docstring)."""
        out = copy.copy(self)
        out._set_search(depth, width)
        return out

    def net_for(self, budget: int) -> ValueNet:
        if isinstance(self.nets, ValueNet):
            return self.nets
        if budget not in self.nets:
            raise ConfigError(f"No expert for budget {budget}: trained up to {max(self.nets)} (raise 'max_budget')")
        return self.nets[budget]

    def values(self, states, on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Values of ``states``; ``on_progress(done, len(states))`` as they are computed (finished games first,
        then the network's chunks)."""
        out = np.zeros(len(states))
        groups: dict[int, list[int]] = {}
        for k, s in enumerate(states):
            b = self.game.budget(s)
            if b == 0:
                out[k] = self.game.final_value(s)
            else:
                groups.setdefault(b, []).append(k)
        done = [len(states) - sum(map(len, groups.values()))]

        def on_chunk(n: int) -> None:
            done[0] += n
            on_progress(done[0], len(states))

        if on_progress is not None:
            on_progress(done[0], len(states))
        for b, idx in groups.items():
            out[idx] = self._predict_budget(b, [states[k] for k in idx], on_chunk if on_progress else None)
        return out

    def _predict_budget(self, budget: int, states, on_chunk: Callable[[int], None] | None = None) -> np.ndarray:
        """Network values of unfinished ``states`` that all have ``budget`` moves left."""
        return _predict(self.net_for(budget), self.game, states, on_chunk=on_chunk)

    def lookahead(self, s):
        """``(best value, move, afterstate)`` of the player to move by look-ahead (``depth`` plies, see the
        class docstring)."""
        game = self.game
        after = game.afterstates(s)
        vals = self.values([a for _, a in after])
        sign = 1.0 if game.maximizing(s) else -1.0
        if self.depth == 2:
            order = np.argsort(-sign * vals, kind="stable")[: self.width]
            deep = [int(k) for k in order if game.budget(after[k][1]) > 0]
            if deep:
                vals = vals.copy()
                vals[deep] = lookahead_labels(self.searching(1), [after[k][1] for k in deep])
                keep = np.full(len(after), -np.inf)
                keep[order] = sign * vals[order]
                k = int(np.argmax(keep))
                return float(vals[k]), after[k][0], after[k][1]
        k = int(np.argmax(sign * vals))
        return float(vals[k]), after[k][0], after[k][1]

    def play(self, s, players=None):
        """Play ``s`` to the end greedily; ``players`` maps a stage to another move chooser (e.g. exact play).
        Returns the final state and the moves."""
        moves = []
        while self.game.budget(s) > 0:
            chooser = (players or {}).get(getattr(s, "stage", None))
            move, s = chooser(s) if chooser else self.lookahead(s)[1:]
            moves.append(move)
        return s, moves


class MeanValueFunction(ValueFunction):
    """The mean of several value functions (e.g. curricula trained with different seeds), played the same way.

    >>> MeanValueFunction([ValueFunction(None, {})] * 2).members[0].nets   # any game; here none is needed
    {}
    """

    def __init__(self, members: list[ValueFunction], depth: int = 1, width: int | None = None):
        if not members:
            raise ConfigError("Expected at least one value function to average")
        if any(_encoding(m.game) != _encoding(members[0].game) for m in members):
            raise ConfigError(
                "Expected value functions over the same game encoding (feature set) to average: "
                + ", ".join(str(_encoding(m.game)) for m in members)
            )
        super().__init__(members[0].game, members[0].nets, depth=depth, width=width)
        self.members = list(members)

    def _predict_budget(self, budget: int, states, on_chunk: Callable[[int], None] | None = None) -> np.ndarray:
        """The members' mean (each state encoded once for all members)."""
        return _predict([m.net_for(budget) for m in self.members], self.game, states, on_chunk=on_chunk)


class ValueFunctionController(Controller):
    """A value function playing every player of a game's instance (the one controller interface): the
    observation is the instance, the action the line of play (``game.solution`` of the finished game)."""

    def __init__(self, vf: ValueFunction, name: str = "multil-cur") -> None:
        self.vf, self.name = vf, name

    def act(self, instance):
        end, _ = self.vf.play(self.vf.game.initial_state(instance))
        return self.vf.game.solution(end)


def lookahead_labels(vf: ValueFunction, states, on_progress: Callable[[float], None] | None = None) -> np.ndarray:
    """One-step look-ahead values of ``states`` (all afterstates evaluated in one pass per budget);
    ``on_progress(fraction)`` as the afterstates are valued."""
    game = vf.game
    after, owner = [], []
    for k, s in enumerate(states):
        for _, a in game.afterstates(s):
            after.append(a)
            owner.append(k)
    vals = vf.values(after, None if on_progress is None else lambda done, n: on_progress(done / max(n, 1)))
    owner = np.asarray(owner)
    out = np.zeros(len(states))
    for k, s in enumerate(states):
        v = vals[owner == k]
        out[k] = v.max() if game.maximizing(s) else v.min()
    return out


# ------------------------------------------------------------------------------------------------- config
def _require_positive(cfg, names) -> None:
    for name in names:
        if getattr(cfg, name) < 1:
            raise ConfigError(f"Expected '{name}' >= 1 (got {getattr(cfg, name)})")


@dataclass(frozen=True)
class CurriculumConfig:
    """MultiL-Cur settings."""

    seed: int = 0
    """seed of the sampled training and validation states and of torch"""
    max_budget: int = 9
    """largest total budget trained (omega + phi + lambda of the instances to solve)"""
    states_per_stage: int = 8000
    """training states sampled and labelled per budget (the reference uses 50,000)"""
    val_states: int = 300
    """held-out states per budget (another seed stream) for choosing the epoch"""
    epochs: int = 80
    """passes over each stage's states (the fit is optimisation-bound: on budget-2 states with exact labels the
    validation error fell from 0.40 to 0.25 and 0.20 saved nodes at 25, 60 and 120 epochs from scratch)"""
    batch_size: int = 64
    lr: float = 2e-3
    hidden: int = 64
    """embedding width of the GIN value network"""
    layers: int = 4
    """message-passing layers"""
    time_limit_s: float | None = None
    """stop adding stages after this many seconds (the experts so far are kept)"""

    def __post_init__(self):
        _require_positive(
            self, ("max_budget", "states_per_stage", "val_states", "epochs", "batch_size", "hidden", "layers")
        )
        if not self.lr > 0:
            raise ConfigError(f"Expected 'lr' > 0 (got {self.lr})")
        require_at_least(self, 0, "time_limit_s", strict=True)


@dataclass
class ValueFunctionResult:
    """What the curriculum and DQN learners return (the recipes turn it into a :class:`netctrl.train.TrainResult`)."""

    nets: dict | ValueNet
    config: dict
    wall_s: float
    history: list = field(default_factory=list)
    encoding: dict = field(default_factory=dict)
    """the game's ``encoding`` (e.g. its feature set), checked when the checkpoint is loaded"""


def _fit(
    net: ValueNet,
    game,
    states,
    labels,
    val_states,
    val_labels,
    epochs,
    batch_size,
    lr,
    gen,
    deadline=None,
    on_epoch: Callable[[int, float], None] | None = None,
):
    """Regress ``offset + size * net`` on ``labels``; keep the weights of the best validation epoch
    (``on_epoch(epoch, validation MSE)`` after each epoch)."""
    items = game.encode_each(states)
    _, off, size = game.collate(items)
    y = torch.tensor(labels, dtype=torch.float32)
    vbatch, voff, vsize = game.encode(val_states)
    vy = torch.tensor(val_labels, dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    best, best_sd, hist = float("inf"), copy.deepcopy(net.state_dict()), []
    for ep in range(epochs):
        net.train()
        perm = torch.randperm(len(items), generator=gen)
        for k in range(0, len(items), batch_size):
            idx = perm[k : k + batch_size]
            batch, _, _ = game.collate([items[i] for i in idx])
            pred = off[idx] + size[idx] * net(batch)
            loss = torch.mean((pred - y[idx]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        net.eval()
        with torch.no_grad():
            vpred = voff + vsize * net(vbatch)
            vloss = float(torch.mean((vpred - vy) ** 2))
            vmae = float(torch.mean(torch.abs(vpred - vy)))
        hist.append((ep, vloss, vmae))
        if vloss < best:
            best, best_sd = vloss, copy.deepcopy(net.state_dict())
        if on_epoch is not None:
            on_epoch(ep, vloss)
        if deadline is not None and time.perf_counter() > deadline:
            break
    net.load_state_dict(best_sd)
    net.eval()
    return best, hist


def _new_net(game_encoded, cfg, game=None) -> ValueNet:
    x, u = game_encoded
    return ValueNet(x, u, hidden=cfg.hidden, layers=cfg.layers, readout=getattr(game, "readout", "sum"))


def _encoding(game) -> dict:
    """What the networks depend on besides their weights (a game without ``encoding``: the default encoding)."""
    return dict(getattr(game, "encoding", {}) or {})


def _feature_sizes(game, rng):
    batch, _, _ = game.encode([game.sample_state(rng, 1)])
    return batch.x.shape[1], batch.u.shape[1]


# ------------------------------------------------------------------------------------------ MultiL-Cur
def _labelled(bar: Progress, how: str, offset: int, n: int) -> Callable[[float], None]:
    """``on_progress`` of :func:`lookahead_labels` on ``n`` states counted from ``offset`` in ``bar``."""
    return lambda fraction: bar.update(0, how, completed=offset + fraction * n)


def train_curriculum(
    game,
    cfg: CurriculumConfig,
    log=print,
    *,
    state: dict | None = None,
    on_stage: Callable[[dict], None] | None = None,
    progress: bool = False,
) -> ValueFunctionResult:
    """Train experts ``V_1 .. V_max_budget`` bottom-up (see the module docstring).

    ``on_stage(state)`` is called after every stage with everything needed to continue (the experts so far,
    the history and every generator's state); ``state`` = such a dict resumes the run exactly after its last
    stage. ``progress``: one bar, two phases per stage: sampling and labelling its states (exactly, for budget
    1; by the previous experts' look-ahead above), then the fit's epochs.
    """
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    train_rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0]))
    val_rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 1]))
    t0 = time.perf_counter()
    deadline = None if cfg.time_limit_s is None else t0 + cfg.time_limit_s
    sizes = _feature_sizes(game, np.random.default_rng(0))
    nets: dict[int, ValueNet] = {}
    history = []
    done = 0
    if state is not None:
        for b, sd in state["nets"].items():
            nets[int(b)] = _new_net(sizes, cfg, game)
            nets[int(b)].load_state_dict(sd)
            nets[int(b)].eval()
        history = list(state["history"])
        train_rng.bit_generator.state, val_rng.bit_generator.state = state["train_rng"], state["val_rng"]
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        t0 -= float(state["wall_s"])
        done = max(nets, default=0)
        if state.get("stopped"):
            return ValueFunctionResult(nets, asdict(cfg), time.perf_counter() - t0, history, _encoding(game))
    with Progress(cfg.epochs, "multil-cur", enabled=progress) as bar:
        for b in range(done + 1, cfg.max_budget + 1):
            ts = time.perf_counter()
            stage = f"multil-cur budget {b}/{cfg.max_budget}"
            n_train, n_val = cfg.states_per_stage, cfg.val_states
            bar.reset(n_train + n_val, f"{stage}: states labelled", "sampling")
            states = [game.sample_state(train_rng, b) for _ in range(n_train)]
            val_states = [game.sample_state(val_rng, b) for _ in range(n_val)]
            vf = ValueFunction(game, nets)
            how = "exact" if b == 1 else f"look-ahead with V_{b - 1}"
            labels = lookahead_labels(vf, states, _labelled(bar, how, 0, n_train))
            val_labels = lookahead_labels(vf, val_states, _labelled(bar, how, n_train, n_val))
            t_label = time.perf_counter() - ts
            bar.reset(cfg.epochs, f"{stage}: epochs")
            net = _new_net(sizes, cfg, game)
            if b - 1 in nets:
                net.load_state_dict(nets[b - 1].state_dict())
            best, hist = _fit(
                net,
                game,
                states,
                labels,
                val_states,
                val_labels,
                cfg.epochs,
                cfg.batch_size,
                cfg.lr,
                gen,
                on_epoch=lambda ep, vloss: bar.update(1, f"val MSE {vloss:.4f}"),
            )
            nets[b] = net
            rec = {
                "budget": b,
                "val_mse": best,
                "val_mae": min(h[2] for h in hist),
                "label_s": round(t_label, 1),
                "stage_s": round(time.perf_counter() - ts, 1),
                "wall_s": round(time.perf_counter() - t0, 1),
            }
            history.append(rec)
            log(
                f"[multil-cur] budget {b}: val MSE {best:.4f}, MAE {rec['val_mae']:.3f} (labels {t_label:.0f}s, "
                f"stage {rec['stage_s']:.0f}s, total {rec['wall_s']:.0f}s)"
            )
            stop = deadline is not None and time.perf_counter() > deadline and b < cfg.max_budget
            if on_stage is not None:
                on_stage(
                    {
                        "nets": {str(k): n.state_dict() for k, n in nets.items()},
                        "history": list(history),
                        "train_rng": train_rng.bit_generator.state,
                        "val_rng": val_rng.bit_generator.state,
                        "gen": gen.get_state(),
                        "torch_rng": torch.get_rng_state(),
                        "wall_s": time.perf_counter() - t0,
                        "stopped": stop or b == cfg.max_budget,
                    }
                )
            if stop:
                log(f"[multil-cur] time limit reached after budget {b}")
                break
    return ValueFunctionResult(nets, asdict(cfg), time.perf_counter() - t0, history, _encoding(game))


# ------------------------------------------------------------------------------------------- MultiL-DQN
@dataclass(frozen=True)
class DQNConfig:
    """MultiL-DQN settings."""

    seed: int = 0
    """seed of the sampled instances, exploration and torch"""
    max_budget: int = 9
    """largest total budget of the sampled instances"""
    updates: int = 6000
    """gradient steps"""
    episodes_per_update: float = 0.25
    """self-play episodes per gradient step (a fraction: one episode every 1/x steps)"""
    replay: int = 20000
    """replay memory (states)"""
    batch_size: int = 64
    lr: float = 1e-3
    target_every: int = 500
    """gradient steps between copies of the online network to the target network"""
    eps_start: float = 1.0
    eps_end: float = 0.1
    """epsilon-greedy exploration, decayed linearly over the first half of training"""
    hidden: int = 64
    layers: int = 4
    time_limit_s: float | None = None
    """stop after this many seconds"""

    def __post_init__(self):
        _require_positive(self, ("max_budget", "updates", "replay", "batch_size", "target_every", "hidden", "layers"))
        if not 0 < self.episodes_per_update <= 8:
            raise ConfigError(f"Expected 'episodes_per_update' in (0, 8] (got {self.episodes_per_update})")
        if not (0 <= self.eps_end <= self.eps_start <= 1):
            raise ConfigError(f"Expected 0 <= eps_end <= eps_start <= 1 (got {self.eps_end}, {self.eps_start})")
        require_at_least(self, 0, "time_limit_s", strict=True)


def train_dqn(
    game,
    cfg: DQNConfig,
    log=print,
    *,
    on_record: Callable[[dict], None] | None = None,
    progress: bool = False,
) -> ValueFunctionResult:
    """Q-learning over afterstates with one shared value network, replay memory and a target network.

    ``on_record(row)`` with every row of the history (each ``target_every`` updates); ``progress``: a bar over
    the updates."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 2]))
    t0 = time.perf_counter()
    deadline = None if cfg.time_limit_s is None else t0 + cfg.time_limit_s
    sizes = _feature_sizes(game, np.random.default_rng(0))
    net = _new_net(sizes, cfg, game)
    target = copy.deepcopy(net)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    memory: list = []
    online, frozen = ValueFunction(game, net), ValueFunction(game, target)
    episodes, credit, history = 0, 0.0, []

    def run_episode(eps):
        s = game.sample_state(rng, int(rng.integers(1, cfg.max_budget + 1)))
        while game.budget(s) > 0:
            if len(memory) < cfg.replay:
                memory.append(s)
            else:
                memory[int(rng.integers(cfg.replay))] = s
            if rng.random() < eps:
                after = game.afterstates(s)
                s = after[int(rng.integers(len(after)))][1]
            else:
                net.eval()
                s = online.lookahead(s)[2]

    step = 0
    with Progress(cfg.updates, "multil-dqn updates", enabled=progress) as bar:
        for step in range(1, cfg.updates + 1):
            frac = min(1.0, step / (0.5 * cfg.updates))
            eps = cfg.eps_start + frac * (cfg.eps_end - cfg.eps_start)
            credit += cfg.episodes_per_update
            while credit >= 1.0 or not memory:
                run_episode(eps)
                episodes += 1
                credit = max(0.0, credit - 1.0)
            idx = rng.integers(len(memory), size=min(cfg.batch_size, len(memory)))
            batch_states = [memory[i] for i in idx]
            labels = torch.tensor(lookahead_labels(frozen, batch_states), dtype=torch.float32)
            net.train()
            batch, off, size = game.encode(batch_states)
            loss = torch.mean((off + size * net(batch) - labels) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % cfg.target_every == 0:
                target.load_state_dict(net.state_dict())
                rec = {
                    "update": step,
                    "episodes": episodes,
                    "loss": loss.item(),
                    "wall_s": round(time.perf_counter() - t0, 1),
                }
                history.append(rec)
                log(f"[multil-dqn] update {step}: loss {loss.item():.4f}, {episodes} episodes, {rec['wall_s']:.0f}s")
                if on_record is not None:
                    on_record(rec)
                bar.update(0, f"loss {rec['loss']:.4f}, {episodes} episodes")
            bar.update(1)
            if deadline is not None and time.perf_counter() > deadline:
                log(f"[multil-dqn] time limit reached after {step} updates")
                break
    net.eval()
    return ValueFunctionResult(
        net,
        {**asdict(cfg), "updates_done": step, "episodes_done": episodes},
        time.perf_counter() - t0,
        history,
        _encoding(game),
    )


# ------------------------------------------------------------------------------------------ checkpoints
def save_value_function(path, result: ValueFunctionResult, kind: str, meta: dict | None = None) -> None:
    """Atomically write the experts (or the DQN network) as plain state dicts plus the config (the one checkpoint
    format of :mod:`netctrl.train`; ``meta``: the recipe and problem, default recipe ``kind``)."""
    from ..train import save_checkpoint

    nets = result.nets
    sds = (
        {"shared": nets.state_dict()}
        if isinstance(nets, ValueNet)
        else {str(b): n.state_dict() for b, n in nets.items()}
    )
    any_net = nets if isinstance(nets, ValueNet) else next(iter(nets.values()))
    save_checkpoint(
        path,
        {
            "recipe": kind,
            **(meta or {}),
            "kind": kind,
            "config": result.config,
            "nets": sds,
            "wall_s": result.wall_s,
            "history": result.history,
            "encoding": result.encoding,
            "readout": any_net.readout,
            "shape": [any_net.node_features, any_net.graph_features, any_net.hidden, any_net.num_layers],
        },
    )


def _not_a_checkpoint(path, exc: Exception) -> CheckpointError:
    return CheckpointError(f"{path} is not a MultiL-Cur/DQN checkpoint ({type(exc).__name__}: {str(exc)[:200]})")


def _read_checkpoint(path) -> dict:
    from ..train import load_checkpoint

    ck = load_checkpoint(path)
    if ck.get("kind") not in ("multil-cur", "multil-dqn"):
        raise CheckpointError(f"{path} is not a MultiL-Cur/DQN checkpoint (made by recipe {ck.get('recipe')!r})")
    return ck


def _trained_encoding(ck: dict, legacy: dict | None) -> dict:
    return dict(ck.get("encoding") or legacy or {})


def checkpoint_encoding(path, legacy: dict | None = None) -> dict:
    """The game encoding a checkpoint was trained with (e.g. to build the matching game before loading it);
    ``legacy`` (e.g. the game's ``legacy_encoding``) for checkpoints written before encodings were recorded."""
    return _trained_encoding(_read_checkpoint(path), legacy)


def load_value_function(path, game) -> tuple[ValueFunction, dict]:
    """Load a checkpoint written by :func:`save_value_function` (``weights_only=True``); raises
    :class:`CheckpointError` if it was trained with another game encoding (feature set) than ``game``'s
    (checkpoints without a recorded encoding have the game's ``legacy_encoding``)."""
    ck = _read_checkpoint(path)
    try:
        nf, gf, hidden, layers = ck["shape"]
        readout = ck.get("readout", "sum")
        trained = _trained_encoding(ck, getattr(game, "legacy_encoding", None))

        def build(sd):
            net = ValueNet(nf, gf, hidden=hidden, layers=layers, readout=readout)
            net.load_state_dict(sd)
            net.eval()
            return net

        if "shared" in ck["nets"]:
            nets = build(ck["nets"]["shared"])
        else:
            nets = {int(b): build(sd) for b, sd in ck["nets"].items()}
    except Exception as exc:  # a dict that is not such a checkpoint
        raise _not_a_checkpoint(path, exc) from exc
    want = _encoding(game)
    if want and trained != want:
        raise CheckpointError(
            f"{path} was trained with encoding {trained} but the game encodes {want}; build the "
            "game with the checkpoint's encoding"
        )
    return ValueFunction(game, nets), ck
