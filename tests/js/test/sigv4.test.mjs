// The JavaScript SDK v3 (HTTP/2, signing `host` from the :authority) with configured
// credentials (`--credentials`): accepted with the right secret and session token, refused with
// AWS's exact answers otherwise, and nothing changes on a refused request.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";

import kinesisSdk from "@aws-sdk/client-kinesis";

const { CreateStreamCommand, ListStreamsCommand, PutRecordCommand } = kinesisSdk;

import { h2, makeClient, startServer, uniqueName, waitForStatus } from "./helpers.mjs";

const KEY = { accessKeyId: "AKIAEXAMPLEJSJSJSJSJS", secretAccessKey: "js/secret+EXAMPLEKEY" };
const TEMP = { accessKeyId: "ASIAEXAMPLEJSTOKEN00", secretAccessKey: "js-temp-secret", sessionToken: "js//token==" };
const MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key " +
  "and signing method. Consult the service documentation for details.";
const INVALID_TOKEN = "The security token included in the request is invalid.";

let server;
let dir;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "kinesd-js-creds-"));
  const file = path.join(dir, "credentials.toml");
  writeFileSync(
    file,
    `[[credential]]\naccess_key_id = "${KEY.accessKeyId}"\nsecret_access_key = "${KEY.secretAccessKey}"\n` +
      `account_id = "123456789012"\n\n[[credential]]\naccess_key_id = "${TEMP.accessKeyId}"\n` +
      `secret_access_key = "${TEMP.secretAccessKey}"\naccount_id = "123456789012"\nsession_token = "${TEMP.sessionToken}"\n`,
  );
  server = await startServer({ extraArgs: ["--credentials", file] });
});

after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function refusal(promise) {
  const err = await promise.then(
    () => assert.fail("the call succeeded"),
    (e) => e,
  );
  return [err.name, err.message, err.$metadata?.httpStatusCode];
}

test("the JS SDK signs over HTTP/2 with a configured key and with a session token", async () => {
  const requestsBefore = h2.requests;
  const client = makeClient(server, { credentials: KEY });
  const name = uniqueName("signed");
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  await waitForStatus(client, name, "ACTIVE");
  await client.send(new PutRecordCommand({ StreamName: name, PartitionKey: "k", Data: Buffer.from("v") }));
  const temp = makeClient(server, { credentials: TEMP });
  const out = await temp.send(new ListStreamsCommand({}));
  assert.ok(out.StreamNames.includes(name));
  assert.ok(h2.requests > requestsBefore, "the calls travelled over HTTP/2");
});

test("wrong signatures get AWS's answers and change nothing", async () => {
  const name = uniqueName("refused");
  const wrong = makeClient(server, { credentials: { ...KEY, secretAccessKey: "wrong" } });
  assert.deepEqual(await refusal(wrong.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }))), [
    "InvalidSignatureException",
    MISMATCH,
    400,
  ]);
  const noToken = makeClient(server, { credentials: { ...TEMP, sessionToken: undefined } });
  assert.deepEqual(await refusal(noToken.send(new ListStreamsCommand({}))), [
    "UnrecognizedClientException",
    INVALID_TOKEN,
    400,
  ]);
  const badToken = makeClient(server, { credentials: { ...TEMP, sessionToken: "other" } });
  assert.deepEqual((await refusal(badToken.send(new ListStreamsCommand({}))))[0], "UnrecognizedClientException");
  const unknown = makeClient(server, { credentials: { accessKeyId: "AKIAUNKNOWN000000000", secretAccessKey: "x" } });
  assert.deepEqual(await refusal(unknown.send(new ListStreamsCommand({}))), [
    "UnrecognizedClientException",
    INVALID_TOKEN,
    400,
  ]);
  const otherRegion = makeClient(server, { credentials: KEY, region: "sa-east-1" });
  assert.deepEqual(await refusal(otherRegion.send(new ListStreamsCommand({}))), [
    "InvalidSignatureException",
    "Credential should be scoped to a valid region, not 'sa-east-1'. ",
    400,
  ]);
  const good = makeClient(server, { credentials: KEY });
  const names = (await good.send(new ListStreamsCommand({}))).StreamNames;
  assert.ok(!names.includes(name), "the refused CreateStream created nothing");
});
