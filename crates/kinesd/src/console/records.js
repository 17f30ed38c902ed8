// One record of the record browser: its sequence number, partition key, size and arrival, and
// its data as text, pretty-printed JSON or a hex dump — or, for a KPL aggregate, each user
// record it carries, shown the same way.

import { fromBase64 } from "./api.js";
import { h } from "./dom.js";
import { deaggregate } from "./kpl.js";

/** Bytes of one record's data shown (the rest is counted, not drawn). */
const SHOWN_BYTES = { text: 16384, json: 16384, hex: 4096 };

function utf8(bytes) {
  return new TextDecoder("utf-8").decode(bytes);
}

function hexdump(bytes) {
  const lines = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${at.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}

/** `bytes` as text, pretty-printed JSON or a hex dump, cut at SHOWN_BYTES. */
function formatData(bytes, format) {
  const shown = bytes.subarray(0, SHOWN_BYTES[format]);
  const more = bytes.length - shown.length;
  let text;
  if (format === "hex") text = hexdump(shown);
  else if (format === "json") {
    // The whole record is parsed (JSON cut short does not parse); what is drawn is cut.
    let pretty;
    try {
      pretty = JSON.stringify(JSON.parse(utf8(bytes)), null, 2);
    } catch {
      return `(not JSON) ${utf8(shown)}${more > 0 ? `\n… ${more} more bytes` : ""}`;
    }
    const cut = pretty.length - SHOWN_BYTES.json;
    return cut > 0 ? `${pretty.slice(0, SHOWN_BYTES.json)}\n… ${cut} more characters` : pretty;
  } else {
    try {
      // `stream` lets the cut fall inside a character without calling the data binary.
      text = new TextDecoder("utf-8", { fatal: true }).decode(shown, { stream: more > 0 });
    } catch {
      return `(not UTF-8: shown as hex)\n${formatData(bytes, "hex")}`; // binary data
    }
  }
  return more > 0 ? `${text}\n… ${more} more bytes` : text;
}

export function recordView(record, format) {
  const data = fromBase64(record.Data);
  const arrived = new Date(record.ApproximateArrivalTimestamp * 1000).toISOString();
  const users = deaggregate(data);
  const head = h(
    "div",
    { class: "record-head" },
    h("span", { class: "seq" }, record.SequenceNumber),
    h("span", {}, `key ${record.PartitionKey}`),
    h("span", {}, `${data.length} bytes`),
    h("span", { class: "muted" }, arrived),
  );
  if (!users) {
    return h("div", { class: "record", dataset: { seq: record.SequenceNumber } }, head, h("pre", { class: "data" }, formatData(data, format)));
  }
  return h(
    "div",
    { class: "record aggregate", dataset: { seq: record.SequenceNumber, userRecords: String(users.length) } },
    head,
    h("p", { class: "kpl" }, `KPL aggregate: ${users.length} user record${users.length === 1 ? "" : "s"}`),
    ...users.map((u, i) =>
      h(
        "div",
        { class: "user-record", dataset: { index: String(i), partitionKey: u.partitionKey } },
        h("div", { class: "record-head" }, h("span", {}, `#${i}`), h("span", {}, `key ${u.partitionKey}`), u.explicitHashKey ? h("span", {}, `hash key ${u.explicitHashKey}`) : null, h("span", {}, `${u.data.length} bytes`)),
        h("pre", { class: "data" }, formatData(u.data, format)),
      ),
    ),
  );
}
