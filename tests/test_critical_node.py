"""Multilevel Critical Node: the exact solver against brute-force enumeration, monotonicity in the budgets,
the public-format reader, the game dynamics, the learned value function's plumbing and the CLI."""

from __future__ import annotations

import itertools
from collections import deque

import numpy as np
import pytest

from netctrl.errors import ActionError, ScenarioError, SolverError
from netctrl.problems.critical_node import (
    ExactSolver,
    MCNInstance,
    format_instance,
    parse_instance,
    random_instance,
    random_tree,
    read_instance,
    solve,
)


# --------------------------------------------------------------------------- independent brute force
def _saved(n, nbrs, D, I, P):
    """Saved nodes by a plain BFS over Python sets (independent of the bit-mask code)."""
    blocked = set(D) | set(P)
    seen = {v for v in I if v not in blocked}
    queue = deque(seen)
    while queue:
        u = queue.popleft()
        for w in nbrs[u]:
            if w not in seen and w not in blocked:
                seen.add(w)
                queue.append(w)
    return n - len(seen)


def _subsets(pool, k):
    for r in range(min(k, len(pool)) + 1):
        yield from itertools.combinations(pool, r)


def brute_force(inst: MCNInstance) -> int:
    """max over |D| <= omega, min over |I| <= phi, max over |P| <= lam, straight from the definition."""
    nbrs = {v: set() for v in range(inst.n)}
    for u, v in inst.edges:
        nbrs[u].add(v)
        nbrs[v].add(u)
    nodes = range(inst.n)
    best_d = -1
    for D in _subsets(list(nodes), inst.omega):
        rest = [v for v in nodes if v not in D]
        worst_i = inst.n + 1
        for I in _subsets(rest, inst.phi):
            rest2 = [v for v in rest if v not in I]
            best_p = max(_saved(inst.n, nbrs, D, I, P) for P in _subsets(rest2, inst.lam))
            worst_i = min(worst_i, best_p)
            if worst_i <= best_d:
                break
        best_d = max(best_d, worst_i)
    return best_d


def _tiny_instances():
    rng = np.random.default_rng(2026)
    out = []
    for k in range(36):
        n = int(rng.integers(3, 9))
        budgets = tuple(int(b) for b in rng.integers(0, 3, size=3))
        if k % 4 == 3:
            out.append(random_tree(n, budgets, seed=k))
        else:
            out.append(random_instance(n, float(rng.uniform(0.15, 0.6)), budgets, seed=k))
    # larger budgets on small graphs, and degenerate shapes
    out += [
        random_instance(7, 0.3, (3, 3, 3), seed=1),
        random_instance(6, 0.5, (3, 2, 3), seed=2),
        random_instance(8, 0.25, (1, 3, 2), seed=3),
        MCNInstance(5, [], 1, 2, 1),
        MCNInstance(4, [(0, 1), (1, 2), (2, 3), (3, 0)], 3, 3, 3),
        MCNInstance(6, [(0, v) for v in range(1, 6)], 0, 1, 1),
    ]
    return out


@pytest.mark.parametrize("inst", _tiny_instances(), ids=lambda i: f"{i.name or 'hand'}-{i.n}-{i.omega}{i.phi}{i.lam}")
def test_exact_equals_brute_force(inst):
    res = solve(inst)
    assert res.value == brute_force(inst)
    # the line of play it reports is feasible and attains the value
    assert len(res.vaccinated) <= inst.omega and len(res.infected) <= inst.phi and len(res.protected) <= inst.lam
    D = sum(1 << v for v in res.vaccinated)
    I = sum(1 << v for v in res.infected)
    P = sum(1 << v for v in res.protected)
    assert not (D & I) and not (D & P) and not (I & P)
    assert inst.saved(D, I, P) == res.value


def test_exact_matches_hand_computed_cases():
    path = MCNInstance(5, [(0, 1), (1, 2), (2, 3), (3, 4)], omega=0, phi=1, lam=1)
    # attacker infects the centre 2; protecting one neighbour saves that side only: 2 saved
    assert solve(path).value == 2
    assert solve(path.with_budgets(0, 1, 2)).value == 4  # both neighbours protected
    star = MCNInstance(6, [(0, v) for v in range(1, 6)], omega=1, phi=1, lam=0)
    assert solve(star).value == 5  # hub vaccinated, one leaf lost
    assert solve(MCNInstance(6, [(0, v) for v in range(1, 6)], 0, 1, 0)).value == 0  # hub attacked: all lost


def test_value_monotone_in_each_budget():
    rng = np.random.default_rng(7)
    for k in range(8):
        base = random_instance(int(rng.integers(8, 13)), 0.25, (1, 1, 1), seed=100 + k)
        vals = {}
        for b in itertools.product(range(3), range(1, 3), range(3)):
            vals[b] = solve(base.with_budgets(*b)).value
        for (o, f, l_), v in vals.items():
            if (o + 1, f, l_) in vals:
                assert vals[(o + 1, f, l_)] >= v
            if (o, f + 1, l_) in vals:
                assert vals[(o, f + 1, l_)] <= v
            if (o, f, l_ + 1) in vals:
                assert vals[(o, f, l_ + 1)] >= v


def test_exact_solver_values_of_intermediate_states_agree_with_one_step_lookahead():
    inst = random_instance(10, 0.25, (2, 2, 2), seed=11)
    solver = ExactSolver(inst)
    s = inst.initial_state()
    while s.stage is not None:
        children = [solver.value(c) if c.stage is not None else c.value_if_over() for _, c in s.afterstates()]
        v = solver.value(s)
        assert v == (max(children) if s.maximizing else min(children))
        s = s.afterstates()[int(np.argmax(children) if s.maximizing else np.argmin(children))][1]


def test_time_limit_raises_solver_error():
    inst = random_instance(40, 0.1, (3, 3, 3), seed=0)
    with pytest.raises(SolverError, match="time_limit"):
        solve(inst, time_limit=0.01)


# ----------------------------------------------------------------------------------------- the game
def test_game_moves_budgets_and_errors():
    inst = MCNInstance(4, [(0, 1), (1, 2), (2, 3)], omega=1, phi=1, lam=1)
    s = inst.initial_state()
    assert s.player == "vaccinator" and s.budget_left == 3 and len(s.legal_moves()) == 4
    s = s.play(1)
    assert s.player == "attacker" and 1 not in s.legal_moves()
    with pytest.raises(ActionError, match="already"):
        s.play(1)
    s = s.play(2)
    assert s.player == "protector" and s.legal_moves() == [0, 3]
    s = s.play(3)
    assert s.stage is None and s.value_if_over() == 3  # only node 2 is infected
    with pytest.raises(ActionError, match="over"):
        s.play(0)
    # budgets larger than the graph are dropped once no node is left
    s = MCNInstance(2, [(0, 1)], 3, 3, 3).initial_state().play(0).play(1)
    assert s.stage is None and s.value_if_over() == 2


def test_instance_validation():
    with pytest.raises(ScenarioError, match="self-loops"):
        MCNInstance(3, [(1, 1)], 1, 1, 1)
    with pytest.raises(ScenarioError, match="endpoints"):
        MCNInstance(3, [(0, 3)], 1, 1, 1)
    with pytest.raises(ScenarioError, match="phi"):
        MCNInstance(3, [(0, 1)], 1, -1, 1)


# --------------------------------------------------------------------------------------- the reader
FIXTURE = """no              #fail
0.412           #totTm
3               #itDAD
6               #opt
6               #optDA-AD

V = [1, 2, 3, 4, 5, 6, 7, 8]
A = [(1, 2), (2, 1), (2, 3), (3, 2), (3, 4), (4, 3), (4, 5), (5, 4), (2, 6), (6, 2), (6, 7), (7, 6), (7, 8), (8, 7)]
Z_dad = [2]
Y_dad = [4]
X_dad = [5]
"""


def test_reader_parses_the_public_format_and_round_trips(tmp_path):
    path = tmp_path / "rndgraph30-8_1-1-1_001"
    path.write_text(FIXTURE)
    inst = read_instance(path)
    assert (inst.n, inst.budgets, inst.opt) == (8, (1, 1, 1), 6)
    assert len(inst.edges) == 7 and (0, 1) in inst.edges and (6, 7) in inst.edges
    assert solve(inst).value == brute_force(inst) == 6  # the fixture's #opt is right
    again = parse_instance(format_instance(inst), name=path.name)
    assert (again.n, again.edges, again.budgets, again.opt) == (inst.n, inst.edges, inst.budgets, inst.opt)
    rnd = random_instance(15, 0.2, (2, 1, 3), seed=5)
    back = parse_instance(format_instance(rnd, opt=7, solution=((0,), (1,), (2,))), budgets=rnd.budgets)
    assert (back.n, back.edges, back.opt) == (rnd.n, rnd.edges, 7)


def test_reader_errors_name_the_cause(tmp_path):
    with pytest.raises(ScenarioError, match="budgets"):
        parse_instance(FIXTURE, name="no-budgets-here")
    with pytest.raises(ScenarioError, match="A = "):
        parse_instance("V = [1, 2]\n", budgets=(1, 1, 1))
    with pytest.raises(ScenarioError, match="labels from 'V'"):
        parse_instance("V = [1, 2]\nA = [(1, 3)]\n", budgets=(1, 1, 1))
    with pytest.raises(ScenarioError, match="not found"):
        read_instance(tmp_path / "missing_1-1-1_001")


# ------------------------------------------------------------------------- learned value functions
def test_budget_one_lookahead_labels_are_exact():
    from netctrl.algos.curriculum import ValueFunction, lookahead_labels
    from netctrl.problems.critical_node.features import CriticalNodeGame

    game = CriticalNodeGame()
    rng = np.random.default_rng(3)
    states = [game.sample_state(rng, 1) for _ in range(25)]
    labels = lookahead_labels(ValueFunction(game, {}), states)
    assert labels.tolist() == [float(ExactSolver(s.inst).value(s)) for s in states]


def test_encoding_is_invariant_to_node_numbering_and_drops_saved_nodes():
    from netctrl.problems.critical_node.features import encode_state

    inst = random_instance(12, 0.25, (1, 2, 1), seed=4)
    perm = np.random.default_rng(0).permutation(inst.n)
    twin = MCNInstance(inst.n, [(int(perm[u]), int(perm[v])) for u, v in inst.edges], 1, 2, 1)
    s, t = inst.initial_state().play(0).play(3), twin.initial_state().play(int(perm[0])).play(int(perm[3]))
    xs, _, gs, off_s, _ = encode_state(s)
    xt, _, gt, off_t, _ = encode_state(t)
    assert off_s == off_t == 1  # the vaccinated node is removed and counted as saved
    assert sorted(map(tuple, xs.tolist())) == sorted(map(tuple, xt.tolist())) and np.array_equal(gs, gt)
    # protection stage: only the infected components remain
    end = s.play(5).play(1)  # attacker's last infection -> protector to move
    _, _, _, off, size = encode_state(end)
    assert size == bin(end.infected_now()).count("1") and off == inst.n - size


def test_relative_features_match_absolute_on_training_graphs_and_stay_bounded_on_large_ones():
    from netctrl.errors import ConfigError
    from netctrl.problems.critical_node.features import FEATURE_SETS, GRAPH_FEATURES, CriticalNodeGame, encode_state

    game = CriticalNodeGame(features="relative")
    rng = np.random.default_rng(2)
    for b in range(1, 10):
        s = game.sample_state(rng, b)  # 10-20 nodes, no degree above 10: the clipped counts equal the absolute ones
        xa, eia, ga, offa, sizea = encode_state(s, "absolute")
        xr, eir, gr, offr, sizer = encode_state(s, "relative")
        assert xr.shape[1] == FEATURE_SETS["relative"] and gr.shape == (GRAPH_FEATURES,)
        assert np.array_equal(xa, xr[:, : xa.shape[1]]) and np.array_equal(ga, gr) and np.array_equal(eia, eir)
        assert (offa, sizea) == (offr, sizer)
    # a 100-node graph: every relative feature stays in [0, 1] (the absolute component size reads about 5)
    s = random_instance(100, 0.05, (1, 2, 1), seed=1).initial_state()
    for v in (0, 1, 2, 3):
        s = s.play(v)
        xr, _, gr, _, _ = encode_state(s, "relative")
        assert xr.min() >= 0 and xr.max() <= 1 and gr.max() <= 1
    assert encode_state(s, "absolute")[0][:, 3].max() > 2
    assert game.encoding == {"features": "relative"} and game.readout == "mean"
    assert CriticalNodeGame(features="absolute").readout == "sum" and CriticalNodeGame().features == "hybrid"
    with pytest.raises(ConfigError, match="features"):
        CriticalNodeGame(features="scaled")
    with pytest.raises(ConfigError, match="features"):
        encode_state(s, "scaled")


def test_checkpoints_record_their_feature_set(tmp_path):
    import torch

    from netctrl.algos.curriculum import (
        CurriculumConfig,
        MeanValueFunction,
        ValueFunction,
        checkpoint_encoding,
        load_value_function,
        save_value_function,
        train_curriculum,
    )
    from netctrl.errors import CheckpointError, ConfigError
    from netctrl.problems.critical_node.features import CriticalNodeGame

    rel = CriticalNodeGame(n_range=(6, 9), features="relative")
    ab = CriticalNodeGame(n_range=(6, 9), features="absolute")
    res = train_curriculum(
        rel, CurriculumConfig(max_budget=2, states_per_stage=20, val_states=5, epochs=1), log=lambda m: None
    )
    assert res.nets[1].readout == "mean" and res.nets[1].node_features == 11
    save_value_function(tmp_path / "rel.pt", res, "multil-cur")
    assert checkpoint_encoding(tmp_path / "rel.pt") == {"features": "relative"}
    vf, ck = load_value_function(tmp_path / "rel.pt", rel)
    assert ck["readout"] == "mean" and vf.nets[2].readout == "mean"
    inst = random_instance(60, 0.05, (1, 1, 0), seed=3)  # plays on a graph far larger than the training graphs
    assert vf.play(inst.initial_state())[0].stage is None
    with pytest.raises(CheckpointError, match="trained with encoding"):
        load_value_function(tmp_path / "rel.pt", ab)
    # a checkpoint without a recorded encoding (written before feature sets existed) is an absolute one
    res_ab = train_curriculum(
        ab, CurriculumConfig(max_budget=1, states_per_stage=20, val_states=5, epochs=1), log=lambda m: None
    )
    save_value_function(tmp_path / "old.pt", res_ab, "multil-cur")
    old = torch.load(tmp_path / "old.pt", weights_only=True)
    del old["encoding"], old["readout"], old["checksum"]  # as netctrl 0.2 wrote them (version 2)
    old["version"] = 2
    torch.save(old, tmp_path / "old.pt")
    assert checkpoint_encoding(tmp_path / "old.pt", CriticalNodeGame.legacy_encoding) == {"features": "absolute"}
    assert load_value_function(tmp_path / "old.pt", ab)[0].nets[1].readout == "sum"
    with pytest.raises(CheckpointError, match="trained with encoding"):
        load_value_function(tmp_path / "old.pt", rel)
    with pytest.raises(ConfigError, match="same game encoding"):
        MeanValueFunction([vf, ValueFunction(ab, {})])


def test_hybrid_features_are_the_relative_ones_with_a_sum_read_out_capped_at_20_nodes():
    import torch

    from netctrl.errors import ConfigError
    from netctrl.policies.value import SUM_CAP, ValueNet
    from netctrl.problems.critical_node.features import FEATURE_SETS, GRAPH_FEATURES, CriticalNodeGame, encode_state

    game = CriticalNodeGame(features="hybrid")
    assert game.encoding == {"features": "hybrid"} and game.readout == "capsum" and FEATURE_SETS["hybrid"] == 11
    rng = np.random.default_rng(2)
    small = [game.sample_state(rng, b) for b in range(1, 10)]
    for s in small:  # the relative features, whose first columns are the absolute ones on 10-20-node graphs
        xa, _, ga, _, _ = encode_state(s, "absolute")
        xh, eih, gh, offh, sizeh = encode_state(s, "hybrid")
        xr, eir, gr, offr, sizer = encode_state(s, "relative")
        assert xh.shape == (sizeh, FEATURE_SETS["hybrid"]) and gh.shape == (GRAPH_FEATURES,)
        assert (
            np.array_equal(xh, xr)
            and np.array_equal(gh, gr)
            and np.array_equal(eih, eir)
            and (offh, sizeh) == (offr, sizer)
        )
        assert np.array_equal(xa, xh[:, : xa.shape[1]]) and np.array_equal(ga, gh)
    large = random_instance(100, 0.05, (1, 2, 1), seed=1).initial_state()
    xh, _, gh, _, _ = encode_state(large, "hybrid")
    assert xh.min() >= 0 and xh.max() <= 1 and gh.max() <= 1
    # on graphs of up to SUM_CAP nodes the capped read-out is the sum read-out; beyond, its sums are SUM_CAP means
    torch.manual_seed(0)
    capped, summed = ValueNet(11, GRAPH_FEATURES, readout="capsum"), ValueNet(11, GRAPH_FEATURES, readout="sum")
    summed.load_state_dict(capped.state_dict())
    batch, _, sizes = game.encode(small)
    assert sizes.max() <= SUM_CAP and torch.allclose(capped(batch), summed(batch))
    batch, _, _ = game.encode([large] + small[:2])
    assert not torch.allclose(capped(batch)[:1], summed(batch)[:1]) and torch.allclose(
        capped(batch)[1:], summed(batch)[1:]
    )
    assert "readout=capsum" in repr(capped)
    with pytest.raises(ConfigError, match="readout"):
        ValueNet(11, GRAPH_FEATURES, readout="max")


def test_hybrid_checkpoints_record_their_feature_set(tmp_path):
    from critical_node import load_learned  # benchmarks/critical_node.py

    from netctrl.algos.curriculum import (
        CurriculumConfig,
        checkpoint_encoding,
        load_value_function,
        save_value_function,
        train_curriculum,
    )
    from netctrl.errors import CheckpointError
    from netctrl.problems.critical_node.features import CriticalNodeGame

    hyb = CriticalNodeGame(n_range=(6, 9), features="hybrid")
    res = train_curriculum(
        hyb, CurriculumConfig(max_budget=2, states_per_stage=20, val_states=5, epochs=1), log=lambda m: None
    )
    assert res.nets[1].readout == "capsum" and res.nets[1].node_features == 11
    save_value_function(tmp_path / "hyb.pt", res, "multil-cur")
    assert checkpoint_encoding(tmp_path / "hyb.pt") == {"features": "hybrid"}
    vf, ck = load_learned(tmp_path / "hyb.pt")
    assert ck["readout"] == "capsum" and vf.nets[2].readout == "capsum" and vf.game.features == "hybrid"
    assert vf.play(random_instance(60, 0.05, (1, 1, 0), seed=3).initial_state())[0].stage is None
    for other in ("absolute", "relative"):  # the same shapes as relative, but another encoding: refused
        with pytest.raises(CheckpointError, match="trained with encoding"):
            load_value_function(tmp_path / "hyb.pt", CriticalNodeGame(n_range=(6, 9), features=other))


def test_an_absolute_checkpoint_plays_the_same_with_clipped_features_on_small_graphs(tmp_path):
    from critical_node import load_learned  # benchmarks/critical_node.py

    from netctrl.algos.curriculum import CurriculumConfig, save_value_function, train_curriculum
    from netctrl.errors import ConfigError
    from netctrl.problems.critical_node.features import CriticalNodeGame, encode_state

    ab = CriticalNodeGame(n_range=(6, 9), features="absolute")
    rng = np.random.default_rng(4)
    states = [CriticalNodeGame().sample_state(rng, b) for b in (1, 2, 3, 4) for _ in range(3)]
    for s in states:  # 10-20 nodes: the clipped features are the absolute ones
        xa, eia, ga, offa, sizea = encode_state(s, "absolute")
        xc, eic, gc, offc, sizec = encode_state(s, "clipped")
        assert (
            np.array_equal(xa, xc)
            and np.array_equal(ga, gc)
            and np.array_equal(eia, eic)
            and (offa, sizea) == (offc, sizec)
        )
    large = random_instance(100, 0.05, (1, 2, 1), seed=1).initial_state()
    xc, _, gc, _, _ = encode_state(large, "clipped")
    assert xc.shape[1] == 7 and xc.max() <= 1 and gc.max() <= 1 and encode_state(large, "absolute")[0][:, 3].max() > 2
    res = train_curriculum(
        ab, CurriculumConfig(max_budget=4, states_per_stage=20, val_states=5, epochs=1), log=lambda m: None
    )
    save_value_function(tmp_path / "ab.pt", res, "multil-cur")
    vf_ab, _ = load_learned(tmp_path / "ab.pt")
    vf_cl, ck = load_learned(tmp_path / "ab.pt", "clipped")
    assert vf_cl.game.features == "clipped" and vf_cl.nets[1].readout == "capsum" and vf_ab.nets[1].readout == "sum"
    assert ck["played_with"] == {"features": "clipped", "readout": "capsum"}
    assert np.allclose(vf_ab.values(states), vf_cl.values(states), atol=1e-5)
    assert vf_cl.play(random_instance(60, 0.05, (1, 1, 1), seed=3).initial_state())[0].stage is None
    with pytest.raises(ConfigError, match="agree on the training graphs"):
        load_learned(tmp_path / "ab.pt", "hybrid")


def test_curriculum_and_dqn_train_save_load_and_play(tmp_path):
    from netctrl.algos.curriculum import (
        CurriculumConfig,
        DQNConfig,
        load_value_function,
        save_value_function,
        train_curriculum,
        train_dqn,
    )
    from netctrl.errors import CheckpointError, ConfigError
    from netctrl.problems.critical_node.features import CriticalNodeGame

    game = CriticalNodeGame(n_range=(6, 9))
    res = train_curriculum(
        game, CurriculumConfig(max_budget=3, states_per_stage=40, val_states=10, epochs=2), log=lambda m: None
    )
    assert sorted(res.nets) == [1, 2, 3] and len(res.history) == 3
    save_value_function(tmp_path / "cur.pt", res, "multil-cur")
    vf, _ = load_value_function(tmp_path / "cur.pt", game)
    inst = random_instance(9, 0.3, (1, 1, 1), seed=0)
    end, moves = vf.play(inst.initial_state())
    assert len(moves) == 3 and end.stage is None and 0 <= end.value_if_over() <= 9
    with pytest.raises(ConfigError, match="No expert for budget 4"):
        vf.play(inst.with_budgets(3, 1, 1).initial_state())
    dqn = train_dqn(game, DQNConfig(max_budget=3, updates=6, batch_size=8, target_every=3), log=lambda m: None)
    save_value_function(tmp_path / "dqn.pt", dqn, "multil-dqn")
    vf2, _ = load_value_function(tmp_path / "dqn.pt", game)
    assert vf2.play(inst.with_budgets(2, 1, 1).initial_state())[0].stage is None
    with pytest.raises(ConfigError, match="epochs"):
        CurriculumConfig(epochs=0)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_value_function(tmp_path / "bad.pt", game)
    with pytest.raises(CheckpointError, match="not found"):
        load_value_function(tmp_path / "missing.pt", game)


def test_two_ply_lookahead_and_shared_ensemble_encoding():
    from netctrl.algos.curriculum import CurriculumConfig, MeanValueFunction, ValueFunction, train_curriculum
    from netctrl.errors import ConfigError
    from netctrl.problems.critical_node.features import CriticalNodeGame

    game = CriticalNodeGame(n_range=(6, 9))
    res = train_curriculum(
        game, CurriculumConfig(max_budget=3, states_per_stage=30, val_states=10, epochs=1), log=lambda m: None
    )
    vf = ValueFunction(game, res.nets)
    rng = np.random.default_rng(5)
    # full width on budget-2 states: the afterstates' look-ahead reaches finished games, so the value is exact
    full = vf.searching(2)
    for s in [game.sample_state(rng, 2) for _ in range(8)]:
        assert full.lookahead(s)[0] == ExactSolver(s.inst).value(s)
    for s in [game.sample_state(rng, 3) for _ in range(6)]:
        after = game.afterstates(s)
        one = vf.values([a for _, a in after])
        rank = np.argsort(-one if game.maximizing(s) else one, kind="stable")
        assert vf.searching(2, 1).lookahead(s)[1] == vf.lookahead(s)[1] == after[rank[0]][0]
        assert vf.searching(2, 2).lookahead(s)[1] in {after[k][0] for k in rank[:2]}
    assert vf.depth == 1 and full.depth == 2  # searching() returns a copy
    # the ensemble encodes each state once for all members and averages their values
    states = [game.sample_state(rng, b) for b in (1, 2, 3, 3)]
    mean = MeanValueFunction([vf, vf], depth=2, width=3)
    assert np.allclose(mean.values(states), vf.values(states)) and mean.depth == 2
    with pytest.raises(ConfigError, match="depth"):
        vf.searching(3)
    with pytest.raises(ConfigError, match="width"):
        ValueFunction(game, res.nets, depth=2, width=0)


def test_cli_eval_exact_on_an_instance_file(tmp_path):
    from typer.testing import CliRunner

    from netctrl.cli import app

    path = tmp_path / "rndgraph30-8_1-1-1_001"
    path.write_text(FIXTURE)
    out = CliRunner().invoke(app, ["eval", "critical_node", "--instance", str(path), "--baselines", "exact,degree"])
    assert out.exit_code == 0, out.output
    assert "1 episodes" in out.output and "saved 6" in out.output  # the published #opt is 6
    bad = CliRunner().invoke(app, ["eval", "critical_node", "--instance", str(path), "--set", "omega=-1"])
    assert bad.exit_code == 2 and "'omega' >= 0" in bad.output
    nobudget = tmp_path / "graph.txt"
    nobudget.write_text(FIXTURE)
    bad = CliRunner().invoke(app, ["eval", "critical_node", "--instance", str(nobudget)])
    assert bad.exit_code == 3 and "no budgets" in bad.output
    ok = CliRunner().invoke(
        app,
        [
            "eval",
            "critical_node",
            "--instance",
            str(nobudget),
            "--set",
            "omega=1",
            "--set",
            "phi=1",
            "--set",
            "lam=1",
            "--baselines",
            "exact",
        ],
    )
    assert ok.exit_code == 0 and "saved 6" in ok.output


def test_cli_train_and_eval_learned_with_lookahead(tmp_path):
    from typer.testing import CliRunner

    from netctrl.cli import app

    run = tmp_path / "run"
    out = CliRunner().invoke(
        app,
        [
            "train",
            "critical_node/d1",
            "--run-dir",
            str(run),
            "--set",
            "max_budget=3",
            "--set",
            "states_per_stage=20",
            "--set",
            "val_states=5",
            "--set",
            "epochs=1",
            "--set",
            "lookahead_width=3",
        ],
    )
    assert out.exit_code == 0, out.output
    path = tmp_path / "rndgraph30-8_1-1-1_001"
    path.write_text(FIXTURE)
    out = CliRunner().invoke(
        app,
        [
            "eval",
            "critical_node",
            "--instance",
            str(path),
            "--checkpoint",
            str(run / "best.pt"),
            "--baselines",
            "exact",
        ],
    )
    assert out.exit_code == 0, out.output
    assert "multil-cur-la2" in out.output and "saved 6" in out.output
    bad = CliRunner().invoke(
        app, ["train", "critical_node/d1", "--run-dir", str(tmp_path / "x"), "--set", "lookahead_width=-1"]
    )
    assert bad.exit_code == 2 and "lookahead_width" in bad.output


@pytest.mark.slow
def test_bench_quick_run(tmp_path):
    from critical_node import run  # benchmarks/critical_node.py

    doc = run(out=tmp_path, runs=tmp_path / "runs", quick=True, command="test")
    keys = {(r["size"], r["controller"]) for r in doc["rows"]}
    assert ("small", "multil-cur") in keys and ("n40", "exact") in keys
    exact = next(r for r in doc["rows"] if r["size"] == "n40" and r["controller"] == "exact")
    cur = next(r for r in doc["rows"] if r["size"] == "n40" and r["controller"] == "multil-cur")
    if exact["solved_within_cap"] == exact["instances"]:  # nothing capped: the two time ratios agree
        assert cur["speedup_vs_exact_all_min"] == pytest.approx(cur["speedup_vs_exact"])
    assert exact["time_s_all_min"] <= exact["time_cap_s"] + 1 and 0 <= cur["saved_over_half"] <= cur["instances"]
    assert (tmp_path / "critical_node.png").exists()


def test_cli_train_critical_node_smoke(tmp_path):
    from typer.testing import CliRunner

    from netctrl.cli import app

    out = CliRunner().invoke(
        app,
        [
            "train",
            "critical-node/d1",
            "--run-dir",
            str(tmp_path),
            "--set",
            "max_budget=2",
            "--set",
            "states_per_stage=30",
            "--set",
            "val_states=10",
            "--set",
            "epochs=1",
        ],
    )
    assert out.exit_code == 0, out.output
    assert (tmp_path / "best.pt").exists() and (tmp_path / "last.pt").exists() and (tmp_path / "config.toml").exists()
    bad = CliRunner().invoke(
        app, ["train", "critical-node/d1", "--run-dir", str(tmp_path / "b"), "--set", "nonsense=1"]
    )
    assert bad.exit_code == 2 and "unknown key 'nonsense'" in bad.output


def test_exact_controller_plays_legal_lines_with_the_solver_value():
    """The exact search may stop protecting once its value is reached; its controller still spends the whole
    protector budget (the rules), and the line it plays saves exactly the solver's value (seed 1013 of d1
    ended with an unspent protection before)."""
    from netctrl import get_problem
    from netctrl.problems.critical_node.baselines import ExactController
    from netctrl.problems.critical_node.env import play_solution
    from netctrl.problems.critical_node.exact import solve

    env = get_problem("critical_node/d1").make_env()
    for seed in (1013, 1021, 1032, 1000, 1001):
        inst = env.instance(seed)
        saved, _ = play_solution(inst, ExactController().act(inst))
        assert saved == solve(inst).value
