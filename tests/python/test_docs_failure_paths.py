"""docs/testing-failure-paths.md's examples, run as they are written: its limits.toml and
faults.toml start a kinesd, and its Python blocks run in order in one namespace against it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from kinesd_harness import KinesdServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing-failure-paths.md"


def blocks(text: str, info: str) -> list[str]:
    return re.findall(r"^```" + re.escape(info) + r"\n(.*?)^```", text, flags=re.S | re.M)


def test_the_guides_examples_run(tmp_path, monkeypatch):
    text = DOC.read_text()
    args = ["--enforce-limits", "--fault-seed", "1"]
    for name, flag in [("limits.toml", "--limits"), ("faults.toml", "--faults")]:
        (found,) = blocks(text, f"toml {name}")
        (tmp_path / name).write_text(found)
        args += [flag, str(tmp_path / name)]
    python = blocks(text, "python")
    assert len(python) >= 4
    srv = KinesdServer(extra_args=args)
    try:
        monkeypatch.setenv("KINESD_ENDPOINT", srv.endpoint)
        namespace: dict = {}
        for i, block in enumerate(python):
            exec(compile(block, f"{DOC.name} python block {i + 1}", "exec"), namespace)
    finally:
        srv.stop()
