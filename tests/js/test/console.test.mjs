// The web console (GET /console) end to end in headless Chromium: Debian's `chromium` driven by
// playwright-core. Whatever the console shows or does is checked against the Kinesis API through
// the JS SDK, and the other way round. With UPDATE_SCREENSHOTS=1 it also writes the README's
// screenshots into docs/console/.
//
// Chromium is found at $CHROMIUM_BIN or /usr/bin/chromium; scripts/test.sh installs it. Without
// it these tests are skipped, except under CI=true, where a missing browser is a failure.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import kinesisSdk from "@aws-sdk/client-kinesis";
import { chromium } from "playwright-core";

import { REPO_ROOT, makeClient, sleep, startServer, text, uniqueName, waitForStatus, waitUntilGone } from "./helpers.mjs";

const {
  CreateStreamCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  PutRecordCommand,
  RegisterStreamConsumerCommand,
  SplitShardCommand,
  SubscribeToShardCommand,
} = kinesisSdk;

const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM && process.env.CI === "true") {
  throw new Error(`chromium not found at ${CHROMIUM} and CI=true: scripts/test.sh installs it (apt-get install chromium)`);
}
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? path.join(REPO_ROOT, "docs", "console") : null;

/** Waits in the page are short: every server call here answers in milliseconds. */
const WAIT_MS = 10000;

let browser;

before(async () => {
  if (!HAVE_CHROMIUM) return;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
});

/** A fresh page (its own sessionStorage) that fails the test on any script error. */
async function openPage(server, hash = "", { tls = false } = {}) {
  // The TLS listener's certificate is kinesd's own self-signed one.
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, ignoreHTTPSErrors: tls });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const response = await page.goto(`${tls ? server.tlsEndpoint : server.endpoint}/console${hash}`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()["content-type"], /^text\/html/);
  page.scriptErrors = errors;
  return page;
}

async function closePage(page) {
  assert.deepEqual(page.scriptErrors, [], "no script error in the page");
  await page.context().close();
}

async function screenshot(page, name) {
  if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

// ------------------------------------------------------------------------- a KPL aggregate

function varint(n) {
  const out = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
const field = (number, bytes) => Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
const uint = (number, n) => Buffer.concat([varint(number << 3), varint(n)]);

/** An aggregated record as the KPL writes it: magic, AggregatedRecord, MD5 of it. */
function aggregate(records) {
  const keys = [...new Set(records.map((r) => r.key))];
  const hashKeys = [...new Set(records.filter((r) => r.hashKey).map((r) => r.hashKey))];
  const message = Buffer.concat([
    ...keys.map((k) => field(1, Buffer.from(k))),
    ...hashKeys.map((k) => field(2, Buffer.from(k))),
    ...records.map((r) =>
      field(
        3,
        Buffer.concat([
          uint(1, keys.indexOf(r.key)),
          r.hashKey ? uint(2, hashKeys.indexOf(r.hashKey)) : Buffer.alloc(0),
          field(3, Buffer.from(r.data)),
        ]),
      ),
    ),
  ]);
  const digest = createHash("md5").update(message).digest();
  return Buffer.concat([Buffer.from([0xf3, 0x89, 0x9a, 0xc2]), message, digest]);
}

async function readBack(client, name, shardId, sequenceNumber) {
  const it = await client.send(
    new GetShardIteratorCommand({ StreamName: name, ShardId: shardId, ShardIteratorType: "AT_SEQUENCE_NUMBER", StartingSequenceNumber: sequenceNumber }),
  );
  const out = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator, Limit: 1 }));
  return out.Records[0];
}

// ------------------------------------------------------------------- without credentials

describe("console", { skip: HAVE_CHROMIUM ? false : `no chromium at ${CHROMIUM}` }, () => {
  let server;
  let client;

  before(async () => {
    server = await startServer({ createMs: 50, updateMs: 50, deleteMs: 50, extraArgs: ["--consumer-create-ms", "50"] });
    client = makeClient(server);
  });

  after(async () => {
    await server?.stop();
  });

  test("the streams list shows a stream created through the SDK", async () => {
    const name = uniqueName("listed");
    await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
    await waitForStatus(client, name, "ACTIVE");
    const page = await openPage(server);
    const row = page.locator(`#streams tr[data-stream="${name}"]`);
    await row.waitFor();
    const cells = await row.locator("td").allTextContents();
    assert.deepEqual(cells, [name, "ACTIVE", "PROVISIONED", "2", "24 h"]);
    assert.equal(await page.textContent("#region"), `region ${server.region}`);
    await closePage(page);
  });

  test("a stream created through the UI becomes ACTIVE for the SDK, with the shards or mode asked for", async () => {
    const page = await openPage(server);
    const [provisioned, onDemand] = [uniqueName("ui"), uniqueName("ui-od")];
    await page.fill("#create-name", provisioned);
    await page.fill("#create-shards", "3");
    await page.click("#create-submit");
    await page.locator(`#streams tr[data-stream="${provisioned}"]`).waitFor();
    await page.fill("#create-name", onDemand);
    await page.selectOption("#create-mode", "ON_DEMAND");
    assert.equal(await page.isDisabled("#create-shards"), true);
    await page.click("#create-submit");
    await page.locator(`#streams tr[data-stream="${onDemand}"]`).waitFor();
    const p = await waitForStatus(client, provisioned, "ACTIVE");
    assert.equal(p.OpenShardCount, 3);
    assert.equal(p.StreamModeDetails.StreamMode, "PROVISIONED");
    const o = await waitForStatus(client, onDemand, "ACTIVE");
    assert.equal(o.StreamModeDetails.StreamMode, "ON_DEMAND");
    await page.locator(`#streams tr[data-stream="${onDemand}"] .status.ACTIVE`).waitFor();
    assert.equal(await page.locator(`#streams tr[data-stream="${onDemand}"] td`).nth(2).textContent(), "ON_DEMAND");
    await page.locator("#create-result", { hasText: `${onDemand} is ACTIVE.` }).waitFor();
    await screenshot(page, "streams");
    // The API's refusal is shown as AWS sends it, and changes nothing.
    await page.fill("#create-name", provisioned);
    await page.selectOption("#create-mode", "PROVISIONED");
    await page.click("#create-submit");
    await page.locator("#error:not([hidden])").waitFor();
    assert.match(await page.textContent("#error"), /^ResourceInUseException: Stream .* under account .* already exists\.$/);
    await closePage(page);
  });

  test("a long list is described a bounded number of streams at a time", async () => {
    const prefix = uniqueName("many");
    for (let batch = 0; batch < 60; batch += 5) {
      // AWS lets 5 streams at a time be CREATING.
      const names = Array.from({ length: 5 }, (_, i) => `${prefix}-${batch + i}`);
      await Promise.all(names.map((n) => client.send(new CreateStreamCommand({ StreamName: n, ShardCount: 1 }))));
      await Promise.all(names.map((n) => waitForStatus(client, n, "ACTIVE")));
    }
    const page = await openPage(server);
    const targets = [];
    page.on("request", (r) => targets.push(r.headers()["x-amz-target"]?.split(".")[1]));
    await page.reload(); // counted from a load of the page
    // DescribeStreamSummary calls after each ListStreams (before the first: the old page's).
    const perRefresh = () =>
      targets.reduce((out, t) => (t === "ListStreams" ? [...out, 0] : out.length && t === "DescribeStreamSummary" ? [...out.slice(0, -1), out.at(-1) + 1] : out), []);
    await page.locator(`#streams tr[data-stream^="${prefix}-"]`).nth(59).waitFor();
    const total = await page.locator("#streams tbody tr").count();
    assert.ok(total > 60, `${total} streams listed`);
    const allDescribed = () =>
      page.evaluate(() => [...document.querySelectorAll("#streams tbody tr td:nth-child(5)")].every((td) => td.textContent === "24 h"));
    // The rest is described by the next refreshes, 40 at most each; then nothing is asked again
    // until a summary is 30 s old.
    for (let i = 0; i < 50 && !(await allDescribed()); i++) {
      await page.click("#refresh"); // ignored while a refresh runs
      await sleep(100);
    }
    assert.ok(await allDescribed(), "every stream described");
    const before = perRefresh().length;
    while (perRefresh().length === before) {
      await page.click("#refresh");
      await sleep(100);
    }
    await sleep(200);
    const counts = perRefresh();
    assert.ok(counts.every((n) => n <= 40), `DescribeStreamSummary calls per refresh: ${counts}`);
    assert.equal(counts.reduce((a, b) => a + b, 0), total, `each stream described once: ${counts}`);
    assert.equal(counts.at(-1), 0, "a refresh of described streams asks for none again");
    await closePage(page);
  });

  test("a record put through the UI is read back by the SDK; the UI deletes a stream", async () => {
    const name = uniqueName("put");
    await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
    await waitForStatus(client, name, "ACTIVE");
    const page = await openPage(server, `#/stream/${name}`);
    await page.locator("#stream-status", { hasText: "ACTIVE" }).waitFor();
    await page.fill("#put-key", "from-the-browser");
    await page.fill("#put-data", "héllo from chromium ✓");
    await page.click("#put-submit");
    await page.locator("#put-result", { hasText: "Stored in" }).waitFor();
    const [, shardId, seq] = /^Stored in (\S+) at (\d+)$/.exec(await page.textContent("#put-result"));
    const record = await readBack(client, name, shardId, seq);
    assert.equal(text(record.Data), "héllo from chromium ✓");
    assert.equal(record.PartitionKey, "from-the-browser");
    assert.equal(record.SequenceNumber, seq);

    await page.click("#delete-open");
    await page.fill("#delete-confirm", "not-the-name");
    await page.click("#delete-submit");
    await page.locator("#error:not([hidden])").waitFor();
    assert.equal((await client.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary.StreamStatus, "ACTIVE");
    await page.fill("#delete-confirm", name);
    await page.click("#delete-submit");
    await page.waitForURL(/#\/$/);
    await waitUntilGone(client, name);
    await closePage(page);
  });

  test("the record browser shows text, JSON and hex, pages, and de-aggregates KPL records", async () => {
    const name = uniqueName("browse");
    await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    await waitForStatus(client, name, "ACTIVE");
    const put = (data, key = "k") => client.send(new PutRecordCommand({ StreamName: name, PartitionKey: key, Data: Buffer.from(data) }));
    const first = await put('{"order":42,"items":["tea"]}');
    const users = [
      { key: "user-a", data: "first user record" },
      { key: "user-b", data: '{"n":2}', hashKey: "12345678901234567890" },
      { key: "user-a", data: "third" },
    ];
    const agg = await put(aggregate(users), "agg");
    const forged = aggregate(users);
    forged[forged.length - 1] ^= 0xff; // a wrong MD5: an ordinary record, as the KCL treats it
    const notAgg = await put(forged, "forged");

    const page = await openPage(server, `#/stream/${name}`);
    await page.locator("#browse-shard option").first().waitFor({ state: "attached" });
    await page.click("#browse-start");
    const record = (seq) => page.locator(`#records .record[data-seq="${seq}"]`);
    await record(first.SequenceNumber).waitFor();
    assert.equal(await page.locator("#records .record").count(), 3);
    assert.equal(await record(first.SequenceNumber).locator("pre.data").textContent(), '{"order":42,"items":["tea"]}');

    const aggregated = record(agg.SequenceNumber);
    assert.equal(await aggregated.getAttribute("data-user-records"), "3");
    assert.equal(await aggregated.locator(".kpl").textContent(), "KPL aggregate: 3 user records");
    const shown = aggregated.locator(".user-record");
    assert.deepEqual(
      await shown.evaluateAll((els) => els.map((e) => [e.dataset.partitionKey, e.querySelector("pre").textContent])),
      users.map((u) => [u.key, u.data]),
    );
    assert.match(await shown.nth(1).textContent(), /hash key 12345678901234567890/);
    assert.equal(await record(notAgg.SequenceNumber).getAttribute("data-user-records"), null, "a bad digest is not de-aggregated");
    assert.match(await record(notAgg.SequenceNumber).locator("pre.data").textContent(), /^\(not UTF-8: shown as hex\)\n00000000  f3 89 9a c2 /);
    if (SCREENSHOTS) await page.locator("#browse").screenshot({ path: path.join(SCREENSHOTS, "records.png") });

    await page.selectOption("#browse-format", "json");
    assert.equal(await record(first.SequenceNumber).locator("pre.data").textContent(), '{\n  "order": 42,\n  "items": [\n    "tea"\n  ]\n}');
    assert.equal(await aggregated.locator(".user-record pre").nth(1).textContent(), '{\n  "n": 2\n}');
    await page.selectOption("#browse-format", "hex");
    assert.equal(
      (await record(first.SequenceNumber).locator("pre.data").textContent()).split("\n")[0],
      '00000000  7b 22 6f 72 64 65 72 22 3a 34 32 2c 22 69 74 65  {"order":42,"ite',
    );
    await page.selectOption("#browse-format", "text");

    // Pages of one record, then a start at a sequence number.
    await page.fill("#browse-limit", "1");
    await page.click("#browse-start");
    await page.locator("#browse-status", { hasText: /^1 record,/ }).waitFor();
    await record(first.SequenceNumber).waitFor();
    await page.click("#browse-next");
    await record(agg.SequenceNumber).waitFor();
    assert.equal(await page.locator("#records .record").count(), 1);
    await page.selectOption("#browse-type", "AT_SEQUENCE_NUMBER");
    await page.fill("#browse-at", notAgg.SequenceNumber);
    await page.click("#browse-start");
    await record(notAgg.SequenceNumber).waitFor();
    await page.selectOption("#browse-type", "AT_TIMESTAMP");
    await page.fill("#browse-at", new Date(Date.now() - 60000).toISOString());
    await page.fill("#browse-limit", "25");
    await page.click("#browse-start");
    await page.locator("#browse-status", { hasText: /^3 records,/ }).waitFor();
    await page.fill("#browse-at", "not a time");
    await page.click("#browse-start");
    assert.equal(await page.textContent("#error"), "not a time: not a time");
    await page.selectOption("#browse-type", "LATEST");
    await page.click("#browse-start");
    await page.locator("#browse-status", { hasText: /^0 records,/ }).waitFor();
    // The next page from LATEST has what was written since; a long record is cut when drawn,
    // here inside a two-byte character, which does not make it binary.
    const long = await put(`a${"é".repeat(9999)}`);
    await page.click("#browse-next");
    const drawn = await record(long.SequenceNumber).locator("pre.data").textContent();
    assert.ok(drawn.startsWith(`a${"é".repeat(100)}`), drawn.slice(0, 40));
    assert.ok(drawn.endsWith(`é\n… ${19999 - 16384} more bytes`), drawn.slice(-40));
    await page.selectOption("#browse-format", "hex");
    assert.ok((await record(long.SequenceNumber).locator("pre.data").textContent()).endsWith(`\n… ${19999 - 4096} more bytes`));
    await closePage(page);
  });

  test("the stream page draws the lineage after a split, live rates and the consumers", async () => {
    const name = uniqueName("split");
    await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    await waitForStatus(client, name, "ACTIVE");
    await client.send(new SplitShardCommand({ StreamName: name, ShardToSplit: "shardId-000000000000", NewStartingHashKey: String(1n << 127n) }));
    await waitForStatus(client, name, "ACTIVE");
    const arn = server.arn(name);
    const consumer = (await client.send(new RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: "dashboard" }))).Consumer;
    const idle = (await client.send(new RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: "idle" }))).Consumer;
    for (let i = 0; i < 200; i++) {
      const d = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN }));
      if (d.ConsumerDescription.ConsumerStatus === "ACTIVE") break;
      await sleep(20);
    }
    // A live subscription gives the consumer a lag; its own client, destroyed at the end.
    const subscriber = makeClient(server);
    const subscription = await subscriber.send(
      new SubscribeToShardCommand({ ConsumerARN: consumer.ConsumerARN, ShardId: "shardId-000000000001", StartingPosition: { Type: "TRIM_HORIZON" } }),
    );
    await subscription.EventStream[Symbol.asyncIterator]().next();

    const page = await openPage(server, `#/stream/${name}`);
    const shard = (i) => page.locator(`#lineage g.shard[data-shard-id="shardId-00000000000${i}"]`);
    await shard(2).waitFor();
    assert.equal(await page.locator("#lineage g.shard").count(), 3);
    assert.equal(await shard(0).getAttribute("class"), "shard closed");
    assert.equal(await shard(1).getAttribute("class"), "shard open");
    assert.equal(await shard(2).getAttribute("class"), "shard open");
    const edges = await page.locator("#lineage path.edge").evaluateAll((els) => els.map((e) => `${e.dataset.from}>${e.dataset.to}`).sort());
    assert.deepEqual(edges, ["shardId-000000000000>shardId-000000000001", "shardId-000000000000>shardId-000000000002"]);
    await page.locator('#consumers tr[data-consumer="dashboard"] td', { hasText: /^\d+\.\d s behind$/ }).waitFor();
    assert.equal(await page.locator('#consumers tr[data-consumer="idle"] td').nth(3).textContent(), "no live subscription");
    assert.equal(await page.locator('#consumers tr[data-consumer="idle"] td').nth(0).textContent(), idle.ConsumerName);

    // Records written and read while the page samples /metrics: both rates rise above zero.
    const stop = Date.now() + 8000;
    const legend = (chart, series) => page.locator(`#${chart} text.legend[data-series="${series}"]`);
    const rising = async () => {
      const values = await Promise.all(["in", "out"].map(async (s) => Number(await legend("chart-records", s).getAttribute("data-value"))));
      return values.every((v) => v > 0);
    };
    let iterator = (await client.send(new GetShardIteratorCommand({ StreamName: name, ShardId: "shardId-000000000001", ShardIteratorType: "TRIM_HORIZON" }))).ShardIterator;
    let seen = false;
    // For the screenshot, traffic goes on long enough to draw a curve.
    const until = () => (SCREENSHOTS ? Date.now() < stop + 12000 : Date.now() < stop && !seen);
    for (let i = 0; until(); i++) {
      await client.send(new PutRecordCommand({ StreamName: name, PartitionKey: `k${i}`, Data: Buffer.from(`{"tick":${i}}`) }));
      iterator = (await client.send(new GetRecordsCommand({ ShardIterator: iterator }))).NextShardIterator;
      await sleep(SCREENSHOTS ? 20 + 80 * (1 + Math.sin(i / 15)) : 100);
      seen ||= await rising();
    }
    assert.ok(seen, `records/s in and out drawn above zero (${await page.textContent("#chart-note")})`);
    assert.ok(Number(await legend("chart-bytes", "in").getAttribute("data-value")) > 0, "bytes/s in drawn");
    await screenshot(page, "stream");
    subscriber.destroy();
    await closePage(page);
  });
});

// ----------------------------------------------------------------------- on the TLS port

describe("console over TLS", { skip: HAVE_CHROMIUM ? false : `no chromium at ${CHROMIUM}` }, () => {
  test("the page and its signed calls work on the TLS port (a secure context off loopback too)", async () => {
    const server = await startServer({ tls: true, createMs: 50 });
    try {
      const client = makeClient(server);
      const name = uniqueName("tls");
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      await waitForStatus(client, name, "ACTIVE");
      const page = await openPage(server, `#/stream/${name}`, { tls: true });
      assert.ok(page.url().startsWith("https://"));
      await page.fill("#put-data", "over TLS");
      await page.click("#put-submit");
      await page.locator("#put-result", { hasText: "Stored in" }).waitFor();
      const [, shardId, seq] = /^Stored in (\S+) at (\d+)$/.exec(await page.textContent("#put-result"));
      assert.equal(text((await readBack(client, name, shardId, seq)).Data), "over TLS");
      await closePage(page);
    } finally {
      await server.stop();
    }
  });
});

// ---------------------------------------------------------------------- with credentials

describe("console with --credentials", { skip: HAVE_CHROMIUM ? false : `no chromium at ${CHROMIUM}` }, () => {
  const KEY = { accessKeyId: "AKIACONSOLEEXAMPLE01", secretAccessKey: "console/secret+EXAMPLE" };
  const OTHER = { accessKeyId: "AKIACONSOLEEXAMPLE02", secretAccessKey: "other-account-secret" };
  // Same account as KEY, a session token, and a policy that denies one of the page's calls.
  const LIMITED = { accessKeyId: "ASIACONSOLEEXAMPLE03", secretAccessKey: "limited", sessionToken: "console//token==" };
  const LIMITED_POLICY = JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: "kinesis:*", Resource: "*" },
      { Effect: "Deny", Action: "kinesis:ListStreamConsumers", Resource: "*" },
    ],
  });
  let server;
  let dir;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "kinesd-js-console-"));
    const file = path.join(dir, "credentials.toml");
    writeFileSync(
      file,
      `[[credential]]\naccess_key_id = "${KEY.accessKeyId}"\nsecret_access_key = "${KEY.secretAccessKey}"\naccount_id = "111111111111"\n\n` +
        `[[credential]]\naccess_key_id = "${OTHER.accessKeyId}"\nsecret_access_key = "${OTHER.secretAccessKey}"\naccount_id = "222222222222"\n\n` +
        `[[credential]]\naccess_key_id = "${LIMITED.accessKeyId}"\nsecret_access_key = "${LIMITED.secretAccessKey}"\naccount_id = "111111111111"\n` +
        `session_token = "${LIMITED.sessionToken}"\nuser = "viewer"\npolicy = '${LIMITED_POLICY}'\n`,
      { mode: 0o600 },
    );
    server = await startServer({ createMs: 50, extraArgs: ["--credentials", file] });
  });

  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a wrong secret gets the API's error; the right one signs every call", async () => {
    const mine = makeClient(server, { credentials: KEY });
    const theirs = makeClient(server, { credentials: OTHER });
    const [name, secret] = [uniqueName("mine"), uniqueName("theirs")];
    await mine.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    await theirs.send(new CreateStreamCommand({ StreamName: secret, ShardCount: 1 }));
    await waitForStatus(mine, name, "ACTIVE");

    const page = await openPage(server);
    await page.locator("#sign-in").waitFor();
    assert.equal(await page.locator("#streams").count(), 0, "nothing is listed before signing in");
    await page.fill("#access-key", KEY.accessKeyId);
    await page.fill("#secret-key", "not-the-secret");
    await page.click("#sign-in-submit");
    await page.locator("#sign-in-error:not([hidden])").waitFor();
    assert.equal(
      await page.textContent("#sign-in-error"),
      "InvalidSignatureException: The request signature we calculated does not match the signature you provided. " +
        "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    );
    await page.fill("#secret-key", KEY.secretAccessKey);
    await page.click("#sign-in-submit");
    await page.locator(`#streams tr[data-stream="${name}"]`).waitFor();
    assert.equal(await page.locator(`#streams tr[data-stream="${secret}"]`).count(), 0, "another account's stream is not listed");
    assert.equal(await page.textContent("#identity"), `signed in as ${KEY.accessKeyId}`);

    // A signed write through the stream page, read back with the SDK.
    await page.click(`a[href="#/stream/${name}"]`);
    await page.locator("#stream-status", { hasText: "ACTIVE" }).waitFor();
    await page.fill("#put-data", "signed in the browser");
    await page.click("#put-submit");
    await page.locator("#put-result", { hasText: "Stored in" }).waitFor();
    const [, shardId, seq] = /^Stored in (\S+) at (\d+)$/.exec(await page.textContent("#put-result"));
    assert.equal(text((await readBack(mine, name, shardId, seq)).Data), "signed in the browser");
    // Its rates are this account's stream's only: another account's stream of the same name
    // takes writes, and the chart stays at zero until this one does.
    await theirs.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    await waitForStatus(theirs, name, "ACTIVE");
    const inRate = async () => Number(await page.locator('#chart-records text.legend[data-series="in"]').getAttribute("data-value"));
    const drawn = async () => page.locator("#chart-records polyline.in").getAttribute("points").then((p) => p.split(" ").length, () => 0);
    const stop = Date.now() + 10000;
    while ((await drawn()) < 3 && Date.now() < stop) {
      await theirs.send(new PutRecordCommand({ StreamName: name, PartitionKey: "k", Data: Buffer.from("not yours") }));
      await sleep(50);
    }
    assert.ok((await drawn()) >= 3, "three rate samples drawn");
    assert.equal(await inRate(), 0, "another account's writes are not in this stream's chart");
    while ((await inRate()) === 0 && Date.now() < stop + 5000) {
      await mine.send(new PutRecordCommand({ StreamName: name, PartitionKey: "k", Data: Buffer.from("yours") }));
      await sleep(50);
    }
    assert.ok((await inRate()) > 0, "this account's writes are");

    // Another account's stream is refused as the API refuses it.
    await page.goto(`${server.endpoint}/console#/stream/${secret}`);
    await page.reload(); // a hash change alone does not reload
    await page.locator("#error:not([hidden])").waitFor();
    assert.match(await page.textContent("#error"), /^ResourceNotFoundException: Stream .* under account 111111111111 not found\.$/);

    await page.click("#sign-out");
    await page.locator("#sign-in").waitFor();
    await closePage(page);
  });

  test("a call the caller's policy denies is reported where it belongs; the rest of the page works", async () => {
    const mine = makeClient(server, { credentials: KEY });
    const name = uniqueName("limited");
    await mine.send(new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
    await waitForStatus(mine, name, "ACTIVE");
    const page = await openPage(server, `#/stream/${name}`);
    await page.fill("#access-key", LIMITED.accessKeyId);
    await page.fill("#secret-key", LIMITED.secretAccessKey);
    await page.fill("#session-token", LIMITED.sessionToken);
    await page.click("#sign-in-submit");
    await page.locator("#lineage g.shard").nth(1).waitFor();
    const denied = page.locator("#consumers td.error-text");
    await denied.waitFor();
    assert.match(await denied.textContent(), /^AccessDeniedException: .*viewer.* is not authorized to perform: kinesis:ListStreamConsumers/);
    assert.equal(await page.locator("#error").isHidden(), true, "no page-wide error");
    await closePage(page);
  });
});
