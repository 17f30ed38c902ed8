"""The web console's HTTP side (issue 15, item 3): `GET /console` is an HTML page and its
assets are served from the binary with their types, a strict content security policy and
`no-cache`; a Kinesis POST to the same path is still a Kinesis request. What the page does in a
browser is tests/js/test/console.test.mjs (headless Chromium)."""

from __future__ import annotations

import re

import boto3
import pytest
import requests
from botocore.config import Config

from kinesd_harness import KinesdServer, unique_name


@pytest.fixture(scope="module")
def srv():
    s = KinesdServer(create_ms=0, region="ap-south-1")
    yield s
    s.stop()


def test_the_console_is_an_html_page_with_its_assets(srv):
    r = requests.get(srv.endpoint + "/console", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.text.startswith("<!doctype html>") and "<title>kinesd console</title>" in r.text
    # The region the page signs for is the server's; without --credentials it signs with
    # placeholder keys.
    assert '<meta name="kinesd-region" content="ap-south-1">' in r.text
    assert '<meta name="kinesd-auth" content="none">' in r.text
    csp = r.headers["content-security-policy"]
    assert csp.startswith("default-src 'none';") and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-content-type-options"] == "nosniff"

    assets = re.findall(r'(?:src|href)="(/console/[^"]+)"', r.text)
    assert sorted(assets) == ["/console/app.js", "/console/style.css"]
    # The modules import one another relative to themselves: follow every import.
    seen = set()
    while True:
        new = [p for p in assets if p.endswith(".js") and p not in seen]
        if not new:
            break
        for path in new:
            seen.add(path)
            body = requests.get(srv.endpoint + path, timeout=10).text
            assets += ["/console/" + m for m in re.findall(r'from "\./([a-z]+\.js)"', body)]
    assets = sorted(set(assets))
    assert len(assets) >= 7, assets
    for path in assets:
        a = requests.get(srv.endpoint + path, timeout=10)
        assert a.status_code == 200, path
        kind = "text/css" if path.endswith(".css") else "text/javascript"
        assert a.headers["content-type"] == kind + "; charset=utf-8", path
        assert a.headers["content-security-policy"] == csp
        assert a.content


def test_head_and_unknown_assets(srv):
    get = requests.get(srv.endpoint + "/console/", timeout=10)
    head = requests.head(srv.endpoint + "/console", timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(get.content)
    missing = requests.get(srv.endpoint + "/console/nope.js", timeout=10)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/plain")
    assert requests.get(srv.endpoint + "/consoles", timeout=10).status_code == 403, "not a console path"


def test_a_kinesis_post_to_the_console_path_is_a_kinesis_request(srv):
    name = unique_name("console-path")
    k = boto3.client(
        "kinesis", endpoint_url=srv.endpoint + "/console", region_name=srv.region,
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1}),
    )
    k.create_stream(StreamName=name, ShardCount=1)
    assert name in k.list_streams()["StreamNames"]


def test_with_credentials_the_page_asks_for_them_and_holds_no_data(tmp_path):
    creds = tmp_path / "credentials.toml"
    creds.write_text('[[credential]]\naccess_key_id = "AKIACONSOLEPY"\nsecret_access_key = "s"\n'
                     'account_id = "123456789012"\n')
    creds.chmod(0o600)
    s = KinesdServer(create_ms=0, extra_args=["--credentials", str(creds)])
    try:
        r = requests.get(s.endpoint + "/console", timeout=10)
        assert r.status_code == 200
        assert '<meta name="kinesd-auth" content="credentials">' in r.text
        # Without a signature the API itself still refuses: the page opens nothing.
        denied = requests.post(s.endpoint + "/", data="{}", timeout=10, headers={
            "content-type": "application/x-amz-json-1.1", "x-amz-target": "Kinesis_20131202.ListStreams"})
        assert denied.status_code == 400 and denied.json()["__type"] == "MissingAuthenticationTokenException"
    finally:
        s.stop()
