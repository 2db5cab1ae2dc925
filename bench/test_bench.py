#!/usr/bin/env python3
"""Unit tests of bench.py's bookkeeping (no servers, no Wine): errored or
stalled runs stay out of the medians and show in the report, the report
header names the commit, the command lines and the thread count, and the
third Wine server (libuv) and the two memory rows (idle never sent, idle after
traffic) reach every table they belong in, from synthetic data."""
import argparse
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

POINT = {"kind": "echo", "connections": 64, "size": 64, "pipeline": 1}


def result(rate, errors=0, stalls=0, exit_code=0):
    return {"msgs_per_s": rate, "errors": errors, "stalls": stalls, "exit": exit_code, "refused": 0, "resets": 0,
            "latency_us": {"p50": 10.0, "p99": 20.0, "p999": 30.0}, "per_conn_msgs": {"min": 1, "max": 2}}


def runs():
    out = []
    for server, rates in (("portserve", [(100, 0, 0), (110, 0, 0), (5000, 3, 0)]),
                          ("naive", [(50, 0, 0), (60, 0, 1), (55, 0, 0)])):
        for rep, (rate, errors, stalls) in enumerate(rates):
            out.append({"affinity": "unpinned", "server": server, "rep": rep, "point": POINT,
                        "result": result(rate, errors, stalls, 1 if errors or stalls else 0)})
    return out


class Bookkeeping(unittest.TestCase):
    def test_run_ok_needs_exit_0_no_errors_no_stalls(self):
        self.assertTrue(bench.run_ok(result(1)))
        self.assertFalse(bench.run_ok(result(1, errors=1)))
        self.assertFalse(bench.run_ok(result(1, stalls=1)))
        self.assertFalse(bench.run_ok(result(1, exit_code=1)))
        self.assertFalse(bench.run_ok({"error": "timeout"}))

    def test_errored_and_stalled_runs_are_left_out_of_the_medians_and_counted(self):
        table = bench.summarize(runs(), ["unpinned"], ["portserve", "naive"])
        cells = table[("unpinned", "echo", 64, 64, 1)]
        self.assertEqual(cells["portserve"]["median"], 105)  # 5000 (3 errors) left out
        self.assertEqual((cells["portserve"]["errors"], cells["portserve"]["stalls"]), (3, 0))
        self.assertEqual(cells["naive"]["median"], 52.5)  # 60 (1 stall) left out
        self.assertEqual((cells["naive"]["errors"], cells["naive"]["stalls"]), (0, 1))
        self.assertEqual(cells["portserve"]["failed"], 1)

    def test_report_header_and_rows(self):
        a = argparse.Namespace(affinity=["unpinned"], servers=["portserve", "naive"], reps=3, duration=1.0,
                               warmup=0.25, idle=10, win_bin="/w", native_bin="/n", server_threads=2)
        table = bench.summarize(runs(), a.affinity, a.servers)
        meta = {"date": "d", "host": "h", "cpu": "c", "cpus": 2, "kernel": "k", "wine": "w",
                "commit": "0123abc-dirty", "command": "bench/run.sh --quick", "server_threads": 2,
                "server_commands": {s: bench.shell_join(bench.server_argv(a, s)) for s in a.servers},
                "client_command": "portload --target 127.0.0.1:PORT"}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "r.md")
            bench.write_report(path, meta, table, {"syscalls": [], "memory": []}, a, [])
            with open(path) as f:
                text = f.read()
        self.assertIn("Commit: `0123abc-dirty`", text)
        self.assertIn("Command: `bench/run.sh --quick`", text)
        self.assertIn("portserve.exe run --listen echo=127.0.0.1:0 --threads 2`", text)
        self.assertIn("naive_iocp_echo.exe --threads 2 127.0.0.1:0`", text)
        row = [l for l in text.splitlines() if l.startswith("| 64 | 64 | 1 |")][0]
        self.assertIn("105 [100–110] (1 failed)", row)
        self.assertIn("3, 0 · 0, 1", row)



def libuv_runs():
    """portserve, naive and libuv at one echo, one storm and one UDP point."""
    out = []
    rates = {"portserve": 120, "naive": 100, "libuv": 90}
    for kind, conns in (("echo", 64), ("storm", 64), ("udp", 1)):
        pt = {"kind": kind, "connections": conns, "size": 64, "pipeline": 1}
        for server, rate in rates.items():
            for rep, scale in enumerate((1.0, 1.1, 0.9)):
                out.append({"affinity": "unpinned", "server": server, "rep": rep, "point": pt,
                            "result": result(rate * scale)})
    return out


def memory_entry(server, messages, before_kb, after_kb, n):
    def role(b, f):
        return {"before_kB": {"RssAnon": b, "VmRSS": b + 1000}, "after_kB": {"RssAnon": f, "VmRSS": f + 1000},
                "RssAnon_per_conn_bytes": (f - b) * 1024.0 / n, "VmRSS_per_conn_bytes": (f - b) * 1024.0 / n}
    return {"server": server, "idle_connections": n, "idle_messages": messages, "all_open": True,
            "process": role(before_kb, after_kb), "wineserver": role(10000, 10000 + n)}


class ThirdServerAndIdleAfterTraffic(unittest.TestCase):
    SERVERS = ["portserve", "naive", "libuv"]

    def report(self, memory):
        a = argparse.Namespace(affinity=["unpinned"], servers=self.SERVERS, reps=3, duration=1.0, warmup=0.25,
                               idle=2000, win_bin="/w", native_bin="/n", server_threads=2, loss_timeout=0.5,
                               libuv_exe="/b/libuv_echo.exe")
        table = bench.summarize(libuv_runs(), a.affinity, a.servers)
        meta = {"date": "d", "host": "h", "cpu": "c", "cpus": 2, "kernel": "k", "wine": "w", "commit": "c0ffee",
                "command": "bench/run.sh --quick", "server_threads": 2,
                "server_commands": {s: bench.shell_join(bench.server_argv(a, s)) for s in a.servers},
                "udp_server_commands": {s: bench.shell_join(bench.server_argv(a, s, udp=True)) for s in a.servers},
                "client_command": "portload --target 127.0.0.1:PORT",
                "libuv": {"version": "1.44.2-1+deb12u1", "settings": bench.LIBUV_SETTINGS}}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "r.md")
            bench.write_report(path, meta, table, {"syscalls": [], "memory": memory}, a, [])
            with open(path) as f:
                return f.read(), table, a

    def test_libuv_command_lines(self):
        a = argparse.Namespace(libuv_exe="/b/libuv_echo.exe", server_threads=2, win_bin="/w", native_bin="/n")
        self.assertEqual(bench.server_argv(a, "libuv"), ["wine", "/b/libuv_echo.exe", "127.0.0.1:0"])
        self.assertEqual(bench.server_argv(a, "libuv", udp=True), ["wine", "/b/libuv_echo.exe", "--udp", "127.0.0.1:0"])
        self.assertIn("libuv", bench.SERVERS)
        self.assertIn("libuv", bench.UDP_SERVERS)
        self.assertEqual(bench.ratio_servers(["portserve", "libuv", "epoll"]), [])  # no naive: no ratio
        self.assertEqual(bench.ratio_servers(["libuv", "naive"]), ["libuv"])

    def test_header_names_libuv_version_and_settings(self):
        text, _, _ = self.report([])
        self.assertIn("- libuv (Wine): `wine /b/libuv_echo.exe 127.0.0.1:0`", text)
        self.assertIn("libuv 1.44.2-1+deb12u1", text)
        self.assertIn("one loop thread; uv_tcp_nodelay(1); a 64 KiB buffer", text)
        self.assertIn("libuv: `wine /b/libuv_echo.exe --udp 127.0.0.1:0`", text)

    def test_echo_storm_and_udp_rows_give_libuv_divided_by_naive(self):
        text, _, _ = self.report([])
        lines = text.splitlines()
        hdr = [l for l in lines if l.startswith("| connections | size | pipeline |")][0]
        self.assertIn("| portserve ÷ naive | libuv ÷ naive |", hdr)
        echo = [l for l in lines if l.startswith("| 64 | 64 | 1 |")][0]
        self.assertIn("90 [81–99]", echo)
        self.assertIn("**1.20** | **0.90** |", echo)  # medians 120, 100, 90
        for kind_row in ("| unpinned | 64 | libuv (Wine) |", "| unpinned | 1 | libuv (Wine) |"):
            row = [l for l in lines if l.startswith(kind_row)]
            self.assertEqual(len(row), 1, kind_row)
            self.assertIn("| **0.90** |", row[0])
        naive_storm = [l for l in lines if l.startswith("| unpinned | 64 | naive IOCP (Wine) |")][0]
        self.assertNotIn("**", naive_storm)

    def test_memory_rows_both_ways_for_every_server(self):
        memory = []
        for server, base in (("portserve", 6000), ("naive", 5000), ("libuv", 4000)):
            memory.append(memory_entry(server, 1, base, base + 2000, 2000))  # after traffic: 1 KiB each
            memory.append(memory_entry(server, 0, base, base + 1000, 2000))  # never sent: 0.5 KiB each
        text, table, a = self.report(memory)
        self.assertIn("## Memory per idle connection (2000 connections", text)
        rows = [l for l in text.splitlines() if "(Wine) | idle" in l]
        self.assertEqual(len(rows), 6)
        # Column order of the servers, each server's two ways side by side, never sent first.
        self.assertTrue(rows[0].startswith("| portserve (Wine) | idle, never sent | 5.9 → 6.8 MiB | 0.50 KB |"),
                        rows[0])
        self.assertTrue(rows[1].startswith("| portserve (Wine) | idle after traffic (one 64-byte echo each) | "
                                           "5.9 → 7.8 MiB | 1.00 KB |"), rows[1])
        self.assertTrue(rows[4].startswith("| libuv (Wine) | idle, never sent |"), rows[4])
        self.assertTrue(rows[5].startswith("| libuv (Wine) | idle after traffic"), rows[5])
        # The 1 KB target is about connections that never sent.
        target = [t for t in bench.targets(table, {"syscalls": [], "memory": memory}, a)
                  if t[0].startswith("≤ 1 KB per idle connection")][0]
        self.assertEqual(target[1:], ("0.50 KB", "yes"))


if __name__ == "__main__":
    unittest.main()
