"""The admin endpoint of a running portserve (--admin), scraped with curl
and checked with promtool while portload drives the echo listener; the
`portserve stats` client against it. Clients we did not write: curl,
promtool (Prometheus' own checker), Python's socket."""
import json
import os
import shutil
import subprocess
import unittest

import harness
from harness import Server, free_port, metric, run_exe

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
        self.assertEqual(metric(after, "portserve_connections_open"), 1.0, "only the scrape's own connection")
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


if __name__ == "__main__":
    harness.main()
