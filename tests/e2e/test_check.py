"""End-to-end: `portserve check --config FILE [--bind]` under Wine (issue 13).
Every error of a file is named FILE:LINE; --bind reports each address another
socket holds, here a Python socket on the Linux side."""
import os
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, free_port, run_exe, windows_path, write_ini, EXE  # noqa: E402


class Check(unittest.TestCase):
    def test_good_file_is_ok_with_its_listener_count(self):
        ini = write_ini(self, "[server]\nthreads = 2\nlog_time = utc\n[listeners]\n"
                             "echo = 127.0.0.1:0\ndaytime = 127.0.0.1:0/udp\n")
        rc, out, err = run_exe(["check", "--config", ini], timeout=60)
        self.assertEqual(rc, 0, out + err)
        self.assertIn(ini + ": OK (2 listeners)", out)
        self.assertEqual(err, "")

    def test_every_bad_line_is_named_with_file_and_line(self):
        ini = write_ini(self, "[server]\n"              # 1
                             "thraeds = 2\n"           # 2 unknown key
                             "accepts = many\n"        # 3 bad value
                             "buffer_idle_ms = 10\n"   # 4 removed option
                             "[clients]\n"             # 5 bad section
                             "[listeners]\n"           # 6
                             "echo = 127.0.0.1:7\n"    # 7
                             "echo = 127.0.0.1:7/tcp\n"  # 8 duplicate
                             "echo = 127.0.0.1:x\n"    # 9 bad listen spec
                             "no equals sign\n")       # 10 no '='
        rc, out, err = run_exe(["check", "--config", ini], timeout=60)
        self.assertEqual(rc, 1, out + err)
        self.assertNotIn("OK", out)
        want = [(2, "unknown key 'thraeds'"), (3, "accepts: 'many' is not a number"),
                (4, "unknown key 'buffer_idle_ms'"), (5, "unknown section [clients]"),
                (8, "duplicate of listener 1"), (9, "port 'x'"), (10, "expected 'key = value'")]
        lines = [l for l in err.replace("\r", "").split("\n") if l.startswith(ini + ":")]
        self.assertEqual(len(lines), len(want) + 1, err)  # + the count line
        for (line, says), got in zip(want, lines):
            self.assertTrue(got.startswith("%s:%d: " % (ini, line)), got)
            self.assertIn(says, got)
        self.assertIn(ini + ": 7 error(s)", err)

    def test_missing_file_is_named(self):
        path = os.path.join(tempfile.gettempdir(), "portserve-check-missing-%d.ini" % os.getpid())
        rc, _, err = run_exe(["check", "--config", path], timeout=60)
        self.assertEqual(rc, 1)
        self.assertIn("cannot open '%s'" % path, err)

    def test_check_needs_config_and_takes_no_other_flag(self):
        rc, _, err = run_exe(["check"], timeout=60)
        self.assertEqual(rc, 2)
        self.assertIn("check needs --config FILE", err)
        rc, _, err = run_exe(["check", "--config", "x.ini", "--threads", "2"], timeout=60)
        self.assertEqual(rc, 2)
        self.assertIn("check takes only --config FILE and --bind", err)

    def test_bind_reports_each_address_in_use_and_nothing_else(self):
        with socket.socket() as tcp_holder, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp_holder:
            tcp_holder.bind(("127.0.0.1", 0))
            tcp_holder.listen()
            udp_holder.bind(("127.0.0.1", 0))
            held_tcp = tcp_holder.getsockname()[1]
            held_udp = udp_holder.getsockname()[1]
            free = free_port()
            ini = write_ini(self, "[listeners]\n"
                                 "echo = 127.0.0.1:%d/tcp\n"
                                 "daytime = 127.0.0.1:%d/udp\n"
                                 "discard = 127.0.0.1:%d\n" % (held_tcp, held_udp, free))
            # Without --bind nothing is opened: the file itself is fine.
            rc, out, err = run_exe(["check", "--config", ini], timeout=60)
            self.assertEqual(rc, 0, out + err)
            self.assertIn(": OK (3 listeners)", out)

            rc, out, err = run_exe(["check", "--config", ini, "--bind"], timeout=60)
            self.assertEqual(rc, 1, out + err)
            self.assertIn("tcp 127.0.0.1:%d is in use: WSAEADDRINUSE" % held_tcp, err)
            self.assertIn("udp 127.0.0.1:%d is in use: WSAEADDRINUSE" % held_udp, err)
            self.assertNotIn(":%d " % free, err, "the free port is not reported")
            self.assertIn(ini + ": 2 address(es) cannot be bound", err)
            # The holders still hold their ports; the free port was released
            # again (check closes what it opened).
            with socket.socket() as again:
                again.bind(("127.0.0.1", free))

        # The ports are free now: the same file binds.
        rc, out, err = run_exe(["check", "--config", ini, "--bind"], timeout=60)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("every address can be bound", out)

    def test_bind_on_an_optional_listener_warns_but_passes(self):
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            ini = write_ini(self, "[listeners]\necho = 127.0.0.1:%d/tcp,optional\n" % port)
            rc, out, err = run_exe(["check", "--config", ini, "--bind"], timeout=60)
            self.assertEqual(rc, 0, out + err)
            self.assertIn("warning (optional", err)
            self.assertIn("tcp 127.0.0.1:%d is in use" % port, err)

    def test_bind_against_the_running_instance_of_the_same_file_passes(self):
        """While the configuration's own instance runs, its addresses are in
        use by it: check --bind asks it over the admin endpoint, reports them
        as the running portserve's, and passes (the README tells operators
        to run check --bind before a reload or a restart)."""
        port, admin = free_port(), free_port()
        ini = write_ini(self, "[server]\nadmin = 127.0.0.1:%d\nstats_interval = 0\n[listeners]\n"
                             "echo = 127.0.0.1:%d\n" % (admin, port))
        with Server("--config", windows_path(ini)) as srv:
            rc, out, err = run_exe(["check", "--config", ini, "--bind"], timeout=60)
            self.assertEqual(rc, 0, out + err + srv.output())
            for where in ("tcp 127.0.0.1:%d" % port, "udp 127.0.0.1:%d" % port, "tcp 127.0.0.1:%d" % admin):
                self.assertIn("%s is held by the running portserve" % where, out)
            self.assertIn("is the running portserve's", out)
            self.assertNotIn("in use", err)
            srv.interrupt()
            self.assertEqual(srv.wait(30), 0, srv.output())

    def test_bind_tries_the_admin_address_and_names_another_holder(self):
        """The admin endpoint binds like a listener: a port another process
        holds there fails check --bind, naming it, as it would fail run."""
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            admin = holder.getsockname()[1]
            ini = write_ini(self, "[server]\nadmin = 127.0.0.1:%d\n[listeners]\necho = 127.0.0.1:%d/tcp\n"
                                 % (admin, free_port()))
            rc, out, err = run_exe(["check", "--config", ini, "--bind"], timeout=60)
            self.assertEqual(rc, 1, out + err)
            self.assertIn("tcp 127.0.0.1:%d is in use: WSAEADDRINUSE" % admin, err)
            self.assertIn(ini + ": 1 address(es) cannot be bound", err)


if __name__ == "__main__":
    if not EXE or not os.path.exists(EXE):
        print("PORTSERVE_EXE must name portserve.exe", file=sys.stderr)
        sys.exit(2)
    harness.main()
