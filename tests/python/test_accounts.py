"""Accounts kept apart and policies enforced (issue 13, items 3 and 4), with boto3 clients of
two accounts from a `--credentials` file: the same stream name in two accounts, each account
seeing and changing only its own streams by name, ARNs carrying the owner, a cross-account read
granted by a resource policy while writes stay denied, an explicit Deny winning, keys limited by
identity policies, a restart keeping accounts apart, and without credentials everything as before.
"""

from __future__ import annotations

import json
import re
import tempfile
import time

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from kinesd_harness import KinesdServer, create_active, error_of, unique_name, wait_until_gone

REGION = "eu-west-1"
A, B = "111111111111", "222222222222"
KEY_A, SECRET_A = "AKIAACCOUNTAAAAAAAAA", "secret-a/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
KEY_B, SECRET_B = "AKIAACCOUNTBBBBBBBBB", "secret-b/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
KEY_READER, SECRET_READER = "AKIAREADERBBBBBBBBBB", "secret-r/rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"
KEY_PRODUCER, SECRET_PRODUCER = "AKIAPRODUCERAAAAAAAA", "secret-p/pppppppppppppppppppppppppppppppppp"

READ_ONLY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow",
    "Action": ["kinesis:Get*", "kinesis:Describe*", "kinesis:List*"],
    "Resource": "*",
}]}
PUT_TO_INBOX = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "kinesis:PutRecords", "Resource": f"arn:aws:kinesis:{REGION}:{A}:stream/inbox",
}]}

CREDENTIALS = f"""
[[credential]]
access_key_id = "{KEY_A}"
secret_access_key = "{SECRET_A}"
account_id = "{A}"

[[credential]]
access_key_id = "{KEY_B}"
secret_access_key = "{SECRET_B}"
account_id = "{B}"

[[credential]]
access_key_id = "{KEY_READER}"
secret_access_key = "{SECRET_READER}"
account_id = "{B}"
user = "reader"
policy = '{json.dumps(READ_ONLY)}'

[[credential]]
access_key_id = "{KEY_PRODUCER}"
secret_access_key = "{SECRET_PRODUCER}"
account_id = "{A}"
user = "producer"
policy = '{json.dumps(PUT_TO_INBOX)}'
"""


def arn(account: str, name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{account}:stream/{name}"


def client(server, key, secret):
    return boto3.client(
        "kinesis", endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


@pytest.fixture(scope="module")
def creds_file():
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(CREDENTIALS)
    return f.name


@pytest.fixture(scope="module")
def server(creds_file):
    srv = KinesdServer(create_ms=0, delete_ms=0, update_ms=0, region=REGION,
                       extra_args=["--credentials", creds_file])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def a(server):
    return client(server, KEY_A, SECRET_A)


@pytest.fixture(scope="module")
def b(server):
    return client(server, KEY_B, SECRET_B)


def denied(excinfo, caller: str, action: str, resource: str, why: str):
    assert error_of(excinfo) == (
        400, "AccessDeniedException",
        f"User: {caller} is not authorized to perform: kinesis:{action} on resource: {resource} {why}",
    )


def no_resource_policy(action):
    return f"because no resource-based policy allows the kinesis:{action} action"


def no_identity_policy(action):
    return f"because no identity-based policy allows the kinesis:{action} action"


def read_one(kinesis, **stream):
    it = kinesis.get_shard_iterator(ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON",
                                    **stream)["ShardIterator"]
    return [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]]


# ------------------------------------------------------------------------------ isolation


def test_the_same_name_in_two_accounts_is_two_streams(a, b):
    name = unique_name("same")
    create_active(a, name, 1)
    # B does not see A's stream by name, and may create its own.
    with pytest.raises(ClientError) as e:
        b.describe_stream_summary(StreamName=name)
    assert error_of(e) == (400, "ResourceNotFoundException", f"Stream {name} under account {B} not found.")
    create_active(b, name, 2)
    sa = a.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    sb = b.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert (sa["StreamARN"], sa["OpenShardCount"]) == (arn(A, name), 1)
    assert (sb["StreamARN"], sb["OpenShardCount"]) == (arn(B, name), 2)
    assert b.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"] == arn(B, name)

    # Records, tags and listings stay in their account.
    a.put_record(StreamName=name, Data=b"from-a", PartitionKey="k")
    b.put_records(StreamName=name, Records=[{"Data": b"from-b", "PartitionKey": "k"}])
    assert read_one(a, StreamName=name) == [b"from-a"]
    assert b"from-a" not in read_one(b, StreamName=name)
    a.add_tags_to_stream(StreamName=name, Tags={"owner": "a"})
    b.tag_resource(ResourceARN=arn(B, name), Tags={"owner": "b"})
    assert a.list_tags_for_stream(StreamName=name)["Tags"] == [{"Key": "owner", "Value": "a"}]
    assert b.list_tags_for_resource(ResourceARN=arn(B, name))["Tags"] == [{"Key": "owner", "Value": "b"}]
    listed_a = a.list_streams()
    assert name in listed_a["StreamNames"]
    assert {s["StreamARN"] for s in listed_a["StreamSummaries"] if s["StreamName"] == name} == {arn(A, name)}

    # Deleting B's changes nothing of A's.
    b.delete_stream(StreamName=name)
    assert a.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
    with pytest.raises(ClientError) as e:
        b.describe_stream_summary(StreamName=name)
    assert error_of(e)[1] == "ResourceNotFoundException"


def test_listings_limits_and_settings_are_per_account(a, b):
    only_a = create_active(a, unique_name("only-a"), 3)
    assert only_a not in b.list_streams()["StreamNames"]
    limits_a, limits_b = a.describe_limits(), b.describe_limits()
    assert limits_a["OpenShardCount"] >= 3
    assert limits_b["OpenShardCount"] == sum(
        s["OpenShardCount"] for s in (
            b.describe_stream_summary(StreamName=n)["StreamDescriptionSummary"]
            for n in b.list_streams()["StreamNames"])
    )
    # A NextToken of A's listing continues only A's.
    for i in range(2):
        create_active(a, unique_name(f"page{i}"), 1)
    token = a.list_streams(Limit=1)["NextToken"]
    assert a.list_streams(NextToken=token)["StreamNames"]
    with pytest.raises(ClientError) as e:
        b.list_streams(NextToken=token)
    assert error_of(e)[1] == "InvalidArgumentException"
    # The commitment is an account's own.
    a.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    assert a.describe_account_settings()["MinimumThroughputBillingCommitment"]["Status"] == "ENABLED"
    assert b.describe_account_settings()["MinimumThroughputBillingCommitment"]["Status"] == "DISABLED"


def test_another_accounts_stream_by_arn_without_a_policy_is_access_denied(a, b):
    name = create_active(a, unique_name("private"), 1)
    a.put_record(StreamName=name, Data=b"secret", PartitionKey="k")
    target = arn(A, name)
    caller = f"arn:aws:iam::{B}:root"
    for action, call in [
        ("DescribeStreamSummary", lambda: b.describe_stream_summary(StreamARN=target)),
        ("PutRecord", lambda: b.put_record(StreamARN=target, Data=b"x", PartitionKey="k")),
        ("GetShardIterator", lambda: b.get_shard_iterator(
            StreamARN=target, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")),
        ("ListTagsForResource", lambda: b.list_tags_for_resource(ResourceARN=target)),
        ("DeleteStream", lambda: b.delete_stream(StreamARN=target)),
    ]:
        with pytest.raises(ClientError) as e:
            call()
        denied(e, caller, action, target, no_resource_policy(action))
    # An iterator of A's stream is of no use to B.
    it = a.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    with pytest.raises(ClientError) as e:
        b.get_records(ShardIterator=it)
    denied(e, caller, "GetRecords", target, no_resource_policy("GetRecords"))
    # A stream that does not exist in another account is denied the same way.
    missing = arn(A, unique_name("missing"))
    with pytest.raises(ClientError) as e:
        b.describe_stream_summary(StreamARN=missing)
    denied(e, caller, "DescribeStreamSummary", missing, no_resource_policy("DescribeStreamSummary"))


# ------------------------------------------------------------------------------ resource policies


def test_a_resource_policy_grants_cross_account_reads_while_writes_stay_denied(a, b):
    name = create_active(a, unique_name("shared"), 2)
    a.put_record(StreamName=name, Data=b"shared", PartitionKey="k", ExplicitHashKey="0")
    target = arn(A, name)
    a.put_resource_policy(ResourceARN=target, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "read", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
        "Action": ["kinesis:DescribeStreamSummary", "kinesis:GetShardIterator", "kinesis:GetRecords",
                   "kinesis:ListShards"],
        "Resource": target,
    }]}))
    assert b.describe_stream_summary(StreamARN=target)["StreamDescriptionSummary"]["StreamARN"] == target
    assert read_one(b, StreamARN=target) == [b"shared"]
    first = b.list_shards(StreamARN=target, MaxResults=1)
    second = b.list_shards(NextToken=first["NextToken"])
    assert [s["ShardId"] for s in first["Shards"] + second["Shards"]] == ["shardId-000000000000",
                                                                         "shardId-000000000001"]
    caller = f"arn:aws:iam::{B}:root"
    for action, call in [
        ("PutRecord", lambda: b.put_record(StreamARN=target, Data=b"x", PartitionKey="k")),
        ("PutRecords", lambda: b.put_records(StreamARN=target, Records=[{"Data": b"x", "PartitionKey": "k"}])),
        ("AddTagsToStream", lambda: b.add_tags_to_stream(StreamARN=target, Tags={"x": "y"})),
        ("DeleteStream", lambda: b.delete_stream(StreamARN=target)),
        ("PutResourcePolicy", lambda: b.put_resource_policy(ResourceARN=target, Policy="{}")),
    ]:
        with pytest.raises(ClientError) as e:
            call()
        denied(e, caller, action, target, no_resource_policy(action))
    assert read_one(a, StreamName=name) == [b"shared"], "nothing was written"
    # B's name for the stream is still its own account's.
    with pytest.raises(ClientError) as e:
        b.describe_stream_summary(StreamName=name)
    assert error_of(e)[1] == "ResourceNotFoundException"
    # Removing the policy withdraws the grant.
    a.delete_resource_policy(ResourceARN=target)
    with pytest.raises(ClientError) as e:
        b.describe_stream_summary(StreamARN=target)
    denied(e, caller, "DescribeStreamSummary", target, no_resource_policy("DescribeStreamSummary"))
    # ... and a NextToken of the stream's listing with it.
    with pytest.raises(ClientError) as e:
        b.list_shards(NextToken=a.list_shards(StreamName=name, MaxResults=1)["NextToken"])
    denied(e, caller, "ListShards", target, no_resource_policy("ListShards"))


def test_an_explicit_deny_overrides_an_allow(a, b):
    name = create_active(a, unique_name("deny"), 1)
    target = arn(A, name)
    a.put_resource_policy(ResourceARN=target, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "kinesis:*", "Resource": target},
        {"Effect": "Deny", "Principal": {"AWS": B}, "Action": "kinesis:get*", "Resource": f"{target}*"},
    ]}))
    b.describe_stream_summary(StreamARN=target)
    with pytest.raises(ClientError) as e:
        b.get_shard_iterator(StreamARN=target, ShardId="0", ShardIteratorType="LATEST")
    denied(e, f"arn:aws:iam::{B}:root", "GetShardIterator", target,
           "with an explicit deny in a resource-based policy")
    # A Deny applies to the owner's own callers too.
    a.put_resource_policy(ResourceARN=target, Policy=json.dumps({"Statement": {
        "Effect": "Deny", "Principal": {"AWS": A}, "Action": "kinesis:PutRecord", "Resource": target}}))
    with pytest.raises(ClientError) as e:
        a.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    denied(e, f"arn:aws:iam::{A}:root", "PutRecord", target, "with an explicit deny in a resource-based policy")
    a.put_records(StreamName=name, Records=[{"Data": b"x", "PartitionKey": "k"}])


def test_a_condition_kinesd_cannot_evaluate_fails_closed(a, b):
    name = create_active(a, unique_name("cond"), 1)
    target = arn(A, name)
    a.put_resource_policy(ResourceARN=target, Policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "kinesis:*", "Resource": target,
        "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    }]}))
    with pytest.raises(ClientError) as e:
        b.describe_stream_summary(StreamARN=target)
    assert error_of(e)[1] == "AccessDeniedException"


def test_put_resource_policy_refuses_what_aws_refuses_and_delete_without_one_is_not_found(a):
    name = create_active(a, unique_name("pol"), 1)
    target = arn(A, name)
    for bad in [
        "not json",
        "{}",
        json.dumps({"Statement": []}),
        json.dumps({"Statement": {"Principal": "*", "Action": "kinesis:*", "Resource": target}}),
        json.dumps({"Statement": {"Effect": "Allow", "Action": "kinesis:*", "Resource": target}}),
        json.dumps({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kinesis:*",
                                  "Resource": arn(A, "some-other-stream")}}),
    ]:
        with pytest.raises(ClientError) as e:
            a.put_resource_policy(ResourceARN=target, Policy=bad)
        assert error_of(e)[:2] == (400, "InvalidArgumentException"), bad
    assert a.get_resource_policy(ResourceARN=target)["Policy"] == "{}"
    with pytest.raises(ClientError) as e:
        a.delete_resource_policy(ResourceARN=target)
    assert error_of(e) == (400, "ResourceNotFoundException", f"No resource policy found for resource ARN {target}.")


def test_a_policy_change_takes_effect_at_once_and_no_parsed_policy_outlives_it(a, b):
    """Resource policies are parsed once and kept (`api::policy_cache`): every change —
    Put, Delete, the stream deleted and created again with or without a policy — must decide
    the very next request, with no wait and no retry."""
    name = create_active(a, unique_name("fresh"), 1)
    target = arn(A, name)
    caller = f"arn:aws:iam::{B}:root"

    def allow(*actions):
        return json.dumps({"Statement": {"Effect": "Allow", "Principal": {"AWS": B},
                                         "Action": [f"kinesis:{x}" for x in actions], "Resource": target}})

    def describe_ok() -> bool:
        try:
            b.describe_stream_summary(StreamARN=target)
            return True
        except ClientError as e:
            assert error_of(e)[1] == "AccessDeniedException", error_of(e)
            return False

    granting, other = allow("DescribeStreamSummary"), allow("ListShards")
    for _ in range(10):
        a.put_resource_policy(ResourceARN=target, Policy=granting)
        assert describe_ok()
        a.put_resource_policy(ResourceARN=target, Policy=other)
        assert not describe_ok()
    a.put_resource_policy(ResourceARN=target, Policy=granting)
    assert describe_ok()
    a.put_resource_policy(ResourceARN=target, Policy=json.dumps({"Statement": [
        json.loads(granting)["Statement"],
        {"Effect": "Deny", "Principal": "*", "Action": "kinesis:Describe*", "Resource": target}]}))
    with pytest.raises(ClientError) as e:
        b.describe_stream_summary(StreamARN=target)
    denied(e, caller, "DescribeStreamSummary", target, "with an explicit deny in a resource-based policy")
    a.put_resource_policy(ResourceARN=target, Policy=granting)
    assert describe_ok()
    a.delete_resource_policy(ResourceARN=target)
    assert not describe_ok()
    # Deleted and created again: the new stream has no policy, whatever the old one allowed.
    a.put_resource_policy(ResourceARN=target, Policy=granting)
    assert describe_ok()
    a.delete_stream(StreamName=name)
    wait_until_gone(a, name)
    create_active(a, name, 1)
    assert not describe_ok()
    # ... and created again with the same document: it grants again.
    a.put_resource_policy(ResourceARN=target, Policy=granting)
    assert describe_ok()
    # A consumer's policy, likewise.
    consumer_arn = active_consumer(a, target, "fresh")
    for policy, expected in [(allow("DescribeStreamConsumer"), True), (allow("ListShards"), False),
                             (allow("DescribeStreamConsumer"), True), (None, False)]:
        if policy is None:
            a.delete_resource_policy(ResourceARN=consumer_arn)
        else:
            a.put_resource_policy(ResourceARN=consumer_arn, Policy=policy.replace(target, consumer_arn))
        try:
            b.describe_stream_consumer(ConsumerARN=consumer_arn)
            assert expected, policy
        except ClientError as e:
            assert not expected and error_of(e)[1] == "AccessDeniedException", (policy, error_of(e))


def test_the_models_constraints_come_before_authorization_and_the_operations_own_checks_after(server, a):
    """aws-behaviour.md §22: a request that breaks the model's constraints is a
    ValidationException whoever sends it; one that is well-formed but unauthorized is
    AccessDeniedException even when the operation itself would refuse it."""
    b_raw = boto3.client(
        "kinesis", endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id=KEY_B, aws_secret_access_key=SECRET_B,
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=False),
    )
    name = create_active(a, unique_name("order"), 1)
    target = arn(A, name)
    caller = f"arn:aws:iam::{B}:root"
    with pytest.raises(ClientError) as e:
        b_raw.put_record(StreamARN=target, Data=b"x", PartitionKey="")
    assert error_of(e)[1] == "ValidationException", error_of(e)
    # The owner's own request with the same flaw: the same answer.
    with pytest.raises(ClientError) as owner:
        boto3.client("kinesis", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=KEY_A,
                     aws_secret_access_key=SECRET_A, config=Config(parameter_validation=False)
                     ).put_record(StreamARN=target, Data=b"x", PartitionKey="")
    assert error_of(owner) == error_of(e)
    # Lowering the retention below the current 24 hours is the operation's own refusal
    # (InvalidArgumentException) for the owner; for B it is not authorized first.
    with pytest.raises(ClientError) as e:
        a.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=12)
    assert error_of(e)[1] == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        b_raw.increase_stream_retention_period(StreamARN=target, RetentionPeriodHours=12)
    denied(e, caller, "IncreaseStreamRetentionPeriod", target, no_resource_policy("IncreaseStreamRetentionPeriod"))
    # A stream that does not exist in another account: denied, not reported missing.
    missing = arn(A, unique_name("nothere"))
    with pytest.raises(ClientError) as e:
        b_raw.increase_stream_retention_period(StreamARN=missing, RetentionPeriodHours=12)
    denied(e, caller, "IncreaseStreamRetentionPeriod", missing, no_resource_policy("IncreaseStreamRetentionPeriod"))


# ------------------------------------------------------------------------------ identity policies


def test_a_read_only_key_reads_and_cannot_write(server, b):
    reader = client(server, KEY_READER, SECRET_READER)
    name = create_active(b, unique_name("ro"), 1)
    b.put_record(StreamName=name, Data=b"r", PartitionKey="k")
    assert read_one(reader, StreamName=name) == [b"r"]
    assert name in reader.list_streams()["StreamNames"]
    caller = f"arn:aws:iam::{B}:user/reader"
    with pytest.raises(ClientError) as e:
        reader.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    denied(e, caller, "PutRecord", arn(B, name), no_identity_policy("PutRecord"))
    with pytest.raises(ClientError) as e:
        reader.create_stream(StreamName=unique_name("nope"), ShardCount=1)
    assert error_of(e)[1] == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        reader.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    denied(e, caller, "UpdateAccountSettings", "*", no_identity_policy("UpdateAccountSettings"))


def test_a_key_limited_to_put_records_on_one_stream(server, a):
    producer = client(server, KEY_PRODUCER, SECRET_PRODUCER)
    try:
        create_active(a, "inbox", 1)
    except ClientError as e:
        assert error_of(e)[1] == "ResourceInUseException"
    other = create_active(a, unique_name("other"), 1)
    producer.put_records(StreamName="inbox", Records=[{"Data": b"p", "PartitionKey": "k"}])
    caller = f"arn:aws:iam::{A}:user/producer"
    for action, call, resource in [
        ("PutRecord", lambda: producer.put_record(StreamName="inbox", Data=b"x", PartitionKey="k"), arn(A, "inbox")),
        ("PutRecords", lambda: producer.put_records(StreamName=other, Records=[{"Data": b"x", "PartitionKey": "k"}]),
         arn(A, other)),
        ("DescribeStreamSummary", lambda: producer.describe_stream_summary(StreamName="inbox"), arn(A, "inbox")),
        ("ListStreams", lambda: producer.list_streams(), f"arn:aws:kinesis:{REGION}:{A}:stream/*"),
    ]:
        with pytest.raises(ClientError) as e:
            call()
        denied(e, caller, action, resource, no_identity_policy(action))
    assert b"p" in read_one(a, StreamName="inbox")


# ------------------------------------------------------------------------------ consumers


def active_consumer(kinesis, stream_arn: str, name: str) -> str:
    """Registers consumer `name` on `stream_arn` and waits until it is ACTIVE; returns its ARN."""
    consumer_arn = kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName=name)["Consumer"]["ConsumerARN"]
    deadline = time.monotonic() + 10
    while kinesis.describe_stream_consumer(ConsumerARN=consumer_arn)["ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, f"{consumer_arn} not ACTIVE"
        time.sleep(0.05)
    return consumer_arn


def first_records(kinesis, consumer_arn: str, count: int) -> list[bytes]:
    """The first `count` records a TRIM_HORIZON subscription of shard 0 delivers (10 s at most)."""
    events = kinesis.subscribe_to_shard(ConsumerARN=consumer_arn, ShardId="shardId-000000000000",
                                        StartingPosition={"Type": "TRIM_HORIZON"})["EventStream"]
    records, deadline = [], time.monotonic() + 10
    try:
        for event in events:
            records += [r["Data"] for r in event["SubscribeToShardEvent"]["Records"]]
            if len(records) >= count or time.monotonic() > deadline:
                break
    finally:
        events.close()
    return records


def test_the_same_consumer_name_on_same_named_streams_in_two_accounts_is_two_consumers(a, b):
    name = unique_name("fan")
    create_active(a, name, 1)
    create_active(b, name, 1)
    a.put_record(StreamName=name, Data=b"from-a", PartitionKey="k")
    b.put_record(StreamName=name, Data=b"from-b", PartitionKey="k")
    ca, cb = active_consumer(a, arn(A, name), "app"), active_consumer(b, arn(B, name), "app")
    assert ca.startswith(f"{arn(A, name)}/consumer/app:") and cb.startswith(f"{arn(B, name)}/consumer/app:")

    # Each account lists and describes its own consumer, by ARN and by stream and name.
    assert [c["ConsumerARN"] for c in a.list_stream_consumers(StreamARN=arn(A, name))["Consumers"]] == [ca]
    assert [c["ConsumerARN"] for c in b.list_stream_consumers(StreamARN=arn(B, name))["Consumers"]] == [cb]
    for kinesis, account, consumer_arn in [(a, A, ca), (b, B, cb)]:
        by_name = kinesis.describe_stream_consumer(StreamARN=arn(account, name), ConsumerName="app")
        assert by_name["ConsumerDescription"]["ConsumerARN"] == consumer_arn
        assert by_name["ConsumerDescription"]["StreamARN"] == arn(account, name)
        assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["ConsumerCount"] == 1

    # Two live subscriptions of "app" to shard 0 at once, each fed from its own account's stream
    # (one subscription per consumer and shard would refuse the second if they were one consumer).
    assert first_records(a, ca, 1) == [b"from-a"]
    assert first_records(b, cb, 1) == [b"from-b"]
    events_a = a.subscribe_to_shard(ConsumerARN=ca, ShardId="shardId-000000000000",
                                    StartingPosition={"Type": "TRIM_HORIZON"})["EventStream"]
    events_b = b.subscribe_to_shard(ConsumerARN=cb, ShardId="shardId-000000000000",
                                    StartingPosition={"Type": "TRIM_HORIZON"})["EventStream"]
    try:
        assert [r["Data"] for r in next(iter(events_a))["SubscribeToShardEvent"]["Records"]] == [b"from-a"]
        assert [r["Data"] for r in next(iter(events_b))["SubscribeToShardEvent"]["Records"]] == [b"from-b"]
    finally:
        events_a.close()
        events_b.close()

    # Tags and deregistration touch one account's consumer only.
    a.tag_resource(ResourceARN=ca, Tags={"owner": "a"})
    assert b.list_tags_for_resource(ResourceARN=cb)["Tags"] == []
    a.deregister_stream_consumer(StreamARN=arn(A, name), ConsumerName="app")
    assert b.describe_stream_consumer(ConsumerARN=cb)["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE"
    with pytest.raises(ClientError) as e:
        b.describe_stream_consumer(StreamARN=arn(B, name), ConsumerName="other")
    assert error_of(e) == (400, "ResourceNotFoundException",
                           f"Consumer {arn(B, name)}/consumer/other under account {B} not found.")


def test_a_cross_account_subscribe_is_allowed_by_the_consumers_resource_policy(a, b):
    name = create_active(a, unique_name("efo"), 1)
    target = arn(A, name)
    a.put_record(StreamName=name, Data=b"shared", PartitionKey="k")
    consumer = active_consumer(a, target, "reader")
    caller = f"arn:aws:iam::{B}:root"

    # Without a policy: every consumer operation of B is denied on the consumer's ARN, and
    # registering on A's stream on the stream's.
    for action, call in [
        ("SubscribeToShard", lambda: b.subscribe_to_shard(
            ConsumerARN=consumer, ShardId="shardId-000000000000", StartingPosition={"Type": "TRIM_HORIZON"})),
        ("DescribeStreamConsumer", lambda: b.describe_stream_consumer(ConsumerARN=consumer)),
        ("ListTagsForResource", lambda: b.list_tags_for_resource(ResourceARN=consumer)),
    ]:
        with pytest.raises(ClientError) as e:
            call()
        denied(e, caller, action, consumer, no_resource_policy(action))
    with pytest.raises(ClientError) as e:
        b.register_stream_consumer(StreamARN=target, ConsumerName="mine")
    denied(e, caller, "RegisterStreamConsumer", target, no_resource_policy("RegisterStreamConsumer"))

    # The consumer's policy lets B subscribe and describe; nothing else.
    a.put_resource_policy(ResourceARN=consumer, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
        "Action": ["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"], "Resource": consumer,
    }]}))
    assert first_records(b, consumer, 1) == [b"shared"]
    assert b.describe_stream_consumer(ConsumerARN=consumer)["ConsumerDescription"]["StreamARN"] == target
    with pytest.raises(ClientError) as e:
        b.deregister_stream_consumer(ConsumerARN=consumer)
    denied(e, caller, "DeregisterStreamConsumer", consumer, no_resource_policy("DeregisterStreamConsumer"))
    # The consumer's policy grants nothing on its stream.
    with pytest.raises(ClientError) as e:
        b.describe_stream_summary(StreamARN=target)
    denied(e, caller, "DescribeStreamSummary", target, no_resource_policy("DescribeStreamSummary"))

    # The stream's policy lets B register a consumer on A's stream; the consumer is A's.
    a.put_resource_policy(ResourceARN=target, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": B}, "Action": "kinesis:RegisterStreamConsumer", "Resource": target,
    }]}))
    registered = b.register_stream_consumer(StreamARN=target, ConsumerName="mine")["Consumer"]["ConsumerARN"]
    assert registered.startswith(f"{target}/consumer/mine:")
    assert a.describe_stream_consumer(ConsumerARN=registered)["ConsumerDescription"]["ConsumerName"] == "mine"

    # Removing the consumer's policy withdraws the grant.
    a.delete_resource_policy(ResourceARN=consumer)
    with pytest.raises(ClientError) as e:
        b.subscribe_to_shard(ConsumerARN=consumer, ShardId="shardId-000000000000",
                             StartingPosition={"Type": "TRIM_HORIZON"})
    denied(e, caller, "SubscribeToShard", consumer, no_resource_policy("SubscribeToShard"))


def test_metrics_label_each_stream_with_its_own_account(server, a, b):
    name = unique_name("metered")
    create_active(a, name, 1)
    create_active(b, name, 2)
    b.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    text = requests.get(server.endpoint + "/metrics", timeout=30).text
    series = {}
    for line in text.splitlines():
        if line.startswith(("kinesd_stream_open_shards{", "kinesd_stream_incoming_records_total{")):
            labels, value = line.rsplit(" ", 1)
            got = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            if got.get("stream") == name:
                series[(labels.split("{")[0], got["account"])] = float(value)
    assert series == {
        ("kinesd_stream_open_shards", A): 1, ("kinesd_stream_open_shards", B): 2,
        ("kinesd_stream_incoming_records_total", A): 0, ("kinesd_stream_incoming_records_total", B): 1,
    }


# ------------------------------------------------------------------------------ durability, no credentials


def test_a_restart_keeps_accounts_apart(creds_file):
    with tempfile.TemporaryDirectory() as data:
        def start():
            return KinesdServer(create_ms=0, delete_ms=0, update_ms=0, region=REGION, data_dir=data,
                                extra_args=["--credentials", creds_file])
        srv = start()
        try:
            a, b = client(srv, KEY_A, SECRET_A), client(srv, KEY_B, SECRET_B)
            create_active(a, "orders", 1)
            create_active(b, "orders", 2)
            a.put_record(StreamName="orders", Data=b"a1", PartitionKey="k")
            b.add_tags_to_stream(StreamName="orders", Tags={"owner": "b"})
        finally:
            srv.stop()
        srv = start()
        try:
            a, b = client(srv, KEY_A, SECRET_A), client(srv, KEY_B, SECRET_B)
            assert a.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]["OpenShardCount"] == 1
            assert b.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]["OpenShardCount"] == 2
            assert read_one(a, StreamName="orders") == [b"a1"]
            assert a.list_tags_for_stream(StreamName="orders")["Tags"] == []
            assert b.list_tags_for_stream(StreamName="orders")["Tags"] == [{"Key": "owner", "Value": "b"}]
        finally:
            srv.stop()


def test_without_credentials_there_is_one_account_as_before():
    srv = KinesdServer(create_ms=0, delete_ms=0, update_ms=0, account_id="123456789012")
    try:
        anyone = srv.client()
        other_key = boto3.client("kinesis", endpoint_url=srv.endpoint, region_name="us-east-1",
                                 aws_access_key_id="ANYKEY", aws_secret_access_key="anything")
        name = create_active(anyone, unique_name("one"), 1)
        summary = other_key.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["StreamARN"] == f"arn:aws:kinesis:us-east-1:123456789012:stream/{name}"
        with pytest.raises(ClientError) as e:
            anyone.describe_stream_summary(StreamARN=f"arn:aws:kinesis:us-east-1:999999999999:stream/{name}")
        assert error_of(e) == (400, "ResourceNotFoundException", f"Stream {name} under account 999999999999 not found.")
        # A resource policy is stored but, with one account and no principals, restricts nothing.
        arn_ = summary["StreamARN"]
        anyone.put_resource_policy(ResourceARN=arn_, Policy=json.dumps({"Statement": {
            "Effect": "Deny", "Principal": "*", "Action": "kinesis:*", "Resource": arn_}}))
        anyone.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    finally:
        srv.stop()


def test_an_identity_policy_change_takes_effect_when_sighup_reloads_the_file(tmp_path):
    """Identity policies are parsed when the file loads; a SIGHUP reload replaces them, and the
    first request after the reload is decided by the new policy."""
    import signal

    def write(actions):
        policy = {"Statement": [{"Effect": "Allow", "Action": [f"kinesis:{x}" for x in actions], "Resource": "*"}]}
        path.write_text(CREDENTIALS + f"""
[[credential]]
access_key_id = "AKIARELOADAAAAAAAAAA"
secret_access_key = "secret-reload"
account_id = "{A}"
user = "reloaded"
policy = '{json.dumps(policy)}'
""")

    def reload(count):
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while server.stderr_tail(200000).count("credentials reloaded") < count:
            assert time.monotonic() < deadline, server.stderr_tail()
            time.sleep(0.02)

    path = tmp_path / "credentials.toml"
    write(["DescribeStreamSummary"])
    server = KinesdServer(create_ms=0, delete_ms=0, update_ms=0, region=REGION,
                          extra_args=["--credentials", str(path)])
    try:
        owner = client(server, KEY_A, SECRET_A)
        name = create_active(owner, unique_name("reload"), 1)
        key = client(server, "AKIARELOADAAAAAAAAAA", "secret-reload")
        key.describe_stream_summary(StreamName=name)
        caller, target = f"arn:aws:iam::{A}:user/reloaded", arn(A, name)
        with pytest.raises(ClientError) as e:
            key.put_record(StreamName=name, Data=b"x", PartitionKey="k")
        denied(e, caller, "PutRecord", target, no_identity_policy("PutRecord"))
        write(["PutRecord"])
        reload(1)
        key.put_record(StreamName=name, Data=b"x", PartitionKey="k")
        with pytest.raises(ClientError) as e:
            key.describe_stream_summary(StreamName=name)
        denied(e, caller, "DescribeStreamSummary", target, no_identity_policy("DescribeStreamSummary"))
        write(["DescribeStreamSummary"])
        reload(2)
        with pytest.raises(ClientError) as e:
            key.put_record(StreamName=name, Data=b"y", PartitionKey="k")
        denied(e, caller, "PutRecord", target, no_identity_policy("PutRecord"))
        assert read_one(owner, StreamName=name) == [b"x"]
    finally:
        server.stop()
