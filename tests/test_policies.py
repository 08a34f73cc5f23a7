"""Graph batching against PyG's own Batch, encoder equivariance, safe distributions, the policy controller."""

import pytest
import torch
from torch_geometric.data import Batch, Data

from netctrl.errors import ActionError
from netctrl.policies.actor_critic import GraphActorCritic, PolicyConfig, PolicyController, to_graph_batch
from netctrl.policies.encoders import EdgeConditionedConv, get_encoder
from netctrl.policies.heads import DirichletHead, SafeDirichlet


def random_obs(B=3, N=5, E=8, F=4, D=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.stack([torch.randint(0, N, (E,), generator=g), torch.randint(0, N, (E,), generator=g)])
    return {
        "x": torch.rand(B, N, F, generator=g),
        "edge_index": ei.unsqueeze(0).repeat(B, 1, 1),
        "edge_attr": torch.rand(B, E, D, generator=g),
    }


def test_to_graph_batch_matches_pyg_batch():
    obs = random_obs()
    x, ei, ea, batch, B = to_graph_batch(obs)
    ref = Batch.from_data_list(
        [Data(x=obs["x"][b], edge_index=obs["edge_index"][b], edge_attr=obs["edge_attr"][b]) for b in range(3)]
    )
    assert B == 3
    assert torch.equal(x, ref.x) and torch.equal(ei, ref.edge_index) and torch.equal(ea, ref.edge_attr)
    assert torch.equal(batch, ref.batch)


@pytest.mark.parametrize("enc", ["gcn", "edgeconv"])
def test_encoders_are_permutation_equivariant(enc):
    torch.manual_seed(0)
    N, F, D = 6, 4, 2
    ei = torch.tensor([[0, 1, 2, 3, 4, 5, 0], [1, 2, 3, 4, 5, 0, 3]])
    x, ea = torch.rand(N, F), torch.rand(ei.shape[1], D)
    kw = dict(in_channels=F, hidden_channels=8, num_layers=2)
    model = get_encoder(enc, **(kw | ({"edge_dim": D} if enc == "edgeconv" else {})))
    perm = torch.randperm(N)
    inv = torch.argsort(perm)
    out = model(x, ei, ea)
    out_p = model(x[perm], inv[ei], ea)
    assert torch.allclose(out_p, out[perm], atol=1e-5)
    assert out.shape == (N, 8 + F)


def test_edge_conditioned_conv_uses_edge_features():
    torch.manual_seed(0)
    conv = EdgeConditionedConv(3, 4, edge_dim=2)
    x, ei = torch.rand(3, 3), torch.tensor([[0, 1], [1, 2]])
    a = conv(x, ei, torch.zeros(2, 2))
    b = conv(x, ei, torch.ones(2, 2))
    assert not torch.allclose(a[1:], b[1:])
    assert torch.allclose(a[0], b[0])  # node 0 receives no message


def test_safe_dirichlet_never_nan_with_tiny_concentrations():
    torch.manual_seed(0)
    d = SafeDirichlet(torch.full((64, 20), 1e-3))
    a = d.sample()
    assert torch.all(a > 0) and torch.allclose(a.sum(-1), torch.ones(64))
    assert torch.isfinite(d.log_prob(a)).all()


def test_dirichlet_head_prior_sets_initial_mean():
    torch.manual_seed(0)
    head = DirichletHead(8, prior_feature=0, init_precision=100.0)
    x = torch.tensor([[1.0], [3.0], [6.0], [0.0]])
    dist = head(torch.rand(4, 8), x, batch_size=1)
    mean = dist.mode()[0]
    assert torch.allclose(mean, torch.tensor([0.1, 0.3, 0.6, 0.0]), atol=2e-3)


@pytest.mark.parametrize("n", [12, 200])
def test_prior_eps_per_graph_leaks_the_same_share_on_every_graph_size(n):
    """A prior that leaves a quarter of the nodes empty: with ``prior_eps_per_graph`` the initial mean puts
    ``(n/4) * (eps/n) / (1 + eps)`` on them, whatever ``n``; with a per-node ``eps``, ``(n/4) eps / (1 + n eps)``,
    growing with ``n``."""
    x = torch.ones(n, 1)
    x[: n // 4] = 0.0
    eps = 1e-2
    for per_graph, leak in ((True, 0.25 * eps / (1 + eps)), (False, (n / 4) * eps / (1 + n * eps))):
        head = DirichletHead(8, prior_feature=0, prior_eps=eps, exact_prior=True, prior_eps_per_graph=per_graph)
        mean = head(torch.rand(n, 8), x, batch_size=1).mode()[0]
        assert float(mean[: n // 4].sum().detach()) == pytest.approx(leak, rel=1e-4)


def test_actor_critic_gradients_match_finite_differences():
    torch.manual_seed(0)
    model = GraphActorCritic(4, 2, PolicyConfig(hidden=8, layers=1, head_hidden=8)).double()
    obs = {k: (v.double() if v.is_floating_point() else v) for k, v in random_obs(B=2).items()}
    a = SafeDirichlet(torch.full((2, 5), 2.0, dtype=torch.float64)).sample()
    p = model.head.net[0].weight
    loss = lambda: model.evaluate_actions(obs, a)[0].sum()
    loss().backward()
    g = p.grad[0, 0].item()
    eps = 1e-6
    with torch.no_grad():
        p[0, 0] += eps
        up = loss().item()
        p[0, 0] -= 2 * eps
        down = loss().item()
    assert g == pytest.approx((up - down) / (2 * eps), rel=1e-4, abs=1e-7)


def test_policy_controller_raises_on_nan_weights():
    model = GraphActorCritic(4, 2, PolicyConfig(hidden=8, layers=1))
    with torch.no_grad():
        for prm in model.actor_encoder.parameters():
            prm.fill_(float("nan"))
    obs = {k: v[0].numpy() for k, v in random_obs(B=1).items()}
    with pytest.raises((ActionError, ValueError)):
        PolicyController(model).act(obs)


def test_config_validation():
    with pytest.raises(ValueError, match="'head'"):
        PolicyConfig(head="beta")
    with pytest.raises(ValueError, match="Unknown encoder"):
        get_encoder("transformer", in_channels=2)


def test_gaussian_heads_log_prob_matches_torch_normal():
    from torch.distributions import Normal

    from netctrl.policies.heads import EdgeGaussianHead, GaussianHead

    torch.manual_seed(0)
    h = torch.rand(2 * 5, 8)
    head = GaussianHead(8, mask_feature=0, init_std=0.7)
    flags = torch.tensor([1.0, 0, 0, 1, 0] * 2).unsqueeze(-1)  # nodes 0 and 3 of each graph act
    dist = head(h, flags, batch_size=2)
    a = dist.sample()
    assert a.shape == (2, 2)
    ref = Normal(dist.mean, torch.full_like(dist.mean, 0.7)).log_prob(a).sum(-1)
    assert torch.allclose(dist.log_prob(a), ref, atol=1e-5)
    edge = EdgeGaussianHead(8, edge_dim=2)
    ei = torch.tensor([[0, 1, 5, 6], [1, 2, 6, 7]])
    d2 = edge(h, None, 2, ei, torch.rand(4, 2))
    assert d2.sample().shape == (2, 2) and torch.isfinite(d2.entropy()).all()


def test_composite_head_concatenates_and_sums_log_probs():
    from netctrl.policies.heads import CompositeHead, GaussianHead

    torch.manual_seed(0)
    h = torch.rand(2 * 5, 8)
    x = torch.tensor([[1.0, 0.2], [0, 0.1], [0, 0.3], [0, 0.2], [0, 0.2]] * 2)
    head = CompositeHead([GaussianHead(8, mask_feature=0, init_mean=1.0), DirichletHead(8, prior_feature=1)])
    dist = head(h, x, 2, torch.zeros(2, 0, dtype=torch.long), None)
    a = dist.sample()
    assert a.shape == (2, 1 + 5)
    g, d = dist.parts
    assert torch.allclose(dist.log_prob(a), g.log_prob(a[:, :1]) + d.log_prob(a[:, 1:]))
    assert torch.allclose(dist.mode()[:, 0], torch.ones(2), atol=0.05)


def test_bidirectional_encoder_sees_upstream_nodes():
    """With one-way edges a source node receives no message; with ``bidirectional`` it does."""
    torch.manual_seed(0)
    obs = random_obs(B=1, N=3, E=2)
    obs["edge_index"] = torch.tensor([[[0, 0], [1, 2]]])
    for bidirectional, changes in ((False, False), (True, True)):
        model = GraphActorCritic(
            4, 2, PolicyConfig(encoder="edgeconv", hidden=8, layers=1, bidirectional=bidirectional)
        )
        base = model.actor_encoder(*_graph(model, obs))[0]
        obs2 = {k: v.clone() for k, v in obs.items()}
        obs2["x"][0, 1] += 1.0  # change a downstream node
        new = model.actor_encoder(*_graph(model, obs2))[0]
        assert (not torch.allclose(base, new)) == changes


def _graph(model, obs):
    x, ei, ea, _, _ = to_graph_batch(obs)
    return (x, *model._message_graph(ei, ea))


def test_gcn_normalisation_cache_follows_the_graph():
    """The encoder reuses its normalised adjacency only for the very same graph."""
    torch.manual_seed(0)
    enc = GCNEncoderRef = get_encoder("gcn", in_channels=3, hidden_channels=4, num_layers=2)
    x = torch.rand(4, 3)
    a = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    b = torch.tensor([[0, 1, 2, 3], [2, 3, 0, 1]])  # same shape, other edges
    out_a, out_b, out_a2 = enc(x, a), enc(x, b), enc(x, a)
    assert torch.equal(out_a, out_a2) and not torch.allclose(out_a, out_b)
    fresh = get_encoder("gcn", in_channels=3, hidden_channels=4, num_layers=2)
    fresh.load_state_dict(GCNEncoderRef.state_dict())
    assert torch.allclose(fresh(x, b), out_b)
    # the same as PyG's GCNConv normalising on its own
    from torch_geometric.nn import GCNConv

    ref = GCNConv(3, 4)
    ref.lin.weight.data.copy_(enc.convs[0].lin.weight.data)
    ref.bias.data.copy_(enc.convs[0].bias.data)
    assert torch.allclose(enc.convs[0](x, *enc._normalized(b, 4)), ref(x, b), atol=1e-6)


def test_grouped_dirichlet_is_a_product_of_independent_dirichlets():
    from torch.distributions import Dirichlet

    torch.manual_seed(0)
    head = DirichletHead(8, groups=3, init_precision=5.0)
    h, x = torch.rand(2 * 12, 8), torch.rand(2 * 12, 2)
    dist = head(h, x, batch_size=2)
    a = dist.sample()
    assert a.shape == (2, 12)
    blocks = a.view(2, 3, 4)
    assert torch.allclose(blocks.sum(-1), torch.ones(2, 3))
    conc = dist.concentration
    ref = sum(Dirichlet(conc[:, g]).log_prob(blocks[:, g]) for g in range(3))
    assert torch.allclose(dist.log_prob(a), ref, atol=1e-4)
    assert dist.mode().shape == (2, 12)


def test_symlog_inputs_transform_encoder_inputs_but_not_the_prior():
    """With ``symlog_inputs`` the policy equals the same weights fed ``sign(v) log(1 + |v|)`` features, except
    that the Dirichlet prior is still read from the raw feature (its scale would otherwise be distorted)."""
    torch.manual_seed(0)
    obs = random_obs(B=2, N=5, F=4, D=2)
    obs["x"] = obs["x"] * 50.0
    obs["edge_attr"] = obs["edge_attr"] * 20.0 - 10.0
    cfg = dict(encoder="edgeconv", hidden=8, layers=2, prior_feature=3, prior_eps=1e-6)
    raw = GraphActorCritic(4, 2, PolicyConfig(**cfg))
    logged = GraphActorCritic(4, 2, PolicyConfig(**cfg, symlog_inputs=True))
    logged.load_state_dict(raw.state_dict())
    pre = {
        **obs,
        "x": torch.sign(obs["x"]) * torch.log1p(obs["x"].abs()),
        "edge_attr": torch.sign(obs["edge_attr"]) * torch.log1p(obs["edge_attr"].abs()),
    }
    assert torch.allclose(logged.value(obs), raw.value(pre), atol=1e-5)  # the critic reads them too
    x, ei, ea, _, B = to_graph_batch(obs)
    xs, _, eas, _, _ = to_graph_batch(pre)
    h_logged = logged.actor_encoder(*logged._inputs(x, ei, ea))
    assert torch.allclose(h_logged, raw.actor_encoder(xs, ei, eas), atol=1e-5)
    mean = logged.distribution(obs).mode()
    expected = raw.head(h_logged, x, B).mode()  # the head with the raw features
    assert torch.allclose(mean, expected, atol=1e-6)
    assert not torch.allclose(mean, raw.distribution(obs).mode(), atol=1e-3)
