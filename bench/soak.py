#!/usr/bin/env python3
"""A soak of portserve.exe under Wine: mixed traffic for DURATION seconds,
its open connections, buffers, posted pools, private memory and (from Linux)
the Wine process's RSS and file descriptors sampled every second.

    bench/soak.py [DURATION_SEC] [--out DIR]        default 600 s, build/soak

Needs ./build.sh first (build/win/bin/portserve.exe and a native portload:
$PORTLOAD, else build/win/bench-native/bin/portload, the Release one).
One portserve serves echo, discard, chargen, daytime and qotd over TCP and
UDP on loopback, with short limits so the misbehaving clients are cut during
the run (--idle-timeout 5 --linger-timeout 3 --send-timeout 5) and the UDP
reply rate limit off (the load is all from 127.0.0.1). At once, each started
and stopped by PID, all on loopback:

  * a checked echo client (portload, 4 connections): its errors must be 0;
  * connect storms (portload --mode storm, 16 connectors: connect, echo, close);
  * a chargen reader (portload --mode chargen, 2 connections, verified);
  * UDP datagrams to echo, daytime and qotd (Python sockets);
  * clients that reset mid-stream (SO_LINGER 0 close after sending);
  * idle clients (50 connections at a time, cut by the idle timeout);
  * non-readers (send into echo, never read: cut by the send timeout).

Samples go to DIR/soak.csv; the summary (memory and descriptors at start,
after warm-up and at the end) is printed and written to DIR/soak.md. Exit 0
only if the checked client saw no error, the stop left every live counter at
zero, and memory at the end is within the bound of the warm-up figure
(20 % + 8 MiB: the pools grow to their working size during warm-up; what
grows after that with no more load than before is a leak)."""
import argparse
import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import wine_env  # noqa: E402  tools/wine_env.py

EXE = os.path.join(ROOT, "build", "win", "bin", "portserve.exe")
PORTLOAD = os.environ.get("PORTLOAD") or os.path.join(ROOT, "build", "win", "bench-native", "bin", "portload")
LISTEN_RE = re.compile(r"listening on (tcp|udp) 127\.0\.0\.1:(\d+) \((\w+)\)")
MEMORY_SLACK = 8 * 1024 * 1024


def log(msg):
    print("soak: " + msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


class Traffic:
    """The Python-side clients, each a thread looping until stop is set."""

    def __init__(self, ports, stop):
        self.ports = ports
        self.stop = stop
        self.counts = {"udp_replies": 0, "udp_sent": 0, "resets": 0, "idle_opened": 0, "nonreaders": 0}
        self.lock = threading.Lock()

    def count(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def udp(self):
        targets = [("echo", b"soak datagram"), ("daytime", b""), ("qotd", b"")]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            while not self.stop.is_set():
                for svc, payload in targets:
                    s.sendto(payload, ("127.0.0.1", self.ports[("udp", svc)]))
                    self.count("udp_sent")
                    try:
                        s.recvfrom(2048)
                        self.count("udp_replies")
                    except OSError:
                        pass
                self.stop.wait(0.01)

    def resets(self):
        while not self.stop.is_set():
            try:
                c = socket.create_connection(("127.0.0.1", self.ports[("tcp", "echo")]), timeout=5)
                c.sendall(b"x" * 4096)
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.close()
                self.count("resets")
            except OSError:
                pass
            self.stop.wait(0.05)

    def idle(self):
        while not self.stop.is_set():
            held = []
            for _ in range(50):
                try:
                    held.append(socket.create_connection(("127.0.0.1", self.ports[("tcp", "discard")]), timeout=5))
                    self.count("idle_opened")
                except OSError:
                    pass
            self.stop.wait(7)  # the server's idle timeout (5 s) closes them first
            for c in held:
                c.close()

    def nonreaders(self):
        while not self.stop.is_set():
            try:
                c = socket.create_connection(("127.0.0.1", self.ports[("tcp", "echo")]), timeout=5)
                c.setblocking(False)
                self.count("nonreaders")
                deadline = time.monotonic() + 8  # the send timeout (5 s) resets it first
                while time.monotonic() < deadline and not self.stop.is_set():
                    try:
                        c.send(b"n" * 65536)
                    except BlockingIOError:
                        self.stop.wait(0.2)
                    except OSError:
                        break  # reset by the server's send timeout
                c.close()
            except OSError:
                self.stop.wait(0.5)

    def start(self):
        threads = [threading.Thread(target=f, daemon=True)
                   for f in (self.udp, self.resets, self.idle, self.nonreaders)]
        for t in threads:
            t.start()
        return threads


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("duration", nargs="?", type=float, default=600.0)
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "soak"))
    a = ap.parse_args()
    for path in (EXE, PORTLOAD):
        if not os.path.exists(path):
            sys.exit("soak: %s is missing: run ./build.sh first" % path)
    a.out = os.path.abspath(a.out)  # Wine wants an absolute WINEPREFIX
    os.makedirs(a.out, exist_ok=True)
    prefix = os.path.join(a.out, "prefix")
    env = wine_env.wine_env(prefix)
    subprocess.run(["rm", "-rf", prefix])
    os.makedirs(prefix)
    subprocess.Popen(["wineserver", "-p"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL).wait(30)
    subprocess.run(["wineboot", "-i"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120)

    admin = free_port()
    args = ["wine", EXE, "run", "--stats-interval", "0", "--idle-timeout", "5", "--linger-timeout", "3",
            "--send-timeout", "5", "--udp-reply-rate", "0", "--udp-reply-rate-total", "0",
            "--admin", "127.0.0.1:%d" % admin]
    for svc in ("echo", "discard", "chargen", "daytime", "qotd"):
        args += ["--listen", "%s=127.0.0.1:0" % svc]
    server_log = open(os.path.join(a.out, "server.log"), "w")
    srv = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=server_log, stderr=subprocess.STDOUT)
    procs = []
    stop = threading.Event()
    ok = True
    try:
        ports = {}
        for _ in range(300):
            with open(server_log.name) as f:
                text = f.read()
            if "ready:" in text:
                for proto, port, svc in LISTEN_RE.findall(text):
                    ports[(proto, svc)] = int(port)
                break
            if srv.poll() is not None:
                break
            time.sleep(0.2)
        if ("tcp", "echo") not in ports:
            sys.exit("soak: portserve did not start:\n" + open(server_log.name).read())
        log("portserve pid %d; echo %d, chargen %d; admin %d; %.0f s" %
            (srv.pid, ports[("tcp", "echo")], ports[("tcp", "chargen")], admin, a.duration))

        def portload(name, *extra):
            out = open(os.path.join(a.out, "portload-%s.json" % name), "w")
            p = subprocess.Popen([PORTLOAD, "--json", "--duration", str(a.duration), "--stall-timeout", "10"] +
                                 list(extra), stdout=out, stderr=subprocess.DEVNULL)
            procs.append((name, p, out))

        portload("echo", "--target", "127.0.0.1:%d" % ports[("tcp", "echo")], "--connections", "4", "--size", "512")
        portload("storm", "--target", "127.0.0.1:%d" % ports[("tcp", "echo")], "--mode", "storm",
                 "--connections", "16", "--size", "64")
        portload("chargen", "--target", "127.0.0.1:%d" % ports[("tcp", "chargen")], "--mode", "chargen",
                 "--connections", "2")
        traffic = Traffic(ports, stop)
        threads = traffic.start()

        samples = []
        started = time.monotonic()
        with open(os.path.join(a.out, "soak.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["t_s", "conns_open", "conns_total", "buffers_in_use", "buffers_live", "accepts_posted",
                        "udp_receives_posted", "private_bytes", "rss_kb", "fds", "timeouts_idle", "timeouts_send",
                        "closed_reset"])
            while time.monotonic() - started < a.duration:
                t = time.monotonic() - started
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/stats.json" % admin, timeout=5) as r:
                        tot = json.loads(r.read().decode())["totals"]
                except (OSError, ValueError) as e:
                    log("sample at %.0f s failed: %s" % (t, e))
                    time.sleep(1)
                    continue
                row = [round(t, 1), tot["conns_open"], tot["conns_total"], tot["buffers_in_use"], tot["buffers_live"],
                       tot["accepts_posted"], tot["udp_receives_posted"], tot["process_private_bytes"],
                       proc_rss_kb(srv.pid), proc_fds(srv.pid), tot["timeouts_idle"], tot["timeouts_send"],
                       tot["closed_reset"]]
                w.writerow(row)
                f.flush()
                samples.append(row)
                time.sleep(max(0.0, 1.0 - ((time.monotonic() - started) - t)))
        stop.set()
        results = {}
        for name, p, out in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
            out.close()
            try:
                with open(out.name) as jf:
                    results[name] = json.loads(jf.read().strip().splitlines()[-1])
            except (OSError, ValueError, IndexError):
                results[name] = {}
        for t in threads:
            t.join(15)
        srv.send_signal(signal.SIGINT)
        rc = srv.wait(timeout=60)
        server_log.close()
        text = open(server_log.name).read()
        live_zero = "live counters: sockets 0, connections 0, buffers in use 0" in text

        if not samples:
            sys.exit("soak: no samples")
        warm_t = max(10.0, a.duration * 0.1)
        warm = next((s for s in samples if s[0] >= warm_t), samples[-1])
        first, last = samples[0], samples[-1]
        bound = warm[7] * 1.2 + MEMORY_SLACK
        echo_errors = results.get("echo", {}).get("errors", -1)
        lines = [
            "# portserve soak: %.0f s under Wine (%s)" % (a.duration, subprocess.run(
                ["wine", "--version"], capture_output=True, env=env).stdout.decode().strip()),
            "",
            "Command: `bench/soak.py %g`; samples every second in `soak.csv`." % a.duration,
            "",
            "| | at start (%.0f s) | after warm-up (%.0f s) | at the end (%.0f s) |" % (first[0], warm[0], last[0]),
            "|---|---:|---:|---:|",
            "| private bytes (portserve) | %.1f MiB | %.1f MiB | %.1f MiB |" % tuple(x[7] / 1048576 for x in
                                                                              (first, warm, last)),
            "| RSS of the Wine process | %.1f MiB | %.1f MiB | %.1f MiB |" % tuple(x[8] / 1024 for x in
                                                                              (first, warm, last)),
            "| file descriptors of the Wine process (handles: see wine-notes row 22) | %d | %d | %d |" %
            (first[9], warm[9], last[9]),
            "| connections open | %d | %d | %d |" % (first[1], warm[1], last[1]),
            "| buffers in use / allocated | %d / %d | %d / %d | %d / %d |" % (first[3], first[4], warm[3], warm[4],
                                                                            last[3], last[4]),
            "| accepts / UDP receives posted | %d / %d | %d / %d | %d / %d |" % (first[5], first[6], warm[5], warm[6],
                                                                               last[5], last[6]),
            "",
            "Most connections open at once: %d; accepted in all: %d; idle timeouts %d, send timeouts %d, resets %d." %
            (max(s[1] for s in samples), last[2], last[10], last[11], last[12]),
            "Checked echo client: %s messages, %s errors; storms: %s connections/s; chargen: %s MB/s, %s errors." %
            (results.get("echo", {}).get("messages"), echo_errors, results.get("storm", {}).get("conns_per_s"),
             results.get("chargen", {}).get("mb_per_s"), results.get("chargen", {}).get("errors")),
            "Python clients: %r." % traffic.counts,
            "Stop: exit %d, live counters %s." % (rc, "zero" if live_zero else "NOT zero"),
            "Memory bound (warm-up x 1.2 + 8 MiB): %.1f MiB; end %.1f MiB: %s." %
            (bound / 1048576, last[7] / 1048576, "held" if last[7] <= bound else "EXCEEDED"),
        ]
        report = "\n".join(lines) + "\n"
        print(report)
        with open(os.path.join(a.out, "soak.md"), "w") as f:
            f.write(report)
        ok = echo_errors == 0 and live_zero and rc == 0 and last[7] <= bound
    finally:
        stop.set()
        for _, p, _ in procs:
            if p.poll() is None:
                p.kill()
        if srv.poll() is None:
            srv.kill()
            srv.wait(10)
        subprocess.run(["wineserver", "-k"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        subprocess.run(["rm", "-rf", prefix])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
