// Error shapes as the JS SDK v3 surfaces them: modeled class, name, $fault,
// $metadata.httpStatusCode / requestId / extendedRequestId, and exact messages.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

// The SDK ships CommonJS; a default import works on every Node version.
import kinesisSdk from "@aws-sdk/client-kinesis";

const {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  InvalidArgumentException,
  KinesisServiceException,
  ListShardsCommand,
  PutRecordCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  ValidationException,
} = kinesisSdk;

import { makeClient, shardId, startServer, uniqueName, waitForStatus } from "./helpers.mjs";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let server;
let client;
let name;

before(async () => {
  server = await startServer();
  client = makeClient(server);
  name = uniqueName("err");
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  await waitForStatus(client, name, "ACTIVE");
});

after(async () => {
  try {
    await client.send(new DeleteStreamCommand({ StreamName: name }));
  } catch {
    // ignore
  }
  client?.destroy();
  await server?.stop();
});

function expectError(Klass, code, message) {
  return (err) => {
    assert.ok(err instanceof Klass, `expected ${Klass.name}, got ${err?.name}: ${err?.message}`);
    assert.ok(err instanceof KinesisServiceException);
    assert.equal(err.name, code);
    assert.equal(err.$fault, "client");
    assert.equal(err.$metadata.httpStatusCode, 400);
    assert.match(err.$metadata.requestId ?? "", UUID);
    assert.ok(err.$metadata.extendedRequestId, "x-amz-id-2 is surfaced as extendedRequestId");
    if (message instanceof RegExp) assert.match(err.message, message);
    else if (message !== undefined) assert.equal(err.message, message);
    return true;
  };
}

describe("modeled errors", () => {
  test("ResourceNotFoundException for an unknown stream", async () => {
    const missing = uniqueName("missing");
    await assert.rejects(
      client.send(new DescribeStreamSummaryCommand({ StreamName: missing })),
      expectError(ResourceNotFoundException, "ResourceNotFoundException", `Stream ${missing} under account 123456789012 not found.`),
    );
    await assert.rejects(
      client.send(new PutRecordCommand({ StreamName: missing, Data: Buffer.from("x"), PartitionKey: "k" })),
      expectError(ResourceNotFoundException, "ResourceNotFoundException", `Stream ${missing} under account 123456789012 not found.`),
    );
  });

  test("ResourceInUseException for a duplicate name", async () => {
    await assert.rejects(
      client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 })),
      expectError(ResourceInUseException, "ResourceInUseException", `Stream ${name} under account 123456789012 already exists.`),
    );
  });

  test("ResourceNotFoundException for an unknown shard", async () => {
    await assert.rejects(
      client.send(new GetShardIteratorCommand({ StreamName: name, ShardId: shardId(9), ShardIteratorType: "LATEST" })),
      expectError(
        ResourceNotFoundException,
        "ResourceNotFoundException",
        `Shard shardId-000000000009 in stream ${name} under account 123456789012 does not exist`,
      ),
    );
  });

  test("InvalidArgumentException for a garbage iterator (400, never 500)", async () => {
    await assert.rejects(
      client.send(new GetRecordsCommand({ ShardIterator: "AAAAAAAAAAFgarbagegarbagegarbage" })),
      expectError(InvalidArgumentException, "InvalidArgumentException", "Invalid ShardIterator."),
    );
  });

  test("InvalidArgumentException for a bad iterator-type combination", async () => {
    await assert.rejects(
      client.send(new GetShardIteratorCommand({ StreamName: name, ShardId: shardId(0), ShardIteratorType: "AT_SEQUENCE_NUMBER" })),
      expectError(
        InvalidArgumentException,
        "InvalidArgumentException",
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or " +
          "(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. " +
          "Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber.",
      ),
    );
  });

  test("InvalidArgumentException for an out-of-range ExplicitHashKey", async () => {
    const v = (1n << 128n).toString();
    await assert.rejects(
      client.send(new PutRecordCommand({ StreamName: name, Data: Buffer.from("x"), PartitionKey: "k", ExplicitHashKey: v })),
      expectError(
        InvalidArgumentException,
        "InvalidArgumentException",
        `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${v}`,
      ),
    );
  });
});

describe("validation (the JS SDK does not validate constraints client-side)", () => {
  test("pattern violation", async () => {
    await assert.rejects(
      client.send(new DescribeStreamCommand({ StreamName: "bad name!" })),
      expectError(
        ValidationException,
        "ValidationException",
        "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      ),
    );
  });

  test("range violation", async () => {
    await assert.rejects(
      client.send(new ListShardsCommand({ StreamName: name, MaxResults: 0 })),
      expectError(
        ValidationException,
        "ValidationException",
        "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1",
      ),
    );
  });

  test("length violation on PartitionKey", async () => {
    const pk = "k".repeat(257);
    await assert.rejects(
      client.send(new PutRecordCommand({ StreamName: name, Data: Buffer.from("x"), PartitionKey: pk })),
      expectError(
        ValidationException,
        "ValidationException",
        `1 validation error detected: Value '${pk}' at 'partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256`,
      ),
    );
  });

  test("missing required member", async () => {
    await assert.rejects(
      client.send(new GetRecordsCommand({})),
      expectError(
        ValidationException,
        "ValidationException",
        "1 validation error detected: Value null at 'shardIterator' failed to satisfy constraint: Member must not be null",
      ),
    );
  });
});

describe("successful responses carry request ids", () => {
  test("$metadata.requestId and extendedRequestId", async () => {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.match(out.$metadata.requestId ?? "", UUID);
    assert.ok(out.$metadata.extendedRequestId);
  });
});
