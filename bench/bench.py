#!/usr/bin/env python3
"""The benchmark matrix of issue 6 (run by bench/run.sh, which builds first).

Servers, each started once and left running for the whole matrix:
  portserve   portserve.exe run --listen echo=127.0.0.1:0 --threads N   under Wine, own prefix
  naive       naive_iocp_echo.exe --threads N 127.0.0.1:0               under Wine, own prefix
  libuv       libuv_echo.exe 127.0.0.1:0                                under Wine, own prefix
  epoll       epoll_echo 127.0.0.1:0                                    native Linux (one thread)
portserve and the naive server get the same worker count N (--server-threads,
default one per processor, what portserve picks by itself), each with its
completion port's concurrency equal to N. libuv_echo (bench/libuv_echo.c,
linked with Debian's libuv 1.44.2 by bench/libuv.sh; --libuv-exe) runs one
loop thread, as a libuv program does (LIBUV_SETTINGS).
all driven by the native portload. Points are interleaved: for each point,
each repetition runs every server once (in rotating order), so the servers
share the machine's noise. Each run is done pinned (client on CPU 0, the
server and its wineserver on CPU 1, set with taskset on the running
processes) and unpinned.

Then, for the servers under Wine: Linux system calls per echoed message
(strace -f -c on the server process and its wineserver); UDP echo
(datagrams/s, portload --mode udp) against a UDP instance of each Wine
server: portserve.exe run --listen echo=127.0.0.1:0/udp --udp-reply-rate 0
--udp-reply-rate-total 0 (its reflection guard would otherwise cap the replies
at 100/s per source), naive_iocp_echo.exe --udp, same --threads, and
libuv_echo.exe --udp, each in its server's prefix; and memory per idle
connection (VmRSS/RssAnon of the server and its wineserver, before and after N
connections, with a freshly started server and wineserver), twice: idle from
the start (never sent) and idle after traffic (each connection made one
64-byte round trip first, portload --idle-messages 1); the open-files limit is
raised to its hard maximum first, as 10,000 connections need). The matrix
includes the connection rate (--mode storm, 64 connectors and 256).

Writes OUT/<date>-<host>.json (every run, each with the exact portload
command line) and .md (medians, min-max spreads, ratios of portserve and
libuv to the naive server, error and stall counts), plus SVG plots with
gnuplot when it exists. Both
record the commit measured (git rev-parse HEAD, "-dirty" if tracked files
were modified) and the command lines of the run and of each server.

A run with errors or stalled connections (portload exits non-zero) is kept in
the JSON but left out of the medians; its counts show in the report, and
bench.py then exits 1.
Every process started here is stopped by PID; nothing is left running."""
import argparse
import datetime
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import wine_env as tools_wine_env  # noqa: E402 (tools/wine_env.py: tools/wine-env.sh for Python)

LISTEN_RE = re.compile(r"listening on (?:tcp|udp) (\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+)")
UDP_SERVERS = ("portserve", "naive", "libuv")  # epoll_echo has no UDP mode
SERVERS = ("portserve", "naive", "libuv", "epoll")
WINE_SERVERS = ("portserve", "naive", "libuv")
# The servers whose figures are also given divided by the naive server's.
RATIO_SERVERS = ("portserve", "libuv")
LABEL = {"portserve": "portserve (Wine)", "naive": "naive IOCP (Wine)", "libuv": "libuv (Wine)",
         "epoll": "epoll (native)"}
LIBUV_SETTINGS = ("one loop thread; uv_tcp_nodelay(1); a 64 KiB buffer from alloc_cb for each read, echoed with "
                  "uv_write from that buffer and freed when the write completes (libuv's test/echo-server.c does "
                  "the same); reading stops while 256 KiB wait to be sent; listen backlog SOMAXCONN; libuv's "
                  "defaults otherwise (Windows: 32 AcceptEx posted, skip-on-success, a zero-byte read while a "
                  "connection waits, then non-blocking reads; UDP: uv_udp_recv_start/uv_udp_send, zero-byte "
                  "receive then one non-blocking WSARecvFrom per datagram)")
# The two ways the memory rows hold their connections: portload --idle-messages.
IDLE_WAYS = ((0, "idle, never sent"), (1, "idle after traffic (one 64-byte echo each)"))


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def wine_env(prefix):
    return tools_wine_env.wine_env(prefix)


def quiet(argv, env=None, timeout=120):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env=env, timeout=timeout).returncode


def proc_status(pid):
    """{'VmRSS': kB, 'RssAnon': kB} of a process, or {} if it is gone."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile", "VmSize"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def set_affinity(pid, cpus):
    if pid:
        quiet(["taskset", "-a", "-p", "-c", cpus, str(pid)])


class Prefix:
    """A Wine prefix with its own persistent wineserver."""

    def __init__(self, path):
        self.path = path
        self.env = wine_env(path)
        self.wineserver_pid = None

    def start(self):
        os.makedirs(self.path, exist_ok=True)
        # wineserver -p detaches; it must not inherit our pipes.
        quiet(["wineserver", "-p"], self.env)
        quiet(["wineboot", "-i"] if not os.path.exists(os.path.join(self.path, "system.reg")) else ["wineboot"],
              self.env, timeout=300)
        # Wine 8 reports Windows 7 unless told otherwise, where portserve
        # keeps UDP sockets off skip-on-success (docs/wine-notes.md, row
        # 36); its sockets behave as Windows 8 and later do, so portserve
        # runs as Windows 10, as it would be deployed. The other servers do
        # not look at the version.
        quiet(["wine", "reg", "add", r"HKCU\Software\Wine\AppDefaults\portserve.exe", "/v", "Version", "/t",
               "REG_SZ", "/d", "win10", "/f"], self.env, timeout=120)
        self.wineserver_pid = self._find_wineserver()
        if self.wineserver_pid is None:
            raise RuntimeError("no wineserver found for prefix %s" % self.path)

    def _find_wineserver(self):
        want = ("WINEPREFIX=" + self.path).encode()
        for _ in range(50):
            for name in os.listdir("/proc"):
                if not name.isdigit():
                    continue
                try:
                    with open("/proc/%s/comm" % name) as f:
                        if not f.read().startswith("wineserver"):  # wineserver64 on Debian
                            continue
                    with open("/proc/%s/environ" % name, "rb") as f:
                        if want in f.read().split(b"\0"):
                            return int(name)
                except OSError:
                    continue
            time.sleep(0.1)
        return None

    def stop(self):
        quiet(["wineserver", "-k"], self.env)
        for _ in range(50):  # -k returns before the server has gone
            if self.wineserver_pid is None or not os.path.exists("/proc/%d" % self.wineserver_pid):
                break
            time.sleep(0.1)
        self.wineserver_pid = None


class Server:
    def __init__(self, name, argv, prefix=None):
        self.name, self.argv, self.prefix = name, argv, prefix
        self.proc = None
        self.port = None
        self.lines = []
        self.cond = threading.Condition()

    @property
    def pids(self):
        pids = [self.proc.pid] if self.proc else []
        if self.prefix and self.prefix.wineserver_pid:
            pids.append(self.prefix.wineserver_pid)
        return pids

    def start(self):
        env = self.prefix.env if self.prefix else None
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        threading.Thread(target=self._read, daemon=True).start()
        end = time.monotonic() + 60
        with self.cond:
            while self.port is None:
                for line in self.lines:
                    m = LISTEN_RE.search(line)
                    if m:
                        self.port = int(m.group(2))
                        break
                if self.port is None:
                    if time.monotonic() > end or self.proc.poll() is not None:
                        raise RuntimeError("%s did not start:\n%s" % (self.name, "\n".join(self.lines)))
                    self.cond.wait(0.2)
        log("%s listening on 127.0.0.1:%d (pid %d)" % (self.name, self.port, self.proc.pid))

    def _read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\r\n"))
                del self.lines[:-200]
                self.cond.notify_all()

    def pin(self, cpus):
        for pid in self.pids:
            set_affinity(pid, cpus)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self.proc = None


class Bench:
    def __init__(self, args):
        self.a = args
        self.runs = []
        self.extra = {"syscalls": [], "memory": []}
        self.udp_servers = {}
        self.prefixes = {}
        self.servers = {}
        self.children = []  # clients and stracers that might outlive an exception

    # ---- servers --------------------------------------------------------
    def make_server(self, name):
        a = self.a
        if name in WINE_SERVERS:
            p = self.prefixes.setdefault(name, Prefix(os.path.join(a.prefix_root, name)))
            return Server(name, server_argv(a, name), p)
        return Server(name, server_argv(a, name))

    def start_server(self, name):
        s = self.make_server(name)
        if s.prefix:
            s.prefix.start()
        s.start()
        self.servers[name] = s
        return s

    def stop_server(self, name, keep_prefix=False):
        s = self.servers.pop(name, None)
        if s is None:
            return
        s.stop()
        if s.prefix and not keep_prefix:
            s.prefix.stop()

    def cleanup(self):
        for p in self.children:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        for s in self.udp_servers.values():
            s.stop()
        self.udp_servers = {}
        for name in list(self.servers):
            self.stop_server(name)
        for p in self.prefixes.values():
            p.stop()

    # ---- one portload run -------------------------------------------------
    def portload(self, port, args, pinned, duration=None, warmup=None):
        a = self.a
        argv = [os.path.join(a.native_bin, "portload"), "--target", "127.0.0.1:%d" % port, "--threads", "1",
                "--duration", str(duration if duration is not None else a.duration),
                "--warmup", str(warmup if warmup is not None else a.warmup),
                "--stall-timeout", str(a.stall_timeout), "--json"] + args
        if pinned:
            argv = ["taskset", "-c", "0"] + argv
        result = self._portload(argv, duration, warmup)
        result["argv"] = argv
        return result

    def _portload(self, argv, duration, warmup):
        a = self.a
        limit = (duration or a.duration) + (warmup or a.warmup) + 60
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.children.append(p)
        try:
            out, err = p.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            return {"error": "timeout", "stderr": err.decode(errors="replace")[-2000:]}
        finally:
            self.children.remove(p)
        lines = [l for l in out.decode(errors="replace").splitlines() if l.startswith("{")]
        if not lines:
            return {"error": "no JSON (exit %d)" % p.returncode, "stderr": err.decode(errors="replace")[-2000:]}
        result = json.loads(lines[-1])
        result["exit"] = p.returncode
        if p.returncode != 0:
            result["stderr"] = err.decode(errors="replace")[-2000:]
        return result

    # ---- the matrix -------------------------------------------------------
    def points(self):
        a = self.a
        pts = []
        for size in a.sizes:
            for pipeline in a.pipelines:
                for conns in a.connections:
                    pts.append({"kind": "echo", "connections": conns, "size": size, "pipeline": pipeline})
        for connectors in a.storm:
            pts.append({"kind": "storm", "connections": connectors, "size": 64, "pipeline": 1})
        return pts

    def run_matrix(self):
        a = self.a
        pts = self.points()
        total = len(pts) * a.reps * len(a.servers) * len(a.affinity)
        done = 0
        for affinity in a.affinity:
            pinned = affinity == "pinned"
            for name in a.servers:
                self.servers[name].pin("1" if pinned else a.all_cpus)
            for pt in pts:
                args = ["--connections", str(pt["connections"]), "--size", str(pt["size"]),
                        "--pipeline", str(pt["pipeline"])]
                if pt["kind"] == "storm":
                    args += ["--mode", "storm"]
                for rep in range(a.reps):
                    order = a.servers[rep % len(a.servers):] + a.servers[:rep % len(a.servers)]
                    for name in order:
                        r = self.portload(self.servers[name].port, args, pinned)
                        done += 1
                        self.runs.append({"affinity": affinity, "server": name, "rep": rep, "point": pt,
                                          "result": r})
                        log("[%d/%d] %-8s %-9s %-5s c=%-3d s=%-4d p=%d: %s" % (
                            done, total, affinity, name, pt["kind"], pt["connections"], pt["size"],
                            pt["pipeline"], "%.0f/s, errors %s, stalls %s%s" % (
                                r["msgs_per_s"], r["errors"], r.get("stalls", "?"),
                                "" if run_ok(r) else " (left out of the medians)")
                            if "msgs_per_s" in r else r.get("error")))

    # ---- system calls per message -------------------------------------------
    def run_syscalls(self):
        a = self.a
        for name in a.servers:
            s = self.servers[name]
            s.pin(a.all_cpus)
            for conns, pipeline in ((1, 1), (64, 1), (64, 8)):
                # Let the previous run's connections finish closing first: their
                # teardown calls would otherwise be counted against these messages
                # (seen: 127 instead of 71 calls/message right after the matrix).
                time.sleep(3.0)
                out = os.path.join(a.tmp, "strace-%s-%d-%d.txt" % (name, conns, pipeline))
                st = strace_start(s.pids, out)
                self.children.append(st)
                try:
                    time.sleep(1.0)  # attach to every thread
                    r = self.portload(s.port, ["--connections", str(conns), "--pipeline", str(pipeline)], False,
                                      duration=a.syscall_duration, warmup=0)
                finally:
                    strace_stop(st)
                    self.children.remove(st)
                calls, top = parse_strace(out)
                msgs = r.get("messages") or 0
                ok = run_ok(r)
                entry = {"server": name, "connections": conns, "pipeline": pipeline, "syscalls": calls,
                         "messages": msgs, "per_message": (calls / msgs) if ok and msgs and calls else None,
                         "top": top, "msgs_per_s_traced": r.get("msgs_per_s"), "errors": r.get("errors"),
                         "stalls": r.get("stalls"), "ok": ok, "argv": r.get("argv")}
                self.extra["syscalls"].append(entry)
                log("syscalls %-9s c=%-2d p=%d: %s calls / %s messages = %s" % (
                    name, conns, pipeline, calls, msgs,
                    "%.1f" % entry["per_message"] if entry["per_message"] else "n/a"))

    # ---- UDP echo ------------------------------------------------------------
    def run_udp(self):
        """UDP echo against a UDP instance of each Wine server, interleaved like
        the matrix. The TCP servers are stopped first (their prefixes stay)."""
        a = self.a
        names = [n for n in a.servers if n in UDP_SERVERS]
        if not names or not a.udp:
            return
        for name in names:
            self.stop_server(name, keep_prefix=True)
        try:
            for name in names:
                srv = Server(name, server_argv(a, name, udp=True), self.prefixes[name])
                self.udp_servers[name] = srv
                srv.start()
            total = len(a.udp) * a.reps * len(names) * len(a.affinity)
            done = 0
            for affinity in a.affinity:
                pinned = affinity == "pinned"
                for name in names:
                    self.udp_servers[name].pin("1" if pinned else a.all_cpus)
                for sockets in a.udp:
                    pt = {"kind": "udp", "connections": sockets, "size": 64, "pipeline": 1}
                    args = ["--mode", "udp", "--connections", str(sockets), "--size", "64", "--pipeline", "1",
                            "--loss-timeout", str(a.loss_timeout)]
                    for rep in range(a.reps):
                        order = names[rep % len(names):] + names[:rep % len(names)]
                        for name in order:
                            r = self.portload(self.udp_servers[name].port, args, pinned)
                            done += 1
                            self.runs.append({"affinity": affinity, "server": name, "rep": rep, "point": pt,
                                              "result": r})
                            log("[udp %d/%d] %-8s %-9s sockets=%-3d: %s" % (
                                done, total, affinity, name, sockets, "%.0f datagrams/s, lost %s, errors %s%s" % (
                                    r["msgs_per_s"], r.get("lost"), r["errors"],
                                    "" if run_ok(r) else " (left out of the medians)")
                                if "msgs_per_s" in r else r.get("error")))
        finally:
            for srv in self.udp_servers.values():
                srv.stop()
            self.udp_servers = {}

    # ---- memory per idle connection -----------------------------------------
    def run_memory(self):
        for messages, _what in IDLE_WAYS:
            for name in self.a.servers:
                self.run_memory_one(name, messages)

    def run_memory_one(self, name, messages):
        """One memory row: a.idle connections held against a fresh server,
        each after `messages` 64-byte round trips (0: never sent)."""
        a = self.a
        # A fresh server (and wineserver) so earlier runs leave nothing behind.
        self.stop_server(name)
        s = self.start_server(name)
        time.sleep(2)
        before = {pid: proc_status(pid) for pid in s.pids}
        argv = [os.path.join(a.native_bin, "portload"), "--target", "127.0.0.1:%d" % s.port, "--mode", "idle",
                "--connections", str(a.idle), "--duration", "120"]
        if messages:
            argv += ["--idle-messages", str(messages), "--size", "64"]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.children.append(p)
        opened, after = False, None
        try:
            end = time.monotonic() + 110
            for raw in p.stderr:
                line = raw.decode(errors="replace")
                if "idle: all" in line:
                    opened = True
                    break
                if time.monotonic() > end:
                    break
            if opened:
                time.sleep(2)  # let the server settle
                after = {pid: proc_status(pid) for pid in s.pids}
        finally:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=30)
            self.children.remove(p)
        entry = {"server": name, "idle_connections": a.idle, "idle_messages": messages, "all_open": opened,
                 "argv": argv}
        if after:
            roles = ["process", "wineserver"]
            for role, pid in zip(roles, s.pids):
                b, f = before.get(pid, {}), after.get(pid, {})
                entry[role] = {"before_kB": b, "after_kB": f}
                for key in ("RssAnon", "VmRSS"):
                    if key in b and key in f:
                        entry[role]["%s_per_conn_bytes" % key] = (f[key] - b[key]) * 1024.0 / a.idle
        self.extra["memory"].append(entry)
        log("memory %-9s %s" % (name, json.dumps({k: v for k, v in entry.items() if k not in ("server", "argv")})[:300]))
        time.sleep(1)


def strace_start(pids, out):
    """`strace -f -c` attached to every process in pids, its counts to out."""
    argv = ["strace", "-f", "-c", "-o", out]
    for pid in pids:
        argv += ["-p", str(pid)]
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def strace_stop(st):
    """Detaches (SIGINT makes strace write its counts) and waits; killed after 60 s."""
    st.send_signal(signal.SIGINT)
    try:
        st.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.kill(st.pid, signal.SIGKILL)
        st.wait()


def parse_strace(path):
    """Total calls and the five most frequent syscalls from strace -c output."""
    total, rows = None, []
    try:
        with open(path) as f:
            for line in f:
                # % time, seconds, usecs/call, calls, [errors], syscall (or "total")
                parts = line.split()
                if len(parts) < 5 or not re.match(r"^[\d.]+$", parts[0]):
                    continue
                if parts[-1] == "total":
                    total = int(parts[3])
                else:
                    rows.append((parts[-1], int(parts[3])))
    except OSError:
        return None, []
    rows.sort(key=lambda r: -r[1])
    return total, rows[:5]


def server_argv(a, name, udp=False):
    """The exact command line each server runs with (udp: its UDP echo instance)."""
    if udp and name == "portserve":
        # The reflection guard's default (100 replies/s per source, 10,000/s in
        # all) would be what this row measures; a local load test turns it off.
        return ["wine", os.path.join(a.win_bin, "portserve.exe"), "run", "--listen", "echo=127.0.0.1:0/udp",
                "--threads", str(a.server_threads), "--udp-reply-rate", "0", "--udp-reply-rate-total", "0"]
    if udp and name == "naive":
        return ["wine", os.path.join(a.win_bin, "naive_iocp_echo.exe"), "--threads", str(a.server_threads), "--udp",
                "127.0.0.1:0"]
    if name == "portserve":
        return ["wine", os.path.join(a.win_bin, "portserve.exe"), "run", "--listen", "echo=127.0.0.1:0",
                "--threads", str(a.server_threads)]
    if name == "naive":
        return ["wine", os.path.join(a.win_bin, "naive_iocp_echo.exe"), "--threads", str(a.server_threads),
                "127.0.0.1:0"]
    if name == "libuv":
        exe = getattr(a, "libuv_exe", None) or "libuv_echo.exe"
        return ["wine", exe] + (["--udp"] if udp else []) + ["127.0.0.1:0"]
    return [os.path.join(a.native_bin, "epoll_echo"), "127.0.0.1:0"]


def run_ok(r):
    """A run counts in the figures only if portload finished cleanly: exit 0,
    no errors, no stalled connections."""
    return "msgs_per_s" in r and r.get("exit") == 0 and not r.get("errors") and not r.get("stalls")


def git_commit(root):
    """HEAD of the tree measured, with "-dirty" if tracked files differ from it."""
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + ("-dirty" if dirty else "")


def shell_join(argv):
    return " ".join(shlex.quote(x) for x in argv)


# ---- the report -------------------------------------------------------------

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    if v is None:
        return "–"
    return ("{:,.%df}" % digits).format(v)


def summarize(runs, affinity_modes, servers):
    """{(affinity, point-key): {server: {...}}}"""
    table = {}
    for run in runs:
        pt = run["point"]
        key = (run["affinity"], pt["kind"], pt["connections"], pt["size"], pt["pipeline"])
        r = run["result"]
        cell = table.setdefault(key, {}).setdefault(run["server"], {"rates": [], "p50": [], "p99": [], "p999": [],
                                                                       "errors": 0, "stalls": 0, "failed": 0,
                                                                       "pmin": [], "pmax": [], "refused": 0,
                                                                       "resets": 0, "lost": 0, "late": 0,
                                                                       "msgs": 0})
        if "msgs_per_s" not in r:
            cell["failed"] += 1
            continue
        cell["errors"] += r.get("errors", 0)
        cell["stalls"] += r.get("stalls", 0)
        cell["refused"] += r.get("refused", 0)
        cell["resets"] += r.get("resets", 0)
        if not run_ok(r):
            # Kept in the JSON, counted below the figures, left out of them.
            cell["failed"] += 1
            continue
        cell["rates"].append(r["msgs_per_s"])
        cell["lost"] += r.get("lost", 0)
        cell["late"] += r.get("late", 0)
        cell["msgs"] += r.get("messages", 0)
        lat = r.get("latency_us") or {}
        cell["p50"].append(lat.get("p50"))
        cell["p99"].append(lat.get("p99"))
        cell["p999"].append(lat.get("p999"))
        pc = r.get("per_conn_msgs") or {}
        cell["pmin"].append(pc.get("min"))
        cell["pmax"].append(pc.get("max"))
    for cells in table.values():
        for c in cells.values():
            c["median"] = med(c["rates"])
            c["min"] = min(c["rates"]) if c["rates"] else None
            c["max"] = max(c["rates"]) if c["rates"] else None
            for k in ("p50", "p99", "p999", "pmin", "pmax"):
                c[k + "_median"] = med(c[k])
    return table


def error_counts(cells, servers):
    """"0, 0 · 0, 0 · 3, 1": errors and stalled connections summed over a
    point's runs, per server in column order."""
    out = []
    for s in servers:
        c = cells.get(s)
        out.append("%d, %d" % (c["errors"], c["stalls"]) if c else "–")
    return " · ".join(out)


def ratio(a, b):
    return a / b if a and b else None


def ratio_servers(servers):
    """The servers given a "÷ naive" figure: those of RATIO_SERVERS measured
    beside the naive server."""
    return [s for s in RATIO_SERVERS if s in servers] if "naive" in servers else []


def ratio_to_naive(cells, server):
    return ratio(cells.get(server, {}).get("median"), cells.get("naive", {}).get("median"))


def memory_rows(memory, servers):
    """The memory entries by server (column order), each server's two ways
    side by side."""
    order = {s: i for i, s in enumerate(servers)}
    return sorted(memory, key=lambda e: (order.get(e["server"], len(order)), e.get("idle_messages", 0)))


def write_report(path_md, meta, table, extra, a, plots):
    L = []
    w = L.append
    w("# portserve benchmark: %s, %s" % (meta["date"], meta["host"]))
    w("")
    w("%s; %d CPUs; Linux %s; %s. Driven by the native portload (epoll backend), one client thread." % (
        meta["cpu"], meta["cpus"], meta["kernel"], meta["wine"]))
    w("Each point: %d runs of %.1f s after %.1f s warm-up, servers interleaved run by run. "
      "Figures are medians with the [min–max] spread; ratios are medians divided by the naive IOCP "
      "server's median at the same point and affinity." % (a.reps, a.duration, a.warmup))
    w("Pinned: client on CPU 0, the server and its wineserver on CPU 1 (taskset). "
      "Unpinned: everything may run anywhere.")
    w("")
    w("Commit: `%s`" % meta["commit"])
    w("")
    w("Command: `%s`" % meta["command"])
    w("")
    w("Servers (worker threads: %d for portserve and the naive server, port concurrency the same):"
      % meta["server_threads"])
    w("")
    for name in a.servers:
        w("- %s: `%s`" % (LABEL[name], meta["server_commands"][name]))
        if name == "libuv":
            lib = meta.get("libuv") or {}
            w("  - libuv %s (Debian's `libuv1` source package, fetched and cross-built by `bench/libuv.sh`); "
              "`bench/libuv_echo.c`: %s" % (lib.get("version", "?"), lib.get("settings", LIBUV_SETTINGS)))
    w("- client: `%s` plus each point's `--connections`, `--size`, `--pipeline` (`--mode storm` for the connection rate, "
      "`--mode udp` for UDP); every run's exact command line is in the JSON" % meta["client_command"])
    w("")
    w("Runs with errors or stalled connections are left out of the medians and counted in the "
      "\"errors, stalls\" column; \"failed\" runs produced no figure or had errors.")
    w("")
    for affinity in a.affinity:
        w("## Echo throughput, %s (messages/s)" % affinity)
        w("")
        rated = ratio_servers(a.servers)
        hdr = "| connections | size | pipeline | " + " | ".join(LABEL[s] for s in a.servers)
        hdr += "".join(" | %s ÷ naive" % s for s in rated)
        hdr += " | errors, stalls (%s) |" % ", ".join(a.servers)
        w(hdr)
        w("|" + "---:|" * (hdr.count("|") - 1))
        for key in sorted(k for k in table if k[0] == affinity and k[1] == "echo"):
            cells = table[key]
            row = "| %d | %d | %d |" % (key[2], key[3], key[4])
            for s in a.servers:
                c = cells.get(s)
                row += " %s [%s–%s]%s |" % (fmt(c["median"]), fmt(c["min"]), fmt(c["max"]),
                                             " (%d failed)" % c["failed"] if c["failed"] else "") if c else " – |"
            for s in rated:
                row += " **%s** |" % fmt(ratio_to_naive(cells, s), 2)
            row += " %s |" % error_counts(cells, a.servers)
            w(row)
        w("")
    w("## Latency and fairness (unpinned if measured, µs, medians over the runs)")
    w("")
    w("| connections | size | pipeline | server | p50 | p99 | p99.9 | p99 ÷ p50 | per-connection messages min / max |")
    w("|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    aff = "unpinned" if "unpinned" in a.affinity else a.affinity[0]
    for key in sorted(k for k in table if k[0] == aff and k[1] == "echo"):
        for s in a.servers:
            c = table[key].get(s)
            if not c:
                continue
            w("| %d | %d | %d | %s | %s | %s | %s | %s | %s / %s |" % (
                key[2], key[3], key[4], LABEL[s], fmt(c["p50_median"], 1), fmt(c["p99_median"], 1),
                fmt(c["p999_median"], 1), fmt(ratio(c["p99_median"], c["p50_median"]), 1),
                fmt(c["pmin_median"]), fmt(c["pmax_median"])))
    w("")
    storm = sorted(k for k in table if k[1] == "storm")
    rated = ratio_servers(a.servers)
    if storm:
        w("## Connection rate (storm: connect, one 64-byte round trip, close; connections/s)")
        w("")
        w("| affinity | connectors | server | connections/s [min–max] | ÷ naive | refused | reset | errors | "
          "stalls | p99 connect+echo µs |")
        w("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for key in storm:
            for s in a.servers:
                c = table[key].get(s)
                if c:
                    w("| %s | %d | %s | %s [%s–%s]%s | %s | %d | %d | %d | %d | %s |" % (
                        key[0], key[2], LABEL[s], fmt(c["median"]), fmt(c["min"]), fmt(c["max"]),
                        " (%d failed)" % c["failed"] if c["failed"] else "",
                        "**%s**" % fmt(ratio_to_naive(table[key], s), 2) if s in rated else "", c["refused"],
                        c["resets"],
                        c["errors"], c["stalls"], fmt(c["p99_median"], 0)))
        w("")
    udp = sorted(k for k in table if k[1] == "udp")
    if udp:
        w("## UDP echo (datagrams/s; 64-byte datagrams, one in flight per socket)")
        w("")
        w("portserve runs a UDP instance with its reflection guard off: `%s`; the naive server: `%s`; "
          "libuv: `%s`. "
          "portload `--mode udp --loss-timeout %s`: a datagram not echoed within that time is lost (and its "
          "socket sends the next). Lost and late (echoed after being counted lost) are summed over the runs "
          "in the medians; loss is lost ÷ (echoed + lost)." % (
              meta.get("udp_server_commands", {}).get("portserve", "–"),
              meta.get("udp_server_commands", {}).get("naive", "–"),
              meta.get("udp_server_commands", {}).get("libuv", "–"), fmt(a.loss_timeout, 2)))
        w("")
        w("| affinity | sockets | server | datagrams/s [min–max] | ÷ naive | lost | loss | late | "
          "errors, stalls | p50 µs | p99 µs |")
        w("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for key in udp:
            for s in a.servers:
                c = table[key].get(s)
                if not c:
                    continue
                loss = c["lost"] / float(c["msgs"] + c["lost"]) if c["msgs"] + c["lost"] else None
                w("| %s | %d | %s | %s [%s–%s]%s | %s | %d | %s | %d | %d, %d | %s | %s |" % (
                    key[0], key[2], LABEL[s], fmt(c["median"]), fmt(c["min"]), fmt(c["max"]),
                    " (%d failed)" % c["failed"] if c["failed"] else "",
                    "**%s**" % fmt(ratio_to_naive(table[key], s), 2) if s in rated else "", c["lost"],
                    "%.3f%%" % (100 * loss) if loss is not None else "–", c["late"], c["errors"], c["stalls"],
                    fmt(c["p50_median"], 1), fmt(c["p99_median"], 1)))
        w("")
    if extra["syscalls"]:
        w("## Linux system calls per echoed message (strace -f -c, process + its wineserver, 64-byte messages)")
        w("")
        w("| server | connections | pipeline | calls | messages | calls / message | most frequent |")
        w("|---|---:|---:|---:|---:|---:|---|")
        for e in extra["syscalls"]:
            w("| %s | %d | %d | %s | %s | **%s** | %s |" % (
                LABEL[e["server"]], e["connections"], e["pipeline"], fmt(e["syscalls"]), fmt(e["messages"]),
                fmt(e["per_message"], 1), ", ".join("%s %d" % t for t in e["top"])))
        w("")
        w("Throughput while traced is far below the untraced figures; only the ratio calls/message is kept.")
        w("")
    if extra["memory"]:
        w("## Memory per idle connection (%d connections, fresh server and wineserver for each row)" % a.idle)
        w("")
        w("Resident memory read from /proc/PID/status before the connections and 2 s after all of them are "
          "open and quiet, divided by their number. RssAnon is the process's private memory. *Never sent*: "
          "`portload --mode idle`; *after traffic*: `portload --mode idle --idle-messages 1 --size 64`, each "
          "connection echoes one 64-byte message and then goes quiet, so the server has read from and "
          "written to every one of them once.")
        w("")
        w("| server | connections | process RssAnon before → after | process RssAnon / conn | "
          "process VmRSS / conn | wineserver RssAnon / conn | all open |")
        w("|---|---|---:|---:|---:|---:|---|")
        for e in memory_rows(extra["memory"], a.servers):
            pr, ws = e.get("process", {}), e.get("wineserver", {})
            kb = lambda v: fmt(v / 1024.0, 2) + " KB" if v is not None else "–"
            mib = lambda d: fmt(d["RssAnon"] / 1024.0, 1) if "RssAnon" in d else "–"
            w("| %s | %s | %s → %s MiB | %s | %s | %s | %s |" % (
                LABEL[e["server"]], dict(IDLE_WAYS).get(e.get("idle_messages", 0), "?"),
                mib(pr.get("before_kB", {})), mib(pr.get("after_kB", {})), kb(pr.get("RssAnon_per_conn_bytes")),
                kb(pr.get("VmRSS_per_conn_bytes")), kb(ws.get("RssAnon_per_conn_bytes")), e["all_open"]))
        w("")
    w("## Targets of issue 6")
    w("")
    w("| target | measured | met |")
    w("|---|---|---|")
    for t in targets(table, extra, a):
        w("| %s | %s | %s |" % t)
    w("")
    for title, rel in plots:
        w("![%s](%s)" % (title, rel))
        w("")
    with open(path_md, "w") as f:
        f.write("\n".join(L) + "\n")


def targets(table, extra, a):
    out = []

    def sc(conns, pipeline):
        for e in extra["syscalls"]:
            if e["server"] == "portserve" and e["connections"] == conns and e["pipeline"] == pipeline:
                return e["per_message"]
        return None

    for conns, pipeline, limit in ((1, 1, 50), (64, 8, 40)):
        v = sc(conns, pipeline)
        out.append(("≤ %d syscalls per message at %d connection(s), pipeline %d" % (limit, conns, pipeline),
                    fmt(v, 1), "–" if v is None else ("yes" if v <= limit else "**no**")))
    mem = [e for e in extra["memory"] if e["server"] == "portserve" and not e.get("idle_messages")]
    v = mem[0].get("process", {}).get("RssAnon_per_conn_bytes") if mem else None
    out.append(("≤ 1 KB per idle connection (process)", fmt(v / 1024.0, 2) + " KB" if v is not None else "–",
                "–" if v is None else ("yes" if v <= 1024 else "**no**")))
    for affinity in a.affinity:
        for conns, want in ((64, 1.5), (1, 1.2)):
            key = (affinity, "echo", conns, 64, 1)
            cells = table.get(key, {})
            rt = ratio(cells.get("portserve", {}).get("median"), cells.get("naive", {}).get("median"))
            out.append(("throughput ≥ %.1f× naive at %d connection(s) × 64 B, %s" % (want, conns, affinity),
                        fmt(rt, 2) + "×" if rt else "–", "–" if rt is None else ("yes" if rt >= want else "**no**")))
    key = ("unpinned" if "unpinned" in a.affinity else a.affinity[0], "echo", 64, 64, 1)
    c = table.get(key, {}).get("portserve")
    if c:
        rt = ratio(c["p99_median"], c["p50_median"])
        out.append(("fairness: p99 ≤ 3× p50 at 64 connections", "%s× (per-connection min/max %s/%s)" % (
            fmt(rt, 1), fmt(c["pmin_median"]), fmt(c["pmax_median"])),
            "–" if rt is None else ("yes" if rt <= 3 else "**no**")))
    for kind, what in (("storm", "connection rate (%d connectors)"), ("udp", "UDP datagrams/s (%d sockets)")):
        for key in sorted(k for k in table if k[1] == kind):
            rt = ratio(table[key].get("portserve", {}).get("median"), table[key].get("naive", {}).get("median"))
            out.append(("%s ≥ 1.2× naive, %s" % (what % key[2], key[0]), fmt(rt, 2) + "×" if rt else "–",
                        "–" if rt is None else ("yes" if rt >= 1.2 else "**no**")))
    for key in (k for k in table if k[1] == "storm" and k[2] == 256):
        c = table[key].get("portserve")
        if c:
            out.append(("storm of %d connectors without refused/reset (%s)" % (key[2], key[0]),
                        "%d refused, %d reset" % (c["refused"], c["resets"]),
                        "yes" if c["refused"] + c["resets"] == 0 and not c["failed"] else "**no**"))
    return out


def write_plots(out_dir, stem, table, a):
    """SVG plots with gnuplot; returns [(title, file name)]."""
    if shutil.which("gnuplot") is None:
        log("gnuplot not found: no plots")
        return []
    plots = []
    data = os.path.join(out_dir, stem + "-plot.dat")
    series = []
    with open(data, "w") as f:
        for affinity in a.affinity:
            for s in a.servers:
                f.write("# %s %s\n" % (affinity, s))
                rows = sorted((k[2], table[k][s]) for k in table
                              if k[0] == affinity and k[1] == "echo" and k[3] == 64 and k[4] == 1 and s in table[k])
                for conns, c in rows:
                    f.write("%d %s %s %s\n" % (conns, c["median"] or 0, c["min"] or 0, c["max"] or 0))
                f.write("\n\n")
                series.append("%s, %s" % (LABEL[s], affinity))
    tput = stem + "-throughput.svg"
    plot = ", ".join("'%s' index %d using 1:2:3:4 with yerrorlines title '%s'" % (data, i, t)
                     for i, t in enumerate(series))
    script = ("set terminal svg size 900,540 dynamic enhanced font 'sans,11'\n"
              "set output '%s'\nset title 'Echo throughput, 64-byte messages, pipeline 1 (median, min-max)'\n"
              "set xlabel 'connections'\nset ylabel 'messages/s'\nset logscale x 2\nset logscale y\n"
              "set key outside right\nset grid\nplot %s\n" % (os.path.join(out_dir, tput), plot))
    if subprocess.run(["gnuplot"], input=script.encode(), capture_output=True).returncode == 0:
        plots.append(("throughput vs connections", tput))
    # Latency percentiles per server at each connection count (unpinned).
    aff = "unpinned" if "unpinned" in a.affinity else a.affinity[0]
    ldata = os.path.join(out_dir, stem + "-latency.dat")
    with open(ldata, "w") as f:
        f.write("# label p50 p99 p99.9 (us)\n")
        for k in sorted(k for k in table if k[0] == aff and k[1] == "echo" and k[3] == 64 and k[4] == 1):
            for s in a.servers:
                c = table[k].get(s)
                if c:
                    f.write("\"%s %dc\" %s %s %s\n" % (s, k[2], c["p50_median"] or 0, c["p99_median"] or 0,
                                                     c["p999_median"] or 0))
    lat = stem + "-latency.svg"
    script = ("set terminal svg size 900,540 dynamic enhanced font 'sans,11'\nset output '%s'\n"
              "set title 'Latency percentiles, 64-byte messages, pipeline 1, %s (median of runs)'\n"
              "set style data histogram\nset style histogram cluster gap 1\nset style fill solid 0.8 border -1\n"
              "set logscale y\nset ylabel 'microseconds'\nset xtics rotate by -30\nset grid ytics\n"
              "plot '%s' using 2:xtic(1) title 'p50', '' using 3 title 'p99', '' using 4 title 'p99.9'\n"
              % (os.path.join(out_dir, lat), aff, ldata))
    if subprocess.run(["gnuplot"], input=script.encode(), capture_output=True).returncode == 0:
        plots.append(("latency percentiles", lat))
    return plots


def libuv_version(root):
    """The libuv source package bench/libuv.sh built from ("1.44.2-1+deb12u1")."""
    try:
        out = subprocess.run(["bash", os.path.join(root, "bench", "libuv.sh"), "version"], capture_output=True,
                             text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    return out or "?"


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    wine = subprocess.run(["wine", "--version"], capture_output=True, env=wine_env("/nonexistent")).stdout
    return {"cpu": cpu, "cpus": os.cpu_count() or 0, "kernel": os.uname().release,
            "wine": wine.decode(errors="replace").strip() or "wine ?"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--win-bin", required=True, help="directory with portserve.exe and naive_iocp_echo.exe")
    ap.add_argument("--native-bin", required=True, help="directory with portload and epoll_echo (native)")
    ap.add_argument("--prefix-root", required=True, help="Wine prefixes are made here, one per server")
    ap.add_argument("--out", required=True, help="results directory")
    ap.add_argument("--quick", action="store_true", help="a short run: 1 and 64 connections, 64 bytes, "
                    "pipeline 1, storms of 64 and 256 connectors, UDP echo on 1 and 64 sockets, 3 repetitions of "
                    "1 s, 10,000 idle connections")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--duration", type=float)
    ap.add_argument("--warmup", type=float)
    ap.add_argument("--connections", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--pipelines", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--storm", type=lambda s: [int(x) for x in s.split(",") if x.strip() not in ("", "0")],
                    help="connectors of the storm (connection rate) points, e.g. 64,256 (0: none)")
    ap.add_argument("--udp", type=lambda s: [int(x) for x in s.split(",") if x.strip() not in ("", "0")],
                    help="sockets of the UDP echo points, e.g. 1,64 (0: none)")
    ap.add_argument("--loss-timeout", type=float, default=0.5,
                    help="portload --loss-timeout for the UDP points: a datagram not echoed this long is lost")
    ap.add_argument("--idle", type=int, help="connections of the two memory rows (idle never sent, idle after "
                    "one echo)")
    ap.add_argument("--servers", type=lambda s: s.split(","), default=list(SERVERS))
    ap.add_argument("--affinity", type=lambda s: s.split(","), default=["pinned", "unpinned"])
    ap.add_argument("--server-threads", type=int, default=os.cpu_count() or 1,
                    help="worker threads of portserve and the naive server (default: one per processor, as "
                    "portserve picks); libuv runs one loop thread")
    ap.add_argument("--libuv-exe", help="libuv_echo.exe, as bench/libuv.sh build prints it (needed for the libuv "
                    "server)")
    ap.add_argument("--stall-timeout", type=float, default=2.0,
                    help="portload --stall-timeout: a connection unanswered this long counts as stalled")
    ap.add_argument("--no-syscalls", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    a = ap.parse_args()
    quick = dict(reps=3, duration=1.0, warmup=0.25, connections=[1, 64], sizes=[64], pipelines=[1], storm=[64, 256],
                 udp=[1, 64], idle=10000)
    full = dict(reps=5, duration=2.0, warmup=0.5, connections=[1, 16, 64, 256], sizes=[64, 4096],
                pipelines=[1, 8], storm=[64, 256], udp=[1, 64], idle=10000)
    for k, v in (quick if a.quick else full).items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    a.syscall_duration = 2.0 if a.quick else 3.0
    bad = [s for s in a.servers if s not in SERVERS] + [x for x in a.affinity if x not in ("pinned", "unpinned")]
    if bad:
        ap.error("unknown server or affinity: %s" % ", ".join(bad))
    if "libuv" in a.servers and not (a.libuv_exe and os.path.isfile(a.libuv_exe)):
        ap.error("the libuv server needs --libuv-exe PATH (bench/libuv.sh build makes it and prints PATH; it "
                 "fetches libuv once, over the network), or leave it out: --servers %s" %
                 ",".join(s for s in a.servers if s != "libuv"))
    ncpu = os.cpu_count() or 1
    if ncpu < 2 and "pinned" in a.affinity:
        log("one CPU: pinned mode needs two; running unpinned only")
        a.affinity = [x for x in a.affinity if x != "pinned"]
    a.all_cpus = "0-%d" % (ncpu - 1)
    # 10,000 idle connections: portload, the server's wineserver (which holds
    # every socket's fd) and the server all inherit this limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < a.idle + 256:
        log("warning: open-files limit %d is too low for %d idle connections; raise ulimit -Hn" % (soft, a.idle))
    os.makedirs(a.out, exist_ok=True)
    a.tmp = os.path.join(a.prefix_root, "tmp")
    os.makedirs(a.tmp, exist_ok=True)

    host = socket.gethostname().split(".")[0] or "host"
    now = datetime.datetime.now()
    stem = "%s-%s" % (now.strftime("%Y-%m-%d-%H%M"), host)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    meta = dict(machine(), date=now.strftime("%Y-%m-%d %H:%M"), host=host, commit=git_commit(root),
                command=os.environ.get("PS_BENCH_COMMAND") or shell_join([sys.argv[0]] + sys.argv[1:]),
                argv=shell_join([sys.executable] + sys.argv), server_threads=a.server_threads,
                server_commands={name: shell_join(server_argv(a, name)) for name in a.servers},
                udp_server_commands={name: shell_join(server_argv(a, name, udp=True))
                                     for name in a.servers if name in UDP_SERVERS},
                client_command=shell_join([os.path.join(a.native_bin, "portload"), "--target", "127.0.0.1:PORT",
                                           "--threads", "1", "--duration", str(a.duration), "--warmup",
                                           str(a.warmup), "--stall-timeout", str(a.stall_timeout), "--json"]))
    if "libuv" in a.servers:
        meta["libuv"] = {"version": libuv_version(root), "settings": LIBUV_SETTINGS}
    b = Bench(a)
    started = time.monotonic()
    try:
        for name in a.servers:
            b.start_server(name)
        b.run_matrix()
        if not a.no_syscalls and shutil.which("strace"):
            b.run_syscalls()
        b.run_udp()
        if not a.no_memory:
            b.run_memory()
    finally:
        b.cleanup()
    table = summarize(b.runs, a.affinity, a.servers)
    meta["elapsed_s"] = round(time.monotonic() - started, 1)
    settings = {k: getattr(a, k) for k in ("quick", "reps", "duration", "warmup", "connections", "sizes",
                                             "pipelines", "storm", "udp", "loss_timeout", "idle", "servers",
                                             "affinity", "server_threads", "stall_timeout", "libuv_exe")}
    with open(os.path.join(a.out, stem + ".json"), "w") as f:
        json.dump({"meta": meta, "settings": settings, "runs": b.runs, "syscalls": b.extra["syscalls"],
                   "memory": b.extra["memory"]}, f, indent=1)
    plots = write_plots(a.out, stem, table, a)
    write_report(os.path.join(a.out, stem + ".md"), meta, table, b.extra, a, plots)
    failed = sum(1 for r in b.runs if not run_ok(r["result"]))
    failed += sum(1 for e in b.extra["syscalls"] if not e["ok"])
    errors = sum(r["result"].get("errors", 0) for r in b.runs) + sum(e["errors"] or 0 for e in b.extra["syscalls"])
    stalls = sum(r["result"].get("stalls", 0) for r in b.runs) + sum(e["stalls"] or 0 for e in b.extra["syscalls"])
    log("wrote %s.json and %s.md in %s (%.0f s; %d run(s) failed or had errors or stalls: %d errors, %d stalls)" % (
        stem, stem, a.out, meta["elapsed_s"], failed, errors, stalls))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
