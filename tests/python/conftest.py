"""Fixtures: one kinesd per session (short state delays), boto3 clients, a stream factory."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from kinesd_harness import KinesdServer, create_active, unique_name

# The main server deliberately runs with a non-default account and region so that the flags are
# exercised; the "slow" server below runs with the defaults (000000000000 / us-east-1).
MAIN_ACCOUNT = "123456789012"
MAIN_REGION = "us-west-2"


@pytest.fixture(scope="session")
def server():
    srv = KinesdServer(
        create_ms=100, delete_ms=100, update_ms=100, account_id=MAIN_ACCOUNT, region=MAIN_REGION
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def slow_server():
    """Defaults for account/region; 1.5 s transitions so CREATING/DELETING are observable."""
    srv = KinesdServer(create_ms=1500, delete_ms=1500, update_ms=1500)
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
