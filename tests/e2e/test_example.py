"""examples/upper served by its own program (upper.exe, which links the
engine library), driven by Python's socket: a client we did not write.
The exe path comes from UPPER_EXE, the Wine prefix from WINEPREFIX (ctest)."""
import os
import re
import socket
import subprocess
import threading
import time
import unittest

from harness import wine_env

EXE = os.environ.get("UPPER_EXE", "")
SERVING_RE = re.compile(r"upper: serving (tcp|udp) (\S+) port (\d+)")


class Upper:
    """upper.exe in the background; stops when its stdin is closed."""

    def __init__(self, spec):
        self.proc = subprocess.Popen(["wine", EXE, spec], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=wine_env())
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_ready(self, timeout=60):
        end = time.monotonic() + timeout
        with self.cond:
            while not any("ready" in l for l in self.lines):
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError("upper.exe did not become ready:\n" + "\n".join(self.lines))
                self.cond.wait(min(left, 0.5))
        return {m.group(1): int(m.group(3)) for m in (SERVING_RE.search(l) for l in self.lines) if m}

    def stop(self, timeout=30):
        self.proc.stdin.close()
        return self.proc.wait(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def read_until(sock, needle, timeout=10):
    sock.settimeout(timeout)
    data = b""
    while needle not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class ExampleUpper(unittest.TestCase):
    def setUp(self):
        self.assertTrue(EXE, "UPPER_EXE not set")
        self.srv = Upper("127.0.0.1:0")
        self.addCleanup(self.srv.kill)
        self.ports = self.srv.wait_ready()

    def test_tcp_lines_quit_and_udp(self):
        with socket.create_connection(("127.0.0.1", self.ports["tcp"]), timeout=10) as c:
            greeting = read_until(c, b"\r\n")
            self.assertRegex(greeting.decode(), r"^upper: hello 127\.0\.0\.1:\d+\r\n$")
            c.sendall(b"hello world\r\nsplit ")
            c.sendall(b"line\n")
            self.assertEqual(read_until(c, b"SPLIT LINE\r\n"), b"HELLO WORLD\r\nSPLIT LINE\r\n")
            c.sendall(b"quit\r\n")
            rest = read_until(c, b"\x00")  # reads to EOF
            self.assertEqual(rest, b"BYE\r\n", "BYE, then the server's FIN")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(10)
            u.sendto(b"datagram 1", ("127.0.0.1", self.ports["udp"]))
            data, _ = u.recvfrom(2048)
            self.assertEqual(data, b"DATAGRAM 1")
        self.assertEqual(self.srv.stop(), 0, "\n".join(self.srv.lines))
        self.assertIn("upper: stopped", "\n".join(self.srv.lines))


if __name__ == "__main__":
    unittest.main()
