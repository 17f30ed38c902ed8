// Hand-drawn SVG: line charts of rates and the shard lineage graph. No library: a few
// elements built with the DOM, styled by style.css (the content security policy allows no
// inline style sheets, and SVG presentation attributes are not styles).

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** "1.5 k", "12", "0.25": a rate in few characters. */
export function shortNumber(n) {
  if (!Number.isFinite(n)) return "–";
  const units = [
    [1e9, " G"],
    [1e6, " M"],
    [1e3, " k"],
  ];
  for (const [scale, suffix] of units) if (Math.abs(n) >= scale) return `${(n / scale).toFixed(1)}${suffix}`;
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 2 : 1);
}

/**
 * Draws `series` ([{ name, cls, values }], values oldest first, one per sample) into `svg`,
 * `capacity` samples wide, with the latest value of each in the legend.
 */
export function lineChart(svg, { title, unit, series, capacity }) {
  const [width, height, left, top, bottom] = [460, 170, 48, 26, 20];
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const plotW = width - left - 10;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  svg.append(el("text", { x: 4, y: 14, class: "chart-title" }, `${title} (${unit})`));
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH * (1 - f);
    svg.append(el("line", { x1: left, x2: left + plotW, y1: y, y2: y, class: "grid" }));
    svg.append(el("text", { x: left - 4, y: y + 4, class: "axis" }, shortNumber(max * f)));
  }
  svg.append(el("text", { x: left, y: height - 4, class: "axis start" }, `${Math.round((capacity - 1) * 2)} s ago`));
  svg.append(el("text", { x: left + plotW, y: height - 4, class: "axis" }, "now"));
  series.forEach((s, i) => {
    const n = s.values.length;
    const points = s.values.map((v, j) => {
      const x = left + plotW * ((capacity - n + j) / Math.max(1, capacity - 1));
      return `${x.toFixed(1)},${(top + plotH * (1 - v / max)).toFixed(1)}`;
    });
    if (points.length) svg.append(el("polyline", { points: points.join(" "), class: `line ${s.cls}` }));
    const latest = n ? s.values[n - 1] : NaN;
    const legend = el("text", { x: 170 + i * 150, y: 14, class: `legend ${s.cls}` }, `${s.name} ${shortNumber(latest)}`);
    legend.dataset.series = s.cls;
    legend.dataset.value = String(latest);
    svg.append(legend);
  });
}

const TWO_128 = 1n << 128n;
/** Pixels of hash key space at most in the lineage graph (about 400 equal shards a column). */
const LINEAGE_MAX_HEIGHT = 8000;
/** Where a hash key (a decimal string) falls in [0, 1). */
const position = (key) => Number((BigInt(key) * 1000000n) / TWO_128) / 1e6;

/** "shardId-000000000007" → "7". */
export const shortShard = (id) => String(Number(id.replace(/^shardId-/, "")));

/**
 * Draws the shard lineage from ListShards' shards: one column per generation (a shard one to
 * the right of its parents), each shard a box spanning its hash range vertically, an edge from
 * each parent (and adjacent parent, after a merge) to its child. Closed shards are greyed.
 */
export function lineageGraph(svg, shards) {
  const byId = new Map(shards.map((s) => [s.ShardId, s]));
  const depth = new Map();
  const depthOf = (s, seen = new Set()) => {
    if (depth.has(s.ShardId)) return depth.get(s.ShardId);
    if (seen.has(s.ShardId)) return 0;
    seen.add(s.ShardId);
    const parents = [s.ParentShardId, s.AdjacentParentShardId].filter((p) => byId.has(p));
    const d = parents.length ? 1 + Math.max(...parents.map((p) => depthOf(byId.get(p), seen))) : 0;
    depth.set(s.ShardId, d);
    return d;
  };
  shards.forEach((s) => depthOf(s));
  const columns = 1 + Math.max(0, ...depth.values());
  // A column's boxes share the height by hash range: it grows with the most shards in a
  // column so that each keeps a readable box, up to LINEAGE_MAX_HEIGHT (then small shards'
  // boxes overlap; their titles still name them). The container scrolls.
  const perColumn = new Map();
  for (const d of depth.values()) perColumn.set(d, (perColumn.get(d) ?? 0) + 1);
  const [colW, boxW, top] = [170, 120, 10];
  const height = Math.min(LINEAGE_MAX_HEIGHT, Math.max(300, 20 * Math.max(...perColumn.values(), 1)));
  const width = Math.max(colW * columns, 640);
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height + top * 2 + 14}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height + top * 2 + 14));
  const boxes = new Map();
  for (const s of shards) {
    const [lo, hi] = [position(s.HashKeyRange.StartingHashKey), position(s.HashKeyRange.EndingHashKey)];
    const x = 10 + depth.get(s.ShardId) * colW;
    const y = top + lo * height;
    const h = Math.max(4, (hi - lo) * height - 2);
    boxes.set(s.ShardId, { x, y, h });
  }
  for (const s of shards) {
    for (const parent of [s.ParentShardId, s.AdjacentParentShardId]) {
      const [from, to] = [boxes.get(parent), boxes.get(s.ShardId)];
      if (!from || !to) continue;
      const [x1, y1, x2, y2] = [from.x + boxW, from.y + from.h / 2, to.x, to.y + to.h / 2];
      const mid = (x1 + x2) / 2;
      const edge = el("path", { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, class: "edge" });
      edge.dataset.from = parent;
      edge.dataset.to = s.ShardId;
      svg.append(edge);
    }
  }
  for (const s of shards) {
    const { x, y, h } = boxes.get(s.ShardId);
    const closed = s.SequenceNumberRange?.EndingSequenceNumber !== undefined;
    const g = el("g", { class: `shard ${closed ? "closed" : "open"}` });
    g.dataset.shardId = s.ShardId;
    const [lo, hi] = [s.HashKeyRange.StartingHashKey, s.HashKeyRange.EndingHashKey];
    g.append(el("title", {}, `${s.ShardId}${closed ? " (closed)" : ""}\nhash keys ${lo} – ${hi}`));
    g.append(el("rect", { x, y, width: boxW, height: h, rx: 4 }));
    if (h >= 14) g.append(el("text", { x: x + 6, y: y + 12, class: "shard-label" }, `shard ${shortShard(s.ShardId)}`));
    if (h >= 30) {
      const pct = (k) => `${(position(k) * 100).toFixed(1)}%`;
      g.append(el("text", { x: x + 6, y: y + 25, class: "shard-range" }, `${pct(lo)} – ${pct(hi)}`));
    }
    svg.append(g);
  }
  svg.append(el("text", { x: 10, y: height + top * 2 + 10, class: "axis start" }, "hash key space top to bottom; parents left of children; grey: closed"));
}
