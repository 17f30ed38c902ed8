// Enhanced fan-out through the JS SDK v3 over HTTP/2 (h2c): register a consumer, then
// SubscribeToShardCommand's event stream — initial response, pushed records, resumption from the
// continuation, ChildShards at a split shard's end, and an exception event when the stream is
// deleted under the subscription.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import kinesisSdk from "@aws-sdk/client-kinesis";

const {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  PutRecordCommand,
  RegisterStreamConsumerCommand,
  SplitShardCommand,
  SubscribeToShardCommand,
} = kinesisSdk;

import { h2, makeClient, shardId, sleep, startServer, text, uniqueName, waitForStatus } from "./helpers.mjs";

let server;
let client;

before(async () => {
  server = await startServer({ extraArgs: ["--consumer-create-ms", "100", "--consumer-delete-ms", "100"] });
  client = makeClient(server);
});

after(async () => {
  client?.destroy();
  await server?.stop();
});

async function streamWithConsumer(consumerName = "js-consumer") {
  const name = uniqueName();
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  const summary = await waitForStatus(client, name, "ACTIVE");
  const { Consumer } = await client.send(
    new RegisterStreamConsumerCommand({ StreamARN: summary.StreamARN, ConsumerName: consumerName }),
  );
  assert.equal(Consumer.ConsumerStatus, "CREATING");
  assert.equal(Consumer.ConsumerARN.startsWith(`${summary.StreamARN}/consumer/${consumerName}:`), true);
  for (let i = 0; i < 200; i++) {
    const d = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: Consumer.ConsumerARN }));
    if (d.ConsumerDescription.ConsumerStatus === "ACTIVE") break;
    await sleep(20);
  }
  const s = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
  assert.equal(s.StreamDescriptionSummary.ConsumerCount, 1);
  return { name, arn: Consumer.ConsumerARN };
}

async function putOne(name, data) {
  const out = await client.send(new PutRecordCommand({ StreamName: name, PartitionKey: "pk", Data: Buffer.from(data) }));
  return out.SequenceNumber;
}

function subscribe(arn, position = { Type: "TRIM_HORIZON" }, shard = 0) {
  return client.send(new SubscribeToShardCommand({ ConsumerARN: arn, ShardId: shardId(shard), StartingPosition: position }));
}

test("SubscribeToShard pushes records over HTTP/2 and resumes from the continuation", async () => {
  const { name, arn } = await streamWithConsumer();
  const first = await putOne(name, "one");
  const requestsBefore = h2.requests;
  const out = await subscribe(arn);
  assert.ok(h2.requests > requestsBefore, "the subscription travelled over HTTP/2");
  const events = out.EventStream[Symbol.asyncIterator]();
  const e1 = (await events.next()).value.SubscribeToShardEvent;
  assert.deepEqual(e1.Records.map((r) => r.SequenceNumber), [first]);
  assert.equal(text(e1.Records[0].Data), "one");
  assert.equal(e1.ContinuationSequenceNumber, first);

  const t0 = Date.now();
  const second = await putOne(name, "two");
  const e2 = (await events.next()).value.SubscribeToShardEvent;
  assert.deepEqual(e2.Records.map((r) => r.SequenceNumber), [second]);
  assert.ok(Date.now() - t0 < 1000, "pushed, not polled");
  await events.return?.();

  // A new consumer resumes after the continuation: nothing lost, nothing repeated.
  const sarn = server.arn(name);
  const { Consumer } = await client.send(new RegisterStreamConsumerCommand({ StreamARN: sarn, ConsumerName: "second" }));
  await sleep(300);
  const third = await putOne(name, "three");
  const resumed = await subscribe(Consumer.ConsumerARN, { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: e2.ContinuationSequenceNumber });
  const e3 = (await resumed.EventStream[Symbol.asyncIterator]().next()).value.SubscribeToShardEvent;
  assert.deepEqual(e3.Records.map((r) => r.SequenceNumber), [third]);
  await client.send(new DeleteStreamCommand({ StreamName: name, EnforceConsumerDeletion: true }));
});

test("a split shard's subscription ends with its ChildShards", async () => {
  const { name, arn } = await streamWithConsumer();
  await putOne(name, "before");
  const out = await subscribe(arn);
  await client.send(new SplitShardCommand({ StreamName: name, ShardToSplit: shardId(0), NewStartingHashKey: (1n << 127n).toString() }));
  let last;
  let records = 0;
  for await (const event of out.EventStream) {
    last = event.SubscribeToShardEvent;
    records += last.Records.length;
  }
  assert.equal(records, 1);
  assert.equal(last.ContinuationSequenceNumber, undefined);
  assert.deepEqual(last.ChildShards.map((c) => c.ShardId).sort(), [shardId(1), shardId(2)]);
  assert.deepEqual(last.ChildShards[0].ParentShards, [shardId(0)]);
  await client.send(new DeleteStreamCommand({ StreamName: name, EnforceConsumerDeletion: true }));
});

test("deleting the stream ends a live subscription with an exception event", async () => {
  const { name, arn } = await streamWithConsumer();
  const out = await subscribe(arn, { Type: "LATEST" });
  const events = out.EventStream[Symbol.asyncIterator]();
  await putOne(name, "x");
  await events.next();
  await client.send(new DeleteStreamCommand({ StreamName: name, EnforceConsumerDeletion: true }));
  await assert.rejects(
    (async () => {
      for (;;) {
        const { done } = await events.next();
        if (done) return;
      }
    })(),
    (err) => err.name === "ResourceNotFoundException",
  );
});

test("a second live subscription of the same consumer and shard is refused", async () => {
  const { name, arn } = await streamWithConsumer();
  const first = await subscribe(arn);
  await assert.rejects(subscribe(arn), (err) => err.name === "ResourceInUseException" && err.$metadata.httpStatusCode === 400);
  await first.EventStream[Symbol.asyncIterator]().return?.();
  await client.send(new DeleteStreamCommand({ StreamName: name, EnforceConsumerDeletion: true }));
});
