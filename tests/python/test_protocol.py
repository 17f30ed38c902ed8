"""Raw HTTP: awsJson 1.1 framing, common errors, headers, body limits."""

from __future__ import annotations

import base64
import json
import re
import socket
import time
import uuid

import pytest

from kinesd_harness import raw_post, signed_headers, target, unique_name

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
JSON_CT = "application/x-amz-json-1.1"


def _assert_common_headers(resp):
    rid = resp.headers.get("x-amzn-RequestId")
    assert rid and UUID_RE.match(rid), resp.headers
    id2 = resp.headers.get("x-amz-id-2")
    assert id2, resp.headers
    assert 64 <= len(base64.b64decode(id2, validate=True)) <= 80, id2
    assert resp.headers.get("Date")


def _assert_error(resp, status: int, type_: str, message: str | None = None):
    assert resp.status_code == status, (resp.status_code, resp.text)
    _assert_common_headers(resp)
    assert resp.headers["Content-Type"].split(";")[0] == JSON_CT
    body = resp.json()
    assert body["__type"] == type_, body
    header = resp.headers.get("x-amzn-ErrorType")
    assert header is not None, "error responses carry x-amzn-ErrorType"
    assert header.split(":")[0] == body["__type"]
    if message is not None:
        assert (body.get("message") if "message" in body else body.get("Message")) == message
    return body


# --------------------------------------------------------------------------- happy responses


def test_success_headers_and_content_type(server, make_stream):
    name = make_stream(1)
    resp = raw_post(server, target("DescribeStreamSummary"), {"StreamName": name})
    assert resp.status_code == 200
    _assert_common_headers(resp)
    assert resp.headers["Content-Type"].split(";")[0] == JSON_CT
    assert int(resp.headers["Content-Length"]) == len(resp.content)
    assert "x-amzn-ErrorType" not in resp.headers
    body = resp.json()["StreamDescriptionSummary"]
    assert "StreamId" not in body
    # Timestamps are JSON numbers of seconds, written as plain decimals (no exponent).
    m = re.search(rb'"StreamCreationTimestamp"\s*:\s*([^,}]+)', resp.content)
    assert m and re.fullmatch(rb"\d{10}(\.\d{1,3})?", m.group(1).strip()), m and m.group(1)
    assert abs(float(m.group(1)) - time.time()) < 120


def test_request_ids_are_unique(server):
    ids = {raw_post(server, target("ListStreams"), {}).headers["x-amzn-RequestId"]
           for _ in range(5)}
    assert len(ids) == 5


def test_void_operation_returns_empty_200(server):
    name = unique_name("void")
    resp = raw_post(server, target("CreateStream"), {"StreamName": name, "ShardCount": 1})
    assert resp.status_code == 200
    _assert_common_headers(resp)
    assert resp.content == b"", "AWS answers void operations with an empty body"
    time.sleep(0.3)
    raw_post(server, target("DeleteStream"), {"StreamName": name})


def test_put_records_failed_record_count_zero_on_wire(server, make_stream):
    name = make_stream(1)
    resp = raw_post(server, target("PutRecords"), {
        "StreamName": name, "Records": [{"Data": "aGk=", "PartitionKey": "k"}]})
    assert resp.status_code == 200
    body = resp.json()
    assert body["FailedRecordCount"] == 0
    assert set(body["Records"][0]) == {"SequenceNumber", "ShardId"}
    # Sequence numbers and hash keys are JSON strings, never numbers.
    assert isinstance(body["Records"][0]["SequenceNumber"], str)


def test_unknown_members_and_nulls_are_ignored(server, make_stream):
    name = make_stream(1)
    resp = raw_post(server, target("DescribeStreamSummary"),
                    {"StreamName": name, "NoSuchMember": {"x": [1, 2]}, "StreamARN": None})
    assert resp.status_code == 200, resp.text


def test_content_type_parameters_are_ignored(server, make_stream):
    name = make_stream(1)
    body = json.dumps({"StreamName": name}).encode()
    hdrs = signed_headers(server, target("DescribeStreamSummary"), body,
                          {"Content-Type": "application/x-amz-json-1.1; charset=utf-8"})
    import requests
    resp = requests.post(server.endpoint + "/", data=body, headers=hdrs, timeout=10)
    assert resp.status_code == 200, resp.text


def test_json_timestamp_with_fraction_and_exponent(server, make_stream):
    """AT_TIMESTAMP as fractional seconds (JS/Java/Go) and exponent notation are accepted."""
    name = make_stream(1)
    raw_post(server, target("PutRecord"), {"StreamName": name, "Data": "eA==", "PartitionKey": "k"})
    for ts in (1600000000.123, "1.6E9"):
        body = ('{"StreamName": "%s", "ShardId": "shardId-000000000000", '
                '"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": %s}' % (name, ts))
        resp = raw_post(server, target("GetShardIterator"), body)
        assert resp.status_code == 200, (ts, resp.text)
        it = resp.json()["ShardIterator"]
        recs = raw_post(server, target("GetRecords"), {"ShardIterator": it}).json()["Records"]
        assert [r["Data"] for r in recs] == ["eA=="]
        # Response timestamps are plain decimal seconds.
        assert isinstance(recs[0]["ApproximateArrivalTimestamp"], (int, float))


# ------------------------------------------------------------------------------ common errors


def test_bad_json_is_serialization_exception(server):
    for body in ('{"StreamName":', "hello", "[1,2", "\x00\x01"):
        resp = raw_post(server, target("DescribeStreamSummary"), body)
        _assert_error(resp, 400, "SerializationException")


def test_empty_body_is_serialization_exception(server):
    resp = raw_post(server, target("ListStreams"), b"")
    _assert_error(resp, 400, "SerializationException")


@pytest.mark.parametrize("op,body,message", [
    ("CreateStream", {"StreamName": "x", "ShardCount": "23"},
     "class java.lang.String can not be converted to an Integer"),
    ("CreateStream", {"StreamName": "x", "ShardCount": True},
     "class java.lang.Boolean can not be converted to an Integer"),
    ("DescribeStreamSummary", {"StreamName": True},
     "class java.lang.Boolean can not be converted to an String"),
    ("DescribeStreamSummary", {"StreamName": ["a"]}, "Start of list found where not expected"),
    ("DescribeStreamSummary", {"StreamName": {"a": 1}},
     "Start of structure or map found where not expected."),
    ("PutRecords", {"StreamName": "x", "Records": "nope"}, "Expected list or null"),
])
def test_wrong_json_types_are_serialization_exception(server, op, body, message):
    resp = raw_post(server, target(op), body)
    _assert_error(resp, 400, "SerializationException", message)


def test_missing_authorization(server):
    resp = raw_post(server, target("ListStreams"), {}, sign=False)
    _assert_error(resp, 400, "MissingAuthenticationTokenException", "Missing Authentication Token")


def test_malformed_authorization(server):
    resp = raw_post(server, target("ListStreams"), {}, sign=False,
                    headers={"Authorization": "X"})
    _assert_error(
        resp, 400, "IncompleteSignatureException",
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=X")


def test_authorization_missing_signed_headers(server):
    auth = "AWS4-HMAC-SHA256 Credential=test/20240101/us-west-2/kinesis/aws4_request, Signature=ab"
    resp = raw_post(server, target("ListStreams"), {}, sign=False,
                    headers={"Authorization": auth, "X-Amz-Date": "20240101T000000Z"})
    body = _assert_error(resp, 400, "IncompleteSignatureException")
    msg = body.get("message") or body.get("Message")
    assert "Authorization header requires 'SignedHeaders' parameter." in msg


def test_unknown_target(server):
    for tgt in ("Kinesis_20131202.NoSuchOperation", "Kinesis_20131202.ListStream",
                "Kinesis_20990101.ListStreams", "ListStreams"):
        resp = raw_post(server, tgt, {})
        _assert_error(resp, 400, "UnknownOperationException")


def test_serialization_and_unknown_operation_win_over_missing_auth(server):
    resp = raw_post(server, target("ListStreams"), "hello", sign=False)
    _assert_error(resp, 400, "SerializationException")
    resp = raw_post(server, "Kinesis_20131202.Whatever", {}, sign=False)
    _assert_error(resp, 400, "UnknownOperationException")
    resp = raw_post(server, None, {}, sign=False)
    _assert_error(resp, 400, "UnknownOperationException")


def test_missing_target(server):
    resp = raw_post(server, None, {})
    _assert_error(resp, 400, "UnknownOperationException")


def test_modeled_error_headers(server):
    resp = raw_post(server, target("DescribeStream"), {"StreamName": "no-such-raw-stream"})
    body = _assert_error(resp, 400, "ResourceNotFoundException",
                         "Stream no-such-raw-stream under account 123456789012 not found.")
    assert set(body) == {"__type", "message"}


def test_validation_error_headers(server):
    resp = raw_post(server, target("DescribeStream"), {"StreamName": "bad name"})
    _assert_error(resp, 400, "ValidationException",
                  "1 validation error detected: Value 'bad name' at 'streamName' failed to "
                  "satisfy constraint: Member must satisfy regular expression pattern: "
                  "[a-zA-Z0-9_.-]+")


def test_path_is_ignored(server, make_stream):
    name = make_stream(1)
    body = json.dumps({"StreamName": name}).encode()
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import requests
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=server.endpoint + "/some/path", data=body,
        headers={"Content-Type": JSON_CT, "X-Amz-Target": target("DescribeStreamSummary")})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "kinesis",
                            server.region).add_auth(req)
    resp = requests.post(server.endpoint + "/some/path", data=body, headers=dict(req.headers),
                         timeout=10)
    assert resp.status_code == 200, resp.text


# ------------------------------------------------------------------------------- body limits


def _send_raw(port: int, head: bytes, body_chunks, timeout: float = 30.0) -> bytes:
    """Send a request over a plain socket, tolerating an early close while writing, then read
    whatever response arrives. Returns the raw response bytes (possibly empty)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(head)
        try:
            for chunk in body_chunks:
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                out += data
                if b"\r\n\r\n" in out:
                    head_end = out.index(b"\r\n\r\n")
                    m = re.search(rb"(?i)content-length:\s*(\d+)", out[:head_end])
                    if m and len(out) >= head_end + 4 + int(m.group(1)):
                        break
        except (ConnectionResetError, socket.timeout):
            pass
        return out
    finally:
        s.close()


def test_oversized_body_is_refused_with_a_response(server, make_stream):
    name = make_stream(1, MaxRecordSizeInKiB=10240)
    size = 15 * 1024 * 1024 + 17
    prefix = ('{"StreamName":"%s","PartitionKey":"k","Data":"' % name).encode()
    suffix = b'"}'
    data_len = size - len(prefix) - len(suffix)
    data_len -= data_len % 4
    body_len = len(prefix) + data_len + len(suffix)
    hdrs = {"Content-Type": JSON_CT, "X-Amz-Target": target("PutRecord"),
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-west-2/kinesis/"
                             "aws4_request, SignedHeaders=content-type;host;x-amz-date;"
                             "x-amz-target, Signature=" + "0" * 64,
            "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
            "Host": f"127.0.0.1:{server.port}", "Content-Length": str(body_len)}
    head = ("POST / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
            + "\r\n").encode()
    block = b"A" * (1024 * 1024)

    def chunks():
        yield prefix
        left = data_len
        while left > 0:
            n = min(left, len(block))
            yield block[:n]
            left -= n
        yield suffix

    out = _send_raw(server.port, head, chunks())
    assert out, "the server dropped the connection without an HTTP response"
    status = int(out.split(b" ", 2)[1])
    assert 400 <= status < 500, out[:300]
    # Nothing was stored.
    from kinesd_harness import read_all, shard_id
    assert read_all(server.client(), name, shard_id(0)) == []
    # The server is still healthy.
    assert raw_post(server, target("ListStreams"), {}).status_code == 200


def test_large_legal_body_is_accepted(server, make_stream):
    """~13.4 MiB of JSON (a 10 MiB record) must pass the transport's body limit."""
    name = make_stream(1, MaxRecordSizeInKiB=10240)
    data = base64.b64encode(b"\x07" * (10 * 1024 * 1024 - 1)).decode()
    resp = raw_post(server, target("PutRecord"), {"StreamName": name, "PartitionKey": "k",
                                                  "Data": data})
    assert resp.status_code == 200, resp.text[:500]
    assert resp.json()["ShardId"] == "shardId-000000000000"


def test_keep_alive_connection_serves_many_requests(server):
    import requests
    with requests.Session() as sess:
        for _ in range(20):
            body = b"{}"
            hdrs = signed_headers(server, target("ListStreams"), body)
            r = sess.post(server.endpoint + "/", data=body, headers=hdrs, timeout=10)
            assert r.status_code == 200


def test_request_id_uuid_format(server):
    r = raw_post(server, target("ListStreams"), {})
    uuid.UUID(r.headers["x-amzn-RequestId"])


# --------------------------------------------------------------------------- AWS quirks (kinesalite's AWS-validated connection tests)


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "application/x-amz-json-1.0"])
def test_body_of_unknown_content_type_is_refused_in_xml(server, content_type):
    import requests

    headers = {"Content-Type": content_type} if content_type else {}
    # Without a target naming an operation: 403 AccessDeniedException.
    for t in (None, "Whatever", "Kinesis_20131202."):
        hdrs = dict(headers, **({"X-Amz-Target": t} if t else {}))
        resp = requests.post(server.endpoint + "/", data=b"{}", headers=hdrs, timeout=10)
        assert resp.status_code == 403, (t, resp.status_code, resp.text)
        assert resp.text == ("<AccessDeniedException>\n  <Message>Unable to determine service/operation name "
                             "to be authorized</Message>\n</AccessDeniedException>\n")
    # With one: 404 UnknownOperationException, and nothing is created.
    name = unique_name()
    hdrs = dict(headers, **{"X-Amz-Target": "Kinesis_20131202.CreateStream"})
    resp = requests.post(server.endpoint + "/", data=json.dumps({"StreamName": name, "ShardCount": 1}),
                         headers=hdrs, timeout=10)
    assert (resp.status_code, resp.text) == (404, "<UnknownOperationException/>\n")
    listed = raw_post(server, target("ListStreams"), {}).json()["StreamNames"]
    assert name not in listed


def test_legacy_application_json_gets_the_coral_envelope(server):
    import requests

    name = unique_name()
    hdrs = {"Content-Type": "application/json", "X-Amz-Target": "Kinesis_20131202.CreateStream"}
    resp = requests.post(server.endpoint + "/", data=json.dumps({"StreamName": name, "ShardCount": 1}),
                         headers=hdrs, timeout=10)
    assert resp.status_code == 404 and resp.headers["Content-Type"] == "application/json"
    assert resp.content == (b'{"Output":{"__type":"com.amazon.coral.service#UnknownOperationException"},'
                            b'"Version":"1.0"}')
    assert name not in raw_post(server, target("ListStreams"), {}).json()["StreamNames"]
    hdrs["Content-Type"] = "application/json ;"
    resp = requests.post(server.endpoint + "/", data=b"hello", headers=hdrs, timeout=10)
    assert resp.status_code == 400 and resp.headers["Content-Type"] == "application/json"
    assert resp.content == (b'{"Output":{"__type":"com.amazon.coral.service#SerializationException"},'
                            b'"Version":"1.0"}')
    # Without a body it is answered like any request without a known codec: in CBOR.
    resp = requests.post(server.endpoint + "/", data=b"", headers={"Content-Type": "application/json"}, timeout=10)
    assert (resp.status_code, resp.headers["Content-Type"]) == (400, "application/x-amz-cbor-1.1")


def test_cors_preflight_has_no_extended_request_id(server):
    import requests

    resp = requests.options(server.endpoint + "/", headers={"Origin": "http://example.com",
                                                           "Access-Control-Request-Method": "POST"}, timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Access-Control-Max-Age"] == "172800"
    assert "x-amz-id-2" not in resp.headers
    assert resp.text == ""


def test_timestamp_given_as_string_is_serialization_exception(server, make_stream):
    name = make_stream(1)
    resp = raw_post(server, target("ListShards"), {"StreamName": name, "StreamCreationTimestamp": "23"})
    _assert_error(resp, 400, "SerializationException", "class java.lang.String can not be converted to milliseconds since epoch")


def test_shard_iterators_have_aws_sizes(kinesis, make_stream):
    for length in (1, 15, 40, 128):
        name = make_stream(1, name=("s" * length)[:length - 8] + unique_name()[-8:] if length > 8 else None)
        it = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                        ShardIteratorType="LATEST")["ShardIterator"]
        raw = base64.b64decode(it)
        assert raw[:8] == b"\x00" * 7 + b"\x01", raw[:8]
        assert len(raw) >= 152 and (len(raw) - 152) % 16 == 0, (length, len(raw))


def test_missing_shard_is_reported_before_a_malformed_sequence_number(raw_kinesis, make_stream):
    from botocore.exceptions import ClientError

    name = make_stream(1)
    with pytest.raises(ClientError) as ei:
        raw_kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-5", ShardIteratorType="AT_SEQUENCE_NUMBER",
                                       StartingSequenceNumber="5")
    err = ei.value.response["Error"]
    assert err["Code"] == "ResourceNotFoundException"
    assert err["Message"] == f"Shard shardId-000000000005 in stream {name} under account 123456789012 does not exist"


@pytest.mark.parametrize("content_type", [None, "application/x-amz-json-1.0", "text/plain"])
def test_errors_without_a_known_content_type_are_cbor(server, content_type):
    import requests

    headers = {"X-Amz-Target": "Kinesis_20131202.Whatever"}
    if content_type:
        headers["Content-Type"] = content_type
    resp = requests.post(server.endpoint + "/", data=b"", headers=headers, timeout=10)
    assert resp.status_code == 400
    assert resp.headers["Content-Type"] == "application/x-amz-cbor-1.1"
    assert resp.content == b"\xbf\x66__type\x78\x19UnknownOperationException\xff"
    headers["X-Amz-Target"] = "Kinesis_20131202.ListStreams"
    resp = requests.post(server.endpoint + "/", data=b"", headers=headers, timeout=10)
    assert resp.status_code == 400
    assert resp.content == b"\xbf\x66__type\x76SerializationException\xff"
