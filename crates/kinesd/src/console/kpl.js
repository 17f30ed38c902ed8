// De-aggregation of records written by the Kinesis Producer Library (and the aws-kinesis-agg
// libraries): the magic F3 89 9A C2, a protobuf AggregatedRecord, then the MD5 of that protobuf.
// Anything else — a wrong magic, a digest that does not match, a protobuf that does not parse —
// is an ordinary record and is shown as it is, as the KCL does (and as `kinesd tail` does).
//
//   message AggregatedRecord { repeated string partition_key_table = 1;
//                              repeated string explicit_hash_key_table = 2;
//                              repeated Record records = 3; }
//   message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
//                    required bytes data = 3; repeated Tag tags = 4; }
//
// WebCrypto has no MD5, so it is written here (RFC 1321); it only checks the trailer.

const MAGIC = [0xf3, 0x89, 0x9a, 0xc2];
const DIGEST_LEN = 16;

const SHIFTS = [
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];
const SINES = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);

/** The MD5 digest (16 bytes) of `bytes` (a Uint8Array). */
export function md5(bytes) {
  const len = bytes.length;
  const padded = new Uint8Array((((len + 8) >> 6) + 1) << 6);
  padded.set(bytes);
  padded[len] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, (len * 8) >>> 0, true);
  view.setUint32(padded.length - 4, Math.floor(len / 2 ** 29), true);
  let [a0, b0, c0, d0] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  const words = new Uint32Array(16);
  for (let block = 0; block < padded.length; block += 64) {
    for (let i = 0; i < 16; i++) words[i] = view.getUint32(block + 4 * i, true);
    let [a, b, c, d] = [a0, b0, c0, d0];
    for (let i = 0; i < 64; i++) {
      let f;
      let g;
      if (i < 16) [f, g] = [(b & c) | (~b & d), i];
      else if (i < 32) [f, g] = [(d & b) | (~d & c), (5 * i + 1) % 16];
      else if (i < 48) [f, g] = [b ^ c ^ d, (3 * i + 5) % 16];
      else [f, g] = [c ^ (b | ~d), (7 * i) % 16];
      f = (f + a + SINES[i] + words[g]) >>> 0;
      [a, d, c] = [d, c, b];
      b = (b + ((f << SHIFTS[i]) | (f >>> (32 - SHIFTS[i])))) >>> 0;
    }
    [a0, b0, c0, d0] = [(a0 + a) >>> 0, (b0 + b) >>> 0, (c0 + c) >>> 0, (d0 + d) >>> 0];
  }
  const out = new Uint8Array(16);
  const ov = new DataView(out.buffer);
  [a0, b0, c0, d0].forEach((word, i) => ov.setUint32(4 * i, word, true));
  return out;
}

/** The fields of one protobuf message as [number, wireType, value]; null when malformed. */
function fields(bytes) {
  const out = [];
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (at >= bytes.length) return null;
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) return value;
    }
    return null;
  };
  while (at < bytes.length) {
    const key = varint();
    if (key === null) return null;
    const [number, type] = [Math.floor(key / 8), key % 8];
    let value;
    if (type === 0) {
      value = varint();
      if (value === null) return null;
    } else if (type === 1 || type === 5) {
      at += type === 1 ? 8 : 4;
      if (at > bytes.length) return null;
    } else if (type === 2) {
      const len = varint();
      if (len === null || at + len > bytes.length) return null;
      value = bytes.subarray(at, at + len);
      at += len;
    } else {
      return null;
    }
    out.push([number, type, value]);
  }
  return out;
}

/**
 * The user records of `data` (a Uint8Array) when it is a well-formed aggregated record, as
 * [{ partitionKey, explicitHashKey, data }], else null.
 */
export function deaggregate(data) {
  if (data.length < MAGIC.length + DIGEST_LEN || MAGIC.some((b, i) => data[i] !== b)) return null;
  const message = data.subarray(MAGIC.length, data.length - DIGEST_LEN);
  const digest = md5(message);
  if (digest.some((b, i) => data[data.length - DIGEST_LEN + i] !== b)) return null;
  const top = fields(message);
  if (!top) return null;
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const keys = [];
  const hashKeys = [];
  const raw = [];
  try {
    for (const [number, type, value] of top) {
      if (type !== 2) continue;
      if (number === 1) keys.push(utf8.decode(value));
      else if (number === 2) hashKeys.push(utf8.decode(value));
      else if (number === 3) raw.push(value);
    }
  } catch {
    return null; // a table entry that is not UTF-8
  }
  const records = [];
  for (const bytes of raw) {
    const record = fields(bytes);
    if (!record) return null;
    let [key, hashKey, payload] = [undefined, undefined, undefined];
    for (const [number, type, value] of record) {
      if (number === 1 && type === 0) key = value;
      else if (number === 2 && type === 0) hashKey = value;
      else if (number === 3 && type === 2) payload = value;
    }
    if (key === undefined || payload === undefined || key >= keys.length) return null;
    if (hashKey !== undefined && hashKey >= hashKeys.length) return null;
    records.push({
      partitionKey: keys[key],
      explicitHashKey: hashKey === undefined ? null : hashKeys[hashKey],
      data: payload,
    });
  }
  return records;
}
