"""A real Prometheus (Debian's `prometheus`, 2.42 on bookworm) scrapes a
running portserve's admin endpoint once a second while portload drives its
echo listener: the target is up, what Prometheus stored matches what
portload did, and `promtool check metrics` accepts a scrape.

The comparison, and why its tolerances are what they are:
* The exact figure is the difference of two instant queries, one taken
  before the load and one after it (each a stored scrape). Admin traffic is
  kept out of the service totals (PS_HANDLER_MANAGEMENT), so Prometheus' own
  scrapes add nothing: portserve_connections_accepted_total must grow by
  exactly the connections portload opened, and
  portserve_bytes_received_total by exactly the bytes portload sent.
* increase() over a window that starts before the load and ends after it
  (with quiet scrapes at both ends) sees that same growth between its first
  and last sample, then extrapolates towards the window's edges, by at most
  1.1 average scrape intervals on each side (promql's extrapolatedRate). So
  exact <= increase <= exact * W / (W - 2.2 * interval), W the window.
Skips (exit 77 through harness.main) only when no prometheus binary is
installed; tools/deps.sh installs it with promtool."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import harness
from harness import Server, free_port

PORTLOAD = os.environ.get("PORTLOAD", "")
INTERVAL_S = 1.0


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8", errors="replace")


class Prometheus:
    """One prometheus process on loopback with its own storage, stopped by PID."""

    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="ps-prom-")
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: portserve\n    static_configs:\n"
                    "      - targets: ['%s']\n" % target)
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen([shutil.which("prometheus"), "--config.file=" + cfg,
                                      "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                                      "--web.listen-address=127.0.0.1:%d" % self.port],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                break
            try:
                if http_get(self.base + "/-/ready", 2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise AssertionError("prometheus did not become ready:\n" + self.output())

    def query(self, expr, at=None):
        """The instant vector of `expr` (at Unix time `at`) as {labels: value}."""
        args = {"query": expr}
        if at is not None:
            args["time"] = "%.3f" % at
        status, body = http_get(self.base + "/api/v1/query?" + urllib.parse.urlencode(args))
        doc = json.loads(body)
        if status != 200 or doc.get("status") != "success":
            raise AssertionError("query %r: %s" % (expr, body))
        return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in doc["data"]["result"]}

    def scalar(self, expr, at=None):
        got = self.query(expr, at)
        if len(got) != 1:
            raise AssertionError("query %r gave %r, not one sample" % (expr, got))
        return next(iter(got.values()))

    def output(self):
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read().decode("utf-8", errors="replace")[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: prometheus shuts down cleanly
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrometheusScrape(unittest.TestCase):
    def setUp(self):
        if shutil.which("prometheus") is None:
            self.skipTest("no prometheus binary (Debian's prometheus package; tools/deps.sh wintest installs it)")
        self.assertTrue(os.path.exists(PORTLOAD), "PORTLOAD not built: %r" % PORTLOAD)
        self.admin = free_port()
        self.srv = Server("--listen", "echo=127.0.0.1:0/tcp", "--admin", "127.0.0.1:%d" % self.admin,
                          "--stats-interval", "0")
        self.srv.start()
        self.addCleanup(self.srv.kill)
        self.prom = Prometheus("127.0.0.1:%d" % self.admin)
        self.addCleanup(self.prom.stop)
        self.prom.wait_ready()

    def wait_scraped(self, after, timeout=20):
        """Waits until Prometheus holds a scrape taken after Unix time `after`."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.prom.query('timestamp(up{job="portserve"})')
            if got and next(iter(got.values())) > after:
                return
            time.sleep(0.2)
        self.fail("no scrape after %.3f:\n%s" % (after, self.prom.output()))

    def portload(self, port, *args):
        return subprocess.Popen([PORTLOAD, "--target", "127.0.0.1:%d" % port, "--json", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def test_scraped_figures_match_portload(self):
        port = self.srv.port(service="echo")
        self.wait_scraped(time.time())
        self.assertEqual(self.prom.scalar('up{job="portserve"}'), 1.0, self.prom.output())

        # Two quiet scrapes before the load: the window's first samples are flat.
        time.sleep(2.5 * INTERVAL_S)
        t_before = time.time()
        self.wait_scraped(t_before)
        acc0 = self.prom.scalar("portserve_connections_accepted_total", t_before + 0.5)

        # An echo load (8 connections, bytes) and a connection storm beside it
        # (connect, one verified round trip, close: many accepts).
        echo = self.portload(port, "--connections", "8", "--size", "512", "--duration", "6")
        storm = self.portload(port, "--mode", "storm", "--connections", "2", "--size", "64", "--duration", "6")
        results = []
        for p in (echo, storm):
            out, err = p.communicate(timeout=90)
            self.assertEqual(p.returncode, 0, err.decode(errors="replace"))
            results.append(json.loads(out.decode().strip().splitlines()[-1]))
        for r in results:
            self.assertEqual(r["errors"], 0, r)
        self.assertEqual(self.prom.scalar('up{job="portserve"}'), 1.0, "up through the load")

        # Two quiet scrapes after it.
        t_done = time.time()
        self.wait_scraped(t_done)
        time.sleep(2.5 * INTERVAL_S)
        t_after = time.time()
        self.wait_scraped(t_after)
        conns = sum(r["conns_opened"] for r in results)
        sent = sum(r["bytes_out"] for r in results)
        print("portload: %d connections opened, %d bytes sent (echo %d msgs/s, storm %d conns)" %
              (conns, sent, results[0]["msgs_per_s"], results[1]["conns_opened"]))

        # Exact: two stored samples, one before and one after.
        acc1 = self.prom.scalar("portserve_connections_accepted_total", t_after)
        self.assertEqual(acc1 - acc0, conns, "every accept is portload's: the scrapes are not counted")
        in0 = self.prom.scalar("portserve_bytes_received_total", t_before + 0.5)
        in1 = self.prom.scalar("portserve_bytes_received_total", t_after)
        self.assertEqual(in1 - in0, sent, "every byte received is one portload sent")

        # increase() over the window: at least the exact growth, at most its
        # extrapolation to the window's edges (the module's docstring).
        window = int(t_after - t_before) + 1
        limit = window / (window - 2.2 * INTERVAL_S)
        for name, exact in (("portserve_connections_accepted_total", conns),
                            ("portserve_bytes_received_total", sent),
                            ('portserve_listener_bytes_received_total{service="echo"}', sent)):
            inc = self.prom.scalar("sum(increase(%s[%ds]))" % (name, window), t_after)
            print("%s: exact %d, increase() over %d s %.1f (ratio %.3f, limit %.3f)" %
                  (name, exact, window, inc, inc / exact, limit))
            self.assertGreaterEqual(inc, exact * 0.999, name)
            self.assertLessEqual(inc, exact * limit, name)
        rate = self.prom.scalar("sum(rate(portserve_bytes_received_total[%ds]))" % window, t_after)
        self.assertGreater(rate, 0)

        # The admin endpoint's own connection (Prometheus keeps one open) is
        # in its listener row and its own gauge, not in the totals.
        self.assertEqual(self.prom.scalar("portserve_connections_open", t_after), 0.0)
        self.assertGreaterEqual(self.prom.scalar("portserve_admin_connections_open", t_after), 1.0)

        # A scrape as Prometheus reads it passes promtool.
        status, text = http_get("http://127.0.0.1:%d/metrics" % self.admin)
        self.assertEqual(status, 200)
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool comes with prometheus")
        chk = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
        self.assertEqual(chk.returncode, 0, (chk.stdout + chk.stderr).decode(errors="replace"))


if __name__ == "__main__":
    harness.main()
