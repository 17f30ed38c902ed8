// Failure paths with the JS SDK v3: a throttled PutRecords under --enforce-limits (per-record
// ProvisionedThroughputExceededException with AWS's message, the SDK's own retries of PutRecord
// converging), and an injected per-record fault (--faults) whose failed records are never read.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import kinesisSdk from "@aws-sdk/client-kinesis";

const { CreateStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, PutRecordCommand, PutRecordsCommand } =
  kinesisSdk;

import { makeClient, shardId, sleep, startServer, uniqueName, waitForStatus } from "./helpers.mjs";

const dir = mkdtempSync(path.join(tmpdir(), "kinesd-js-failure-"));
// Nothing is left in the temporary directory after the run.
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name, text) {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function createActive(client, name) {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  await waitForStatus(client, name, "ACTIVE");
  return name;
}

async function readAll(client, name) {
  const { ShardIterator } = await client.send(
    new GetShardIteratorCommand({ StreamName: name, ShardId: shardId(0), ShardIteratorType: "TRIM_HORIZON" }),
  );
  const out = await client.send(new GetRecordsCommand({ ShardIterator, Limit: 10000 }));
  return out.Records.map((r) => Buffer.from(r.Data).toString());
}

const records = (n, prefix) =>
  Array.from({ length: n }, (_, i) => ({ Data: Buffer.from(`${prefix}${i}`), PartitionKey: "k" }));

describe("throttling under --enforce-limits", () => {
  let server;
  let client;
  before(async () => {
    const limits = file("limits.toml", "[shard]\nwrite-records-per-second = 20\n");
    server = await startServer({ extraArgs: ["--enforce-limits", "--limits", limits] });
    client = makeClient(server);
  });
  after(async () => {
    client?.destroy();
    await server?.stop();
  });

  test("PutRecords fails the records over the shard's rate, per record", async () => {
    const name = await createActive(client, uniqueName("throttle"));
    const out = await client.send(new PutRecordsCommand({ StreamName: name, Records: records(25, "r") }));
    assert.equal(out.FailedRecordCount, 5);
    assert.deepEqual(out.Records[24], {
      ErrorCode: "ProvisionedThroughputExceededException",
      ErrorMessage: `Rate exceeded for shard ${shardId(0)} in stream ${name} under account ${server.accountId}.`,
    });
    await sleep(1050);
    const retried = await client.send(new PutRecordsCommand({ StreamName: name, Records: records(5, "again") }));
    assert.equal(retried.FailedRecordCount, 0);
  });

  test("the SDK's own retries of PutRecord converge", async () => {
    const name = await createActive(client, uniqueName("retry"));
    const retrying = new KinesisClient({
      endpoint: server.endpoint,
      region: server.region,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      maxAttempts: 10,
    });
    try {
      let attempts = 0;
      for (let i = 0; i < 30; i++) {
        const out = await retrying.send(new PutRecordCommand({ StreamName: name, Data: Buffer.from(`${i}`), PartitionKey: "k" }));
        attempts += out.$metadata.attempts;
      }
      assert.ok(attempts > 30, `some calls were retried (${attempts} attempts for 30 records)`);
      assert.equal((await readAll(client, name)).length, 30);
    } finally {
      retrying.destroy();
    }
  });
});

describe("an injected per-record fault", () => {
  let server;
  let client;
  before(async () => {
    const faults = file(
      "faults.toml",
      '[[fault]]\noperations = ["PutRecords"]\nstreams = "faulty-*"\nerror = "InternalFailure"\nrecord_probability = 0.5\n',
    );
    server = await startServer({ extraArgs: ["--faults", faults, "--fault-seed", "3"] });
    client = makeClient(server);
  });
  after(async () => {
    client?.destroy();
    await server?.stop();
  });

  test("fails about half the records, and exactly those are missing", async () => {
    const name = await createActive(client, uniqueName("faulty"));
    const out = await client.send(new PutRecordsCommand({ StreamName: name, Records: records(100, "d") }));
    const failed = out.Records.flatMap((r, i) => (r.ErrorCode ? [i] : []));
    assert.ok(failed.length > 20 && failed.length < 80, `${failed.length} failed`);
    for (const i of failed) {
      assert.deepEqual(out.Records[i], { ErrorCode: "InternalFailure", ErrorMessage: "Internal service failure." });
    }
    const expected = out.Records.flatMap((r, i) => (r.ErrorCode ? [] : [`d${i}`]));
    assert.deepEqual(await readAll(client, name), expected);
  });
});
