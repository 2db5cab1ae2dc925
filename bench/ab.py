#!/usr/bin/env python3
"""A/B of two portserve.exe builds under Wine, interleaved, pinned.

    python3 bench/ab.py --before OLD/portserve.exe --after NEW/portserve.exe \
        [--portload build/release-native/bin/portload] [--reps 5] [--duration 2]

Each build runs in its own Wine prefix (under --prefix-root) with --threads 2,
pinned to CPU 1 with its wineserver; portload runs on CPU 0. For every row
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

ROWS = [(1, 64, 1), (64, 64, 1), (64, 64, 8), (64, 4096, 1), (256, 64, 1), (16, 4096, 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--portload", default="build/release-native/bin/portload")
    ap.add_argument("--prefix-root", default="build/ab-prefixes")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--duration", type=float, default=2.0)
    a = ap.parse_args()
    servers, res = {}, {}
    try:
        for name, exe in (("before", a.before), ("after", a.after)):
            p = Prefix(os.path.abspath(os.path.join(a.prefix_root, name)))
            p.start()
            s = Server(name, ["wine", exe, "run", "--listen", "echo=127.0.0.1:0", "--threads", "2"], p)
            s.start()
            s.pin("1")
            servers[name] = s
        for r in range(a.reps):
            for row in ROWS:
                c, size, pipe = row
                for name in (("before", "after") if r % 2 == 0 else ("after", "before")):
                    out = subprocess.run(["taskset", "-c", "0", a.portload, "--target",
                                          "127.0.0.1:%d" % servers[name].port, "--connections", str(c), "--size",
                                          str(size), "--pipeline", str(pipe), "--duration", str(a.duration),
                                          "--warmup", "0.5", "--json"], capture_output=True, text=True, timeout=120)
                    j = json.loads(out.stdout.strip().splitlines()[-1])
                    if j["errors"] or out.returncode:
                        sys.exit("ab.py: %s had errors at %s: %s" % (name, row, out.stderr[-500:]))
                    res.setdefault(row, {}).setdefault(name, []).append(j["msgs_per_s"])
        print("| connections × size × pipeline | before msg/s | after msg/s | after ÷ before (median of per-run ratios) |")
        print("|---|---:|---:|---:|")
        for row, v in res.items():
            ratios = [x / y for x, y in zip(v["after"], v["before"])]
            print("| %d × %d B × %d | %.0f | %.0f | %.3f [%.3f–%.3f] |" % (
                row[0], row[1], row[2], statistics.median(v["before"]), statistics.median(v["after"]),
                statistics.median(ratios), min(ratios), max(ratios)))
    finally:
        for s in servers.values():
            s.stop()
            s.prefix.stop()


if __name__ == "__main__":
    main()
