// The console's screens: the streams list (#/), a stream's page (#/stream/NAME) and, when
// kinesd verifies signatures, the sign-in form. Everything goes through api.js.
//
// Rates come from /metrics (the per-stream counters, sampled every 2 s and differenced) rather
// than from polling the API: counting records by reading every shard would itself be the
// largest reader of the stream, and would miss what fan-out consumers are sent.

import {
  ApiError,
  NEEDS_CREDENTIALS,
  REGION,
  call,
  credentials,
  forgetCredentials,
  metrics,
  paginate,
  saveCredentials,
  toBase64,
} from "./api.js";
import { lineChart, lineageGraph } from "./charts.js";
import { h, svg } from "./dom.js";
import { recordView } from "./records.js";

const main = document.getElementById("main");
const errorBox = document.getElementById("error");

/** Chart samples kept: 60 × 2 s = the last two minutes. */
const CHART_SAMPLES = 60;
const CHART_INTERVAL_MS = 2000;
const REFRESH_INTERVAL_MS = 5000;
const TRANSITION_INTERVAL_MS = 1000;
/** Streams listed at most (10 pages of ListStreams). */
const LIST_PAGES = 10;
/** DescribeStreamSummary calls in flight at once while listing, per refresh, and how old a
 * stream's summary may get before it is asked again (see Summaries). */
const DESCRIBE_CONCURRENCY = 4;
const DESCRIBE_PER_REFRESH = 40;
const DESCRIBE_MAX_AGE_MS = 30000;

// ------------------------------------------------------------------------------ messages

function showError(err) {
  errorBox.textContent = err instanceof ApiError ? err.toString() : String(err?.message ?? err);
  errorBox.hidden = false;
}

function clearError() {
  errorBox.hidden = true;
  errorBox.textContent = "";
}

/** Runs `action`, showing any failure in the error banner; resolves to its result or undefined. */
async function guarded(action) {
  try {
    const result = await action();
    return result;
  } catch (err) {
    showError(err);
    return undefined;
  }
}

// Timers of the screen on show; cleared when the screen changes.
let timers = [];
function every(ms, fn) {
  let running = false;
  const tick = async () => {
    if (running) return; // a slow call never stacks up behind itself
    running = true;
    try {
      await fn();
    } catch (err) {
      showError(err); // a bug shown, not an unhandled rejection
    } finally {
      running = false;
    }
  };
  timers.push(setInterval(tick, ms));
  tick();
  return tick; // to run it now (a Refresh button), unless it is running
}

// ---------------------------------------------------------------------------------- routing

function route() {
  timers.forEach(clearInterval);
  timers = [];
  clearError();
  document.getElementById("region").textContent = `region ${REGION}`;
  const creds = NEEDS_CREDENTIALS ? credentials() : null;
  document.getElementById("identity").textContent = creds ? `signed in as ${creds.accessKeyId}` : "";
  document.getElementById("sign-out").hidden = !creds;
  if (NEEDS_CREDENTIALS && !creds) return signIn();
  const m = /^#\/stream\/(.+)$/.exec(location.hash);
  return m ? streamPage(decodeURIComponent(m[1])) : streamsPage();
}

window.addEventListener("hashchange", route);
document.getElementById("sign-out").addEventListener("click", () => {
  forgetCredentials();
  location.hash = "#/";
  route();
});

// ---------------------------------------------------------------------------------- sign in

function signIn() {
  const key = h("input", { id: "access-key", autocomplete: "username", required: true, spellcheck: "false" });
  const secret = h("input", { id: "secret-key", type: "password", autocomplete: "current-password", required: true });
  const token = h("input", { id: "session-token", autocomplete: "off" });
  const result = h("p", { id: "sign-in-error", class: "error", hidden: true });
  const form = h(
    "form",
    { id: "sign-in", class: "card narrow" },
    h("h2", {}, "Sign in"),
    h("p", { class: "muted" }, "This kinesd verifies signatures (--credentials). Calls are signed in this browser; the key stays in this tab (sessionStorage)."),
    h("label", {}, "Access key ID", key),
    h("label", {}, "Secret access key", secret),
    h("label", {}, "Session token (optional)", token),
    h("button", { type: "submit", id: "sign-in-submit" }, "Sign in"),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const creds = { accessKeyId: key.value.trim(), secretAccessKey: secret.value, sessionToken: token.value.trim() };
    try {
      await call("ListStreams", { Limit: 1 }, creds); // the API says whether the key is good
      saveCredentials(creds);
      route();
    } catch (err) {
      result.textContent = err instanceof ApiError ? err.toString() : String(err);
      result.hidden = false;
    }
  });
  main.replaceChildren(form);
}

// ------------------------------------------------------------------------------ streams list

const modeOf = (summary) => summary?.StreamModeDetails?.StreamMode ?? "PROVISIONED";

/**
 * The streams' summaries, kept between refreshes of the list: a stream is described again when
 * ListStreams shows it in another status or recreated, or after DESCRIBE_MAX_AGE_MS, and at most
 * DESCRIBE_PER_REFRESH at a time (the oldest first), so that a list of 1,000 streams costs a few
 * calls a second, well inside DescribeStreamSummary's rate of 20 a second (--enforce-limits).
 */
class Summaries {
  constructor() {
    this.byName = new Map(); // name -> { at, status, created, summary | error }
  }

  async refresh(listed) {
    const now = Date.now();
    const names = new Set(listed.map((s) => s.StreamName));
    for (const name of this.byName.keys()) if (!names.has(name)) this.byName.delete(name);
    const stale = listed
      .filter((s) => {
        const c = this.byName.get(s.StreamName);
        return !c || c.status !== s.StreamStatus || c.created !== s.StreamCreationTimestamp || now - c.at > DESCRIBE_MAX_AGE_MS;
      })
      .sort((a, b) => (this.byName.get(a.StreamName)?.at ?? 0) - (this.byName.get(b.StreamName)?.at ?? 0))
      .slice(0, DESCRIBE_PER_REFRESH);
    let next = 0;
    const worker = async () => {
      while (next < stale.length) {
        const s = stale[next++];
        const entry = { at: Date.now(), status: s.StreamStatus, created: s.StreamCreationTimestamp };
        try {
          entry.summary = (await call("DescribeStreamSummary", { StreamName: s.StreamName })).StreamDescriptionSummary;
        } catch (err) {
          entry.error = err;
        }
        this.byName.set(s.StreamName, entry);
      }
    };
    await Promise.all(Array.from({ length: DESCRIBE_CONCURRENCY }, worker));
  }

  get(name) {
    return this.byName.get(name) ?? {};
  }
}

function streamsPage() {
  const described = new Summaries();
  // Refreshed every 5 s, or every second while a stream is changing state (CREATING → ACTIVE).
  let [lastLoad, changing] = [0, false];
  let pending = null; // the stream this page asked to create, until it is ACTIVE
  const body = h("tbody");
  const note = h("p", { class: "muted", id: "streams-note" });
  const table = h(
    "table",
    { id: "streams" },
    h("thead", {}, h("tr", {}, ...["Name", "Status", "Mode", "Open shards", "Retention"].map((t) => h("th", {}, t)))),
    body,
  );
  const load = async () => {
    const summaries = await guarded(async () => {
      const list = await paginate("ListStreams", { Limit: 100 }, "StreamSummaries", undefined, LIST_PAGES);
      return list;
    });
    if (!summaries) return;
    await described.refresh(summaries);
    body.replaceChildren(
      ...summaries.map((s) => {
        const { summary: d = {}, error } = described.get(s.StreamName);
        return h(
          "tr",
          { dataset: { stream: s.StreamName } },
          h("td", {}, h("a", { href: `#/stream/${encodeURIComponent(s.StreamName)}` }, s.StreamName)),
          h("td", {}, h("span", { class: `status ${s.StreamStatus}` }, s.StreamStatus)),
          h("td", {}, modeOf(s.StreamModeDetails ? s : d)),
          h("td", { class: "num" }, d.OpenShardCount ?? "–"),
          h("td", { class: error ? "error-text" : "num" }, d.RetentionPeriodHours !== undefined ? `${d.RetentionPeriodHours} h` : error ? String(error) : "–"),
        );
      }),
    );
    const n = summaries.length;
    note.textContent = n ? `${n} stream${n === 1 ? "" : "s"}` : "No streams yet.";
    const asked = summaries.find((s) => s.StreamName === pending);
    if (asked?.StreamStatus === "ACTIVE") {
      created.textContent = `${pending} is ACTIVE.`;
      pending = null;
    }
    return summaries.some((s) => s.StreamStatus !== "ACTIVE");
  };

  const name = h("input", { id: "create-name", required: true, pattern: "[a-zA-Z0-9_.\\-]{1,128}", placeholder: "my-stream" });
  const mode = h("select", { id: "create-mode" }, h("option", { value: "PROVISIONED" }, "provisioned"), h("option", { value: "ON_DEMAND" }, "on-demand"));
  const shards = h("input", { id: "create-shards", type: "number", min: 1, value: 1 });
  const created = h("p", { id: "create-result", class: "muted" });
  mode.addEventListener("change", () => {
    shards.disabled = mode.value === "ON_DEMAND";
  });
  const form = h(
    "form",
    { id: "create", class: "card" },
    h("h3", {}, "Create a stream"),
    h("div", { class: "row" }, h("label", {}, "Name", name), h("label", {}, "Capacity mode", mode), h("label", {}, "Shards", shards)),
    h("button", { type: "submit", id: "create-submit" }, "Create stream"),
    created,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    const input = { StreamName: name.value.trim(), StreamModeDetails: { StreamMode: mode.value } };
    if (mode.value === "PROVISIONED") input.ShardCount = Number(shards.value);
    const ok = await guarded(() => call("CreateStream", input));
    if (ok) {
      created.textContent = `Creating ${input.StreamName}…`;
      pending = input.StreamName;
      name.value = "";
      changing = true;
      refreshNow();
    }
  });

  main.replaceChildren(
    h("section", {}, h("div", { class: "title" }, h("h2", {}, "Streams"), h("button", { id: "refresh", type: "button", onclick: () => refreshNow() }, "Refresh")), table, note),
    form,
  );
  const tick = async () => {
    if (!changing && Date.now() - lastLoad < REFRESH_INTERVAL_MS) return;
    lastLoad = Date.now();
    changing = (await load()) ?? false;
  };
  const ticker = every(TRANSITION_INTERVAL_MS, tick);
  const refreshNow = () => {
    lastLoad = 0;
    return ticker();
  };
}

// ------------------------------------------------------------------------------ stream page

function streamPage(stream) {
  const state = { summary: null, shards: [], samples: [], records: [], iterator: null };
  // Elements are held, never looked up by id: a refresh still in flight when the user has gone
  // to another screen then writes into the detached nodes, harmlessly.
  const badge = h("span", { id: "stream-status", class: "status" });
  const header = h("div", { class: "title" }, h("h2", { id: "stream-name" }, stream), badge, h("a", { href: "#/" }, "← all streams"));
  const facts = h("dl", { id: "stream-facts", class: "facts" });
  const recordsChart = svg("chart-records");
  const bytesChart = svg("chart-bytes");
  const chartNote = h("p", { id: "chart-note", class: "muted" });
  const lineage = svg("lineage");
  const lineageNote = h("p", { id: "lineage-note", class: "error-text" });
  const consumers = h("tbody");

  const account = () => state.summary?.StreamARN?.split(":")[4];

  // The summary is needed for anything else; ListShards and ListStreamConsumers may be denied
  // on their own (an identity policy), which leaves the rest of the page working. A banner this
  // refresh raised is cleared by the next refresh that works, not one another action raised.
  let raised = false;
  const refresh = async () => {
    try {
      state.summary = (await call("DescribeStreamSummary", { StreamName: stream })).StreamDescriptionSummary;
    } catch (err) {
      showError(err);
      raised = true;
      return;
    }
    if (raised) clearError();
    raised = false;
    try {
      state.shards = await paginate("ListShards", { StreamName: stream, MaxResults: 1000 }, "Shards", (t) => ({ NextToken: t, MaxResults: 1000 }));
      lineageNote.textContent = "";
    } catch (err) {
      lineageNote.textContent = String(err);
    }
    try {
      state.consumers = await paginate("ListStreamConsumers", { StreamARN: state.summary.StreamARN }, "Consumers");
      state.consumersError = null;
    } catch (err) {
      state.consumersError = err;
    }
    const s = state.summary;
    badge.textContent = s.StreamStatus;
    badge.className = `status ${s.StreamStatus}`;
    const fact = (k, v) => [h("dt", {}, k), h("dd", { dataset: { fact: k } }, String(v))];
    facts.replaceChildren(
      ...fact("ARN", s.StreamARN),
      ...fact("Mode", modeOf(s)),
      ...fact("Open shards", s.OpenShardCount),
      ...fact("Shards (with closed)", state.shards.length),
      ...fact("Retention", `${s.RetentionPeriodHours} h`),
      ...fact("Encryption", s.EncryptionType ?? "NONE"),
      ...fact("Created", new Date(s.StreamCreationTimestamp * 1000).toISOString()),
    );
    lineageGraph(lineage, state.shards);
    updateShardChoice();
    drawConsumers();
  };

  // Rates: counters sampled every 2 s and differenced; lag: the gauge as it is.
  let lags = new Map();
  const sample = async () => {
    if (!account()) return;
    try {
      const names = ["kinesd_stream_incoming_records_total", "kinesd_stream_incoming_bytes_total", "kinesd_stream_outgoing_records_total", "kinesd_stream_outgoing_bytes_total", "kinesd_consumer_lag_seconds"];
      const found = await metrics(names, { stream, account: account() });
      const sum = (name) => found.filter((m) => m.name === name).reduce((a, m) => a + m.value, 0);
      lags = new Map(found.filter((m) => m.name === "kinesd_consumer_lag_seconds").map((m) => [m.labels.consumer, m.value]));
      const now = { t: performance.now(), inR: sum(names[0]), inB: sum(names[1]), outR: sum(names[2]), outB: sum(names[3]) };
      const last = state.last;
      state.last = now;
      chartNote.textContent = "from /metrics every 2 s";
      if (last) {
        const dt = (now.t - last.t) / 1000;
        const rate = (k) => Math.max(0, (now[k] - last[k]) / dt); // a recreated stream restarts at 0
        state.samples.push({ inR: rate("inR"), outR: rate("outR"), inB: rate("inB"), outB: rate("outB") });
        if (state.samples.length > CHART_SAMPLES) state.samples.shift();
      }
      drawCharts();
      drawConsumers();
    } catch (err) {
      chartNote.textContent = `no rates: ${err.message}`;
    }
  };
  const drawCharts = () => {
    const series = (k) => state.samples.map((x) => x[k]);
    lineChart(recordsChart, { title: "Records", unit: "/s", capacity: CHART_SAMPLES, series: [{ name: "in", cls: "in", values: series("inR") }, { name: "out", cls: "out", values: series("outR") }] });
    lineChart(bytesChart, { title: "Bytes", unit: "/s", capacity: CHART_SAMPLES, series: [{ name: "in", cls: "in", values: series("inB") }, { name: "out", cls: "out", values: series("outB") }] });
  };
  const drawConsumers = () => {
    const list = state.consumers ?? [];
    if (state.consumersError) {
      return consumers.replaceChildren(h("tr", {}, h("td", { colspan: 4, class: "error-text" }, String(state.consumersError))));
    }
    consumers.replaceChildren(
      ...(list.length
        ? list.map((c) =>
            h(
              "tr",
              { dataset: { consumer: c.ConsumerName } },
              h("td", {}, c.ConsumerName),
              h("td", {}, h("span", { class: `status ${c.ConsumerStatus}` }, c.ConsumerStatus)),
              h("td", {}, new Date(c.ConsumerCreationTimestamp * 1000).toISOString()),
              h("td", { class: "num" }, lags.has(c.ConsumerName) ? `${lags.get(c.ConsumerName).toFixed(1)} s behind` : "no live subscription"),
            ),
          )
        : [h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No enhanced fan-out consumers."))]),
    );
  };

  // ---- put a test record
  const putKey = h("input", { id: "put-key", value: "console", required: true });
  const putData = h("textarea", { id: "put-data", rows: 2 }, '{"hello":"kinesd"}');
  const putResult = h("p", { id: "put-result", class: "muted" });
  const putForm = h("form", { id: "put", class: "card" }, h("h3", {}, "Put a test record"), h("div", { class: "row" }, h("label", {}, "Partition key", putKey), h("label", { class: "grow" }, "Data (UTF-8)", putData)), h("button", { type: "submit", id: "put-submit" }, "Put record"), putResult);
  putForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    const data = toBase64(new TextEncoder().encode(putData.value));
    const out = await guarded(() => call("PutRecord", { StreamName: stream, PartitionKey: putKey.value, Data: data }));
    if (!out) return;
    putResult.textContent = `Stored in ${out.ShardId} at ${out.SequenceNumber}`;
    shardChoice.value = out.ShardId; // the record browser opens where the record went
  });

  // ---- record browser
  const shardChoice = h("select", { id: "browse-shard" });
  const updateShardChoice = () => {
    const chosen = shardChoice.value;
    shardChoice.replaceChildren(...state.shards.map((s) => h("option", { value: s.ShardId }, `${s.ShardId}${s.SequenceNumberRange?.EndingSequenceNumber ? " (closed)" : ""}`)));
    if (state.shards.some((s) => s.ShardId === chosen)) shardChoice.value = chosen;
  };
  const kind = h("select", { id: "browse-type" }, ...["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"].map((t) => h("option", { value: t }, t)));
  const at = h("input", { id: "browse-at", placeholder: "2026-01-01T00:00:00Z or a sequence number", disabled: true });
  kind.addEventListener("change", () => {
    at.disabled = !kind.value.startsWith("A");
  });
  const limit = h("input", { id: "browse-limit", type: "number", min: 1, max: 10000, value: 25 });
  const format = h("select", { id: "browse-format" }, ...["text", "json", "hex"].map((f) => h("option", { value: f }, f)));
  const next = h("button", { type: "button", id: "browse-next", disabled: true }, "Next page");
  const status = h("p", { id: "browse-status", class: "muted" });
  const list = h("div", { id: "records" });
  const showPage = () => {
    list.replaceChildren(...state.records.map((r) => recordView(r, format.value)));
  };
  format.addEventListener("change", showPage);
  const fetchPage = async () => {
    const out = await guarded(() => call("GetRecords", { ShardIterator: state.iterator, Limit: Number(limit.value) || 25 }));
    if (!out) return;
    state.iterator = out.NextShardIterator ?? null;
    state.records = out.Records ?? [];
    next.disabled = !state.iterator;
    const end = state.iterator ? "" : " — end of this closed shard";
    status.textContent = `${state.records.length} record${state.records.length === 1 ? "" : "s"}, ${out.MillisBehindLatest ?? 0} ms behind the tip${end}`;
    showPage();
  };
  const start = h("button", { type: "submit", id: "browse-start" }, "Read");
  const browseForm = h(
    "form",
    { id: "browse", class: "card" },
    h("h3", {}, "Records"),
    h("div", { class: "row" }, h("label", {}, "Shard", shardChoice), h("label", {}, "Start", kind), h("label", { class: "grow" }, "At", at), h("label", {}, "Per page", limit), h("label", {}, "Show as", format)),
    h("div", { class: "row" }, start, next),
    status,
    list,
  );
  browseForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    const input = { StreamName: stream, ShardId: shardChoice.value, ShardIteratorType: kind.value };
    if (kind.value === "AT_TIMESTAMP") {
      const t = Date.parse(at.value);
      if (Number.isNaN(t)) return showError(new Error(`not a time: ${at.value}`));
      input.Timestamp = t / 1000;
    } else if (kind.value.endsWith("SEQUENCE_NUMBER")) {
      input.StartingSequenceNumber = at.value.trim();
    }
    const out = await guarded(() => call("GetShardIterator", input));
    if (!out) return;
    state.iterator = out.ShardIterator;
    await fetchPage();
  });
  next.addEventListener("click", () => {
    clearError();
    return fetchPage();
  });

  // ---- delete
  const confirmName = h("input", { id: "delete-confirm", placeholder: stream, autocomplete: "off" });
  const confirmBox = h("div", { class: "row", hidden: true }, h("label", { class: "grow" }, `Type ${stream} to delete it and its consumers`, confirmName), h("button", { type: "submit", id: "delete-submit", class: "danger" }, "Delete"));
  const deleteForm = h("form", { id: "delete", class: "card" }, h("h3", {}, "Delete this stream"), h("button", { type: "button", id: "delete-open", class: "danger", onclick: () => (confirmBox.hidden = false) }, "Delete stream…"), confirmBox);
  deleteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (confirmName.value !== stream) return showError(new Error("the name typed is not the stream's"));
    const ok = await guarded(() => call("DeleteStream", { StreamName: stream, EnforceConsumerDeletion: true }).then(() => true));
    if (ok) location.hash = "#/";
  });

  main.replaceChildren(
    header,
    facts,
    h("section", { class: "charts" }, h("div", { class: "chart" }, recordsChart), h("div", { class: "chart" }, bytesChart), chartNote),
    h("section", { class: "card" }, h("h3", {}, "Shard lineage"), h("div", { class: "lineage" }, lineage), lineageNote),
    h("section", { class: "card" }, h("h3", {}, "Consumers"), h("table", { id: "consumers" }, h("thead", {}, h("tr", {}, ...["Name", "Status", "Created", "Behind"].map((t) => h("th", {}, t)))), consumers)),
    putForm,
    browseForm,
    deleteForm,
  );
  drawCharts();
  // The first rate sample waits for the stream's ARN (its account names its series).
  every(REFRESH_INTERVAL_MS, refresh);
  every(CHART_INTERVAL_MS, sample);
}

route();
