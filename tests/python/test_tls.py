"""The TLS listener (`--tls-port`) with the certificate kinesd generates: boto3 and the AWS CLI
trusting it, a client that does not trust it refused, and bad certificate files stopping the start."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile

import botocore.exceptions
import pytest

from kinesd_harness import KinesdServer, create_active, kinesd_binary, read_all, unique_name, wait_for_status
from test_cli import AWS, _cli_major, _env


@pytest.fixture(scope="module")
def tls_server():
    srv = KinesdServer(create_ms=50, delete_ms=50, update_ms=50, tls=True)
    yield srv
    srv.stop()


def test_boto3_round_trip_over_https(tls_server):
    assert tls_server.tls_endpoint.startswith("https://127.0.0.1:")
    assert tls_server.tls_port != tls_server.port
    assert os.path.isfile(tls_server.tls_cert)
    kinesis = tls_server.client(tls=True)
    name = create_active(kinesis, unique_name("tls"))
    put = kinesis.put_record(StreamName=name, Data=b"over tls \x00\xff", PartitionKey="pk")
    records = read_all(kinesis, name, put["ShardId"])
    assert [r["Data"] for r in records] == [b"over tls \x00\xff"]
    assert records[0]["SequenceNumber"] == put["SequenceNumber"]
    # Both listeners serve the same engine.
    assert name in tls_server.client().list_streams()["StreamNames"]


def test_a_client_not_trusting_the_certificate_fails_the_handshake(tls_server):
    # Only the system's CAs: the self-signed certificate is not among them.
    kinesis = tls_server.client(tls=True, verify=True)
    with pytest.raises(botocore.exceptions.SSLError) as e:
        kinesis.list_streams()
    assert "CERTIFICATE_VERIFY_FAILED" in str(e.value) or "certificate" in str(e.value).lower()


def test_the_cli_with_ca_bundle(tls_server):
    name = unique_name("tlscli")
    base = [*AWS, "kinesis", "--endpoint-url", tls_server.tls_endpoint, "--ca-bundle", tls_server.tls_cert,
            "--output", "json"]
    if _cli_major() == 2:
        base += ["--no-cli-pager", "--cli-binary-format", "raw-in-base64-out"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*base, *args], capture_output=True, text=True, timeout=60,
                              env=_env(tls_server))

    proc = run("create-stream", "--stream-name", name, "--shard-count", "1")
    assert proc.returncode == 0, proc.stderr
    wait_for_status(tls_server.client(tls=True), name, "ACTIVE")
    data = base64.b64encode(b"cli").decode() if _cli_major() == 1 else "cli"
    proc = run("put-record", "--stream-name", name, "--partition-key", "pk", "--data", data)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ShardId"] == "shardId-000000000000"
    # Without the bundle, the CLI refuses the self-signed certificate.
    no_bundle = [a for a in base if a not in ("--ca-bundle", tls_server.tls_cert)]
    proc = subprocess.run([*no_bundle, "list-streams"], capture_output=True, text=True, timeout=60,
                          env=_env(tls_server))
    assert proc.returncode != 0
    assert "certificate" in proc.stderr.lower() or "ssl" in proc.stderr.lower(), proc.stderr


def _start_fails(*args: str) -> str:
    proc = subprocess.run([str(kinesd_binary()), "--port", "0", "--in-memory", "--tls-port", "0", *args],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0, proc.stdout
    assert "listening" not in proc.stdout
    return proc.stderr


def test_bad_certificate_files_stop_the_start():
    with tempfile.TemporaryDirectory() as d:
        junk = os.path.join(d, "junk.pem")
        with open(junk, "w") as f:
            f.write("not pem\n")
        err = _start_fails("--tls-cert", os.path.join(d, "missing.pem"), "--tls-key", junk)
        assert "cannot read --tls-cert" in err and "missing.pem" in err, err
        err = _start_fails("--tls-cert", junk, "--tls-key", junk)
        assert "holds no PEM certificate" in err, err
        err = _start_fails("--tls-cert", junk)
        assert "--tls-cert and --tls-key go together" in err, err


def test_the_generated_certificate_is_reused_after_a_restart():
    with tempfile.TemporaryDirectory() as d:
        def start() -> KinesdServer:
            return KinesdServer(tls=True, data_dir=d)

        first = start()
        assert first.tls_cert == os.path.join(d, "tls", "cert.pem")
        try:
            cert = open(first.tls_cert, "rb").read()
        finally:
            first.stop()
        second = start()
        try:
            assert open(second.tls_cert, "rb").read() == cert
            second.client(tls=True).list_streams()
        finally:
            second.stop()
