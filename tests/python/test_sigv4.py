"""SigV4 verification with configured credentials (`--credentials`): real clients (boto3, the
AWS CLI) signing with configured keys, and AWS's answer, byte for byte, to each way a signature
can be wrong — a wrong secret, an unknown key, a stale or future date, another region, a body or
header changed after signing, a missing or wrong session token. No request without a valid
signature changes anything. SIGHUP reloads the file; a bad file stops the start.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from unittest import mock

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from kinesd_harness import KinesdServer, create_active, error_of, kinesd_binary, target, unique_name

KEY_A, SECRET_A, ACCOUNT_A = "AKIAEXAMPLEAAAAAAAAA", "secret/A+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "111111111111"
KEY_B, SECRET_B, ACCOUNT_B = "AKIAEXAMPLEBBBBBBBBB", "secret/B+bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "222222222222"
KEY_T, SECRET_T, TOKEN_T = "ASIAEXAMPLETTTTTTTTT", "secret/T+tttttttttttttttttttttttttttttttt", "FwoGZXIvYXdzEXAMPLE//token=="
REGION = "eu-west-1"

CREDENTIALS = f"""
[[credential]]
access_key_id = "{KEY_A}"
secret_access_key = "{SECRET_A}"
account_id = "{ACCOUNT_A}"
user = "producer-1"

[[credential]]
access_key_id = "{KEY_B}"
secret_access_key = "{SECRET_B}"
account_id = "{ACCOUNT_B}"
policy = '{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"}}]}}'

[[credential]]
access_key_id = "{KEY_T}"
secret_access_key = "{SECRET_T}"
account_id = "{ACCOUNT_A}"
session_token = "{TOKEN_T}"
"""

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."


@pytest.fixture(scope="module")
def creds_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("creds") / "credentials.toml"
    path.write_text(CREDENTIALS)
    return path


@pytest.fixture(scope="module")
def server(creds_file):
    srv = KinesdServer(create_ms=0, delete_ms=0, update_ms=0, region=REGION,
                       extra_args=["--credentials", str(creds_file)])
    yield srv
    srv.stop()


def client(server, key=KEY_A, secret=SECRET_A, token=None, region=REGION):
    return boto3.client(
        "kinesis", endpoint_url=server.endpoint, region_name=region,
        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


def signed(server, op, body: bytes, key=KEY_A, secret=SECRET_A, token=None, region=REGION,
           extra=None) -> dict:
    """Headers botocore's SigV4 signer puts on a request with this body."""
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target(op)}
    headers.update(extra or {})
    req = botocore.awsrequest.AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers=headers)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret, token), "kinesis", region).add_auth(req)
    return dict(req.headers.items())


def assert_error(resp, type_: str, message: str):
    """AWS's error answer, byte for byte: status, error type header, body."""
    assert resp.status_code == 400, resp.text
    assert resp.headers["x-amzn-ErrorType"] == type_
    assert resp.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert resp.content == json.dumps({"__type": type_, "message": message}, separators=(",", ":")).encode()


def frozen(at: datetime.datetime):
    """botocore signing as if the clock said `at`."""
    return mock.patch.object(botocore.auth, "get_current_datetime", return_value=at)


def amz(at: datetime.datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%SZ")


# ------------------------------------------------------------------------------ real clients


def test_boto3_signed_with_a_configured_key_works(server):
    kinesis = client(server)
    name = create_active(kinesis, unique_name(), 1)
    put = kinesis.put_record(StreamName=name, Data=b"hello", PartitionKey="k")
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=put["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]] == [b"hello"]
    # Every configured key is accepted, including one with an identity policy; key B acts in
    # its own account (222222222222), which does not see account 111111111111's streams.
    assert name not in client(server, KEY_B, SECRET_B).list_streams()["StreamNames"]
    assert name in client(server, KEY_T, SECRET_T, TOKEN_T).list_streams()["StreamNames"]


def test_boto3_with_a_session_token(server):
    kinesis = client(server, KEY_T, SECRET_T, TOKEN_T)
    kinesis.list_streams()
    kinesis.put_records(StreamName=create_active(client(server), unique_name(), 1),
                        Records=[{"Data": b"x", "PartitionKey": "p"}] * 3)
    for token in (None, TOKEN_T + "x"):
        with pytest.raises(ClientError) as e:
            client(server, KEY_T, SECRET_T, token).list_streams()
        assert error_of(e) == (400, "UnrecognizedClientException", INVALID_TOKEN)
    # A long-term key may not present a token at all.
    with pytest.raises(ClientError) as e:
        client(server, KEY_A, SECRET_A, TOKEN_T).list_streams()
    assert error_of(e) == (400, "UnrecognizedClientException", INVALID_TOKEN)


def test_boto3_errors_are_aws_answers(server):
    with pytest.raises(ClientError) as e:
        client(server, KEY_A, "wrong secret").list_streams()
    assert error_of(e) == (400, "InvalidSignatureException", MISMATCH)
    with pytest.raises(ClientError) as e:
        client(server, "AKIAUNKNOWNKEY000000", SECRET_A).list_streams()
    assert error_of(e) == (400, "UnrecognizedClientException", INVALID_TOKEN)
    with pytest.raises(ClientError) as e:
        client(server, region="us-west-2").list_streams()
    assert error_of(e) == (400, "InvalidSignatureException",
                           "Credential should be scoped to a valid region, not 'us-west-2'. ")


def test_a_stale_or_future_date_is_refused_with_the_servers_clock(server):
    for offset, word in ((-301, "expired"), (+301, "not yet current")):
        at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=offset)
        before = int(time.time())
        with frozen(at), pytest.raises(ClientError) as e:
            client(server).list_streams()
        after = int(time.time())
        status, type_, message = error_of(e)
        assert (status, type_) == (400, "InvalidSignatureException")
        # The server's clock is in the message: it must be one of the seconds the call took.
        candidates = []
        for now in range(before, after + 1):
            t = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
            five = datetime.timedelta(minutes=5)
            if word == "expired":
                candidates.append(f"Signature expired: {amz(at)} is now earlier than {amz(t - five)} ({amz(t)} - 5 min.)")
            else:
                candidates.append(
                    f"Signature not yet current: {amz(at)} is still later than {amz(t + five)} ({amz(t)} + 5 min.)")
        assert message in candidates, message
    # A request signed in 2010, as the issue puts it.
    with frozen(datetime.datetime(2010, 1, 1, tzinfo=datetime.timezone.utc)), pytest.raises(ClientError) as e:
        client(server).list_streams()
    assert re.fullmatch(r"Signature expired: 20100101T000000Z is now earlier than \d{8}T\d{6}Z "
                        r"\(\d{8}T\d{6}Z - 5 min\.\)", error_of(e)[2])


def test_a_body_or_header_changed_after_signing_is_refused(server):
    name = create_active(client(server), unique_name(), 1)
    body = json.dumps({"StreamName": name, "Data": "aGVsbG8=", "PartitionKey": "k"}).encode()
    headers = signed(server, "PutRecord", body)
    assert requests.post(server.endpoint + "/", data=body, headers=headers).status_code == 200
    tampered = body.replace(b"aGVsbG8=", b"ZXZpbA==")
    assert_error(requests.post(server.endpoint + "/", data=tampered, headers=headers),
                 "InvalidSignatureException", MISMATCH)
    other_op = dict(headers, **{"X-Amz-Target": target("DeleteStream")})
    assert_error(requests.post(server.endpoint + "/", data=json.dumps({"StreamName": name}).encode(),
                               headers=other_op), "InvalidSignatureException", MISMATCH)
    # Kinesis is not S3: a payload hash header does not stand in for the body's hash.
    unsigned = signed(server, "PutRecord", body, extra={"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"})
    assert_error(requests.post(server.endpoint + "/", data=body, headers=unsigned),
                 "InvalidSignatureException", MISMATCH)
    kinesis = client(server)
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]] == [b"hello"]


class PresignWithBody(botocore.auth.SigV4QueryAuth):
    """botocore's presigner, which is made for GETs and drops the body before signing; this one
    keeps it, so the signature covers the body a Kinesis POST carries."""

    def _modify_request_before_signing(self, request):
        body = request.data
        super()._modify_request_before_signing(request)
        request.data = body


def test_a_presigned_request_from_botocore_is_verified(server):
    body = b"{}"
    def presign(secret):
        req = botocore.awsrequest.AWSRequest(
            method="POST", url=server.endpoint + "/", data=body,
            headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target("ListStreams")})
        PresignWithBody(botocore.credentials.Credentials(KEY_A, secret), "kinesis", REGION, expires=60).add_auth(req)
        return req
    good = presign(SECRET_A)
    resp = requests.post(good.url, data=body, headers=dict(good.headers.items()))
    assert resp.status_code == 200, resp.text
    assert "StreamNames" in resp.json()
    bad = presign("wrong")
    assert_error(requests.post(bad.url, data=body, headers=dict(bad.headers.items())),
                 "InvalidSignatureException", MISMATCH)


def test_the_aws_cli_signs_with_configured_keys(server, tmp_path):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY_B, AWS_SECRET_ACCESS_KEY=SECRET_B, AWS_DEFAULT_REGION=REGION,
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    cli = ["aws", "kinesis", "list-streams", "--endpoint-url", server.endpoint, "--output", "json"]
    ok = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "StreamNames" in json.loads(ok.stdout)
    bad = subprocess.run(cli + ["--cli-read-timeout", "10"], env=dict(env, AWS_SECRET_ACCESS_KEY="wrong"),
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0
    assert (f"An error occurred (InvalidSignatureException) when calling the ListStreams operation: {MISMATCH}"
            in bad.stderr), bad.stderr
    token = subprocess.run(cli, env=dict(env, AWS_ACCESS_KEY_ID=KEY_T, AWS_SECRET_ACCESS_KEY=SECRET_T,
                                         AWS_SESSION_TOKEN=TOKEN_T), capture_output=True, text=True, timeout=60)
    assert token.returncode == 0, token.stderr


# ----------------------------------------------------------------- nothing changes unsigned


def snapshot(kinesis, name):
    """Everything the mutating operations below could change about the stream (and the rest)."""
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    summary.pop("StreamCreationTimestamp")
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    records = []
    for shard in shards:
        it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records += [(r["SequenceNumber"], r["Data"]) for r in kinesis.get_records(ShardIterator=it)["Records"]]
    arn = summary["StreamARN"]
    try:
        policy = kinesis.get_resource_policy(ResourceARN=arn)["Policy"]
    except ClientError as e:
        policy = e.response["Error"]["Code"]
    try:
        consumers = kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]
    except ClientError as e:  # on a branch without enhanced fan-out
        consumers = e.response["Error"]["Code"]
    return {
        "streams": sorted(kinesis.list_streams()["StreamNames"]),
        "summary": summary,
        "shards": shards,
        "records": records,
        "tags": kinesis.list_tags_for_stream(StreamName=name)["Tags"],
        "policy": policy,
        "consumers": consumers,
    }


def mutations(name: str, arn: str, shard: str):
    other = unique_name()
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "AWS": "arn:aws:iam::222222222222:root"}, "Action": "kinesis:GetRecords", "Resource": arn}]})
    return [
        ("CreateStream", {"StreamName": other, "ShardCount": 1}),
        ("DeleteStream", {"StreamName": name}),
        ("PutRecord", {"StreamName": name, "Data": "eA==", "PartitionKey": "p"}),
        ("PutRecords", {"StreamName": name, "Records": [{"Data": "eA==", "PartitionKey": "p"}]}),
        ("AddTagsToStream", {"StreamName": name, "Tags": {"evil": "1"}}),
        ("RemoveTagsFromStream", {"StreamName": name, "TagKeys": ["keep"]}),
        ("TagResource", {"ResourceARN": arn, "Tags": {"evil": "1"}}),
        ("UntagResource", {"ResourceARN": arn, "TagKeys": ["keep"]}),
        ("IncreaseStreamRetentionPeriod", {"StreamName": name, "RetentionPeriodHours": 48}),
        ("DecreaseStreamRetentionPeriod", {"StreamName": name, "RetentionPeriodHours": 24}),
        ("SplitShard", {"StreamName": name, "ShardToSplit": shard, "NewStartingHashKey": str(2**127)}),
        ("UpdateShardCount", {"StreamName": name, "TargetShardCount": 2, "ScalingType": "UNIFORM_SCALING"}),
        ("MergeShards", {"StreamName": name, "ShardToMerge": shard, "AdjacentShardToMerge": shard}),
        ("StartStreamEncryption", {"StreamName": name, "EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}),
        ("StopStreamEncryption", {"StreamName": name, "EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}),
        ("EnableEnhancedMonitoring", {"StreamName": name, "ShardLevelMetrics": ["ALL"]}),
        ("DisableEnhancedMonitoring", {"StreamName": name, "ShardLevelMetrics": ["ALL"]}),
        ("UpdateStreamMode", {"StreamARN": arn, "StreamModeDetails": {"StreamMode": "ON_DEMAND"}}),
        ("PutResourcePolicy", {"ResourceARN": arn, "Policy": policy}),
        ("DeleteResourcePolicy", {"ResourceARN": arn}),
        ("RegisterStreamConsumer", {"StreamARN": arn, "ConsumerName": "c"}),
        ("UpdateAccountSettings", {"MinimumThroughputBillingCommitment": {"Status": "ENABLED"}}),
        ("UpdateMaxRecordSize", {"StreamARN": arn, "MaxRecordSizeInKiB": 2048}),
        ("UpdateStreamWarmThroughput", {"StreamARN": arn, "WarmThroughputMiBps": 10}),
    ]


def test_no_request_without_a_valid_signature_changes_anything(server):
    kinesis = client(server)
    name = create_active(kinesis, unique_name(), 1)
    kinesis.add_tags_to_stream(StreamName=name, Tags={"keep": "1"})
    kinesis.put_record(StreamName=name, Data=b"before", PartitionKey="k")
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    before = snapshot(kinesis, name)
    account_settings = kinesis.describe_account_settings()
    stale = datetime.datetime(2010, 1, 1, tzinfo=datetime.timezone.utc)
    for op, params in mutations(name, arn, shard):
        body = json.dumps(params).encode()
        wrong = [
            ("wrong secret", signed(server, op, body, secret="wrong"), body, "InvalidSignatureException"),
            ("unknown key", signed(server, op, body, key="AKIAUNKNOWNKEY000000"), body, "UnrecognizedClientException"),
            ("other region", signed(server, op, body, region="us-east-1"), body, "InvalidSignatureException"),
            ("no token", signed(server, op, body, key=KEY_T, secret=SECRET_T), body, "UnrecognizedClientException"),
            ("tampered body", signed(server, op, b"{}"), body, "InvalidSignatureException"),
            ("unsigned", {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target(op)}, body,
             "MissingAuthenticationTokenException"),
        ]
        with frozen(stale):
            wrong.append(("stale", signed(server, op, body), body, "InvalidSignatureException"))
        for why, headers, sent, expected in wrong:
            resp = requests.post(server.endpoint + "/", data=sent, headers=headers, timeout=30)
            assert resp.status_code == 400, (op, why, resp.text)
            assert resp.headers["x-amzn-ErrorType"] == expected, (op, why, resp.text)
    time.sleep(0.2)  # any state transition a request could have started would be visible now
    assert snapshot(kinesis, name) == before
    after = kinesis.describe_account_settings()
    for meta in (account_settings, after):
        meta.pop("ResponseMetadata", None)
    assert after == account_settings


# ---------------------------------------------------------------------- the file and SIGHUP


def test_sighup_reloads_the_file_and_a_bad_file_keeps_the_old_one(tmp_path):
    path = tmp_path / "credentials.toml"
    path.write_text(CREDENTIALS)
    srv = KinesdServer(region=REGION, extra_args=["--credentials", str(path)])
    try:
        client(srv).list_streams()
        new_key, new_secret = "AKIAEXAMPLECCCCCCCCC", "secret-c"
        path.write_text(f'[[credential]]\naccess_key_id = "{new_key}"\nsecret_access_key = "{new_secret}"\n'
                        f'account_id = "333333333333"\n')
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while True:
            try:
                client(srv, new_key, new_secret).list_streams()
                break
            except ClientError:
                assert time.monotonic() < deadline, srv.stderr_tail()
                time.sleep(0.05)
        with pytest.raises(ClientError) as e:
            client(srv).list_streams()
        assert error_of(e) == (400, "UnrecognizedClientException", INVALID_TOKEN)
        path.write_text("[[credential]]\naccess_key_id = \"AKIAEXAMPLEDDDDDDDDD\"\n")  # incomplete entry
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "credentials not reloaded" not in srv.stderr_tail(20000):
            assert time.monotonic() < deadline, srv.stderr_tail()
            time.sleep(0.05)
        assert str(path) in srv.stderr_tail(20000)
        client(srv, new_key, new_secret).list_streams()
        assert srv.proc.poll() is None
    finally:
        srv.stop()


@pytest.mark.parametrize("text, why", [
    ("[[credential]]\naccess_key_id = \"AKIAEXAMPLEAAAAAAAAA\"\nsecret_access_key = \"s\"\naccount_id = \"1\"\n",
     'credential 1 ("AKIAEXAMPLEAAAAAAAAA"): account_id must be twelve digits'),
    ("not toml at all [", "invalid credentials file"),
    ("", "no [[credential]] entries"),
])
def test_a_bad_file_stops_the_start_naming_file_and_entry(tmp_path, text, why):
    path = tmp_path / "credentials.toml"
    path.write_text(text)
    done = subprocess.run([str(kinesd_binary()), "--host", "127.0.0.1", "--port", "0", "--in-memory",
                           "--credentials", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert f"invalid credentials file {path}" in done.stderr, done.stderr
    assert why in done.stderr, done.stderr
    assert done.stdout == "", "nothing listened"


def test_a_credentials_file_others_may_read_is_warned_about(tmp_path):
    path = tmp_path / "credentials.toml"
    path.write_text(CREDENTIALS)
    for mode, warned in ((0o644, True), (0o600, False)):
        path.chmod(mode)
        srv = KinesdServer(region=REGION, extra_args=["--credentials", str(path)])
        try:
            client(srv).list_streams()
            assert ("other users may read it" in srv.stderr_tail(20000)) == warned, srv.stderr_tail()
        finally:
            srv.stop()


def test_the_credentials_file_comes_from_the_environment(tmp_path, creds_file):
    env = dict(os.environ, KINESD_CREDENTIALS=str(creds_file))
    proc = subprocess.Popen([str(kinesd_binary()), "--host", "127.0.0.1", "--port", "0", "--in-memory",
                             "--region", REGION], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline().decode().strip()
        endpoint = line.rsplit(" ", 1)[-1]
        body = b"{}"
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target("ListStreams")}
        req = botocore.awsrequest.AWSRequest(method="POST", url=endpoint + "/", data=body, headers=headers)
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(KEY_A, "wrong"), "kinesis", REGION).add_auth(req)
        resp = requests.post(endpoint + "/", data=body, headers=dict(req.headers.items()), timeout=30)
        assert resp.status_code == 400 and resp.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
