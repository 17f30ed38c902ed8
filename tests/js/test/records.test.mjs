// Data plane through the JS SDK v3 over HTTP/2: put/get round trips, AT_TIMESTAMP with
// fractional seconds (the JS SDK sends e.g. 1700000000.123), PutRecords with partial inputs.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";

// The SDK ships CommonJS; a default import works on every Node version.
import kinesisSdk from "@aws-sdk/client-kinesis";

const {
  CreateStreamCommand,
  DeleteStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
} = kinesisSdk;

import {
  expectedRanges,
  h2,
  makeClient,
  md5HashKey,
  shardForHash,
  shardId,
  sleep,
  startServer,
  text,
  uniqueName,
  waitForStatus,
} from "./helpers.mjs";

let server;
let client;
const created = [];

async function stream(shards = 1) {
  const name = uniqueName();
  created.push(name);
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitForStatus(client, name, "ACTIVE");
  return name;
}

async function iterator(name, shard, input) {
  const out = await client.send(new GetShardIteratorCommand({ StreamName: name, ShardId: shardId(shard), ...input }));
  return out.ShardIterator;
}

async function readAll(name, shard, input = { ShardIteratorType: "TRIM_HORIZON" }) {
  let it = await iterator(name, shard, input);
  const out = [];
  for (let i = 0; i < 100 && it; i++) {
    const r = await client.send(new GetRecordsCommand({ ShardIterator: it }));
    out.push(...r.Records);
    if (r.Records.length === 0) break;
    it = r.NextShardIterator;
  }
  return out;
}

before(async () => {
  server = await startServer();
  client = makeClient(server);
});

after(async () => {
  for (const name of created) {
    try {
      await client.send(new DeleteStreamCommand({ StreamName: name }));
    } catch {
      // ignore
    }
  }
  client?.destroy();
  await server?.stop();
});

describe("put / get round trips", () => {
  test("PutRecord then GetRecords returns identical bytes, keys and sequence numbers", async () => {
    const name = await stream(1);
    const payloads = [new Uint8Array(0), randomBytes(64), Buffer.from("ünïcødé 💣")];
    const puts = [];
    for (const [i, Data] of payloads.entries()) {
      puts.push(await client.send(new PutRecordCommand({ StreamName: name, Data, PartitionKey: `pk${i}` })));
    }
    for (const p of puts) {
      assert.equal(p.ShardId, shardId(0));
      assert.match(p.SequenceNumber, /^\d{56}$/);
    }
    const it = await iterator(name, 0, { ShardIteratorType: "TRIM_HORIZON" });
    const got = await client.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10 }));
    assert.equal(got.Records.length, 3);
    got.Records.forEach((r, i) => {
      assert.deepEqual(Buffer.from(r.Data), Buffer.from(payloads[i]));
      assert.equal(r.PartitionKey, `pk${i}`);
      assert.equal(r.SequenceNumber, puts[i].SequenceNumber);
      assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
      assert.ok(Math.abs(Date.now() - r.ApproximateArrivalTimestamp.getTime()) < 60000);
    });
    assert.equal(got.MillisBehindLatest, 0);
    assert.notEqual(got.NextShardIterator, it);
    // Limit: one at a time, a fresh iterator each call.
    const one = await client.send(new GetRecordsCommand({ ShardIterator: it, Limit: 1 }));
    assert.equal(one.Records.length, 1);
    assert.equal(one.Records[0].SequenceNumber, puts[0].SequenceNumber);
  });

  test("AT_TIMESTAMP with millisecond (fractional-second) precision", async () => {
    const name = await stream(1);
    const r1 = await client.send(new PutRecordCommand({ StreamName: name, Data: Buffer.from("first"), PartitionKey: "k" }));
    await sleep(40);
    const r2 = await client.send(new PutRecordCommand({ StreamName: name, Data: Buffer.from("second"), PartitionKey: "k" }));
    const all = await readAll(name, 0);
    assert.deepEqual(all.map((r) => r.SequenceNumber), [r1.SequenceNumber, r2.SequenceNumber]);
    const a1 = all[0].ApproximateArrivalTimestamp.getTime();
    const a2 = all[1].ApproximateArrivalTimestamp.getTime();
    assert.ok(a2 - a1 >= 30, `arrival timestamps carry milliseconds (${a1}, ${a2})`);

    const at = async (ms) =>
      (await readAll(name, 0, { ShardIteratorType: "AT_TIMESTAMP", Timestamp: new Date(ms) })).map((r) => text(r.Data));
    assert.deepEqual(await at(a1), ["first", "second"], "a record arriving exactly at T is included");
    assert.deepEqual(await at(a1 + 1), ["second"], "one millisecond later skips the first record");
    assert.deepEqual(await at(a2), ["second"]);
    assert.deepEqual(await at(a2 + 1), []);
  });

  test("AT_TIMESTAMP in the future names the exact milliseconds sent", async () => {
    const name = await stream(1);
    const future = Math.floor(Date.now() / 1000) * 1000 + 3600_000 + 123;
    await assert.rejects(
      iterator(name, 0, { ShardIteratorType: "AT_TIMESTAMP", Timestamp: new Date(future) }),
      (err) => {
        assert.equal(err.name, "InvalidArgumentException");
        assert.equal(err.$metadata.httpStatusCode, 400);
        const m = /^The timestampInMillis parameter cannot be greater than the currentTimestampInMillis\. timestampInMillis: (\d+), currentTimestampInMillis: (\d+)$/.exec(err.message);
        assert.ok(m, err.message);
        assert.equal(Number(m[1]), future);
        assert.ok(Math.abs(Number(m[2]) - Date.now()) < 60000);
        return true;
      },
    );
  });

  test("AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER / LATEST", async () => {
    const name = await stream(1);
    const puts = [];
    for (let i = 0; i < 3; i++) {
      puts.push(await client.send(new PutRecordCommand({ StreamName: name, Data: Buffer.from(`r${i}`), PartitionKey: "k" })));
    }
    const atSeq = await readAll(name, 0, { ShardIteratorType: "AT_SEQUENCE_NUMBER", StartingSequenceNumber: puts[1].SequenceNumber });
    assert.deepEqual(atSeq.map((r) => text(r.Data)), ["r1", "r2"]);
    const afterSeq = await readAll(name, 0, { ShardIteratorType: "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber: puts[1].SequenceNumber });
    assert.deepEqual(afterSeq.map((r) => text(r.Data)), ["r2"]);
    const latest = await iterator(name, 0, { ShardIteratorType: "LATEST" });
    assert.deepEqual((await client.send(new GetRecordsCommand({ ShardIterator: latest }))).Records, []);
    await client.send(new PutRecordCommand({ StreamName: name, Data: Buffer.from("late"), PartitionKey: "k" }));
    const fromLatest = await client.send(new GetRecordsCommand({ ShardIterator: latest }));
    assert.deepEqual(fromLatest.Records.map((r) => text(r.Data)), ["late"]);
  });

  test("many concurrent requests over h2 all succeed and keep per-shard order", async () => {
    const name = await stream(2);
    const before = h2.requests;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        client.send(new PutRecordCommand({ StreamName: name, Data: Buffer.from(`c${i}`), PartitionKey: `key-${i}` })),
      ),
    );
    assert.ok(h2.requests - before >= 40, "each call was an HTTP/2 stream");
    const ranges = expectedRanges(2);
    results.forEach((r, i) => assert.equal(r.ShardId, shardId(shardForHash(ranges, md5HashKey(`key-${i}`)))));
    for (const s of [0, 1]) {
      const want = results.filter((r) => r.ShardId === shardId(s)).map((r) => BigInt(r.SequenceNumber));
      want.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const got = (await readAll(name, s)).map((r) => BigInt(r.SequenceNumber));
      assert.deepEqual(got, want);
    }
  });
});

describe("PutRecords with partial inputs", () => {
  test("optional members omitted on some records; results in request order", async () => {
    const name = await stream(3);
    const ranges = expectedRanges(3);
    const records = [
      { Data: Buffer.from("plain"), PartitionKey: "pk-1" },
      { Data: Buffer.from("explicit"), PartitionKey: "a", ExplicitHashKey: ranges[2][0].toString() },
      { Data: new Uint8Array(0), PartitionKey: "empty-data" },
      { Data: Buffer.from("max-key"), PartitionKey: "z", ExplicitHashKey: ranges[2][1].toString() },
      { Data: Buffer.from("zero-key"), PartitionKey: "pk-1", ExplicitHashKey: "0" },
    ];
    const out = await client.send(new PutRecordsCommand({ StreamName: name, Records: records }));
    assert.equal(out.FailedRecordCount, 0);
    assert.equal(out.Records.length, records.length);
    const want = records.map((r) =>
      shardId(shardForHash(ranges, r.ExplicitHashKey !== undefined ? BigInt(r.ExplicitHashKey) : md5HashKey(r.PartitionKey))),
    );
    assert.deepEqual(out.Records.map((r) => r.ShardId), want);
    assert.deepEqual(want, [shardId(2), shardId(2), want[2], shardId(2), shardId(0)]);
    for (const r of out.Records) {
      assert.match(r.SequenceNumber, /^\d{56}$/);
      assert.equal(r.ErrorCode, undefined);
    }
    const shard2 = await readAll(name, 2);
    const bySeq = new Map(shard2.map((r) => [r.SequenceNumber, text(r.Data)]));
    assert.equal(bySeq.get(out.Records[1].SequenceNumber), "explicit");
    assert.equal(bySeq.get(out.Records[3].SequenceNumber), "max-key");
  });

  test("a record without PartitionKey is a ValidationException naming its position", async () => {
    const name = await stream(1);
    await assert.rejects(
      client.send(new PutRecordsCommand({
        StreamName: name,
        Records: [{ Data: Buffer.from("ok"), PartitionKey: "k" }, { Data: Buffer.from("no key") }],
      })),
      (err) => {
        assert.equal(err.name, "ValidationException");
        assert.equal(err.$metadata.httpStatusCode, 400);
        assert.equal(
          err.message,
          "1 validation error detected: Value null at 'records.2.member.partitionKey' failed to satisfy constraint: Member must not be null",
        );
        return true;
      },
    );
    assert.deepEqual(await readAll(name, 0), [], "nothing was written");
  });

  test("a record without Data is a ValidationException", async () => {
    const name = await stream(1);
    await assert.rejects(
      client.send(new PutRecordsCommand({ StreamName: name, Records: [{ PartitionKey: "k" }] })),
      (err) => {
        assert.equal(err.name, "ValidationException");
        assert.equal(
          err.message,
          "1 validation error detected: Value null at 'records.1.member.data' failed to satisfy constraint: Member must not be null",
        );
        return true;
      },
    );
  });

  test("PutRecords by StreamARN only", async () => {
    const name = await stream(1);
    const out = await client.send(
      new PutRecordsCommand({ StreamARN: server.arn(name), Records: [{ Data: Buffer.from("x"), PartitionKey: "k" }] }),
    );
    assert.equal(out.FailedRecordCount, 0);
    const { Shards } = await client.send(new ListShardsCommand({ StreamARN: server.arn(name) }));
    assert.equal(Shards.length, 1);
  });
});
