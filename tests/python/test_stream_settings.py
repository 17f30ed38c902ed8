"""Per-stream settings and account operations through boto3: retention, tags (by name and by
ARN), encryption, enhanced monitoring, capacity mode, resource policies, maximum record size,
warm throughput, DescribeLimits and account settings."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from kinesd_harness import KinesdServer, create_active, error_of, wait_for_status

ALL_METRICS = [
    "IncomingBytes", "OutgoingRecords", "IteratorAgeMilliseconds", "IncomingRecords",
    "ReadProvisionedThroughputExceeded", "WriteProvisionedThroughputExceeded", "OutgoingBytes",
]


@pytest.fixture(scope="module")
def own_server():
    """A server of its own, for account-wide state (limits, the billing commitment)."""
    srv = KinesdServer(create_ms=50, delete_ms=50, update_ms=50)
    yield srv
    srv.stop()


def _summary(kinesis, name):
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]


# ------------------------------------------------------------------------------------ retention


def test_retention_increase_and_decrease(kinesis, make_stream, server):
    name = make_stream(1)
    acct = server.account_id

    def fails(op, hours):
        with pytest.raises(ClientError) as e:
            getattr(kinesis, op)(StreamName=name, RetentionPeriodHours=hours)
        return error_of(e)

    assert fails("increase_stream_retention_period", 23) == (
        400, "InvalidArgumentException",
        "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short.")
    assert fails("increase_stream_retention_period", 8761) == (
        400, "InvalidArgumentException",
        "Maximum allowed retention period is 8760 hours. Requested retention period (8761 hours) is too long.")
    assert fails("decrease_stream_retention_period", 25) == (
        400, "InvalidArgumentException",
        f"Requested retention period (25 hours) for stream {name} can not be longer than existing "
        "retention period (24 hours). Use IncreaseRetentionPeriod API.")
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=8760)
    assert _summary(kinesis, name)["RetentionPeriodHours"] == 8760
    assert fails("increase_stream_retention_period", 48) == (
        400, "InvalidArgumentException",
        f"Requested retention period (48 hours) for stream {name} can not be shorter than existing "
        "retention period (8760 hours). Use DecreaseRetentionPeriod API.")
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
    d = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert d["RetentionPeriodHours"] == 24
    with pytest.raises(ClientError) as e:
        kinesis.increase_stream_retention_period(StreamName="nope-" + name, RetentionPeriodHours=48)
    assert error_of(e) == (400, "ResourceNotFoundException",
                           f"Stream nope-{name} under account {acct} not found.")


# ----------------------------------------------------------------------------------------- tags


def test_tags_by_name_and_by_arn(kinesis, make_stream, server):
    name = make_stream(1)
    arn = server.arn(name)
    kinesis.add_tags_to_stream(StreamName=name, Tags={"b": "2", "a": "1", "ü0 _.": "x", "/=+-@:": ""})
    kinesis.add_tags_to_stream(StreamName=name, Tags={"a": "one"})
    tags = kinesis.list_tags_for_stream(StreamName=name)
    assert tags["Tags"] == [{"Key": "/=+-@:", "Value": ""}, {"Key": "a", "Value": "one"},
                            {"Key": "b", "Value": "2"}, {"Key": "ü0 _.", "Value": "x"}]
    assert tags["HasMoreTags"] is False
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == tags["Tags"]

    kinesis.tag_resource(ResourceARN=arn, Tags={"c": "3"})
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["a", "missing"])
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["ü0 _.", "/=+-@:"])
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "b", "Value": "2"}, {"Key": "c", "Value": "3"}]


def test_tag_errors(kinesis, make_stream, server):
    name = make_stream(1)
    acct = server.account_id
    for bad in ["abc;def", "abc\tdef", "abc,def"]:
        for tags in [{bad: "1"}, {"a": bad}]:
            with pytest.raises(ClientError) as e:
                kinesis.add_tags_to_stream(StreamName=name, Tags=tags)
            assert error_of(e) == (
                400, "InvalidArgumentException",
                "Some tags contain invalid characters. Valid characters: Unicode letters, digits, "
                "white space, _ . / = + - % @ :.")
    with pytest.raises(ClientError) as e:
        kinesis.add_tags_to_stream(StreamName=name, Tags={"abc%def": "1"})
    assert error_of(e) == (
        400, "InvalidArgumentException",
        f"Failed to add tags to stream {name} under account {acct} because some tags contained "
        "illegal characters. The allowed characters are Unicode letters, white-spaces, "
        "'_',',','/','=','+','-','@',':'.")
    with pytest.raises(ClientError) as e:
        kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["abc%def"])
    assert error_of(e)[2].startswith(f"Failed to remove tags from stream {name} under account {acct}")
    # Unknown streams are reported before bad characters.
    with pytest.raises(ClientError) as e:
        kinesis.add_tags_to_stream(StreamName=name + "-x", Tags={";": "1"})
    assert error_of(e)[1] == "ResourceNotFoundException"

    kinesis.add_tags_to_stream(StreamName=name, Tags={f"k{i}": "v" for i in range(50)})
    with pytest.raises(ClientError) as e:
        kinesis.add_tags_to_stream(StreamName=name, Tags={"one-more": "v"})
    assert error_of(e) == (
        400, "InvalidArgumentException",
        f"Failed to add tags to stream {name} under account {acct} because a given stream cannot "
        "have more than 50 tags associated with it.")
    kinesis.add_tags_to_stream(StreamName=name, Tags={"k0": "overwriting is fine"})
    page = kinesis.list_tags_for_stream(StreamName=name, Limit=10, ExclusiveStartTagKey="k1")
    assert page["HasMoreTags"] is True and len(page["Tags"]) == 10


def test_resource_arns_that_name_nothing(kinesis, make_stream, server):
    name = make_stream(1)
    consumer = f"{server.arn(name)}/consumer/c1:1700000000"
    with pytest.raises(ClientError) as e:
        kinesis.list_tags_for_resource(ResourceARN=consumer)
    assert error_of(e)[1] == "ResourceNotFoundException"
    other = f"arn:aws:kinesis:{server.region}:999999999999:stream/{name}"
    with pytest.raises(ClientError) as e:
        kinesis.tag_resource(ResourceARN=other, Tags={"a": "b"})
    assert error_of(e) == (400, "ResourceNotFoundException",
                           f"Stream {name} under account 999999999999 not found.")


# ----------------------------------------------------------------------------------- encryption


def test_encryption_goes_updating_then_marks_records(kinesis, make_stream):
    name = make_stream(1)
    before = kinesis.put_record(StreamName=name, Data=b"plain", PartitionKey="a")
    # AWS leaves EncryptionType out of write responses on an unencrypted stream.
    assert "EncryptionType" not in before
    assert "EncryptionType" not in kinesis.put_records(
        StreamName=name, Records=[{"Data": b"p", "PartitionKey": "a"}])
    kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    assert _summary(kinesis, name)["StreamStatus"] == "UPDATING"
    s = wait_for_status(kinesis, name, "ACTIVE")
    assert (s["EncryptionType"], s["KeyId"]) == ("KMS", "alias/aws/kinesis")
    d = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert (d["EncryptionType"], d["KeyId"]) == ("KMS", "alias/aws/kinesis")
    after = kinesis.put_record(StreamName=name, Data=b"secret", PartitionKey="a")
    assert after["EncryptionType"] == "KMS"
    assert kinesis.put_records(StreamName=name, Records=[{"Data": b"x", "PartitionKey": "a"}])[
        "EncryptionType"] == "KMS"

    kinesis.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    s = wait_for_status(kinesis, name, "ACTIVE")
    assert s["EncryptionType"] == "NONE" and "KeyId" not in s
    last = kinesis.put_record(StreamName=name, Data=b"plain again", PartitionKey="a")
    assert "EncryptionType" not in last

    it = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = kinesis.get_records(ShardIterator=it)["Records"]
    assert [(r["Data"], r.get("EncryptionType")) for r in records] == [
        (b"plain", None), (b"p", None), (b"secret", "KMS"), (b"x", "KMS"), (b"plain again", None)]


@pytest.mark.parametrize("key", [
    "arn:aws:kms:us-east-1:123456789012:key/12345678-1234-1234-1234-123456789012",
    "arn:aws:kms:us-east-1:123456789012:alias/MyAlias",
    "12345678-1234-1234-1234-123456789012",
    "alias/MyAlias",
])
def test_encryption_key_forms(kinesis, make_stream, key):
    name = make_stream(1)
    kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=key)
    assert wait_for_status(kinesis, name, "ACTIVE")["KeyId"] == key


def test_encryption_errors(kinesis, make_stream):
    name = make_stream(1)
    with pytest.raises(ClientError) as e:
        kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="not a key")
    assert error_of(e)[1] == "KMSNotFoundException"
    with pytest.raises(ClientError) as e:
        kinesis.start_stream_encryption(StreamName=name, EncryptionType="NONE", KeyId="alias/x")
    assert error_of(e)[1] == "InvalidArgumentException"
    kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/x")
    with pytest.raises(ClientError) as e:
        kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/x")
    assert error_of(e)[1] == "ResourceInUseException"


# ------------------------------------------------------------------------- enhanced monitoring


def test_enhanced_monitoring_set_arithmetic(kinesis, make_stream, server):
    name = make_stream(1)
    out = kinesis.enable_enhanced_monitoring(
        StreamName=name, ShardLevelMetrics=["OutgoingBytes", "IncomingBytes"])
    assert out["CurrentShardLevelMetrics"] == []
    assert out["DesiredShardLevelMetrics"] == ["IncomingBytes", "OutgoingBytes"]
    assert (out["StreamName"], out["StreamARN"]) == (name, server.arn(name))
    out = kinesis.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["ALL"])
    assert out["CurrentShardLevelMetrics"] == ["IncomingBytes", "OutgoingBytes"]
    assert out["DesiredShardLevelMetrics"] == ALL_METRICS
    assert _summary(kinesis, name)["EnhancedMonitoring"] == [{"ShardLevelMetrics": ALL_METRICS}]
    out = kinesis.disable_enhanced_monitoring(
        StreamName=name, ShardLevelMetrics=["IteratorAgeMilliseconds", "IncomingBytes"])
    assert out["DesiredShardLevelMetrics"] == [
        m for m in ALL_METRICS if m not in ("IteratorAgeMilliseconds", "IncomingBytes")]
    out = kinesis.disable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["ALL"])
    assert out["DesiredShardLevelMetrics"] == []
    d = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert d["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]


# -------------------------------------------------------------------------- mode and record size


def test_update_stream_mode_round_trip(kinesis, make_stream, server):
    name = make_stream(2)
    arn = server.arn(name)
    kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    s = wait_for_status(kinesis, name, "ACTIVE")
    assert s["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    with pytest.raises(ClientError) as e:
        kinesis.split_shard(StreamName=name, ShardToSplit="0", NewStartingHashKey="12345")
    assert error_of(e) == (
        400, "ValidationException",
        f"Request is invalid. Stream {name} under account {server.account_id} is in On-Demand mode.")
    kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})
    s = wait_for_status(kinesis, name, "ACTIVE")
    assert s["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert s["OpenShardCount"] == 2
    # Two switches per rolling day.
    with pytest.raises(ClientError) as e:
        kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    assert error_of(e)[1] == "LimitExceededException"


def test_update_max_record_size_is_enforced(kinesis, make_stream, server):
    name = make_stream(1)
    big = b"x" * (1024 * 1024 + 1)
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName=name, Data=big, PartitionKey="a")
    assert error_of(e)[1] == "ValidationException"
    kinesis.update_max_record_size(StreamARN=server.arn(name), MaxRecordSizeInKiB=2048)
    assert _summary(kinesis, name)["MaxRecordSizeInKiB"] == 2048
    assert kinesis.put_record(StreamName=name, Data=big, PartitionKey="a")["ShardId"]


def test_update_max_record_size_bounds(raw_kinesis, make_stream, server):
    name = make_stream(1)
    with pytest.raises(ClientError) as e:
        raw_kinesis.update_max_record_size(StreamARN=server.arn(name), MaxRecordSizeInKiB=10241)
    assert error_of(e) == (
        400, "ValidationException",
        "1 validation error detected: Value '10241' at 'maxRecordSizeInKiB' failed to satisfy "
        "constraint: Member must have value less than or equal to 10240")


# ---------------------------------------------------------------------------- resource policies


def test_resource_policy_lifecycle(kinesis, make_stream, server):
    name = make_stream(1)
    arn = server.arn(name)
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    policy = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"},
                       "Action": "kinesis:GetRecords", "Resource": arn}],
    })
    kinesis.put_resource_policy(ResourceARN=arn, Policy=policy)
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == policy
    for bad in ["not json", "[]", '{"Version": "2012-10-17"}']:
        with pytest.raises(ClientError) as e:
            kinesis.put_resource_policy(ResourceARN=arn, Policy=bad)
        assert error_of(e)[1] == "InvalidArgumentException"
    kinesis.delete_resource_policy(ResourceARN=arn)
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    with pytest.raises(ClientError) as e:
        kinesis.get_resource_policy(ResourceARN=server.arn(name + "-gone"))
    assert error_of(e)[1] == "ResourceNotFoundException"


# ---------------------------------------------------------------- account, limits, warm throughput


def test_describe_limits_counts_provisioned_shards_and_on_demand_streams(own_server):
    k = own_server.client()
    base = k.describe_limits()
    assert (base["ShardLimit"], base["OnDemandStreamCountLimit"]) == (500, 50)
    create_active(k, None, 3)
    create_active(k, None, None, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    now = k.describe_limits()
    assert now["OpenShardCount"] == base["OpenShardCount"] + 3
    assert now["OnDemandStreamCount"] == base["OnDemandStreamCount"] + 1


def test_account_settings_and_warm_throughput(own_server):
    k = own_server.client()
    assert k.describe_account_settings()["MinimumThroughputBillingCommitment"] == {
        "Status": "DISABLED"}
    name = create_active(k, None, None, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    # Warm throughput needs the commitment.
    with pytest.raises(ClientError) as e:
        k.update_stream_warm_throughput(StreamName=name, WarmThroughputMiBps=100)
    assert error_of(e)[1] == "InvalidArgumentException"

    enabled = k.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})[
        "MinimumThroughputBillingCommitment"]
    assert enabled["Status"] == "ENABLED"
    assert enabled["EarliestAllowedEndAt"] > enabled["StartedAt"]
    out = k.update_stream_warm_throughput(StreamName=name, WarmThroughputMiBps=100)
    assert out["WarmThroughput"]["TargetMiBps"] == 100
    assert out["StreamName"] == name
    assert wait_for_status(k, name, "ACTIVE")["WarmThroughput"] == {
        "TargetMiBps": 100, "CurrentMiBps": 100}

    # Ending within the first day only schedules the end.
    ending = k.update_account_settings(MinimumThroughputBillingCommitment={"Status": "DISABLED"})[
        "MinimumThroughputBillingCommitment"]
    assert ending["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
    assert k.describe_account_settings()["MinimumThroughputBillingCommitment"][
        "Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
    assert k.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})[
        "MinimumThroughputBillingCommitment"]["Status"] == "ENABLED"

    provisioned = create_active(k, None, 1)
    with pytest.raises(ClientError) as e:
        k.update_stream_warm_throughput(StreamName=provisioned, WarmThroughputMiBps=100)
    assert error_of(e)[1] == "InvalidArgumentException"
