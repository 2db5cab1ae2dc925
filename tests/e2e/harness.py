"""Start portserve.exe under Wine for end-to-end tests and clean up by PID.

The exe path comes from PORTSERVE_EXE and the Wine prefix from WINEPREFIX
(ctest sets both; the prefix is the run's fixture prefix). Every wait is
bounded; every process started here is killed by PID if still running.

Every script ends with harness.main() (not unittest.main()), so its skips
are visible: see main()."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import wine_env as tools_wine_env  # noqa: E402 (tools/wine_env.py: tools/wine-env.sh for Python)

EXE = os.environ.get("PORTSERVE_EXE", "")
# The line every clean stop ends with (ps_engine_stop's leak report).
COUNTERS_ZERO = "live counters: sockets 0, connections 0, buffers in use 0"
LISTEN_RE = re.compile(r"listening on (tcp|udp) \[?([^\s\]]+?)\]?:(\d+) \((\w+)\)")


def wine_env():
    return tools_wine_env.wine_env(keep_callers=True)


def run_exe(args, timeout=60):
    """Runs portserve.exe to completion; returns (rc, stdout, stderr)."""
    p = subprocess.run(["wine", EXE] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, env=wine_env())
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class Server:
    """portserve.exe run ARGS... in the background, its stderr collected.
    exe= and command= run another program (command: its whole argument
    list); stdin=True gives it a pipe on stdin (closed by the test) instead
    of /dev/null."""

    def __init__(self, *args, exe=None, command=None, stdin=False):
        self.exe = exe or EXE
        self.args = list(command) if command is not None else ["run"] + list(args)
        self.stdin = stdin
        self.proc = None
        self.lines = []
        self.cond = threading.Condition()
        self.endpoints = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.kill()

    def spawn(self, env=None):
        """Starts the process without waiting for it to be ready."""
        self.proc = subprocess.Popen(["wine", self.exe] + self.args,
                                     stdin=subprocess.PIPE if self.stdin else subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env or wine_env())
        threading.Thread(target=self._reader, daemon=True).start()

    def start(self, timeout=30, env=None):
        self.spawn(env)
        self.wait_ready(timeout)

    def wait_ready(self, timeout=30):
        if not self.wait_for_line("ready:", timeout):
            self.kill()
            raise AssertionError("server did not become ready:\n" + self.output())
        for line in self.lines:
            m = LISTEN_RE.search(line)
            if m:
                self.endpoints.append((m.group(2), int(m.group(3)), m.group(4), m.group(1)))

    def _reader(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for_line(self, needle, timeout):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                if any(needle in line for line in self.lines):
                    return True
                left = end - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader_alive()):
                    return any(needle in line for line in self.lines)
                self.cond.wait(min(left, 0.5))

    def _reader_alive(self):
        return self.proc.stderr is not None and not self.proc.stderr.closed

    def port(self, address="127.0.0.1", service=None, transport="tcp"):
        for addr, port, svc, proto in self.endpoints:
            if addr == address and proto == transport and (service is None or svc == service):
                return port
        raise AssertionError("no %s listener on %s (%s) in:\n%s" % (transport, address, service, self.output()))

    def output(self):
        with self.cond:
            return "\n".join(self.lines)

    def interrupt(self):
        """Ctrl+C: Wine turns SIGINT into CTRL_C_EVENT for the console handler."""
        self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()


def windows_path(path):
    """A Linux path as Wine's Z: drive sees it."""
    return "Z:" + os.path.abspath(path).replace("/", "\\")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recv_until_eof(sock, timeout=20):
    sock.settimeout(timeout)
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def metric(text, name, labels=None):
    """The value of one sample of the exposition (labels: a dict that must match)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if labels and any(got.get(k) != v for k, v in labels.items()):
            continue
        return float(m.group(3))
    raise AssertionError("no sample %s%r in:\n%s" % (name, labels, text[:3000]))


def tcp_echo(port, payload, timeout=20):
    """Sends payload to 127.0.0.1:port, half-closes, returns all it got back.
    Raises OSError when nothing listens there."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return recv_until_eof(s, timeout)


def udp_echo(port, payload, timeout=5):
    """One datagram to 127.0.0.1:port and its reply, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        for _ in range(3):  # UDP: a lost datagram is not a failure of the server
            s.sendto(payload, ("127.0.0.1", port))
            try:
                data, _ = s.recvfrom(65536)
                return data
            except socket.timeout:
                continue
    return None


def write_ini(test, text, path=None):
    """Writes a configuration file and returns its path: PATH (written
    again as often as a test likes), or else a new temporary file that
    `test` removes at its cleanup."""
    if path is None:
        fd, path = tempfile.mkstemp(prefix="portserve-e2e-", suffix=".ini")
        os.close(fd)
        test.addCleanup(os.remove, path)
    with open(path, "w") as f:
        f.write(text)
    return path


def read_text(path):
    """A file's text, "" while it does not exist (a log the server has yet to write)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_for_text(path, needle, timeout=30):
    """Polls the file until it holds needle or timeout seconds pass; returns its text."""
    end = time.monotonic() + timeout
    while needle not in read_text(path) and time.monotonic() < end:
        time.sleep(0.2)
    return read_text(path)


# ctest's SKIP_RETURN_CODE for the e2e scripts (tests/CMakeLists.txt).
SKIP_RETURN_CODE = 77


def main():
    """unittest.main() for an e2e script, with its skips made visible. ctest
    keeps one result per script, so: a script that ran tests and skipped
    every one exits SKIP_RETURN_CODE (ctest: "Skipped"); a failure exits 1
    (ctest: "Failed"), skips or not; a script with passes and some skips
    passes, and each skip prints a "SKIPPED: test: reason" line after
    unittest's summary (ctest --output-on-failure does not show a passing
    script's output: ctest -V or Testing/Temporary/LastTest.log does)."""
    result = unittest.main(exit=False).result
    for test, reason in result.skipped:
        print("SKIPPED: %s: %s" % (test.id(), reason), file=sys.stderr, flush=True)
    if not result.wasSuccessful():
        sys.exit(1)
    if result.testsRun > 0 and len(result.skipped) == result.testsRun:
        print("every test of this script was skipped: exit %d (ctest: Skipped)" % SKIP_RETURN_CODE,
              file=sys.stderr, flush=True)
        sys.exit(SKIP_RETURN_CODE)
    sys.exit(0)
