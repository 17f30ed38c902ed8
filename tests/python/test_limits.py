"""--enforce-limits with tiny rates from --limits: per-record PutRecords failures at the exact
boundary (and never readable), PutRecord's error, boto3's own retries converging, read and
GetShardIterator throttling with recovery after a second, control-plane throttling, and no
limits at all without the flag."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kinesd_harness import (
    ACCESS_KEY,
    SECRET_KEY,
    KinesdServer,
    create_active,
    error_of,
    read_all,
    shard_id,
)

ACCOUNT = "111122223333"

# Tiny rates, so each test provokes throttling in a few calls; generous control-plane rates
# where the tests poll, small ones where they test throttling.
LIMITS = """
[shard]
write-records-per-second = 20
write-bytes-per-second = 1000
read-calls-per-second = 2
read-bytes-per-second = 100000
get-shard-iterator-per-second = 3

[on-demand]
write-records-per-second = 30

[control]
ListStreams = 3
DescribeStream = 2
"""


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    path = tmp_path_factory.mktemp("limits") / "limits.toml"
    path.write_text(LIMITS)
    srv = KinesdServer(account_id=ACCOUNT, extra_args=["--enforce-limits", "--limits", str(path)])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(limited):
    return limited.client()


def retrying_client(server: KinesdServer, attempts: int):
    """boto3 with its standard retry mode: throttling errors are retried with back-off."""
    return boto3.client(
        "kinesis",
        endpoint_url=server.endpoint,
        region_name=server.region,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


def records(n: int, size: int = 1, prefix: str = "r") -> list[dict]:
    # ExplicitHashKey 0: every record goes to shard 0 whatever the partition key.
    return [
        {"Data": f"{prefix}{i}".encode().ljust(size, b"."), "PartitionKey": "k", "ExplicitHashKey": "0"}
        for i in range(n)
    ]


def rate_message(stream: str, shard: int = 0) -> str:
    return f"Rate exceeded for shard {shard_id(shard)} in stream {stream} under account {ACCOUNT}."


def test_putrecords_fails_exactly_the_records_over_the_shard_rate_and_they_are_never_readable(client):
    name = create_active(client)
    resp = client.put_records(StreamName=name, Records=records(25))
    assert resp["FailedRecordCount"] == 5
    assert all("SequenceNumber" in r for r in resp["Records"][:20])
    for r in resp["Records"][20:]:
        assert r == {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": rate_message(name)}
    time.sleep(1.05)
    # A second later the shard takes the failed records again.
    resp = client.put_records(StreamName=name, Records=records(5, prefix="retry"))
    assert resp["FailedRecordCount"] == 0
    data = [r["Data"] for r in read_all(client, name, shard_id(0))]
    assert data == [f"r{i}".encode() for i in range(20)] + [f"retry{i}".encode() for i in range(5)]


def test_bytes_per_second_count_data_and_partition_keys(client):
    name = create_active(client)
    # 299 bytes of data + 1 of key = 300 per record: three fit in 1000 bytes, the fourth does not.
    resp = client.put_records(StreamName=name, Records=records(5, size=299))
    assert [("ErrorCode" in r) for r in resp["Records"]] == [False, False, False, True, True]


def test_putrecord_over_the_rate_is_provisioned_throughput_exceeded(client):
    name = create_active(client)
    client.put_records(StreamName=name, Records=records(20))
    with pytest.raises(ClientError) as e:
        client.put_record(StreamName=name, Data=b"x", PartitionKey="k", ExplicitHashKey="0")
    assert error_of(e) == (400, "ProvisionedThroughputExceededException", rate_message(name))


def test_boto3_retries_converge_under_the_write_limit(limited, client):
    name = create_active(client)
    retrying = retrying_client(limited, attempts=10)
    start = time.monotonic()
    retries = 0
    for i in range(45):
        resp = retrying.put_record(StreamName=name, Data=f"{i}".encode(), PartitionKey="k", ExplicitHashKey="0")
        retries += resp["ResponseMetadata"]["RetryAttempts"]
    elapsed = time.monotonic() - start
    assert retries > 0, "the SDK saw throttling and retried"
    # 45 records at 20 a second after a burst of 20: a little over one second, never ten.
    assert 0.9 < elapsed < 10, elapsed
    assert [r["Data"] for r in read_all(client, name, shard_id(0))] == [f"{i}".encode() for i in range(45)]


def test_on_demand_streams_share_one_capacity_that_grows_with_the_busiest_second(client):
    name = create_active(client, shards=None, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    spread = lambda n: [{"Data": b"x", "PartitionKey": f"k{i}"} for i in range(n)]  # noqa: E731
    assert client.put_records(StreamName=name, Records=spread(40))["FailedRecordCount"] == 10
    time.sleep(1.05)
    client.put_records(StreamName=name, Records=spread(1))  # ends the measured second: 30 records
    time.sleep(1.05)
    # Capacity is now twice the busiest second: 60 records a second.
    failed = client.put_records(StreamName=name, Records=spread(80))["FailedRecordCount"]
    assert 19 <= failed <= 20, failed


def test_getrecords_is_throttled_past_its_call_rate_and_recovers_after_a_second(client):
    name = create_active(client)
    client.put_records(StreamName=name, Records=records(3))
    it = client.get_shard_iterator(StreamName=name, ShardId=shard_id(0), ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    assert len(client.get_records(ShardIterator=it)["Records"]) == 3
    client.get_records(ShardIterator=it)
    with pytest.raises(ClientError) as e:
        client.get_records(ShardIterator=it)
    expected = f"Rate exceeded for Shard - {ACCOUNT}/{name}/{shard_id(0)}"
    assert error_of(e) == (400, "ProvisionedThroughputExceededException", expected)
    time.sleep(1.05)
    assert len(client.get_records(ShardIterator=it)["Records"]) == 3


def test_get_shard_iterator_is_throttled_per_shard(client):
    name = create_active(client, shards=2)
    get = lambda shard: client.get_shard_iterator(  # noqa: E731
        StreamName=name, ShardId=shard_id(shard), ShardIteratorType="LATEST"
    )
    for _ in range(3):
        get(0)
    with pytest.raises(ClientError) as e:
        get(0)
    assert error_of(e) == (400, "ProvisionedThroughputExceededException", rate_message(name))
    get(1)  # the other shard has its own rate
    time.sleep(0.4)
    get(0)  # a third of a second refills one call


def outcomes(call, n: int) -> list:
    """Calls `call` n times: "ok", or (status, code, message) of each error."""
    out = []
    for _ in range(n):
        try:
            call()
            out.append("ok")
        except ClientError as e:
            out.append(error_of(e))
    return out


def test_control_plane_calls_are_throttled_per_account(client):
    name = create_active(client)
    listed = outcomes(client.list_streams, 6)
    assert listed[:3] == ["ok"] * 3
    assert listed[3:] == [(400, "LimitExceededException", f"Rate exceeded for account {ACCOUNT}.")] * 3
    client.describe_stream(StreamName=name)
    client.describe_stream(StreamName=name)
    with pytest.raises(ClientError) as e:
        client.describe_stream(StreamName=name)
    assert error_of(e) == (400, "LimitExceededException", f"Rate exceeded for stream {name} under account {ACCOUNT}.")
    time.sleep(1.05)
    client.list_streams()
    client.describe_stream(StreamName=name)


def test_boto3_retries_control_plane_throttling(limited):
    retrying = retrying_client(limited, attempts=10)
    time.sleep(1.05)
    retries = 0
    for _ in range(6):
        retries += retrying.list_streams()["ResponseMetadata"]["RetryAttempts"]
    assert retries > 0


def test_without_the_flag_nothing_is_limited(kinesis):
    name = create_active(kinesis)
    for _ in range(4):
        resp = kinesis.put_records(StreamName=name, Records=records(500, size=1000))
        assert resp["FailedRecordCount"] == 0
    for _ in range(12):
        kinesis.list_streams()


@pytest.fixture(scope="module")
def aws_rates():
    """--enforce-limits with AWS's own rates."""
    srv = KinesdServer(account_id=ACCOUNT, extra_args=["--enforce-limits"])
    yield srv
    srv.stop()


def test_aws_rates_3000_records_in_a_second_then_recovery(aws_rates):
    c = aws_rates.client()
    name = create_active(c)
    start = time.monotonic()
    results = [c.put_records(StreamName=name, Records=records(500))["Records"] for _ in range(6)]
    elapsed = time.monotonic() - start
    assert elapsed < 1.0, elapsed
    ok = sum("SequenceNumber" in r for batch in results for r in batch)
    # 1,000 records of burst plus what refilled while the calls ran (at 1,000 a second).
    assert 1000 <= ok <= 1000 + 1000 * elapsed + 1, (ok, elapsed)
    failed = [r for batch in results for r in batch if "ErrorCode" in r]
    assert failed and all(r["ErrorMessage"] == rate_message(name) for r in failed)
    time.sleep(1.05)
    assert c.put_records(StreamName=name, Records=records(500))["FailedRecordCount"] == 0


def test_aws_rates_4_mib_into_a_1_mib_shard(aws_rates):
    c = aws_rates.client()
    name = create_active(c)
    big = [{"Data": b"x" * (512 * 1024 - 1), "PartitionKey": "k", "ExplicitHashKey": "0"} for _ in range(8)]
    resp = c.put_records(StreamName=name, Records=big)
    assert ["ErrorCode" in r for r in resp["Records"]] == [False, False] + [True] * 6


def test_aws_rates_a_dozen_getrecords_and_forty_liststreams_in_a_second(aws_rates):
    c = aws_rates.client()
    name = create_active(c)
    it = c.get_shard_iterator(StreamName=name, ShardId=shard_id(0), ShardIteratorType="LATEST")["ShardIterator"]
    read = [o if o == "ok" else o[1] for o in outcomes(lambda: c.get_records(ShardIterator=it), 12)]
    assert read[:5] == ["ok"] * 5
    assert read.count("ProvisionedThroughputExceededException") >= 6
    listed = [o if o == "ok" else o[1] for o in outcomes(c.list_streams, 40)]
    assert listed[:5] == ["ok"] * 5
    assert listed.count("LimitExceededException") >= 30


# ------------------------------------------------------------------ enhanced fan-out

FANOUT_LIMITS = """
[shard]
write-records-per-second = 100000
write-bytes-per-second = 100000000

[enhanced-fan-out]
bytes-per-second = 1048576
"""


@pytest.fixture(scope="module")
def fanout(tmp_path_factory):
    path = tmp_path_factory.mktemp("fanout-limits") / "limits.toml"
    path.write_text(FANOUT_LIMITS)
    srv = KinesdServer(account_id=ACCOUNT, extra_args=[
        "--enforce-limits", "--limits", str(path), "--consumer-create-ms", "50", "--consumer-delete-ms", "50"])
    yield srv.client()
    srv.stop()


def consumer_on(client, name):
    arn = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    consumer = client.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]["ConsumerARN"]
    deadline = time.monotonic() + 10
    while client.describe_stream_consumer(ConsumerARN=consumer)["ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, "consumer never became ACTIVE"
        time.sleep(0.02)
    return consumer


def subscribe(client, consumer):
    return client.subscribe_to_shard(ConsumerARN=consumer, ShardId=shard_id(0),
                                     StartingPosition={"Type": "TRIM_HORIZON"})["EventStream"]


def test_one_subscribe_a_second_per_consumer_and_shard(fanout):
    name = create_active(fanout)
    consumer = consumer_on(fanout, name)
    subscribe(fanout, consumer)._raw_stream.close()
    with pytest.raises(ClientError) as e:
        subscribe(fanout, consumer)
    assert error_of(e) == (400, "LimitExceededException",
                           f"Rate exceeded for consumer {consumer} and shard {shard_id(0)}.")
    time.sleep(1.1)
    # A second later the rate allows it again (and the closed first one no longer holds it).
    subscribe(fanout, consumer)._raw_stream.close()


def test_fan_out_delivery_slows_to_the_consumers_rate_and_drops_nothing(fanout):
    name = create_active(fanout)
    consumer = consumer_on(fanout, name)
    # 4,000,000 bytes; an event carries at most 1 MiB, so delivery takes several events.
    for batch in range(4):
        records = [{"Data": (batch * 500 + i).to_bytes(4, "big") * 500, "PartitionKey": "p"} for i in range(500)]
        assert fanout.put_records(StreamName=name, Records=records)["FailedRecordCount"] == 0
    started = time.monotonic()
    got = []
    for event in subscribe(fanout, consumer):
        got += event["SubscribeToShardEvent"]["Records"]
        if len(got) >= 2000:
            break
        assert time.monotonic() - started < 20, f"only {len(got)} of 2000 records in 20 s"
    elapsed = time.monotonic() - started
    assert [int.from_bytes(r["Data"][:4], "big") for r in got] == list(range(2000)), "all, in order, none dropped"
    # A second of burst (1 MiB) at once, then the rest at 1 MiB a second: about 2.8 s.
    assert elapsed >= 1.5, f"delivered 4,000,000 bytes in {elapsed:.2f} s at 1 MiB/s"
