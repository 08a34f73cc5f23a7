"""MAMRL: per-router deep policies, consensus-estimated global reward, MAML over link-failure tasks.

Sun, Kiran, Ren, "MAMRL: Exploiting Multi-agent Meta Reinforcement Learning in WAN Traffic Engineering"
(arXiv 2111.15087). Read top to bottom: config -> per-router policies (all routers in one tensor op) ->
consensus estimator (eq. 4) -> episode collection -> advantages (eq. 5-6) -> policy-gradient update ->
online learner (Algorithm 2) -> first-order MAML meta-training (Algorithm 1).

The learner works on any PettingZoo parallel environment of routers (it imports no problem package): agent
``i``'s observation is integers ``[destination of its head packet (-1: none), ..., last h actions]``, its
action space ``Discrete(degree_i)``; besides the PettingZoo API it reads

* per agent and tick, ``infos[agent]``: ``packet`` (the packet it forwarded, -1: none), ``sent`` (False: the
  packet was lost), ``lost`` (packets it lost), ``backlog`` (packets queued at it or in flight towards it)
  and ``acked`` (ids of the packets delivered to it);
* ``env.agent_graph``: ``(2, M)`` neighbouring agents (for the consensus), ``env.np_random`` (the generator of
  the agents' random choices, for :func:`teacher_episode`), ``env.episode_metrics()`` (reported per episode);
* ``reset(seed=..., options={"load": x})``: the load of the episode (drawn from ``cfg.loads``);
* with ``cfg.prior``, ``env.next_hop_prior()``: ``(N, D)`` each agent's next-hop distribution for its current
  observation under the operator's routing (the policies are then residuals on it).

``make_env(task)`` builds an environment for a task (e.g. a tuple of failed links), its episodes as long as
training needs (``cfg.horizon``). :class:`RouterPolicyController` puts trained (and online-learning) policies
behind the one controller interface.

Deviations from the paper (each named in docs/problems/routing.md):

* **consensus sign**: eq. (4) as printed, ``y[t+1] = y[t] + beta sum_j (x_j - x_i)`` with ``x = r_hat - y``,
  gives ``x[t+1] = (I + beta L) x[t]`` for a static signal, which diverges; Kia et al.'s estimator, used here,
  has ``y[t+1] = y[t] + beta sum_j (x_i - x_j)`` (``x[t+1] = (I - beta L) x[t]``, converging to the mean
  because ``sum_i y_i`` stays 0). ``beta`` defaults to ``1 / lambda_max(L)`` (stable on any graph, < 1).
* **global reward signal** ``r_hat_j``: minus the packets queued at router ``j`` or in flight towards it, not
  minus the mean delivery time of the packets delivered at ``j`` this tick. Summed over routers and ticks it
  is the total time packets spend in the network (Little's law), i.e. the delivery time to minimise, and it
  cannot be improved by delivering fewer packets (the paper's signal is 0, its best value, when nothing is
  delivered).
* **per-decision credit**: besides the discounted reward-to-go of ``e = r_tilde + x`` (eq. 5-6, with a
  per-router cubic-in-time baseline in place of the paper's linear feature baseline), each decision is also
  credited with ``-(ticks until the forwarded packet is delivered)`` (``-loss_cost`` if it was lost), against
  a per-(router, destination) mean: the acknowledgement the destination sends back, as Q-routing's neighbour
  estimate. Without it a few hundred episodes do not move 25 routers' policies on a 2-core machine.
* **meta-optimiser**: first-order MAML (the outer gradient is the policy gradient at the adapted parameters,
  plus by default that of the pre-adaptation episodes, ``outer_pre``), Adam for the outer and the online
  steps; the paper uses TRPO with second-order MAML and 10,000 episodes.
* **network**: an embedding-sum input layer (one-hot features) and ``layers`` hidden layers of ``hidden``
  units (default 2 x 64, the paper 5 x 128).
* **initialisation**: ``meta_train(init=...)`` can start MAML from given weights instead of random ones; the
  routing problem starts it from :func:`imitate` of a static routing of the intact topology (its
  ``teacher_init``), with a smaller meta step (``meta_lr``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..controllers import Controller
from ..errors import ConfigError, require_finite
from ..policies.router import RouterPolicies
from ..progress import Progress


# ---------------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class MAMRLConfig:
    """Hyper-parameters of the per-router policy-gradient learner and of MAML."""

    hidden: int = 64
    """hidden units per layer of each router's policy."""
    layers: int = 2
    """hidden layers of each router's policy."""
    lr: float = 1e-2
    """Adam step size of online learning (and of the meta update unless ``meta_lr`` is given)."""
    meta_lr: float | None = None
    """Adam step size of the meta (outer) update; None: ``lr``. Smaller when meta-training starts from a
    teacher's routing (``meta_train(init=...)``), which large noisy steps would walk away from."""
    inner_lr: float = 0.01
    """MAML inner step size, the paper's alpha."""
    inner_sign: bool = True
    """inner step ``theta' = theta - inner_lr * sign(grad)``: the first step of the online learner (Adam from a
    fresh state), so the meta-objective is the value after the step the deployed learner really takes. The
    policy gradient of the early layers is ~1e-5 here, so a plain ``alpha * grad`` step would leave ``theta'``
    equal to ``theta`` and MAML would reduce to multi-task training (False: the plain step)."""
    gamma: float = 0.9
    """discount of the reward-to-go of ``e = r_tilde + x``."""
    consensus: bool = True
    """True: the global term is the consensus estimate ``x_i`` of the network mean of ``r_hat`` (MAMRL);
    False: each router uses its own ``r_hat_i`` (independent learners, the policy-gradient baseline)."""
    beta: float | None = None
    """consensus gain; None: ``1 / lambda_max`` of the graph Laplacian."""
    entropy: float = 0.05
    """weight of each router's mean policy entropy in the loss: keeps the policies stochastic, so a router
    whose preferred link fails still tries the others (a deterministic policy gets no policy gradient)."""
    loss_cost: float = 300.0
    """cost of a lost packet (ticks): ``r_tilde_i = -loss_cost x (packets lost at router i)``; above the
    horizon, so losing a packet never looks cheaper than delivering it late."""
    packet_credit: float = 1.0
    """weight of the per-decision delivery acknowledgement in the advantage (0: the paper's eq. 5 only)."""
    horizon: int = 200
    """ticks per training episode."""
    loads: tuple[float, float] = (0.05, 0.5)
    """training episodes draw the Poisson load uniformly from this range."""
    meta_batch: int = 2
    """tasks per meta-iteration."""
    outer_pre: bool = True
    """also add the pre-adaptation episodes' gradient (at ``theta``) to the outer gradient: first-order MAML
    throws those episodes away after the inner step; with a small inner step both estimate nearly the same
    direction, so this doubles the sample use of meta-training (False: plain first-order MAML)."""
    prior: bool = False
    """residual policies on the environment's prior routing (``env.next_hop_prior()``: for routing, the
    minimum-delay routing for the measured traffic level): the logits are ``log prior`` + the network's output
    (near 0 at the start, so no imitation is needed), and the entropy bonus becomes a penalty of ``entropy`` x
    the KL divergence of the policy from the prior (it keeps the policies near the prior where the advantage
    says nothing, instead of pushing them towards uniform)."""
    seed: int = 0

    def __post_init__(self):
        for f in ("hidden", "layers", "horizon", "meta_batch"):
            if getattr(self, f) < 1:
                raise ConfigError(f"'{f}' >= 1 expected (got {getattr(self, f)!r})")
        if self.meta_lr is not None and not self.meta_lr > 0:
            raise ConfigError(f"'meta_lr' > 0 or None expected (got {self.meta_lr!r})")
        for f in ("lr", "inner_lr", "loss_cost"):
            if not getattr(self, f) > 0:
                raise ConfigError(f"'{f}' > 0 expected (got {getattr(self, f)!r})")
        if not 0 <= self.gamma <= 1:
            raise ConfigError(f"'gamma' in [0, 1] expected (got {self.gamma!r})")
        if self.beta is not None and not 0 < self.beta < 1:
            raise ConfigError(f"'beta' in (0, 1) expected (got {self.beta!r})")
        if not 0 <= self.loads[0] <= self.loads[1]:
            raise ConfigError(f"'loads' = (lo, hi) with 0 <= lo <= hi expected (got {self.loads!r})")


# ---------------------------------------------------------------------------------------------------- consensus
def laplacian(num_nodes: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Graph Laplacian ``L = D - A`` of the undirected router graph (arcs ``src -> dst``, both directions)."""
    a = np.zeros((num_nodes, num_nodes))
    a[src, dst] = 1.0
    a = np.maximum(a, a.T)
    return np.diag(a.sum(1)) - a


class ConsensusEstimator:
    """Dynamic average consensus (Kia et al. 2019; the paper's eq. 4 with the converging sign):

    .. math::
        x^i_t = \\hat r^i_t - y^i_t, \\qquad y^i_{t+1} = y^i_t + \\beta \\sum_{j \\in N_i} (x^i_t - x^j_t)

    Router ``i`` uses only its own signal and its neighbours' ``x``. For a static signal ``x`` converges to
    the network mean; for a slowly varying one it tracks it.

    >>> est = ConsensusEstimator(laplacian(3, np.array([0, 1]), np.array([1, 2])))
    >>> for _ in range(60):
    ...     x = est.step(np.array([3.0, 0.0, 0.0]))
    >>> np.round(x, 6)
    array([1., 1., 1.])
    """

    def __init__(self, lap: np.ndarray, beta: float | None = None):
        lam = float(np.linalg.eigvalsh(lap).max())
        self.beta = 1.0 / lam if beta is None else float(beta)
        self.lap = lap
        self.y = np.zeros(len(lap))

    def reset(self) -> None:
        self.y[:] = 0.0

    def step(self, r_hat: np.ndarray) -> np.ndarray:
        x = r_hat - self.y
        self.y = self.y + self.beta * (self.lap @ x)
        return x


# ---------------------------------------------------------------------------------------------------- rollout
@dataclass
class Episode:
    """One episode of all routers: ``T`` ticks, ``N`` routers."""

    obs: np.ndarray  # (T, N, F) observations the actions were taken on
    actions: np.ndarray  # (T, N)
    acted: np.ndarray  # (T, N) bool: the router had a packet
    packet: np.ndarray  # (T, N) packet it forwarded (-1)
    lost: np.ndarray  # (T, N) packets lost by the router in the tick
    r_hat: np.ndarray  # (T, N) local global-reward signal (minus inbound backlog after the tick)
    x: np.ndarray  # (T, N) consensus estimates (or r_hat itself without consensus)
    p_end: np.ndarray  # delivery tick per packet id (-1 in network, -2 lost)
    metrics: dict = field(default_factory=dict)
    prior: np.ndarray | None = None  # (T, N, D) the prior next-hop distributions the actions were taken on


def sample_actions(logits: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
    """Categorical sample per router (Gumbel-max with numpy noise: reproducible from ``rng``)."""
    lg = logits.numpy()
    g = -np.log(-np.log(rng.random(lg.shape)))
    return np.argmax(lg + g, axis=-1)


def _stack(obs: dict, agents: Sequence[str]) -> np.ndarray:
    """(N, F) observations of all agents, in ``possible_agents`` order."""
    return np.stack([obs[a] for a in agents])


class Recorder:
    """Accumulates one episode for the gradient: what every router saw and did, and what became of the packets."""

    def __init__(self, n: int, consensus: ConsensusEstimator | None = None) -> None:
        self.n, self.consensus = n, consensus
        self.rows: list[tuple] = []
        self.fates: dict[int, int] = {}
        """packet id -> delivery tick, or -2 once lost."""
        self.priors: list[np.ndarray] = []
        if consensus is not None:
            consensus.reset()

    def record(
        self, obs: np.ndarray, actions: np.ndarray, infos: Sequence[dict], prior: np.ndarray | None = None
    ) -> None:
        """One tick: the observations (and prior) the actions were taken on and the infos of every router."""
        t = len(self.rows)
        if prior is not None:
            self.priors.append(np.asarray(prior, np.float32))
        packet = np.fromiter((i["packet"] for i in infos), np.int64, self.n)
        lost = np.fromiter((i["lost"] for i in infos), float, self.n)
        r_hat = -np.fromiter((i["backlog"] for i in infos), float, self.n)
        x = self.consensus.step(r_hat) if self.consensus is not None else r_hat
        for i, info in enumerate(infos):
            if packet[i] >= 0 and not info["sent"]:
                self.fates[int(packet[i])] = -2
            for pid in info["acked"]:
                self.fates[int(pid)] = t + 1
        self.rows.append((obs, np.asarray(actions), packet >= 0, packet, lost, r_hat, x))

    def episode(self, metrics: dict | None = None) -> Episode:
        O, A, acted, packet, lost, r_hat, x = (np.stack(c) for c in zip(*self.rows))
        p_end = np.full(max(max(self.fates, default=0), int(packet.max(initial=0))) + 1, -1, np.int64)
        for pid, end in self.fates.items():
            p_end[pid] = end
        prior = np.stack(self.priors) if self.priors else None
        return Episode(
            O.astype(np.int64), A.astype(np.int64), acted, packet, lost, r_hat, x, p_end, dict(metrics or {}), prior
        )


def _metrics(env) -> dict:
    fn = getattr(env, "episode_metrics", None)
    return dict(fn()) if callable(fn) else {}


@torch.no_grad()
def collect(
    env,
    policy: RouterPolicies,
    seed: int,
    rng: np.random.Generator,
    params=None,
    consensus: ConsensusEstimator | None = None,
    greedy: bool = False,
    options: dict | None = None,
    prior: bool = False,
) -> Episode:
    """Run one episode of ``env`` with the policy (sampled actions); record what the gradient needs. ``prior``:
    the policies are residuals on ``env.next_hop_prior()``."""
    obs, _ = env.reset(seed=seed, options=options)
    agents = list(env.possible_agents)
    rec = Recorder(len(agents), consensus)
    while env.agents:
        o = _stack(obs, agents)
        pr = env.next_hop_prior() if prior else None
        logits = policy.logits(torch.from_numpy(o)[:, None, :], params, _prior_tensor(pr))[:, 0]
        a = logits.argmax(-1).numpy() if greedy else sample_actions(logits, rng)
        obs, _, _, _, infos = env.step({ag: int(a[i]) for i, ag in enumerate(agents)})
        rec.record(o, a, [infos[ag] for ag in agents], pr)
    return rec.episode(_metrics(env))


def _prior_tensor(prior: np.ndarray | None) -> torch.Tensor | None:
    """(N, 1, D) float tensor of one tick's prior (None: no prior)."""
    return None if prior is None else torch.from_numpy(np.asarray(prior, np.float32))[:, None, :]


# ---------------------------------------------------------------------------------------------------- advantages
def _time_baseline(g: np.ndarray) -> np.ndarray:
    """Per-router least-squares fit of ``g`` (T, N) on ``1, s, s^2, s^3`` (``s = t / T``)."""
    s = np.linspace(0.0, 1.0, len(g))
    X = np.stack([np.ones_like(s), s, s**2, s**3], 1)
    coef, *_ = np.linalg.lstsq(X, g, rcond=None)
    return X @ coef


def advantages(ep: Episode, cfg: MAMRLConfig) -> np.ndarray:
    """(T, N) weight of each decision's log-probability: eq. (5)-(6) reward-to-go of ``e = r_tilde + x``
    against a time baseline, plus ``packet_credit`` x the forwarded packet's delivery acknowledgement."""
    T, n = ep.actions.shape
    e = -cfg.loss_cost * ep.lost + ep.x
    g = np.zeros_like(e)
    run = np.zeros(n)
    for t in range(T - 1, -1, -1):
        run = e[t] + cfg.gamma * run
        g[t] = run
    adv = g - _time_baseline(g)
    adv = _normalise(adv, ep.acted)
    if cfg.packet_credit > 0:
        t_idx = np.broadcast_to(np.arange(T)[:, None], (T, n))
        pk = np.maximum(ep.packet, 0)
        end = ep.p_end[pk]
        credit = np.where(end >= 0, -(end - t_idx), np.where(end == -2, -cfg.loss_cost, -(T - t_idx)))
        dest = ep.obs[:, :, 0]
        key = np.arange(n)[None, :] * (dest.max() + 2) + dest + 1
        m = ep.acted
        sums = np.bincount(key[m], weights=credit[m], minlength=key.max() + 1)
        cnts = np.bincount(key[m], minlength=key.max() + 1)
        base = sums[key] / np.maximum(cnts[key], 1)
        adv = adv + cfg.packet_credit * _normalise(credit - base, m)
    return np.where(ep.acted, adv, 0.0)


def _normalise(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Divide each router's column by its standard deviation over the decisions it took."""
    cnt = np.maximum(mask.sum(0), 1)
    mean = np.where(mask, a, 0).sum(0) / cnt
    std = np.sqrt(np.where(mask, (a - mean) ** 2, 0).sum(0) / cnt) + 1e-8
    return a / std


def pg_loss(policy: RouterPolicies, episodes: Sequence[Episode], cfg: MAMRLConfig, params=None) -> torch.Tensor:
    """Minus the eq. (5) estimate summed over routers (each router's term averaged over its decisions), minus
    ``entropy`` x the routers' mean policy entropy."""
    total = 0.0
    for ep in episodes:
        adv = torch.from_numpy(advantages(ep, cfg)).float().T  # (N, T)
        obs = torch.from_numpy(ep.obs).transpose(0, 1)  # (N, T, F)
        act = torch.from_numpy(ep.actions).T
        prior = None if ep.prior is None else torch.from_numpy(ep.prior).transpose(0, 1)  # (N, T, D)
        logp_all = torch.log_softmax(policy.logits(obs, params, prior).clamp(min=-1e9), -1)  # padding: p = 0
        acted = torch.from_numpy(ep.acted).T
        logp = torch.where(acted, logp_all.gather(-1, act[..., None])[..., 0], torch.zeros(()))
        ent = -(logp_all.exp() * logp_all).sum(-1)
        if prior is not None:  # minus KL(pi || prior): stay near the prior where the advantage is silent
            ent = -(logp_all.exp() * (logp_all - policy.log_prior(prior))).sum(-1)
        ent = torch.where(acted, ent, torch.zeros(()))
        cnt = torch.from_numpy(np.maximum(ep.acted.sum(0), 1)).float()
        total = total - ((logp * adv + cfg.entropy * ent).sum(1) / cnt).sum()
    total = total / len(episodes)
    require_finite("policy-gradient loss", float(total.detach()))
    return total


# ---------------------------------------------------------------------------------------------------- learner
def policy_shape(env) -> tuple[int, list[int], int]:
    """``(routers, degrees, history)`` of a routing environment's agents."""
    agents = list(env.possible_agents)
    degree = [int(env.action_space(a).n) for a in agents]
    history = int(env.observation_space(agents[0]).shape[0]) - 2
    return len(agents), degree, history


def make_policy(env, cfg: MAMRLConfig) -> RouterPolicies:
    n, degree, history = policy_shape(env)
    return RouterPolicies(n, degree, history, cfg.hidden, cfg.layers)


def consensus_for(env, cfg: MAMRLConfig) -> ConsensusEstimator | None:
    """The consensus estimator over the environment's ``agent_graph`` (``None`` without consensus)."""
    if not cfg.consensus:
        return None
    src, dst = np.asarray(env.agent_graph)
    return ConsensusEstimator(laplacian(len(env.possible_agents), src, dst), cfg.beta)


class RouterLearner:
    """Per-router policies learning online (the paper's Algorithm 2): one policy-gradient step after each
    episode. ``reset_to(theta)`` re-initialises (e.g. to the meta-learned initialisation after a failure).
    ``consensus=False`` in the config gives the independent policy-gradient baseline.
    """

    def __init__(self, env, cfg: MAMRLConfig, policy: RouterPolicies | None = None):
        self.cfg = cfg
        torch.manual_seed(cfg.seed)
        self.policy = policy or make_policy(env, cfg)
        self.consensus = consensus_for(env, cfg)
        self.opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.lr)
        self.rng = np.random.default_rng(cfg.seed)
        self.episodes = 0

    def reset_to(self, state_dict: dict) -> None:
        self.policy.load_state_dict(state_dict)
        self.opt = torch.optim.Adam(self.policy.parameters(), lr=self.cfg.lr)

    def update(self, ep: Episode) -> None:
        """One policy-gradient step on an episode."""
        self.opt.zero_grad()
        pg_loss(self.policy, [ep], self.cfg).backward()
        self.opt.step()
        self.episodes += 1

    def run(self, env, seed: int, learn: bool = True, options: dict | None = None) -> dict:
        """One episode on ``env``; a gradient step on it if ``learn``. Returns the episode's metrics."""
        ep = collect(env, self.policy, seed, self.rng, consensus=self.consensus, options=options, prior=self.cfg.prior)
        if learn:
            self.update(ep)
        return ep.metrics

    def state_dict(self) -> dict:
        """Everything a resumed learner needs: weights, optimiser, episodes, the sampling generator's state."""
        return {
            "model": self.policy.state_dict(),
            "opt": self.opt.state_dict(),
            "episodes": self.episodes,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict) -> None:
        self.policy.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.episodes = int(state["episodes"])
        self.rng.bit_generator.state = state["rng"]


class RouterPolicyController(Controller):
    """A :class:`RouterLearner`'s policies behind the one controller interface (:mod:`netctrl.controllers`).

    Actions are sampled from the policies with the learner's own generator (``greedy``: their modes); with
    ``learn`` the learner keeps learning online, one policy-gradient step after every episode (Algorithm 2).
    Give a learner, or trained ``policy`` weights and their ``cfg`` (the learner is then made on first
    :meth:`bind`).
    """

    def __init__(
        self,
        learner: RouterLearner | None = None,
        *,
        policy: RouterPolicies | None = None,
        cfg: MAMRLConfig | None = None,
        learn: bool = False,
        greedy: bool = False,
        name: str = "mamrl",
    ):
        if learner is None and (policy is None or cfg is None):
            raise ConfigError("give a learner, or a policy and its config")
        self.learner, self._policy, self._cfg = learner, policy, cfg
        self.learn, self.greedy, self.name = learn, greedy, name
        self._env = None

    def bind(self, env) -> None:
        if self.learner is None:  # the learner is built for the first environment it acts in
            self.learner = RouterLearner(env, self._cfg, self._policy)
        n, degree, history = policy_shape(env)
        pol = self.learner.policy
        if n != pol.n or max(degree) > pol.d or history != pol.h:
            from ..errors import CheckpointError

            raise CheckpointError(
                f"policy {self.name!r} is for {pol.n} routers of degree <= {pol.d} with "
                f"history {pol.h}; this network has {n} of degree <= {max(degree)}, history {history}"
            )
        self._env, self._agents = env, list(env.possible_agents)
        self._rec = Recorder(n, self.learner.consensus)

    @torch.no_grad()
    def act(self, observation: dict) -> dict:
        o = _stack(observation, self._agents)
        pr = self._env.next_hop_prior() if self.learner.cfg.prior else None
        logits = self.learner.policy.logits(
            torch.from_numpy(np.asarray(o, np.int64))[:, None, :], None, _prior_tensor(pr)
        )
        a = logits[:, 0].argmax(-1).numpy() if self.greedy else sample_actions(logits[:, 0], self.learner.rng)
        self._last = (o, a, pr)
        return {ag: int(a[i]) for i, ag in enumerate(self._agents)}

    def observe(self, observation, reward, terminated, truncated, info) -> None:
        o, a, pr = self._last
        self._rec.record(o, a, [info[ag] for ag in self._agents], pr)
        if not self._env.agents:
            ep = self._rec.episode(_metrics(self._env))
            if self.learn:
                self.learner.update(ep)


def train_online(
    make_env: Callable,
    cfg: MAMRLConfig,
    episodes: int,
    task=(),
    learner: RouterLearner | None = None,
    seed_base: int = 10_000,
    time_limit_s: float | None = None,
    log: Callable | None = None,
    start: int = 0,
    rng_state: dict | None = None,
    checkpoint: Callable[[int, RouterLearner, dict, dict], None] | None = None,
    progress: bool = False,
    description: str = "online episodes",
) -> tuple[RouterLearner, list[dict]]:
    """Train a learner for ``episodes`` episodes on ``task`` with loads drawn from ``cfg.loads``.

    ``start`` / ``rng_state`` resume a run after episode ``start`` (the load generator's state then);
    ``checkpoint(k, learner, rng_state, row)`` is called after every episode ``k`` (1-based; ``row``: its load and
    metrics). ``progress``: a bar over the episodes, labelled ``description``.
    """
    rng = np.random.default_rng(cfg.seed + 7)
    if rng_state is not None:
        rng.bit_generator.state = rng_state
    env = make_env(task)
    learner = learner or RouterLearner(env, cfg)
    hist, t0 = [], time.perf_counter()
    with Progress(episodes, description, enabled=progress, start=start) as bar:
        for k in range(start, episodes):
            load = float(rng.uniform(*cfg.loads))
            m = learner.run(env, seed_base + k, options={"load": load})
            hist.append({"load": load, **m})
            if log and (k + 1) % 50 == 0:
                log(f"episode {k + 1}: load {load:.2f} delivery {m['delivery_time']:.1f} lost {m['packets_lost']}")
            if checkpoint is not None:
                checkpoint(k + 1, learner, rng.bit_generator.state, hist[-1])
            bar.update(1, f"delivery {m['delivery_time']:.1f}, lost {m['packets_lost']}")
            if time_limit_s and time.perf_counter() - t0 > time_limit_s:
                break
    return learner, hist


# ---------------------------------------------------------------------------------------------------- MAML
def meta_train(
    make_env: Callable,
    tasks: Sequence[tuple],
    cfg: MAMRLConfig,
    iterations: int,
    seed_base: int = 20_000,
    time_limit_s: float | None = None,
    log: Callable | None = None,
    init: dict | None = None,
    progress: bool = False,
) -> tuple[RouterPolicies, list[dict]]:
    """First-order MAML over link-failure tasks (the paper's Algorithm 1).

    Each iteration samples ``meta_batch`` tasks; for each, one episode with ``theta`` gives the inner step
    ``theta' = theta - inner_lr * sign(grad)`` (eq. 3; ``inner_sign``), one episode with ``theta'`` gives the outer
    gradient at ``theta'``, and Adam applies the tasks' mean outer gradient to ``theta`` (plus, with ``outer_pre``, the
    gradient of the pre-adaptation episodes). ``init``: a state dict to start from (e.g. after :func:`imitate`)
    instead of random weights. ``progress``: a bar over the meta-iterations.
    """
    if not tasks:
        raise ConfigError("'tasks' must hold at least one task")
    rng = np.random.default_rng(cfg.seed + 11)
    act_rng = np.random.default_rng(cfg.seed + 12)
    envs = {task: make_env(task) for task in tasks}
    any_env = next(iter(envs.values()))
    torch.manual_seed(cfg.seed)
    policy = make_policy(any_env, cfg)
    if init is not None:
        policy.load_state_dict(init)
    cons = consensus_for(any_env, cfg)
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr if cfg.meta_lr is None else cfg.meta_lr)
    hist, t0, seed = [], time.perf_counter(), seed_base
    with Progress(iterations, "meta-iterations", enabled=progress) as bar:
        for it in range(iterations):
            batch = [tasks[int(i)] for i in rng.choice(len(tasks), size=min(cfg.meta_batch, len(tasks)), replace=False)]
            outer = [torch.zeros_like(p) for p in policy.params()]
            post = []
            for task in batch:
                env = envs[task]
                options = {"load": float(rng.uniform(*cfg.loads))}
                theta = policy.params()
                ep = collect(env, policy, seed, act_rng, consensus=cons, options=options, prior=cfg.prior)
                grads = torch.autograd.grad(pg_loss(policy, [ep], cfg), theta)
                if cfg.outer_pre:
                    for o, g in zip(outer, grads):
                        o += g / len(batch)
                step = [torch.sign(g) if cfg.inner_sign else g for g in grads]
                adapted = [(p - cfg.inner_lr * d).detach().requires_grad_(True) for p, d in zip(theta, step)]
                ep2 = collect(
                    env, policy, seed + 1, act_rng, params=adapted, consensus=cons, options=options, prior=cfg.prior
                )
                seed += 2
                g2 = torch.autograd.grad(pg_loss(policy, [ep2], cfg, params=adapted), adapted)
                for o, g in zip(outer, g2):
                    o += g / len(batch)
                post.append(ep2.metrics)
            opt.zero_grad()
            for p, o in zip(policy.params(), outer):
                p.grad = o
            opt.step()
            hist.append(
                {
                    "iteration": it,
                    "delivery_time": float(np.nanmean([m["delivery_time"] for m in post])),
                    "packets_lost": float(np.mean([m["packets_lost"] for m in post])),
                }
            )
            bar.update(1, f"delivery {hist[-1]['delivery_time']:.1f}, lost {hist[-1]['packets_lost']:.1f}")
            if log and (it + 1) % 25 == 0:
                log(
                    f"meta-iteration {it + 1}: post-adaptation delivery {hist[-1]['delivery_time']:.1f} "
                    f"lost {hist[-1]['packets_lost']:.1f}"
                )
            if time_limit_s and time.perf_counter() - t0 > time_limit_s:
                break
    return policy, hist


# ---------------------------------------------------------------------------------------------------- imitation
@torch.no_grad()
def teacher_episode(
    env, teacher: Callable, seed: int, options: dict | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run one episode with ``teacher(obs) -> (N, D)`` next-hop distributions for the routers' observations
    ``(N, F)`` (actions drawn with the environment's ``np_random``); returns the observations ``(T, N, F)``, the
    teacher's distributions ``(T, N, D)`` and which routers had a packet ``(T, N)``."""
    obs, _ = env.reset(seed=seed, options=options)
    agents = list(env.possible_agents)
    O, P, M = [], [], []
    while env.agents:
        o = _stack(obs, agents)
        probs = np.asarray(teacher(o), dtype=np.float64)
        O.append(o.copy()), P.append(probs), M.append(o[:, 0] >= 0)
        cum = np.cumsum(probs, axis=1)
        u = env.np_random.random(len(probs))[:, None]
        a = np.minimum((cum <= u * cum[:, -1:]).sum(axis=1), probs.shape[1] - 1)
        obs, _, _, _, _ = env.step({ag: int(a[i]) for i, ag in enumerate(agents)})
    return np.stack(O), np.stack(P), np.stack(M)


def imitate(
    policy: RouterPolicies,
    obs: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray,
    epochs: int = 30,
    lr: float = 1e-2,
    batch: int = 256,
    seed: int = 0,
) -> list[float]:
    """Fit every router's policy to a teacher's next-hop distributions by cross-entropy (soft labels).

    ``obs`` (S, N, F) observations, ``target`` (S, N, D) the teacher's distribution over each router's links
    (zero on padding), ``mask`` (S, N) the decisions that count (the router had a packet). Returns the mean
    loss of each epoch (cross-entropy minus the teacher's entropy: the KL divergence to the teacher, 0 when
    matched)."""
    o = torch.from_numpy(np.asarray(obs, dtype=np.int64)).transpose(0, 1)  # (N, S, F)
    p = torch.from_numpy(np.asarray(target, dtype=np.float32)).transpose(0, 1)  # (N, S, D)
    m = torch.from_numpy(np.asarray(mask, dtype=bool)).T  # (N, S)
    if o.shape[1] == 0 or not bool(m.any()):
        raise ConfigError("imitation needs at least one decision with a packet")
    ent = torch.where(p > 0, p * torch.log(p.clamp(min=1e-12)), torch.zeros(())).sum(-1)  # (N, S)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    hist = []
    for _ in range(epochs):
        perm, total, count = torch.randperm(o.shape[1], generator=gen), 0.0, 0
        for b in range(0, len(perm), batch):
            idx = perm[b : b + batch]
            logp = torch.log_softmax(policy.logits(o[:, idx]).clamp(min=-1e9), -1)
            kl = ent[:, idx] - (p[:, idx] * logp).sum(-1)  # (N, B)
            mb = m[:, idx]
            loss = torch.where(mb, kl, torch.zeros(())).sum() / mb.sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * int(mb.sum())
            count += int(mb.sum())
        hist.append(total / max(count, 1))
        require_finite("imitation loss", hist[-1])
    return hist


def config_dict(cfg: MAMRLConfig) -> dict:
    return asdict(cfg)


def clone_state(policy: RouterPolicies) -> dict:
    return copy.deepcopy(policy.state_dict())
