#!/usr/bin/env python3
"""Starts kinesd on a data directory and reports the time to the first answered request and
the resident memory, before and after reading some records.

    scripts/startup_probe.py target/release/kinesd DATA_DIR [more kinesd flags]
"""
import subprocess, sys, time, socket, json, urllib.request, os
binary, datadir = sys.argv[1], sys.argv[2]
extra = sys.argv[3:]
t0 = time.time()
p = subprocess.Popen([binary, "--port", "0", "--data-dir", datadir] + extra, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
line = p.stdout.readline()
port = int(line.strip().rsplit(":", 1)[1])
hdrs = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.ListStreams",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=x",
        "X-Amz-Date": "20261122T000000Z"}
while True:
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=b"{}", headers=hdrs, method="POST")
        body = urllib.request.urlopen(req).read()
        break
    except Exception as e:
        time.sleep(0.001)
t1 = time.time()
def rss():
    for l in open(f"/proc/{p.pid}/status"):
        if l.startswith("VmRSS"): return l.split()[1] + " kB"
print(f"first answered request after {1000*(t1-t0):.0f} ms; RSS {rss()}")
# read some records from every shard of the first stream
def call(target, payload):
    h = dict(hdrs); h["X-Amz-Target"] = "Kinesis_20131202." + target
    return json.loads(urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/", data=json.dumps(payload).encode(), headers=h, method="POST")).read() or b"{}")
n = 0
if json.loads(body)['StreamNames']:
    name = json.loads(body)['StreamNames'][0]
    shards = [sh["ShardId"] for sh in call("ListShards", {"StreamName": name})["Shards"]]
    for shard in shards[::10]:
        it = call("GetShardIterator", {"StreamName": name, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
        for _ in range(3):
            r = call("GetRecords", {"ShardIterator": it, "Limit": 1000}); n += len(r["Records"]); it = r["NextShardIterator"]
print(f"read {n} records; RSS {rss()}")
p.terminate(); p.wait()
