#!/usr/bin/env python3
"""Wineserver requests and Linux system calls per echoed message (issue 12),
for portserve.exe and naive_iocp_echo.exe (and, with --servers naming it and
--libuv-exe, libuv_echo.exe) at 1 and 64 connections (64-byte messages,
pipeline 1). Run by `bench/run.sh --requests` (`./build.sh bench
--requests`), which builds first. With --storm N: per connection of a storm
of N connectors (portload --mode storm: connect, one 64-byte round trip,
close) instead, the cost of the accept path; with --udp N, per datagram
echoed by each server's UDP instance to N sockets.

Requests: each server runs in its own prefix (PREFIX_ROOT/requests-NAME)
under a tracing wineserver (`wineserver -f -d2`, its stderr to a file). Wine
8 writes one line per request, `0024: get_handle_fd( handle=0008 )`, and one
per reply, `0024: get_handle_fd() = 0 { ... }`; only request lines are
counted. The native portload runs --warmup W --duration D; a sampler thread
records the trace file's size every 2 ms, and only the bytes written between
start+W and start+W+D (portload's measured window, by our clock) are
counted, divided by the messages portload counted in that window. Every
process of the prefix is counted (the server, and the prefix's services if
they make requests then).

System calls: the same server under an ordinary persistent wineserver;
`strace -f -c` attaches to the server process and its wineserver at the start
of portload's measured window and is stopped (SIGINT) at its end; total calls
divided by the window's messages. Attaching takes a few ms, so the window is
slightly short at its start: a small overestimate of messages, i.e. calls per
message slightly low. Throughput while traced is meaningless; the ratios are
what is kept.

Prints a markdown table on stdout; every process started is stopped by PID
and every wineserver with `wineserver -k`."""
import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

REQUEST_RE = re.compile(rb"^[0-9a-f]{4,8}: ([a-z_0-9]+)\((?!\) = )", re.M)
SERVERS = ("portserve", "naive")
POINTS = (1, 64)


def log(msg):
    print("requests: " + msg, file=sys.stderr, flush=True)


def count_requests(data):
    return collections.Counter(m.group(1).decode() for m in REQUEST_RE.finditer(data))


class Sampler(threading.Thread):
    """(monotonic time, file size) every 2 ms."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.samples, self.done = path, [], threading.Event()

    def run(self):
        while not self.done.is_set():
            try:
                self.samples.append((time.monotonic(), os.path.getsize(self.path)))
            except OSError:
                pass
            time.sleep(0.002)

    def offset_at(self, t):
        best = 0
        for when, size in self.samples:
            if when > t:
                break
            best = size
        return best


def portload_argv(a, port, conns):
    argv = [os.path.join(a.native_bin, "portload"), "--target", "127.0.0.1:%d" % port, "--connections", str(conns),
            "--size", "64", "--pipeline", "1", "--warmup", str(a.warmup), "--duration", str(a.duration), "--json"]
    return argv + (["--mode", a.mode] if a.mode != "echo" else [])


def run_portload(argv, on_window=None, a=None):
    """Runs portload; calls on_window(start, end) (monotonic) in a thread at the
    window's start. Returns (result, t_start)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    th = None
    if on_window:
        th = threading.Thread(target=on_window, args=(t0 + a.warmup, t0 + a.warmup + a.duration), daemon=True)
        th.start()
    try:
        out, err = p.communicate(timeout=a.warmup + a.duration + 60)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        out, err = p.communicate()
    if th:
        th.join(timeout=60)
    lines = [l for l in out.decode(errors="replace").splitlines() if l.startswith("{")]
    r = json.loads(lines[-1]) if lines else {"error": err.decode(errors="replace")[-500:]}
    r["exit"] = p.returncode
    return r, t0


def traced(a, name):
    """{conns: (Counter of requests in the window, messages, result)}"""
    prefix = bench.Prefix(os.path.join(a.prefix_root, "requests-" + name))
    os.makedirs(prefix.path, exist_ok=True)
    trace = os.path.join(a.prefix_root, "requests-%s.trace" % name)
    out = {}
    with open(trace, "wb") as f:
        ws = subprocess.Popen(["wineserver", "-f", "-d2"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=f, env=prefix.env)
    srv = None
    try:
        time.sleep(0.5)
        bench.quiet(["wineboot", "-i"] if not os.path.exists(os.path.join(prefix.path, "system.reg")) else
                    ["wineboot"], prefix.env, timeout=300)
        srv = bench.Server(name, bench.server_argv(a, name, udp=a.mode == "udp"), prefix)
        srv.start()
        for conns in a.points:
            time.sleep(2.0)  # the previous point's connections close first
            sampler = Sampler(trace)
            sampler.start()
            r, t0 = run_portload(portload_argv(a, srv.port, conns), a=a)
            sampler.done.set()
            sampler.join()
            lo, hi = sampler.offset_at(t0 + a.warmup), sampler.offset_at(t0 + a.warmup + a.duration)
            with open(trace, "rb") as f:
                f.seek(lo)
                data = f.read(hi - lo)
            # Start at a line boundary.
            nl = data.find(b"\n")
            data = data[nl + 1:] if nl >= 0 else b""
            out[conns] = (count_requests(data), r.get("messages") or 0, r)
            log("%s c=%d traced: %d requests, %s messages (%s/s, errors %s)" % (
                name, conns, sum(out[conns][0].values()), r.get("messages"), r.get("msgs_per_s"), r.get("errors")))
    finally:
        if srv:
            srv.stop()
        bench.quiet(["wineserver", "-k"], prefix.env)
        try:
            ws.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(ws.pid, signal.SIGKILL)
            ws.wait()
        if not a.keep_trace:
            os.unlink(trace)
    return out


def syscalls(a, name):
    """{conns: (calls, messages)} under an ordinary wineserver."""
    prefix = bench.Prefix(os.path.join(a.prefix_root, "requests-" + name))
    prefix.start()
    srv = bench.Server(name, bench.server_argv(a, name, udp=a.mode == "udp"), prefix)
    out = {}
    try:
        srv.start()
        for conns in a.points:
            time.sleep(2.0)
            path = os.path.join(a.prefix_root, "requests-strace-%s-%d.txt" % (name, conns))

            def window(start, end, path=path):
                time.sleep(max(0.0, start - time.monotonic()))
                st = bench.strace_start(srv.pids, path)
                time.sleep(max(0.0, end - time.monotonic()))
                bench.strace_stop(st)

            r, _ = run_portload(portload_argv(a, srv.port, conns), window, a)
            calls, _top = bench.parse_strace(path)
            out[conns] = (calls, r.get("messages") or 0)
            log("%s c=%d strace: %s calls, %s messages" % (name, conns, calls, r.get("messages")))
    finally:
        srv.stop()
        prefix.stop()
    return out


def table(req, sc):
    cols = [(n, c) for c in sorted(next(iter(req.values())).keys()) for n in bench.WINE_SERVERS if n in req]
    names = set()
    for n, c in cols:
        names.update(req[n][c][0])
    per = {}
    for n, c in cols:
        counter, msgs, _ = req[n][c]
        per[(n, c)] = {k: (v / float(msgs) if msgs else None) for k, v in counter.items()}
    order = sorted(names, key=lambda k: -max((per[col].get(k) or 0) for col in cols))
    L = ["| request | " + " | ".join("%s %d" % (n, c) for n, c in cols) + " |",
         "|---|" + "---:|" * len(cols)]
    for k in order:
        vals = [per[col].get(k) for col in cols]
        if all(v is None or v < 0.005 for v in vals):
            continue
        L.append("| `%s` | " % k + " | ".join(bench.fmt(v, 2) if v else "–" for v in vals) + " |")
    L.append("| **total** | " + " | ".join(
        "**%s**" % bench.fmt(sum(req[n][c][0].values()) / float(req[n][c][1]), 2) if req[n][c][1] else "–"
        for n, c in cols) + " |")
    L.append("| messages counted (traced) | " + " | ".join(bench.fmt(req[n][c][1]) for n, c in cols) + " |")
    if sc:
        L.append("| **Linux syscalls / message** (strace -f -c, untraced wineserver) | " + " | ".join(
            "**%s**" % bench.fmt(sc[n][c][0] / float(sc[n][c][1]), 1) if n in sc and sc[n][c][0] and sc[n][c][1]
            else "–" for n, c in cols) + " |")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--win-bin", required=True)
    ap.add_argument("--native-bin", required=True)
    ap.add_argument("--prefix-root", required=True)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--server-threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--servers", type=lambda s: s.split(","), default=list(SERVERS),
                    help="some of %s (default %s)" % (",".join(bench.WINE_SERVERS), ",".join(SERVERS)))
    ap.add_argument("--libuv-exe", help="libuv_echo.exe (bench/libuv.sh build prints it), for --servers ...,libuv")
    ap.add_argument("--no-syscalls", action="store_true")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--storm", type=int, default=0,
                      help="count per connection of a storm of this many connectors instead of per echoed message")
    mode.add_argument("--udp", type=int, default=0,
                      help="count per echoed datagram of this many UDP sockets (each server's UDP echo instance)")
    ap.add_argument("--keep-trace", action="store_true", help="keep PREFIX_ROOT/requests-NAME.trace")
    a = ap.parse_args()
    bad = [s for s in a.servers if s not in bench.WINE_SERVERS]
    if bad:
        ap.error("unknown server: %s" % ", ".join(bad))
    if "libuv" in a.servers and not (a.libuv_exe and os.path.isfile(a.libuv_exe)):
        ap.error("the libuv server needs --libuv-exe PATH (bench/libuv.sh build prints it)")
    for k in ("win_bin", "native_bin", "prefix_root"):
        setattr(a, k, os.path.abspath(getattr(a, k)))  # Wine wants an absolute WINEPREFIX
    os.makedirs(a.prefix_root, exist_ok=True)
    a.mode, a.points = ("storm", (a.storm,)) if a.storm else ("udp", (a.udp,)) if a.udp else ("echo", POINTS)
    req, sc = {}, {}
    for name in a.servers:
        req[name] = traced(a, name)
    if not a.no_syscalls:
        for name in a.servers:
            sc[name] = syscalls(a, name)
    what = {"storm": "per connection of a storm (connect, one 64-byte round trip, close; the column is the connectors)",
            "udp": "per echoed 64-byte datagram (the column is the sockets)",
            "echo": "per echoed message, 64-byte messages, pipeline 1"}[a.mode]
    print("Wineserver requests %s (`wineserver -f -d2`), "
          "%.1f s window after %.1f s warm-up; %s; portserve and naive --threads %d, libuv one loop thread.\n" % (
              what, a.duration, a.warmup, bench.machine()["wine"], a.server_threads))
    print(table(req, sc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
