// Shared machinery for the JS SDK v3 suite: start kinesd, build clients, observe HTTP/2.
//
// The SDK's default request handler is NodeHttp2Handler, which opens sessions with
// `http2.connect(url)` on the `node:http2` module object. We wrap that function (before any
// client exists) so the tests can prove that every call really travelled over h2c.

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import http2 from "node:http2";
import { existsSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

// The SDK ships CommonJS; a default import works on every Node version.
import kinesisSdk from "@aws-sdk/client-kinesis";

const { KinesisClient, DescribeStreamSummaryCommand } = kinesisSdk;

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, "..", "..", "..");

// ------------------------------------------------------------------------------ h2 observer

export const h2 = { sessions: [], requests: 0, connectCalls: 0 };
const realConnect = http2.connect;
http2.connect = function patchedConnect(...args) {
  const session = realConnect.apply(this, args);
  h2.connectCalls += 1;
  h2.sessions.push(session);
  const realRequest = session.request;
  session.request = function patchedRequest(...rargs) {
    h2.requests += 1;
    return realRequest.apply(this, rargs);
  };
  return session;
};

// ---------------------------------------------------------------------------------- server

export function kinesdBinary() {
  const bin = process.env.KINESD_BIN || path.join(REPO_ROOT, "target", "debug", "kinesd");
  if (!existsSync(bin)) {
    throw new Error(`kinesd binary not found at ${bin}; run cargo build -p kinesd or set KINESD_BIN`);
  }
  return bin;
}

export async function startServer({
  createMs = 100,
  deleteMs = 100,
  updateMs = 100,
  iteratorTtlSeconds,
  accountId = "123456789012",
  region = "eu-west-1",
  tls = false,
  extraArgs = [],
} = {}) {
  const args = [
    "--host", "127.0.0.1", "--port", "0", "--in-memory",
    "--create-stream-ms", String(createMs),
    "--delete-stream-ms", String(deleteMs),
    "--update-stream-ms", String(updateMs),
    "--account-id", accountId,
    "--region", region,
  ];
  if (iteratorTtlSeconds !== undefined) args.push("--iterator-ttl-seconds", String(iteratorTtlSeconds));
  // With a TLS listener, kinesd prints two more lines: its https address and the certificate.
  if (tls) args.push("--tls-port", "0");
  args.push(...extraArgs);
  const proc = spawn(kinesdBinary(), args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const rl = readline.createInterface({ input: proc.stdout });
  // Lines arrive into a queue that `nextLine` reads; later lines keep draining stdout.
  const lines = [];
  const waiters = [];
  rl.on("line", (line) => (waiters.length ? waiters.shift()(line) : lines.push(line)));
  const nextLine = () =>
    new Promise((resolve, reject) => {
      if (lines.length) return resolve(lines.shift());
      const timer = setTimeout(() => reject(new Error(`kinesd printed nothing in 20 s: ${stderr}`)), 20000);
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`kinesd exited (${code}) before listening: ${stderr}`));
      });
      waiters.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
  const first = await nextLine();
  const m = /^kinesd listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(first);
  if (!m) {
    proc.kill("SIGTERM");
    throw new Error(`unexpected first line ${JSON.stringify(first)}: ${stderr}`);
  }
  let tlsEndpoint;
  let tlsCert;
  if (tls) {
    const https = /^kinesd listening on (https:\/\/127\.0\.0\.1:\d+)$/.exec(await nextLine());
    const cert = /^kinesd tls certificate (.+)$/.exec(await nextLine());
    if (!https || !cert) {
      proc.kill("SIGTERM");
      throw new Error(`no TLS address or certificate printed: ${stderr}`);
    }
    [tlsEndpoint, tlsCert] = [https[1], cert[1]];
  }
  const server = {
    endpoint: m[1],
    port: Number(m[2]),
    tlsEndpoint,
    tlsCert,
    accountId,
    region,
    proc,
    arn: (name) => `arn:aws:kinesis:${region}:${accountId}:stream/${name}`,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((resolve) => proc.once("exit", resolve));
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10000);
      await exited;
      clearTimeout(timer);
    },
  };
  return server;
}

export function makeClient(server) {
  // No requestHandler override: the SDK's default (NodeHttp2Handler) is what we test.
  return new KinesisClient({
    endpoint: server.endpoint,
    region: server.region,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
}

// --------------------------------------------------------------------------------- helpers

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function uniqueName(prefix = "js") {
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}

export async function waitForStatus(client, name, status, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    last = out.StreamDescriptionSummary;
    if (last.StreamStatus === status) return last;
    await sleep(20);
  }
  throw new Error(`stream ${name} not ${status} after ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

export async function waitUntilGone(client, name, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    } catch (err) {
      if (err.name === "ResourceNotFoundException") return err;
      throw err;
    }
    await sleep(20);
  }
  throw new Error(`stream ${name} still exists after ${timeoutMs} ms`);
}

export const MAX_HASH = (1n << 128n) - 1n;

export function expectedRanges(n) {
  const step = (1n << 128n) / BigInt(n);
  const out = [];
  for (let i = 0n; i < BigInt(n); i++) {
    out.push([i * step, i === BigInt(n) - 1n ? MAX_HASH : (i + 1n) * step - 1n]);
  }
  return out;
}

export function md5HashKey(partitionKey) {
  return BigInt("0x" + createHash("md5").update(partitionKey, "utf8").digest("hex"));
}

export function shardForHash(ranges, h) {
  const i = ranges.findIndex(([lo, hi]) => lo <= h && h <= hi);
  if (i < 0) throw new Error(`hash ${h} outside all ranges`);
  return i;
}

export const shardId = (i) => `shardId-${String(i).padStart(12, "0")}`;

export const text = (bytes) => Buffer.from(bytes).toString("utf8");
