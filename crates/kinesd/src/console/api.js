// The console's only ways into kinesd: the Kinesis JSON API (POST / with X-Amz-Target and
// application/x-amz-json-1.1, signed with SigV4 like any SDK's call) and the /metrics page for
// the charts. Signing uses WebCrypto (HMAC-SHA256, SHA-256), which a browser offers on
// http://127.0.0.1 and localhost (secure contexts) and on https.
//
// With --credentials (`<meta name="kinesd-auth" content="credentials">`) the caller's key and
// secret are asked for and kept in sessionStorage only (gone when the tab closes), so the
// console can do exactly what the API lets that key do. Without it any well-formed signature is
// accepted and the console signs with placeholder keys.

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";

export const REGION = meta("kinesd-region") || "us-east-1";
export const NEEDS_CREDENTIALS = meta("kinesd-auth") === "credentials";

const STORAGE_KEY = "kinesd-console-credentials";
const PLACEHOLDER = { accessKeyId: "KINESDCONSOLE", secretAccessKey: "kinesd-console", sessionToken: "" };

/** The credentials calls are signed with, or null when they must be asked for. */
export function credentials() {
  if (!NEEDS_CREDENTIALS) return PLACEHOLDER;
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null");
    return stored?.accessKeyId && stored?.secretAccessKey ? stored : null;
  } catch {
    return null;
  }
}

export function saveCredentials(value) {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(value));
}

export function forgetCredentials() {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** An error the API answered: its type (e.g. ResourceNotFoundException), message and status. */
export class ApiError extends Error {
  constructor(type, message, status) {
    super(message);
    this.type = type;
    this.status = status;
  }

  toString() {
    return `${this.type}: ${this.message}`;
  }
}

const encoder = new TextEncoder();
const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = async (text) => hex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));

async function hmac(key, text) {
  const raw = typeof key === "string" ? encoder.encode(key) : key;
  const k = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, encoder.encode(text));
}

/**
 * The headers of a signed POST / with `payload` (SigV4, service `kinesis`). The Host header the
 * browser sends is location.host, so that is what is signed.
 */
export async function signedHeaders(target, payload, creds, now = new Date()) {
  const amzDate = now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const headers = {
    "content-type": "application/x-amz-json-1.1",
    host: location.host,
    "x-amz-date": amzDate,
    "x-amz-target": target,
  };
  if (creds.sessionToken) headers["x-amz-security-token"] = creds.sessionToken;
  const names = Object.keys(headers).sort();
  const canonical = [
    "POST",
    "/",
    "",
    ...names.map((n) => `${n}:${headers[n].trim()}`),
    "",
    names.join(";"),
    await sha256(payload),
  ].join("\n");
  const scope = `${day}/${REGION}/kinesis/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, await sha256(canonical)].join("\n");
  let key = await hmac(`AWS4${creds.secretAccessKey}`, day);
  for (const part of [REGION, "kinesis", "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  delete headers.host; // the browser sets it; a script may not
  headers.authorization =
    `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`;
  return headers;
}

/** Calls one Kinesis operation; resolves to the decoded reply or rejects with an ApiError. */
export async function call(operation, input = {}, creds = credentials()) {
  if (!creds) throw new ApiError("MissingAuthenticationToken", "sign in first", 0);
  if (!globalThis.crypto?.subtle) {
    throw new Error("this browser offers WebCrypto, which signs the console's calls, only on https or loopback: open the console on kinesd's TLS port or on 127.0.0.1");
  }
  const payload = JSON.stringify(input);
  const headers = await signedHeaders(`Kinesis_20131202.${operation}`, payload, creds);
  const response = await fetch("/", { method: "POST", headers, body: payload, cache: "no-store" });
  const text = await response.text();
  let body = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: text };
  }
  if (!response.ok) {
    const type = (body.__type || response.headers.get("x-amzn-errortype") || `HTTP ${response.status}`)
      .split("#")
      .pop()
      .split(":")[0];
    throw new ApiError(type, body.message ?? body.Message ?? "", response.status);
  }
  return body;
}

/**
 * Every page of a paginated operation, at most `maxPages` (the console never loops forever).
 * `next(token)` is the input of a later page (ListShards wants the token alone).
 */
export async function paginate(operation, input, listKey, next = (token) => ({ ...input, NextToken: token }), maxPages = 10) {
  const out = [];
  let reply = await call(operation, input);
  for (let page = 1; ; page++) {
    out.push(...(reply[listKey] ?? []));
    if (!reply.NextToken || reply.HasMoreStreams === false || page >= maxPages) return out;
    reply = await call(operation, next(reply.NextToken));
  }
}

/** Base64 of bytes (a Uint8Array) and back. */
export function toBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function fromBase64(text) {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * The /metrics samples named `names` whose labels include `labels`, as [{ name, labels, value }].
 * The page is public on the API port (like AWS's CloudWatch is not): the console reads only the
 * series of the stream it is showing, named by the account of the stream's ARN, which it got
 * from a call signed with the caller's own credentials — it never displays other accounts'.
 */
export async function metrics(names, labels) {
  const response = await fetch("/metrics", { cache: "no-store" });
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  const text = await response.text();
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || !names.includes(m[1])) continue;
    const parsed = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      parsed[k] = v.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    if (Object.entries(labels).every(([k, v]) => parsed[k] === v)) {
      out.push({ name: m[1], labels: parsed, value: Number(m[3]) });
    }
  }
  return out;
}
