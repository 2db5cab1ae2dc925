#!/usr/bin/env python3
"""Unit tests of bench.py's bookkeeping (no servers, no Wine): errored or
stalled runs stay out of the medians and show in the report, and the report
header names the commit, the command lines and the thread count."""
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


if __name__ == "__main__":
    unittest.main()
