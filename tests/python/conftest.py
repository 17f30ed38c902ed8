"""Fixtures: one kinesd per session (short state delays), boto3 clients, a stream factory."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from kinesd_harness import KinesdServer, create_active, unique_name

# The main server deliberately runs with a non-default account and region so that the flags are
# exercised; the "slow" server below runs with the defaults (000000000000 / us-east-1).
MAIN_ACCOUNT = "123456789012"
MAIN_REGION = "us-west-2"


# With --cluster, these files run against two kinesd nodes on a 3-node NATS JetStream cluster,
# each call of a boto3 client going to the other node than the one before (the rest of the
# suite is deselected; scripts/test.sh runs both ways). Chosen for the data plane and resharding,
# where a node that missed another's change would answer differently; the others would repeat
# the same cluster paths at a CI cost.
CLUSTER_SUITE = {"test_put.py", "test_get.py", "test_list_shards.py", "test_reshard.py", "test_streams.py", "test_fanout.py"}


# Tests of CLUSTER_SUITE files that measure one process's memory against the disk store's
# bounds: in cluster mode the records pass through the NATS client's buffers as well.
CLUSTER_SKIP = {
    "test_a_stalled_subscriber_slows_neither_writers_nor_other_subscribers":
        "measures one node's RSS against single-node bounds (the NATS client buffers too)",
}


def pytest_addoption(parser):
    parser.addoption(
        "--cluster", action="store_true",
        help="run the cluster-mode subset against two kinesd nodes on a NATS cluster, alternating nodes",
    )


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--cluster"):
        return
    keep = [i for i in items if i.path.name in CLUSTER_SUITE]
    config.hook.pytest_deselected(items=[i for i in items if i.path.name not in CLUSTER_SUITE])
    items[:] = keep
    for item in keep:
        reason = CLUSTER_SKIP.get(item.name)
        if reason:
            item.add_marker(pytest.mark.skip(reason=f"cluster mode: {reason}"))


@pytest.fixture(scope="module")
def nats():
    """A 3-node NATS JetStream cluster on loopback for one test module (the cluster tests)."""
    from nats_harness import NatsCluster, require_nats_server

    cluster = NatsCluster(require_nats_server())
    yield cluster
    cluster.stop()


class TwoNodes:
    """Two kinesd nodes sharing one NATS JetStream cluster, standing in for one server: raw
    requests go to node A, and every boto3 client it makes alternates between A and B call by
    call (the request is redirected just before it is sent; kinesd does not check the Host
    header of an unsigned-checked request)."""

    def __init__(self, **kwargs):
        import uuid

        from nats_harness import NatsCluster, kinesd_node, require_nats_server

        self.nats = NatsCluster(require_nats_server())
        prefix = f"suite{uuid.uuid4().hex[:8]}"
        self.nodes = []
        try:
            for _ in range(2):
                self.nodes.append(kinesd_node(self.nats, prefix, **kwargs))
        except Exception:
            self.stop()
            raise
        self.a, self.b = self.nodes

    def __getattr__(self, name):
        return getattr(self.a, name)

    def client(self, **kwargs):
        client = self.a.client(**kwargs)
        turn = [0]
        tls = kwargs.get("tls", False)
        endpoints = [(n.tls_endpoint if tls else n.endpoint) for n in self.nodes]

        def alternate(request, **_):
            turn[0] += 1
            target = endpoints[turn[0] % 2]
            if not request.url.startswith(target):
                request.url = target + request.url[len(endpoints[0]):]

        client.meta.events.register("before-send.kinesis", alternate)
        return client

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self.nats.stop()


def served(request, **options):
    """A server for a fixture: one kinesd, or under `pytest --cluster` two nodes on a NATS
    cluster standing in for it (see TwoNodes)."""
    return TwoNodes(**options) if request.config.getoption("--cluster") else KinesdServer(**options)


@pytest.fixture(scope="session")
def server(request):
    srv = served(request, create_ms=100, delete_ms=100, update_ms=100, account_id=MAIN_ACCOUNT, region=MAIN_REGION)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def slow_server(request):
    """Defaults for account/region; 1.5 s transitions so CREATING/DELETING are observable."""
    srv = served(request, create_ms=1500, delete_ms=1500, update_ms=1500)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def kinesis(server):
    return server.client()


@pytest.fixture(scope="session")
def raw_kinesis(server):
    """boto3 with client-side parameter validation off, so the server's validation is tested."""
    return server.client(validate=False)


class StreamFactory:
    def __init__(self, client):
        self.client = client
        self.names: list[str] = []

    def __call__(self, shards: int | None = 1, name: str | None = None, **kwargs) -> str:
        name = name or unique_name()
        self.names.append(name)
        return create_active(self.client, name, shards, **kwargs)

    def cleanup(self) -> None:
        for name in self.names:
            try:
                self.client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
            except ClientError:
                pass


@pytest.fixture
def make_stream(kinesis):
    """make_stream(shards=1, name=None, **CreateStream kwargs) -> name, already ACTIVE."""
    factory = StreamFactory(kinesis)
    yield factory
    factory.cleanup()
