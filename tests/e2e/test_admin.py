"""The admin endpoint of a running portserve (--admin), scraped with curl
and checked with promtool while portload drives the echo listener; the
`portserve stats` client against it. Clients we did not write: curl,
promtool (Prometheus' own checker), Python's socket."""
import json
import os
import select
import shutil
import socket
import subprocess
import time
import unittest

import harness
from harness import Server, free_port, metric, recv_until_eof, run_exe

PORTLOAD = os.environ.get("PORTLOAD", "")


def curl(url, *extra):
    p = subprocess.run(["curl", "-s", "-S", "--max-time", "20", "-w", "\n%{http_code}", *extra, url],
                       capture_output=True, timeout=30)
    out = p.stdout.decode(errors="replace")
    body, _, code = out.rpartition("\n")
    return int(code or 0), body


class Admin(unittest.TestCase):
    def setUp(self):
        self.assertTrue(shutil.which("curl"), "curl is needed (tools/deps.sh wintest)")
        self.admin = free_port()
        self.srv = Server("--listen", "echo=127.0.0.1:0/tcp", "--admin", "127.0.0.1:%d" % self.admin,
                          "--stats-interval", "0")
        self.srv.start()
        self.addCleanup(self.srv.kill)
        self.base = "http://127.0.0.1:%d" % self.admin

    def test_metrics_match_portload_and_pass_promtool(self):
        port = self.srv.port(service="echo")
        code, before = curl(self.base + "/metrics")
        self.assertEqual(code, 200, before)
        acc0 = metric(before, "portserve_listener_connections_accepted_total", {"service": "echo"})
        in0 = metric(before, "portserve_listener_bytes_received_total", {"service": "echo"})

        self.assertTrue(os.path.exists(PORTLOAD), "PORTLOAD not built: %r" % PORTLOAD)
        p = subprocess.run([PORTLOAD, "--target", "127.0.0.1:%d" % port, "--connections", "8", "--size", "100",
                            "--duration", "2", "--json"], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        load = json.loads(p.stdout.decode().strip().splitlines()[-1])
        self.assertEqual(load["errors"], 0)

        code, after = curl(self.base + "/metrics")
        self.assertEqual(code, 200, after)
        # portload's connections and every byte it sent (each message echoed whole;
        # warm-up messages included in the server's count but not in portload's
        # measured ones, so compare bytes through the engine's totals of both ways).
        self.assertEqual(metric(after, "portserve_listener_connections_accepted_total", {"service": "echo"}) - acc0,
                         load["conns_opened"])
        got_in = metric(after, "portserve_listener_bytes_received_total", {"service": "echo"}) - in0
        got_out = metric(after, "portserve_listener_bytes_sent_total", {"service": "echo"})
        self.assertGreaterEqual(got_in, load["messages"] * 100, "at least every measured message's bytes")
        self.assertEqual(got_in % 100, 0, "whole 100-byte messages only")
        self.assertEqual(got_out, got_in, "echo: every byte received was sent back")
        self.assertEqual(metric(after, "portserve_connections_open"), 0.0, "the scrape's own is not a service's")
        self.assertEqual(metric(after, "portserve_admin_connections_open"), 1.0, "it is the admin endpoint's")
        self.assertEqual(metric(after, "portserve_build_info", {}), 1.0)

        # The test run installs promtool (tools/deps.sh: prometheus), so a
        # missing one fails this check instead of leaving it out.
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool not found: install Debian's prometheus (tools/deps.sh wintest)")
        chk = subprocess.run([promtool, "check", "metrics"], input=after.encode(), capture_output=True, timeout=30)
        self.assertEqual(chk.returncode, 0, (chk.stdout + chk.stderr).decode(errors="replace"))

    def test_healthz_errors_and_the_stats_command(self):
        self.assertEqual(curl(self.base + "/healthz"), (200, "ok\n"))
        code, body = curl(self.base + "/nope")
        self.assertEqual(code, 404, body)
        code, _ = curl(self.base + "/metrics", "-X", "POST")
        self.assertEqual(code, 405)
        rc, out, err = run_exe(["stats", "--admin", "127.0.0.1:%d" % self.admin])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("serving", out)
        rc, out, err = run_exe(["stats", "--admin", "127.0.0.1:%d" % self.admin, "--json"])
        self.assertEqual(rc, 0, out + err)
        doc = json.loads(out)
        self.assertEqual(doc["state"], "serving")
        self.assertTrue(any(l["service"] == "echo" for l in doc["listeners"]), doc["listeners"])
        self.srv.interrupt()
        self.assertEqual(self.srv.wait(30), 0, self.srv.output())


def get(port, path="/metrics", timeout=10):
    """One HTTP/1.0 GET on a new connection: (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(("GET %s HTTP/1.0\r\n\r\n" % path).encode())
        data = recv_until_eof(c, timeout)
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head[9:12]), body.decode(errors="replace")


class AdminLimits(unittest.TestCase):
    """Issue 21: backpressure, the head deadline, and admin traffic kept out
    of the service's totals and of --max-connections."""

    def start(self, *extra):
        self.admin = free_port()
        self.srv = Server("--listen", "echo=127.0.0.1:0/tcp", "--admin", "127.0.0.1:%d" % self.admin,
                          "--stats-interval", "0", *extra)
        self.srv.start()
        self.addCleanup(self.srv.kill)

    def test_pipelined_scrapes_of_a_client_that_does_not_read_stay_within_the_send_queue(self):
        queue_max = 16384
        self.start("--send-queue-max", str(queue_max))
        hog = socket.socket()
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.connect(("127.0.0.1", self.admin))
        self.addCleanup(hog.close)
        req = b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"
        hog.sendall(req * 100)  # one read's worth (3.5 KiB), never read back
        time.sleep(1.0)
        # Another admin client is answered meanwhile.
        code, body = get(self.admin)
        self.assertEqual(code, 200)
        peak = metric(body, "portserve_admin_send_queue_peak_bytes")
        answer = len(body) + 400  # one /metrics answer, head included
        print("queue peak %d bytes with --send-queue-max %d (one answer about %d bytes)" % (peak, queue_max, answer))
        self.assertGreater(peak, 0)
        self.assertLessEqual(peak, queue_max + answer, "about one send queue, not 100 answers (%d bytes)" %
                             (100 * answer))

    def test_a_head_sent_a_byte_every_2_s_gets_408_at_the_deadline(self):
        self.start()
        c = socket.create_connection(("127.0.0.1", self.admin), timeout=20)
        self.addCleanup(c.close)
        slow = b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"
        first = time.monotonic()
        got, ended = b"", False
        for i in range(len(slow)):
            try:
                c.sendall(slow[i:i + 1])
            except OSError:
                break  # already closed
            if select.select([c], [], [], 2.0)[0]:
                try:
                    got = c.recv(4096)
                except OSError:
                    got = b""
                ended = True
                break
        self.assertTrue(ended, "still open after the whole head was sent a byte every 2 s")
        took = time.monotonic() - first
        print("answer after %.1f s: %r" % (took, got[:40]))
        self.assertTrue(got.startswith(b"HTTP/1.1 408 ") or got == b"", got[:200])
        self.assertGreaterEqual(took, 9.5, "not before the 10 s deadline")
        self.assertLess(took, 15, "at the deadline (plus a sweep), not moved by each new byte")
        code, body = get(self.admin)
        self.assertEqual(metric(body, "portserve_timeouts_total", {"timeout": "deadline"}), 1.0)

    def test_scrapes_are_answered_at_max_connections_and_leave_the_totals_alone(self):
        self.start("--max-connections", "4")
        port = self.srv.port(service="echo")
        clients = []
        for _ in range(6):  # 4 served, 2 waiting in the backlog
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            clients.append(c)
            self.addCleanup(c.close)
        for c in clients[:4]:
            c.sendall(b"x")
            self.assertEqual(c.recv(1), b"x")
        bodies = []
        for i in range(6):
            code, body = get(self.admin, timeout=5)
            self.assertEqual(code, 200, "scrape %d while the service is full" % i)
            bodies.append(body)
        first, last = bodies[0], bodies[-1]
        self.assertEqual(metric(last, "portserve_connections_open"), 4.0, "the service is at its limit")
        for name in ("portserve_connections_accepted_total", "portserve_bytes_received_total",
                     "portserve_bytes_sent_total", "portserve_messages_received_total"):
            self.assertEqual(metric(last, name), metric(first, name), name + ": scrapes are not counted")
        self.assertEqual(metric(last, "portserve_connections_closed_total", {"reason": "orderly"}),
                         metric(first, "portserve_connections_closed_total", {"reason": "orderly"}))
        self.assertGreater(metric(last, "portserve_listener_connections_accepted_total", {"service": "admin"}),
                           metric(first, "portserve_listener_connections_accepted_total", {"service": "admin"}),
                           "the admin listener's own row counts them")

    def test_admin_connections_over_their_allowance_are_refused_and_counted(self):
        self.start()
        held = []
        for _ in range(8):
            c = socket.create_connection(("127.0.0.1", self.admin), timeout=5)
            held.append(c)
            self.addCleanup(c.close)
        time.sleep(0.5)
        extra = socket.create_connection(("127.0.0.1", self.admin), timeout=5)
        self.addCleanup(extra.close)
        try:
            extra.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            self.assertEqual(recv_until_eof(extra, 5), b"", "the ninth is reset")
        except OSError:
            pass  # reset: as expected
        held.pop().close()
        time.sleep(0.5)
        code, body = get(self.admin)
        self.assertEqual(code, 200)
        self.assertEqual(metric(body, "portserve_connections_refused_total", {"reason": "management_limit"}), 1.0)


if __name__ == "__main__":
    harness.main()
