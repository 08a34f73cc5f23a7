"""FlowNetwork validation and conversions, checked against networkx and PyG."""

import networkx as nx
import numpy as np
import pytest

from netctrl.errors import GraphError
from netctrl.graph import FlowNetwork


def test_rejects_bad_edge_index_shape():
    with pytest.raises(GraphError, match="shape \\(2, num_edges\\)"):
        FlowNetwork(3, [[0, 1, 2]])


def test_rejects_out_of_range_node():
    with pytest.raises(GraphError, match="entries in \\[0, 2\\]"):
        FlowNetwork(3, [[0, 1], [1, 5]])


def test_rejects_negative_capacity_naming_edge():
    with pytest.raises(GraphError, match="'capacity' to be non-negative.*edge 1"):
        FlowNetwork(3, [[0, 1], [1, 2]], edge_attr={"capacity": [1.0, -2.0]})


def test_rejects_nan_attribute():
    with pytest.raises(GraphError, match="finite"):
        FlowNetwork(2, [[0], [1]], edge_attr={"cost": [np.nan]})


def test_rejects_disconnected_graph():
    with pytest.raises(GraphError, match="not strongly connected"):
        FlowNetwork(4, [[0, 1, 2, 3], [1, 0, 3, 2]], require_connected="strong")
    # weakly connected but not strongly
    FlowNetwork(3, [[0, 1], [1, 2]], require_connected="weak")
    with pytest.raises(GraphError):
        FlowNetwork(3, [[0, 1], [1, 2]], require_connected="strong")


def test_rejects_duplicates_and_self_loops():
    with pytest.raises(GraphError, match="Duplicate edge"):
        FlowNetwork(2, [[0, 0], [1, 1]])
    with pytest.raises(GraphError, match="Self-loop"):
        FlowNetwork(2, [[0], [0]])


def test_incidence_gives_net_inflow():
    net = FlowNetwork(3, [[0, 1, 0], [1, 2, 2]])
    flow = np.array([2.0, 1.0, 3.0])
    assert (net.incidence() @ flow).tolist() == [-5.0, 1.0, 4.0]


def test_networkx_round_trip_and_symmetrize():
    g = nx.cycle_graph(5)
    for u, v in g.edges:
        g.edges[u, v]["capacity"] = float(u + v)
    net = FlowNetwork.from_networkx(g, edge_attrs=["capacity"], require_connected="strong")
    assert net.num_edges == 10
    back = net.to_networkx()
    assert set(back.edges) == {(u, v) for u, v in g.edges} | {(v, u) for u, v in g.edges}
    one_way = FlowNetwork(3, [[0, 1, 2], [1, 2, 0]], edge_attr={"cost": [1.0, 2.0, 3.0]})
    sym = one_way.symmetrized()
    assert sym.num_edges == 6 and sym.edge_attr["cost"].tolist() == [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]


def test_to_pyg_matches_attributes():
    net = FlowNetwork(3, [[0, 1], [1, 2]], node_attr={"supply": [1.0, 0.0, -1.0]}, edge_attr={"capacity": [4.0, 5.0]})
    data = net.to_pyg()
    assert data.num_nodes == 3
    assert data.x.squeeze(-1).tolist() == [1.0, 0.0, -1.0]
    assert data.edge_attr.squeeze(-1).tolist() == [4.0, 5.0]
    assert data.edge_index.tolist() == [[0, 1], [1, 2]]
