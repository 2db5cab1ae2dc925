"""examples/upper served by its own program (upper.exe, which links the
engine library), driven by Python's socket: a client we did not write.
The exe path comes from UPPER_EXE, the Wine prefix from WINEPREFIX (ctest)."""
import os
import re
import socket
import unittest

import harness
from harness import Server

EXE = os.environ.get("UPPER_EXE", "")
SERVING_RE = re.compile(r"upper: serving (tcp|udp) (\S+) port (\d+)")


class Upper(Server):
    """upper.exe in the background; stops when its stdin is closed."""

    def __init__(self, spec):
        super().__init__(exe=EXE, command=[spec], stdin=True)
        self.spawn()

    def wait_ready(self, timeout=60):
        """Waits for its ready line; returns {"tcp": port, "udp": port}."""
        if not self.wait_for_line("ready", timeout):
            raise AssertionError("upper.exe did not become ready:\n" + self.output())
        return {m.group(1): int(m.group(3)) for m in (SERVING_RE.search(l) for l in self.lines) if m}

    def stop(self, timeout=30):
        self.proc.stdin.close()
        return self.proc.wait(timeout)


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
        self.assertEqual(self.srv.stop(), 0, self.srv.output())
        self.assertIn("upper: stopped", self.srv.output())


if __name__ == "__main__":
    harness.main()
