#!/usr/bin/env python3
"""Turns the JSON results of scripts/bench-peers.sh into BENCHMARKS.md and an SVG chart.

Reads <results>/results/<workload>.<target>.<round>.json (kinesd-bench --json reports),
<results>/results/*.failed (runs that failed) and <results>/status/<target> (targets that could
not be installed), and takes the median of every figure over the rounds. Standard library only;
the chart is written by hand as SVG.
"""

import argparse
import glob
import json
import math
import os
import platform
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timezone

TARGET_ORDER = ["kinesd", "ferrokinesis", "kinesalite", "kinesis-mock", "null"]
COLORS = {
    "kinesd": "#d1495b",
    "ferrokinesis": "#edae49",
    "kinesalite": "#00798c",
    "kinesis-mock": "#66a182",
    "null": "#9e9e9e",
}
DISPLAY = {"null": "null server (ceiling)"}
WORKLOADS = {
    "put-100": "PutRecords, 500 records × 100 B, 4 shards, 8 connections",
    "put-1k": "PutRecords, 500 records × 1 KiB, 4 shards, 8 connections",
    "get": "GetRecords catch-up read, 4 shards, 4 readers, Limit 10,000 (100 B records)",
    "mixed": "Mixed: 4 producers at a fixed rate + 4 tailing consumers; end-to-end latency (100 B records)",
    "subscribe": "Enhanced fan-out: 10 consumers × 10 shards of SubscribeToShard under a fixed put rate (100 B records)",
}
SHORT = {"put-100": "put 500×100 B", "put-1k": "put 500×1 KiB", "get": "get catch-up", "mixed": "mixed", "subscribe": "subscribe"}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""


def fsync_latency_us(directory):
    """Median time of a 4 KiB write + fdatasync in `directory` — what a durable write costs here."""
    try:
        fd, path = tempfile.mkstemp(dir=directory)
        samples = []
        block = b"x" * 4096
        for _ in range(200):
            t = time.perf_counter()
            os.write(fd, block)
            os.fdatasync(fd)
            samples.append((time.perf_counter() - t) * 1e6)
        os.close(fd)
        os.unlink(path)
        return statistics.median(samples)
    except Exception:
        return None


def machine():
    cpu = sh("lscpu | sed -n 's/^Model name: *//p' | head -1") or platform.processor()
    cores = os.cpu_count()
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    tmp = tempfile.gettempdir()
    disk = sh(f"findmnt -no SOURCE,FSTYPE -T {tmp}")
    dev = disk.split()[0] if disk else ""
    rota = sh(f"lsblk -dno ROTA {dev}") if dev.startswith("/dev/") else ""
    size = sh(f"lsblk -dno SIZE {dev}") if dev.startswith("/dev/") else ""
    kind = {"0": "reported non-rotational", "1": "reported rotational"}.get(rota, "")
    fsync = fsync_latency_us(tmp)
    return {
        "cpu": f"{cpu}, {cores} cores" + (" (virtual machine)" if "hypervisor" in sh("grep -m1 -o hypervisor /proc/cpuinfo") else ""),
        "ram": f"{mem_kib / 1024 / 1024:.0f} GiB",
        "kernel": f"Linux {platform.release()}",
        "disk": ", ".join(x for x in [f"{tmp} on {disk}" if disk else tmp, size, kind] if x)
        + (f"; 4 KiB write + fdatasync: median {fsync:.0f} µs" if fsync else ""),
        "rust": sh("rustc --version"),
        "node": sh("node --version"),
        "commit": sh("git describe --always --dirty --abbrev=10"),
        "load": sh("cut -d' ' -f1-3 /proc/loadavg"),
    }


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def call(report, name):
    return next((c for c in report["calls"] if c["name"] == name), None)


def load(results_dir):
    runs, failures = {}, {}
    for path in sorted(glob.glob(os.path.join(results_dir, "results", "*.json"))):
        workload, target, _round = os.path.basename(path)[: -len(".json")].rsplit(".", 2)
        try:
            with open(path) as f:
                runs.setdefault((workload, target), []).append(json.load(f))
        except (OSError, ValueError) as e:
            failures.setdefault((workload, target), []).append(f"unreadable result: {e}")
    for path in sorted(glob.glob(os.path.join(results_dir, "results", "*.failed"))):
        workload, target, _round = os.path.basename(path)[: -len(".failed")].rsplit(".", 2)
        with open(path) as f:
            reason = f.read().strip().splitlines()
        failures.setdefault((workload, target), []).append(reason[-1] if reason else "failed")
    status = {}
    for path in glob.glob(os.path.join(results_dir, "status", "*")):
        name = os.path.basename(path)
        if not name.startswith("command."):
            with open(path) as f:
                status[name] = f.read().strip()
    commands = {}
    for path in glob.glob(os.path.join(results_dir, "status", "command.*")):
        with open(path) as f:
            commands[os.path.basename(path)[len("command."):]] = f.read().strip()
    return runs, failures, status, commands


def summarise(workload, reports):
    """Median figures over the rounds, for one workload on one target."""
    main = {"put-100": "PutRecords", "put-1k": "PutRecords", "get": "GetRecords", "mixed": "PutRecords",
            "subscribe": "delivered"}[workload]
    lat = {"put-100": "PutRecords", "put-1k": "PutRecords", "get": "GetRecords", "mixed": "end-to-end",
           "subscribe": "put-to-event"}[workload]
    calls = [call(r, main) for r in reports]
    # Rounds in which no call completed have no latency to show.
    lats = [call(r, lat)["latency_us"] for r in reports if call(r, lat)["latency_us"]["count"] > 0]
    servers = [r.get("server") or {} for r in reports]
    s = {
        "rounds": [c["records_per_s"] for c in calls],
        "records_per_s": median([c["records_per_s"] for c in calls]),
        "mb_per_s": median([c["mb_per_s"] for c in calls]),
        "p50": median([l["p50_us"] for l in lats]),
        "p99": median([l["p99_us"] for l in lats]),
        "p999": median([l["p999_us"] for l in lats]),
        "max": max((l["max_us"] for l in lats), default=None),
        "errors": sum(sum(c["errors"] for c in r["calls"]) for r in reports),
        "error_types": sorted({k for r in reports for c in r["calls"] for k in c["errors_by_type"]}),
        "cpu_us": median([sv.get("cpu_us_per_record") for sv in servers]),
        "rss_mib": median([sv["peak_rss_kib"] / 1024 if sv.get("peak_rss_kib") else None for sv in servers]),
        # The fill's shortfall is in its own column; other notes once each.
        "notes": sorted({n for r in reports for n in r.get("notes", []) if not n.startswith("the fill stopped")}),
    }
    if workload == "get":
        s["filled"] = median([call(r, "fill (put)")["records"] for r in reports])
        s["fill_rate"] = median([call(r, "fill (put)")["records_per_s"] for r in reports])
    if workload == "subscribe":
        s["put_records_per_s"] = median([call(r, "PutRecords")["records_per_s"] for r in reports])
    if workload == "mixed":
        s["get_records_per_s"] = median([call(r, "GetRecords")["records_per_s"] for r in reports])
        s["put_p99"] = median([call(r, "PutRecords")["latency_us"]["p99_us"] for r in reports
                               if call(r, "PutRecords")["latency_us"]["count"] > 0])
    return s


def us(v):
    if v is None:
        return "–"
    if v < 1000:
        return f"{v:.0f} µs"
    if v < 1_000_000:
        return f"{v / 1000:.1f} ms"
    return f"{v / 1e6:.2f} s"


def num(v, digits=0):
    return "–" if v is None else f"{v:,.{digits}f}"


def short(v):
    if v >= 1e6:
        return f"{v / 1e6:.1f}M"
    if v >= 1e3:
        return f"{v / 1e3:.0f}k"
    return f"{v:.0f}"


def table(workload, targets, summaries, failures, status):
    if workload == "get":
        head = ["target", "records read/s", "MB/s", "GetRecords p50", "p99", "p99.9", "max", "records filled", "errors", "server CPU/record", "peak RSS", "per round (records/s)"]
    elif workload == "subscribe":
        head = ["target", "records delivered/s (all consumers)", "put records/s", "put-to-event p50", "p99", "p99.9", "max", "errors", "server CPU/delivery", "peak RSS", "per round (delivered/s)"]
    elif workload == "mixed":
        head = ["target", "put records/s", "get records/s", "end-to-end p50", "p99", "p99.9", "max", "PutRecords p99", "errors", "server CPU/record", "peak RSS", "per round (put records/s)"]
    else:
        head = ["target", "records/s", "MB/s", "p50", "p99", "p99.9", "max", "errors", "server CPU/record", "peak RSS", "per round (records/s)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in targets:
        name = DISPLAY.get(t, t)
        s = summaries.get((workload, t))
        if s is None:
            why = status.get(t) or "; ".join(sorted(set(failures.get((workload, t), [])))) or "not run"
            lines.append(f"| {name} | **{why}** |" + " |" * (len(head) - 2))
            continue
        errors = num(s["errors"]) + (f" ({', '.join(s['error_types'])})" if s["error_types"] else "")
        cpu = "–" if s["cpu_us"] is None else f"{s['cpu_us']:.2f} µs"
        rss = "–" if s["rss_mib"] is None else f"{s['rss_mib']:.0f} MiB"
        rounds = ", ".join(short(r) for r in s["rounds"])
        failed = failures.get((workload, t))
        if failed:
            rounds += f"; {len(failed)} failed"
        if workload == "get":
            row = [name, num(s["records_per_s"]), num(s["mb_per_s"], 1), us(s["p50"]), us(s["p99"]), us(s["p999"]), us(s["max"]), num(s["filled"]), errors, cpu, rss, rounds]
        elif workload == "subscribe":
            row = [name, num(s["records_per_s"]), num(s["put_records_per_s"]), us(s["p50"]), us(s["p99"]), us(s["p999"]), us(s["max"]), errors, cpu, rss, rounds]
        elif workload == "mixed":
            row = [name, num(s["records_per_s"]), num(s["get_records_per_s"]), us(s["p50"]), us(s["p99"]), us(s["p999"]), us(s["max"]), us(s["put_p99"]), errors, cpu, rss, rounds]
        else:
            row = [name, num(s["records_per_s"]), num(s["mb_per_s"], 1), us(s["p50"]), us(s["p99"]), us(s["p999"]), us(s["max"]), errors, cpu, rss, rounds]
        if t == "kinesd":
            row[0] = "**kinesd**"
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def ratio_line(workload, summaries, peers):
    k = summaries.get((workload, "kinesd"))
    rates = [(summaries[(workload, p)]["records_per_s"], p) for p in peers if (workload, p) in summaries]
    if not k or not rates or workload in ("mixed", "subscribe"):
        return ""
    best, who = max(rates)
    if best <= 0:
        return ""
    return f"kinesd ÷ fastest peer ({who}): **{k['records_per_s'] / best:.1f}×** records/s."


# --- the chart --------------------------------------------------------------------------------


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def panel(x0, y0, w, h, title, groups, targets, values, fmt, lower_better, axis_fmt=None, zero_word="0"):
    """A grouped bar chart on a log scale. values[(group, target)] -> float or None."""
    out = []
    present = [v for v in values.values() if v and v > 0]
    if not present:
        return out
    lo = 10 ** math.floor(math.log10(min(present)))
    hi = 10 ** math.ceil(math.log10(max(present)))
    if hi <= lo:
        hi = lo * 10
    left, bottom, top = 64, 44, 34
    pw, ph = w - left - 12, h - bottom - top
    px, py = x0 + left, y0 + top

    def y_of(v):
        return py + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph

    out.append(f'<text x="{x0 + w / 2}" y="{y0 + 20}" text-anchor="middle" font-size="15" font-weight="bold">{esc(title)}</text>')
    decade = lo
    while decade <= hi * 1.0001:
        y = y_of(decade)
        out.append(f'<line x1="{px}" y1="{y:.1f}" x2="{px + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{px - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#555">{esc((axis_fmt or fmt)(decade))}</text>')
        decade *= 10
    out.append(f'<line x1="{px}" y1="{py + ph}" x2="{px + pw}" y2="{py + ph}" stroke="#333"/>')
    gw = pw / len(groups)
    bw = min(28, (gw - 16) / max(1, len(targets)))
    for gi, g in enumerate(groups):
        shown = [t for t in targets if t != "null" or g.startswith("put")]
        gx = px + gi * gw + (gw - bw * len(shown)) / 2
        for ti, t in enumerate(shown):
            v = values.get((g, t))
            x = gx + ti * bw
            if v is None or v <= 0:
                word = "failed" if v is None else zero_word
                out.append(f'<text x="{x + bw / 2:.1f}" y="{py + ph - 4}" text-anchor="middle" font-size="9" fill="#999">{word}</text>')
                continue
            y = y_of(v)
            out.append(f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{bw - 2:.1f}" height="{py + ph - y:.1f}" fill="{COLORS.get(t, "#444")}"><title>{esc(DISPLAY.get(t, t))}: {esc(fmt(v))}</title></rect>')
            out.append(f'<text x="{x + bw / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" font-size="9" fill="#333">{esc(fmt(v))}</text>')
        out.append(f'<text x="{px + gi * gw + gw / 2:.1f}" y="{py + ph + 16}" text-anchor="middle" font-size="12">{esc(SHORT.get(g, g))}</text>')
    note = "log scale; lower is better" if lower_better else "log scale; higher is better"
    out.append(f'<text x="{px + pw / 2}" y="{py + ph + 34}" text-anchor="middle" font-size="11" fill="#666">{note}</text>')
    return out


def svg(summaries, workloads, targets, subtitle):
    w, h = 980, 760
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="Helvetica, Arial, sans-serif">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="24" text-anchor="middle" font-size="18" font-weight="bold">kinesd and its peers: throughput and latency</text>',
           f'<text x="{w / 2}" y="44" text-anchor="middle" font-size="12" fill="#555">{esc(subtitle)}</text>']
    rates = {(g, t): summaries[(g, t)]["records_per_s"] for g in workloads for t in targets if (g, t) in summaries}
    p99 = {(g, t): summaries[(g, t)]["p99"] / 1000 if summaries[(g, t)]["p99"] else 0
           for g in workloads for t in targets if (g, t) in summaries}
    out += panel(0, 56, w, 330, "records/s", workloads, targets, rates, short, False)
    out += panel(0, 396, w, 330, "p99 latency, ms (put: PutRecords; get: GetRecords; mixed: end-to-end; subscribe: put-to-event)", workloads, targets, p99,
                 lambda v: f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2g}", True,
                 axis_fmt=lambda v: f"{v:g}", zero_word="none")
    lx = 70
    for t in targets:
        out.append(f'<rect x="{lx}" y="{h - 22}" width="12" height="12" fill="{COLORS.get(t, "#444")}"/>')
        out.append(f'<text x="{lx + 16}" y="{h - 12}" font-size="12">{esc(DISPLAY.get(t, t))}</text>')
        lx += 40 + 7 * len(DISPLAY.get(t, t))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--machine", metavar="PATH", help="only record the machine's facts (taken before the runs) in PATH")
    ap.add_argument("--results")
    ap.add_argument("--markdown")
    ap.add_argument("--svg")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=int)
    ap.add_argument("--fill", type=int)
    ap.add_argument("--mixed-rate", type=int)
    ap.add_argument("--versions", default="")
    ap.add_argument("--kinesd-binary", help="the kinesd binary measured, when not built from this tree")
    ap.add_argument("--kinesd-commit", help="what --kinesd-binary was built from")
    args = ap.parse_args()
    if args.machine:
        with open(args.machine, "w") as f:
            json.dump(machine(), f, indent=1)
        return
    for name in ("results", "markdown", "svg", "rounds", "duration", "fill", "mixed_rate"):
        if getattr(args, name) is None:
            ap.error(f"--{name.replace('_', '-')} is required")

    runs, failures, status, commands = load(args.results)
    workloads = [w for w in WORKLOADS if w in commands or any(k[0] == w for k in list(runs) + list(failures))]
    seen = {k[1] for k in list(runs) + list(failures)} | set(status)
    targets = [t for t in TARGET_ORDER if t in seen]
    peers = [t for t in targets if t not in ("kinesd", "null")]
    summaries = {k: summarise(k[0], v) for k, v in runs.items()}
    try:
        # Taken by bench-peers.sh before the runs, when nothing of ours loads the machine.
        with open(os.path.join(args.results, "machine.json")) as f:
            m = json.load(f)
    except (OSError, ValueError):
        m = machine()
    if args.kinesd_commit:
        m["commit"] = args.kinesd_commit
    elif args.kinesd_binary:
        m["commit"] += f", binary {args.kinesd_binary}"
    try:
        with open(os.path.join(args.results, "loadavg.end")) as f:
            m["load"] = f.read().strip()
    except OSError:
        pass
    try:
        with open(os.path.join(args.results, "loadavg.start")) as f:
            m["load"] = f"{f.read().strip()} at the start, {m['load']} at the end"
    except OSError:
        pass
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    md = ["# Benchmarks", "",
          f"kinesd against the other Kinesis servers on one machine, written by `scripts/bench-peers.sh` on {now} "
          f"(kinesd `{m['commit']}`). Every figure is the median of {args.rounds} round{'s' if args.rounds != 1 else ''}; each round runs every workload on "
          f"every target in a rotated order, each on a freshly started server, so drift of the machine touches all alike. "
          f"The load generator (`kinesd-bench`) and the server share the machine.", "",
          "![records/s and p99 latency per workload and target](docs/bench/throughput.svg)", "",
          "## Machine", "",
          f"- CPU: {m['cpu']}", f"- RAM: {m['ram']}", f"- Kernel: {m['kernel']}", f"- Disk: {m['disk']}",
          f"- Toolchains: {m['rust']}; Node {m['node']}",
          f"- Load average (1, 5, 15 min): {m['load']}", "",
          "## Targets", "",
          "| target | version | how it runs |", "|---|---|---|"]
    versions = dict(v.split("=", 1) for v in args.versions.split(",") if "=" in v)
    how = {
        "kinesd": ("`" + m["commit"] + "`", "release build, default durable mode (`--durability full`: fdatasync before every answer), fresh `--data-dir` in a temporary directory, `--create-stream-ms 0`"),
        "ferrokinesis": (versions.get("ferrokinesis", ""), "`cargo install ferrokinesis`; in-memory (its default), `--create-stream-ms 0 --shard-limit 1000`; listens on 0.0.0.0 (no option to change it), driven on 127.0.0.1"),
        "kinesalite": (versions.get("kinesalite", ""), "npm; in-memory (its default), `createStreamMs: 0, shardLimit: 1000`, listening on 127.0.0.1 through its `require('kinesalite')(opts).listen()` API"),
        "kinesis-mock": (versions.get("kinesis-mock", ""), "npm `kinesis-local` (the Scala.js build of kinesis-mock) under Node; in-memory, `KINESIS_MOCK_PLAIN_PORT`, `CREATE_STREAM_DURATION=0ms`, `SHARD_LIMIT=1000`; listens on 0.0.0.0 (no option), driven on 127.0.0.1"),
        "null": ("", "`kinesd-bench null-server`: answers every PutRecords with a fixed valid answer without parsing it — the ceiling of the load generator and loopback HTTP here"),
    }
    for t in targets:
        v, h = how.get(t, ("", ""))
        md.append(f"| {DISPLAY.get(t, t)} | {v} | {h}{' — **' + status[t] + '**' if t in status else ''} |")
    md += ["", "## Commands", "",
           "Everything above, end to end (installs the peers under `target/peers` if missing):", "",
           "    " + f"BENCH_ROUNDS={args.rounds} BENCH_DURATION={args.duration} BENCH_FILL={args.fill} BENCH_MIXED_RATE={args.mixed_rate} scripts/bench-peers.sh", "",
           "Each run, with the target's port and process id:", ""]
    for w in workloads:
        if w in commands:
            md.append(f"- {SHORT.get(w, w)}: `{commands[w]}`")
    md += ["", "`--server-pid` makes kinesd-bench read the server's CPU time (user + system, from `/proc/PID/stat`) at the start and end "
           "of the measured window and its peak RSS (`VmHWM`); CPU/record is that CPU time over the records moved in the window. "
           "Latencies are per request (HDR histogram, µs precision); MB/s counts raw record data, not base64 or keys. Errors are failed "
           "calls plus per-record failures of PutRecords, by AWS error name.", "",
           "The stages of the hot paths are measured on their own by Criterion micro-benchmarks: "
           "`cargo bench -p kinesd --bench hot_paths` (`-- --save-baseline before`, then `-- --baseline before` after a change).", ""]
    for w in workloads:
        md += [f"## {WORKLOADS[w]}", ""]
        if w == "get":
            md += [f"The stream is first filled with up to {args.fill:,} records (8 connections, at most {args.duration} s; the "
                   "column says how many), then read from TRIM_HORIZON to the end; only the read is measured.", ""]
        if w == "mixed":
            md += [f"Producers offer {args.mixed_rate:,} records/s in total; consumers poll each shard with GetRecords (5 ms pause "
                   "after a pass that found nothing). End-to-end latency runs from just before the PutRecords request was sent to "
                   "when the consumer holds the record. A server that cannot carry the offered rate shows a lower put rate and "
                   "a queueing latency.", ""]
        if w == "subscribe":
            md += [f"10 registered consumers each subscribe to every shard of a 10-shard stream (100 SubscribeToShard event "
                   f"streams, one HTTP/1.1 connection each, from LATEST) while 4 producers offer {args.mixed_rate:,} records/s. "
                   "Put-to-event latency runs from just before the PutRecords request was sent to when the event carrying the "
                   "record arrives; the notes say whether every record reached every consumer.", ""]
        tw = targets if w.startswith("put") else [t for t in targets if t != "null"]
        md.append(table(w, tw, summaries, failures, status))
        r = ratio_line(w, summaries, peers)
        notes = sorted({n for t in tw for n in (summaries.get((w, t)) or {}).get("notes", [])})
        md.append("")
        if r:
            md += [r, ""]
        for t in tw:
            for n in (summaries.get((w, t)) or {}).get("notes", []):
                md.append(f"- {DISPLAY.get(t, t)}: {n}")
        if notes:
            md.append("")
    open(args.markdown, "w").write("\n".join(md).rstrip() + "\n")
    os.makedirs(os.path.dirname(args.svg), exist_ok=True)
    rounds = f"{args.rounds} round" + ("s" if args.rounds != 1 else "")
    subtitle = f"{m['cpu']}; median of {rounds} of {args.duration} s; load generator on the same machine"
    open(args.svg, "w").write(svg(summaries, workloads, targets, subtitle))


if __name__ == "__main__":
    main()
