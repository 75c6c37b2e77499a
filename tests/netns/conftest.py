"""What the network-namespace tests share: the plain two-uplink topology (tests/support/topology.py)
as a module fixture. A test module that needs more of it (extra addresses, routes) defines its own
`topo`, which takes precedence."""
import pytest
from topology import Topology


@pytest.fixture(scope="module")
def topo():
    """The namespaces; deleted (and the responders stopped) whatever happens."""
    with Topology() as t:
        yield t
