#!/usr/bin/env python3
"""A/B of two portserve.exe builds under Wine, interleaved, pinned.

    python3 bench/ab.py --before OLD/portserve.exe --after NEW/portserve.exe \
        [--portload build/release-native/bin/portload] [--reps 5] [--duration 2] \
        [--rows 1x64x1,64x64x1,storm64,storm256] [--unpinned] \
        [--before-args "--accept-data 0"] [--after-args ...]

Rows: CONNECTIONSxSIZExPIPELINE (echo, messages/s), stormN (portload
--mode storm with N connectors: connect, one 64-byte round trip, close;
connections/s) or udpN (portload --mode udp on N sockets, 64 bytes); the
default is the six echo rows below. --before-args and
--after-args add portserve options to one side (the same build can then be
compared with itself under two settings).

Each build runs in its own Wine prefix (under --prefix-root) with --threads 2,
pinned to CPU 1 with its wineserver (--unpinned: both CPUs); portload runs on
CPU 0 (--unpinned: both). For every row
and repetition both builds run once, in alternating order, so they share
the machine's noise. Prints a markdown table: the median messages/s of each
and the median (and range) of the per-repetition ratios after / before.
Every process is stopped by PID, and each prefix's wineserver is stopped.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Prefix, Server  # noqa: E402

ROWS = "1x64x1,64x64x1,64x64x8,64x4096x1,256x64x1,16x4096x1"


def parse_rows(text):
    rows = []
    for item in text.split(","):
        item = item.strip()
        if item.startswith("storm"):
            rows.append(("storm", int(item[5:]), 64, 1))
        elif item.startswith("udp"):
            rows.append(("udp", int(item[3:]), 64, 1))
        else:
            c, size, pipe = (int(x) for x in item.split("x"))
            rows.append(("echo", c, size, pipe))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--portload", default="build/release-native/bin/portload")
    ap.add_argument("--prefix-root", default="build/ab-prefixes")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--rows", default=ROWS)
    ap.add_argument("--unpinned", action="store_true")
    ap.add_argument("--before-args", default="")
    ap.add_argument("--after-args", default="")
    a = ap.parse_args()
    rows = parse_rows(a.rows)
    cpus = "0-%d" % (os.cpu_count() - 1)
    servers, res = {}, {}
    try:
        for name, exe, extra in (("before", a.before, a.before_args), ("after", a.after, a.after_args)):
            p = Prefix(os.path.abspath(os.path.join(a.prefix_root, name)))
            p.start()
            s = Server(name, ["wine", exe, "run", "--listen", "echo=127.0.0.1:0", "--threads", "2"] + extra.split(),
                       p)
            s.start()
            s.pin(cpus if a.unpinned else "1")
            servers[name] = s
        for r in range(a.reps):
            for row in rows:
                kind, c, size, pipe = row
                for name in (("before", "after") if r % 2 == 0 else ("after", "before")):
                    mode = {"storm": ["--mode", "storm"], "udp": ["--mode", "udp", "--loss-timeout", "0.5"]}.get(kind, [])
                    out = subprocess.run(["taskset", "-c", cpus if a.unpinned else "0", a.portload, "--target",
                                          "127.0.0.1:%d" % servers[name].port, "--connections", str(c), "--size",
                                          str(size), "--pipeline", str(pipe), "--duration", str(a.duration),
                                          "--warmup", "0.5", "--json"] + mode, capture_output=True, text=True,
                                         timeout=120)
                    j = json.loads(out.stdout.strip().splitlines()[-1])
                    if j["errors"] or out.returncode:
                        sys.exit("ab.py: %s had errors at %s: %s" % (name, row, out.stderr[-500:]))
                    res.setdefault(row, {}).setdefault(name, []).append(j["msgs_per_s"])
        print("%s; before: %s %s; after: %s %s" % ("unpinned" if a.unpinned else "pinned", a.before, a.before_args,
                                                   a.after, a.after_args))
        print("")
        print("| row | before /s | after /s | after ÷ before (median of per-run ratios) |")
        print("|---|---:|---:|---:|")
        for row, v in res.items():
            ratios = [x / y for x, y in zip(v["after"], v["before"])]
            label = {"storm": "storm of %d (connections/s)" % row[1],
                     "udp": "UDP echo on %d sockets (datagrams/s)" % row[1]}.get(
                         row[0], "%d × %d B × %d (messages/s)" % row[1:])
            print("| %s | %.0f | %.0f | %.3f [%.3f–%.3f] |" % (
                label, statistics.median(v["before"]), statistics.median(v["after"]),
                statistics.median(ratios), min(ratios), max(ratios)))
    finally:
        for s in servers.values():
            s.stop()
            s.prefix.stop()


if __name__ == "__main__":
    main()
