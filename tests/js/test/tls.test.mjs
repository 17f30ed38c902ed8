// The TLS listener through the JS SDK v3's default handler (NodeHttp2Handler): HTTP/2 chosen by
// ALPN, the generated certificate trusted through the handler's connect options, and refused
// without them.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";

// The SDK ships CommonJS; a default import works on every Node version.
import kinesisSdk from "@aws-sdk/client-kinesis";

const {
  KinesisClient,
  CreateStreamCommand,
  DescribeStreamConsumerCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListStreamsCommand,
  PutRecordCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
} = kinesisSdk;

import { h2, sleep, startServer, text, uniqueName, waitForStatus } from "./helpers.mjs";

let server;

before(async () => {
  server = await startServer({ tls: true, extraArgs: ["--consumer-create-ms", "50"] });
});

after(async () => {
  await server?.stop();
});

function tlsClient(connectOptions) {
  return new KinesisClient({
    endpoint: server.tlsEndpoint,
    region: server.region,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
    // Options of the default NodeHttp2Handler: `ca` makes node:http2 trust the certificate.
    requestHandler: { nodeHttp2ConnectOptions: connectOptions },
  });
}

test("put and get over h2 negotiated by ALPN on the TLS port", async () => {
  const client = tlsClient({ ca: readFileSync(server.tlsCert) });
  const before = h2.sessions.length;
  const name = uniqueName("tls");
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  await waitForStatus(client, name, "ACTIVE");
  const put = await client.send(
    new PutRecordCommand({ StreamName: name, PartitionKey: "pk", Data: Buffer.from("over h2 and tls") }),
  );
  const { ShardIterator } = await client.send(
    new GetShardIteratorCommand({ StreamName: name, ShardId: put.ShardId, ShardIteratorType: "TRIM_HORIZON" }),
  );
  const got = await client.send(new GetRecordsCommand({ ShardIterator }));
  assert.deepEqual(got.Records.map((r) => text(r.Data)), ["over h2 and tls"]);
  const sessions = h2.sessions.slice(before);
  assert.ok(sessions.length >= 1, "no HTTP/2 session was opened");
  for (const s of sessions) {
    assert.equal(s.encrypted, true);
    assert.equal(s.alpnProtocol, "h2");
  }
  client.destroy();
});

test("a client that does not trust the certificate is refused", async () => {
  const client = tlsClient(undefined);
  await assert.rejects(client.send(new ListStreamsCommand({})), (err) => {
    // node:http2 reports the failed handshake as the cause of the cancelled stream.
    assert.equal(err.cause?.code, "DEPTH_ZERO_SELF_SIGNED_CERT", String(err));
    return true;
  });
  client.destroy();
});

test("SubscribeToShard over h2 on the TLS port", async () => {
  const client = tlsClient({ ca: readFileSync(server.tlsCert) });
  const name = uniqueName("tls-efo");
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  const { StreamARN } = await waitForStatus(client, name, "ACTIVE");
  const { Consumer } = await client.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: "tls" }));
  for (let i = 0; i < 200; i++) {
    const d = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: Consumer.ConsumerARN }));
    if (d.ConsumerDescription.ConsumerStatus === "ACTIVE") break;
    await sleep(20);
  }
  const out = await client.send(
    new SubscribeToShardCommand({ ConsumerARN: Consumer.ConsumerARN, ShardId: "shardId-000000000000", StartingPosition: { Type: "LATEST" } }),
  );
  const events = out.EventStream[Symbol.asyncIterator]();
  const put = await client.send(new PutRecordCommand({ StreamName: name, PartitionKey: "pk", Data: Buffer.from("pushed over tls") }));
  const event = (await events.next()).value.SubscribeToShardEvent;
  assert.deepEqual(event.Records.map((r) => r.SequenceNumber), [put.SequenceNumber]);
  assert.equal(text(event.Records[0].Data), "pushed over tls");
  await events.return?.();
  client.destroy();
});
