"""Start kinesd processes and talk to them: the shared machinery of the Python suite.

The server contract (see the issue): `kinesd --host 127.0.0.1 --port 0 --in-memory ...` prints
`kinesd listening on http://127.0.0.1:<port>` as its first stdout line, then serves until SIGTERM.
With `--tls-port 0` two more lines follow: `kinesd listening on https://127.0.0.1:<port>` and
`kinesd tls certificate <path>` (the PEM file a client must trust).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.config import Config
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parents[2]
LISTEN_RE = re.compile(r"^kinesd listening on (http://127\.0\.0\.1:(\d+))$")
TLS_LISTEN_RE = re.compile(r"^kinesd listening on (https://127\.0\.0\.1:(\d+))$")
TLS_CERT_RE = re.compile(r"^kinesd tls certificate (.+)$")

MAX_HASH = 2**128 - 1
ACCESS_KEY = "test"
SECRET_KEY = "test"


def kinesd_binary() -> Path:
    env = os.environ.get("KINESD_BIN")
    path = Path(env) if env else REPO_ROOT / "target" / "debug" / "kinesd"
    if not path.is_file():
        raise RuntimeError(
            f"kinesd binary not found at {path}; build it with `cargo build -p kinesd` "
            "or set KINESD_BIN"
        )
    return path


class KinesdServer:
    """One kinesd child process with its own in-memory state."""

    def __init__(
        self,
        *,
        create_ms: int = 100,
        delete_ms: int = 100,
        update_ms: int = 100,
        iterator_ttl_seconds: int | None = None,
        account_id: str | None = None,
        region: str | None = None,
        tls: bool = False,
        extra_args: list[str] | None = None,
        data_dir: str | None = None,
    ):
        self.account_id = account_id or "000000000000"
        self.region = region or "us-east-1"
        args = [
            str(kinesd_binary()),
            "--host", "127.0.0.1",
            "--port", "0",
            *(["--data-dir", data_dir] if data_dir else ["--in-memory"]),
            "--create-stream-ms", str(create_ms),
            "--delete-stream-ms", str(delete_ms),
            "--update-stream-ms", str(update_ms),
        ]
        if iterator_ttl_seconds is not None:
            args += ["--iterator-ttl-seconds", str(iterator_ttl_seconds)]
        if account_id is not None:
            args += ["--account-id", account_id]
        if region is not None:
            args += ["--region", region]
        if tls:
            args += ["--tls-port", "0"]
        args += extra_args or []
        self.args = args
        self.log = tempfile.NamedTemporaryFile(
            prefix="kinesd-", suffix=".log", delete=False, mode="w+b"
        )
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            # Keep draining stdout so a chatty server never blocks on a full pipe.
            for raw in self.proc.stdout:  # type: ignore[union-attr]
                lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        try:
            first = lines.get(timeout=20)
        except queue.Empty:
            tail = self.stderr_tail()
            self.stop()
            raise RuntimeError(f"kinesd printed nothing within 20 s: {tail}")
        if first is None:
            tail = self.stderr_tail()
            self.stop()
            raise RuntimeError(f"kinesd exited before listening: {tail}")
        m = LISTEN_RE.match(first)
        if not m:
            tail = self.stderr_tail()
            self.stop()
            raise RuntimeError(f"unexpected first stdout line {first!r}: {tail}")
        self.endpoint = m.group(1)
        self.port = int(m.group(2))
        self.tls_endpoint: str | None = None
        self.tls_port: int | None = None
        self.tls_cert: str | None = None
        if tls:
            self.tls_endpoint, self.tls_port = self._expect(lines, TLS_LISTEN_RE)
            self.tls_cert = self._expect(lines, TLS_CERT_RE)[0]

    def _expect(self, lines: queue.Queue, pattern: re.Pattern) -> tuple:
        try:
            line = lines.get(timeout=20)
        except queue.Empty:
            line = None
        m = pattern.match(line) if line is not None else None
        if not m:
            tail = self.stderr_tail()
            self.stop()
            raise RuntimeError(f"expected {pattern.pattern}, got {line!r}: {tail}")
        return (m.group(1), int(m.group(2))) if pattern.groups == 2 else (m.group(1),)

    def stderr_tail(self, n: int = 4000) -> str:
        try:
            self.log.flush()
            return Path(self.log.name).read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def arn(self, name: str) -> str:
        return f"arn:aws:kinesis:{self.region}:{self.account_id}:stream/{name}"

    def client(self, *, validate: bool = True, region: str | None = None, tls: bool = False,
               verify=None, attempts: int = 1):
        """A boto3 client of the plain endpoint, or with `tls` of the TLS one, trusting `verify`
        (a CA bundle path, or False) — by default the server's own certificate. One attempt per
        call (tests see every error as sent) unless `attempts` asks for botocore's standard
        retries, as an application would use them."""
        extra = {}
        if tls:
            extra["verify"] = self.tls_cert if verify is None else verify
        return boto3.client(
            "kinesis",
            endpoint_url=self.tls_endpoint if tls else self.endpoint,
            **extra,
            region_name=region or self.region,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(
                retries={"total_max_attempts": attempts, **({"mode": "standard"} if attempts > 1 else {})},
                parameter_validation=validate,
                connect_timeout=5,
                read_timeout=30,
                tcp_keepalive=True,
            ),
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        # The log lives as long as the server: nothing is left in the temporary directory.
        Path(self.log.name).unlink(missing_ok=True)


# ----------------------------------------------------------------------------------- helpers


def unique_name(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def active_consumer(client, stream: str, consumer: str, timeout: float = 10.0) -> str:
    """Registers an enhanced fan-out consumer on `stream` and waits until it is ACTIVE; its ARN."""
    arn = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    consumer_arn = client.register_stream_consumer(StreamARN=arn, ConsumerName=consumer)["Consumer"]["ConsumerARN"]
    deadline = time.monotonic() + timeout
    while client.describe_stream_consumer(ConsumerARN=consumer_arn)["ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, f"consumer {consumer_arn} not ACTIVE"
        time.sleep(0.02)
    return consumer_arn


def wait_for_status(client, name: str, status: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if last["StreamStatus"] == status:
            return last
        time.sleep(0.02)
    raise AssertionError(f"stream {name} not {status} after {timeout}s; last={last}")


def wait_until_gone(client, name: str, timeout: float = 10.0) -> ClientError:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.describe_stream_summary(StreamName=name)
        except ClientError as e:
            if e.response["Error"]["Code"] == "ResourceNotFoundException":
                return e
            raise
        time.sleep(0.02)
    raise AssertionError(f"stream {name} still exists after {timeout}s")


def create_active(client, name: str | None = None, shards: int | None = 1, **kwargs) -> str:
    name = name or unique_name()
    params = {"StreamName": name, **kwargs}
    if shards is not None:
        params["ShardCount"] = shards
    client.create_stream(**params)
    wait_for_status(client, name, "ACTIVE")
    return name


def error_of(excinfo) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of a botocore ClientError."""
    e = excinfo.value if hasattr(excinfo, "value") else excinfo
    assert isinstance(e, ClientError), f"expected ClientError, got {e!r}"
    return (
        e.response["ResponseMetadata"]["HTTPStatusCode"],
        e.response["Error"]["Code"],
        e.response["Error"].get("Message", ""),
    )


def md5_hash_key(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def expected_ranges(n: int) -> list[tuple[int, int]]:
    """Hash ranges AWS assigns at creation: step = floor(2^128/N), last shard takes the rest."""
    step = 2**128 // n
    return [(i * step, (i + 1) * step - 1 if i < n - 1 else MAX_HASH) for i in range(n)]


def shard_for_hash(ranges: list[tuple[int, int]], h: int) -> int:
    for i, (lo, hi) in enumerate(ranges):
        if lo <= h <= hi:
            return i
    raise AssertionError(f"hash {h} outside all ranges")


def shard_id(i: int) -> str:
    return f"shardId-{i:012d}"


def read_all(client, name: str, shard: str, iterator_type: str = "TRIM_HORIZON", **kw) -> list[dict]:
    """Read a shard from the given position until a call returns no records (bounded)."""
    it = client.get_shard_iterator(
        StreamName=name, ShardId=shard, ShardIteratorType=iterator_type, **kw
    )["ShardIterator"]
    out: list[dict] = []
    for _ in range(200):
        resp = client.get_records(ShardIterator=it)
        out.extend(resp["Records"])
        it = resp.get("NextShardIterator")
        if not resp["Records"] or not it:
            break
    return out


# ---------------------------------------------------------------------------- raw HTTP access


def signed_headers(
    server: KinesdServer, target: str | None, body: bytes, extra: dict | None = None
) -> dict:
    """Headers of a correctly SigV4-signed awsJson 1.1 request, as botocore would send."""
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target is not None:
        headers["X-Amz-Target"] = target
    if extra:
        headers.update(extra)
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=server.endpoint + "/", data=body, headers=headers
    )
    creds = botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY)
    botocore.auth.SigV4Auth(creds, "kinesis", server.region).add_auth(req)
    return dict(req.headers.items())


def raw_post(server: KinesdServer, target: str | None, body, *, sign: bool = True,
             headers: dict | None = None, timeout: float = 30):
    """POST / with the given body (dict → JSON, str/bytes as is). Returns a requests.Response."""
    import requests

    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    if sign:
        hdrs = signed_headers(server, target, body)
    else:
        hdrs = {"Content-Type": "application/x-amz-json-1.1"}
        if target is not None:
            hdrs["X-Amz-Target"] = target
    if headers:
        for k, v in headers.items():
            # case-insensitive replace / delete
            for existing in [h for h in hdrs if h.lower() == k.lower()]:
                del hdrs[existing]
            if v is not None:
                hdrs[k] = v
    return requests.post(server.endpoint + "/", data=body, headers=hdrs, timeout=timeout)


def target(op: str) -> str:
    return f"Kinesis_20131202.{op}"
