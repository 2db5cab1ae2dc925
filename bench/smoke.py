#!/usr/bin/env python3
"""Smoke tests of the benchmark tools (registered with ctest in bench/CMakeLists.txt).

    smoke.py cli PORTLOAD...
        --help exits 0 and explains every option; a bad flag or value exits 2
        naming it. PORTLOAD may be several words ("wine portload.exe").

    smoke.py stall PORTLOAD...
        Against a server (here, in Python) that echoes the first 1,000 bytes
        of each connection and then stops answering, PORTLOAD must count every
        connection as stalled, say so, put it in its JSON and exit 1.

    smoke.py run --server SERVER... --client PORTLOAD... [--expect-clean-stop]
                 [--expect-line TEXT]
        Starts SERVER (its argv, e.g. "wine naive_iocp_echo.exe 127.0.0.1:0"),
        reads its port from the "listening on tcp ADDR:PORT" line on stderr,
        runs PORTLOAD with --target ADDR:PORT --json added, and checks exit
        status 0, zero errors, zero stalls and at least one message in the
        JSON line (and, with --expect-line, that the server printed TEXT). Then
        stops the server with SIGINT (Ctrl+C under Wine); with
        --expect-clean-stop its exit status must be 0.

Every wait is bounded; every process started here is killed by PID in a
finally block. Wine's environment (WINEPREFIX...) comes from the caller."""
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import wine_env  # noqa: E402 (tools/wine_env.py: tools/wine-env.sh for Python)

LISTEN_RE = re.compile(r"listening on tcp (\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+)")
SERVER_START_TIMEOUT = 30
CLIENT_GRACE = 20      # seconds beyond the client's own --duration
STOP_TIMEOUT = 10


def env():
    return wine_env.wine_env(keep_callers=True)


def fail(msg):
    print("smoke: FAIL: " + msg, flush=True)
    sys.exit(1)


def run(argv, timeout):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env())
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def cmd_cli(portload):
    rc, out, err = run(portload + ["--help"], 60)
    if rc != 0:
        fail("--help exited %d:\n%s%s" % (rc, out, err))
    for flag in ("--target", "--connections", "--size", "--pipeline", "--duration", "--warmup",
                 "--threads", "--mode", "--stall-timeout", "--loss-timeout", "--idle-messages", "--json", "--help",
                 "echo", "discard", "chargen", "storm", "idle", "udp"):
        if flag not in out:
            fail("--help does not mention %s:\n%s" % (flag, out))
    cases = (
        (["--bogus"], "unknown option '--bogus'"),
        (["--target", "127.0.0.1:7", "--size", "0"], "--size"),
        (["--target", "127.0.0.1:7", "--mode", "chaos"], "unknown mode 'chaos'"),
        (["--target", "::1:7"], "--target"),
        (["--connections"], "--connections needs a value"),
        (["--target", "127.0.0.1:7", "--stall-timeout", "0"], "--stall-timeout"),
    )
    for args, needle in cases:
        rc, out, err = run(portload + args, 60)
        if rc != 2 or needle not in err or "usage: portload" not in err:
            fail("%s: want exit 2 and '%s' plus the usage on stderr, got %d:\n%s%s"
                 % (" ".join(args), needle, rc, out, err))
    print("smoke: PASS: --help and %d bad command lines" % len(cases))


class StallingServer:
    """Echoes the first `answered` bytes of each connection, then reads and
    drops everything without answering: a server that stops responding."""

    def __init__(self, answered=1000):
        self.answered = answered
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ)
        echoed = {}
        while not self.stop.is_set():
            for key, _ in sel.select(timeout=0.1):
                if key.fileobj is self.listener:
                    try:
                        c, _ = self.listener.accept()
                    except BlockingIOError:
                        continue
                    c.setblocking(True)
                    c.settimeout(5)
                    echoed[c] = 0
                    sel.register(c, selectors.EVENT_READ)
                    continue
                c = key.fileobj
                try:
                    data = c.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(c)
                    c.close()
                    echoed.pop(c, None)
                    continue
                n = min(len(data), self.answered - echoed[c])
                if n > 0:
                    c.sendall(data[:n])
                    echoed[c] += n
        for c in echoed:
            c.close()
        sel.close()

    def close(self):
        self.stop.set()
        self.thread.join(timeout=10)
        self.listener.close()


def cmd_stall(portload):
    server = StallingServer()
    try:
        argv = portload + ["--target", "127.0.0.1:%d" % server.port, "--connections", "2", "--size", "100",
                           "--duration", "1.5", "--stall-timeout", "0.3", "--json"]
        rc, out, err = run(argv, 60)
    finally:
        server.close()
    lines = [l for l in out.splitlines() if l.strip().startswith("{")]
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        fail("client printed no JSON line (exit %d):\n%s%s" % (rc, out, err))
    if rc != 1 or result.get("stalls") != 2 or "stalled" not in err or not result.get("messages"):
        fail("want exit 1, 2 stalls, messages before the stall and 'stalled' on stderr; got exit %d, stalls %s, "
             "messages %s:\n%s%s" % (rc, result.get("stalls"), result.get("messages"), out, err))
    print("smoke: PASS: %d messages answered, then both connections counted as stalled; exit 1"
          % result["messages"])


class Server:
    def __init__(self, argv):
        self.argv = argv
        self.proc = None
        self.lines = []
        self.cond = threading.Condition()

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env())
        threading.Thread(target=self._read, daemon=True).start()
        end = time.monotonic() + SERVER_START_TIMEOUT
        with self.cond:
            while True:
                for line in self.lines:
                    m = LISTEN_RE.search(line)
                    if m:
                        return m.group(1), int(m.group(2))
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    fail("server printed no 'listening on' line (exit %s):\n%s"
                         % (self.proc.poll(), self.output()))
                self.cond.wait(min(left, 0.2))

    def _read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\r\n"))
                self.cond.notify_all()

    def output(self):
        return "\n".join(self.lines)

    def interrupt(self):
        """SIGINT: Ctrl+C for a native server, CTRL_C_EVENT under Wine. Returns the exit status or None."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass


def client_duration(argv):
    for i, a in enumerate(argv):
        if a == "--duration" and i + 1 < len(argv):
            return float(argv[i + 1])
        if a.startswith("--duration="):
            return float(a.split("=", 1)[1])
    return 10.0


def cmd_run(server_argv, client_argv, expect_clean_stop, expect_line=None):
    started = time.monotonic()
    server = Server(server_argv)
    try:
        host, port = server.start()
        argv = client_argv + ["--target", "%s:%d" % (host, port), "--json"]
        try:
            rc, out, err = run(argv, client_duration(client_argv) + CLIENT_GRACE)
        except subprocess.TimeoutExpired:
            fail("client did not finish in time: %s\nserver:\n%s" % (" ".join(argv), server.output()))
        lines = [l for l in out.splitlines() if l.strip().startswith("{")]
        try:
            result = json.loads(lines[-1])
        except (IndexError, ValueError):
            fail("client printed no JSON line (exit %d):\n%s%s" % (rc, out, err))
        if rc != 0 or result.get("errors") != 0 or result.get("stalls") != 0 or not result.get("messages"):
            fail("client exit %d, errors %s, stalls %s, messages %s:\n%s%s\nserver:\n%s"
                 % (rc, result.get("errors"), result.get("stalls"), result.get("messages"), out, err,
                    server.output()))
        if expect_line is not None and expect_line not in server.output():
            fail("server never printed '%s':\n%s" % (expect_line, server.output()))
        status = server.interrupt()
        if expect_clean_stop and status != 0:
            fail("server did not stop cleanly on SIGINT (exit %s):\n%s" % (status, server.output()))
        print("smoke: PASS: %s against %s:%d: %d messages (%.0f/s), p99 %s us, 0 errors; server exit %s; %.1f s"
              % (result.get("backend"), host, port, result["messages"], result["msgs_per_s"],
                 (result.get("latency_us") or {}).get("p99"), status, time.monotonic() - started))
    finally:
        server.kill()


def main(argv):
    if len(argv) >= 2 and argv[0] == "cli":
        cmd_cli(argv[1:])
        return 0
    if len(argv) >= 2 and argv[0] == "stall":
        cmd_stall(argv[1:])
        return 0
    if len(argv) >= 1 and argv[0] == "run" and "--server" in argv and "--client" in argv:
        args = argv[1:]
        clean = "--expect-clean-stop" in args
        args = [a for a in args if a != "--expect-clean-stop"]
        expect_line = None
        if "--expect-line" in args:
            i = args.index("--expect-line")
            if i + 1 >= len(args):
                print(__doc__, file=sys.stderr)
                return 2
            expect_line = args[i + 1]
            del args[i:i + 2]
        s, c = args.index("--server"), args.index("--client")
        if s != 0 or c < 2 or c == len(args) - 1:
            print(__doc__, file=sys.stderr)
            return 2
        cmd_run(args[1:c], args[c + 1:], clean, expect_line)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
