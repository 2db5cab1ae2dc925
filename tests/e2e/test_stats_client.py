"""`portserve stats` against a stand-in admin endpoint (a Python HTTP server
on loopback), under Wine: what it asks for, what it prints, its exit codes.
The real endpoint (common/services/svc_admin.c) is unit-tested natively; this tests
the client's side of the wire."""
import http.server
import os
import socket
import subprocess
import threading
import unittest

import harness

EXE = os.environ.get("PORTSERVE_EXE", "portserve.exe")
TIMEOUT = 60


class Endpoint(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    paths = []

    def do_GET(self):
        Endpoint.paths.append(self.path)
        if self.path == "/stats.txt":
            body, status, ctype = b"portserve 0.1.0, serving, 2 worker threads\n", 200, "text/plain"
        elif self.path == "/stats.json":
            body, status, ctype = b'{"format":1}\n', 200, "application/json"
        else:
            body, status, ctype = b"404 Not Found\n", 404, "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def run(*args):
    r = subprocess.run(["wine", EXE, "stats", *args], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=TIMEOUT)
    # stdout is a text-mode CRT stream: LF becomes CR LF on Windows.
    r.stdout = r.stdout.replace(b"\r\n", b"\n")
    return r


class StatsClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
        cls.addr = "127.0.0.1:%d" % cls.server.server_address[1]
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def test_prints_the_human_text_from_stats_txt(self):
        r = run("--admin", self.addr)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"portserve 0.1.0, serving, 2 worker threads\n")
        self.assertIn("/stats.txt", Endpoint.paths)

    def test_json_asks_for_stats_json(self):
        r = run("--json", "--admin", self.addr)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b'{"format":1}\n')

    def test_nothing_answering_is_exit_1_with_the_address_and_error(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # a port nobody listens on
        r = run("--admin", "127.0.0.1:%d" % port)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"nothing answers at 127.0.0.1:%d" % port, r.stderr)
        self.assertIn(b"WSAECONNREFUSED", r.stderr)

    def test_bad_arguments_are_exit_2(self):
        self.assertEqual(run("--bogus").returncode, 2)
        self.assertEqual(run("--admin", "no-port").returncode, 1)


if __name__ == "__main__":
    harness.main()
