"""End-to-end: the real portserve.exe under Wine, driven from the Linux side
by clients we did not write (Python's socket, socat, nc)."""
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (Server, free_port, recv_until_eof, run_exe, tcp_echo, wine_env, windows_path,  # noqa: E402
                     write_ini, COUNTERS_ZERO, EXE)


def require(tool):
    """The build installs every client these tests use (build.sh ensure_deps):
    a missing one fails the test rather than skipping it, which ctest would
    report as passed."""
    path = shutil.which(tool)
    if path is None:
        raise AssertionError("%s not installed (./build.sh installs it)" % tool)
    return path


class CommandLine(unittest.TestCase):
    def test_bad_flag_prints_the_error_and_one_line_pointing_at_help(self):
        rc, out, err = run_exe(["run", "--bogus"])
        self.assertEqual(rc, 2)
        lines = [l for l in err.replace("\r", "").split("\n") if l]
        self.assertEqual(lines, ["portserve: unknown option '--bogus'",
                                 "portserve: 1 error(s); 'portserve --help' lists the commands and options"], err)
        self.assertNotIn("usage:", err, "the usage text does not bury the error")

    def test_every_bad_value_is_named_not_only_the_first(self):
        rc, _, err = run_exe(["run", "--threads", "many", "--idle-timeout", "-1", "--listen", "echo=127.0.0.1:0"])
        self.assertEqual(rc, 2)
        self.assertIn("--threads: 'many' is not a number", err)
        self.assertIn("--idle-timeout", err)
        self.assertIn("2 error(s); 'portserve --help'", err)

    def test_missing_command_exits_2(self):
        rc, _, err = run_exe([])
        self.assertEqual(rc, 2)
        self.assertIn("missing command", err)

    def test_bad_listen_value_names_it(self):
        rc, _, err = run_exe(["run", "--listen", "echo=127.0.0.1:99999"])
        self.assertEqual(rc, 2)
        self.assertIn("99999", err)

    def test_unknown_service_lists_known_ones(self):
        rc, _, err = run_exe(["run", "--listen", "gopher=127.0.0.1:0"])
        self.assertEqual(rc, 2)
        self.assertIn("unknown service 'gopher'", err)
        self.assertIn("echo", err)

    def help_flags(self):
        """Every flag the usage text names."""
        rc, out, _ = run_exe(["--help"])
        self.assertEqual(rc, 0)
        flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*[a-z0-9])", out))
        self.assertGreaterEqual(len(flags), 14, out)
        return flags

    def test_every_flag_in_help_is_accepted_together(self):
        """The flag list comes from --help, so a new flag cannot go untested:
        each must have a value here, and `run` must accept them all at once
        (and show their effect where it can be seen from outside)."""
        tmp = os.environ.get("TMPDIR", "/tmp")
        ini = os.path.join(tmp, "portserve-e2e-flags-%d.ini" % os.getpid())
        quotes = os.path.join(tmp, "portserve-e2e-flags-%d.quotes" % os.getpid())
        log = os.path.join(tmp, "portserve-e2e-flags-%d.log" % os.getpid())
        with open(ini, "w") as f:
            f.write("[server]\nstats_interval = 0\n")
        with open(quotes, "w") as f:
            f.write("The one quote of this test.\n")
        for path in (ini, quotes, log):
            self.addCleanup(lambda p=path: os.path.exists(p) and os.remove(p))
        values = {
            "--config": [ini],  # first: the flags after it override the file
            "--listen": ["echo=127.0.0.1:0", "qotd=127.0.0.1:0"],
            "--threads": ["2"], "--accepts": ["4"], "--accept-data": ["1"], "--burst-reads": ["1"], "--buffer-size": ["4096"],
            "--send-queue-max": ["65536"], "--max-connections": ["10"], "--drain-timeout": ["3000"],
            "--stats-interval": ["1"], "--udp-receives": ["2"], "--log-level": ["debug"], "--log-file": [log],
            "--quotes-file": [quotes],
            "--udp-reply-rate": ["50"], "--udp-reply-burst": ["60"], "--udp-reply-rate-total": ["5000"],
            "--udp-allow-low-ports": ["1"],
            "--idle-timeout": ["300"], "--linger-timeout": ["30"], "--send-timeout": ["60"], "--keepalive": ["60"],
            "--bind-retry": ["5"], "--max-connections-per-source": ["5"], "--admin": ["127.0.0.1:0"],
            "--log-max-size": ["1048576"], "--log-files": ["3"], "--log-time": ["utc"], "--shutdown-grace": ["1"],
            "--log-format": ["json"], "--proxy-from": ["127.0.0.1,192.0.2.0/24"], "--source-prefix-v4": ["24"],
            "--source-prefix-v6": ["56"],
        }
        # flags that are commands or belong to one, tested on their own
        # (test_check.py: --bind; test_admin.py, test_stats_client.py: stats --json)
        commands = {"--help", "--version", "--bind", "--json"}
        flags = self.help_flags()
        self.assertEqual(flags - commands - set(values), set(), "flags in --help this test gives no value")
        self.assertEqual(set(values) - flags, set(), "flags this test passes that --help does not list")
        args = []
        for flag, vals in values.items():
            for v in vals:
                args += [flag, v]
        with Server(*args) as srv:
            with socket.create_connection(("127.0.0.1", srv.port(service="echo")), timeout=20) as s:
                s.sendall(b"every flag")
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_eof(s), b"every flag")
            with socket.create_connection(("127.0.0.1", srv.port(service="qotd")), timeout=20) as s:
                self.assertEqual(recv_until_eof(s), b"The one quote of this test.\r\n")
            self.assertIn("2 worker thread(s)", srv.output())
            self.assertTrue(srv.wait_for_line("stats: conns", 20), "--stats-interval 1 overrides the file\n"
                            + srv.output())
            srv.interrupt()
            self.assertEqual(srv.wait(30), 0, srv.output())
        with open(log, "rb") as f:
            self.assertIn(b"ready:", f.read(), "--log-file")

    def test_help_and_version_flags_are_commands(self):
        for flag in ("--help", "-h"):
            rc, out, _ = run_exe([flag])
            self.assertEqual(rc, 0, flag)
            self.assertIn("usage: portserve run", out, flag)
        rc, out, _ = run_exe(["--version"])
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("portserve "), out)

    def test_version_matches_the_build(self):
        rc, out, _ = run_exe(["--version"])
        self.assertEqual(rc, 0)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(root, "server", "app", "version.h")) as f:
            version = re.search(r'^#define PS_VERSION "([0-9.]+)"', f.read(), re.M).group(1)
        self.assertEqual(out.strip(), "portserve " + version, "the exe is not built from server/app/version.h")


class StartupErrors(unittest.TestCase):
    def test_port_in_use_names_the_address_and_exits_1(self):
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen(1)
            port = holder.getsockname()[1]
            rc, _, err = run_exe(["run", "--listen", "echo=127.0.0.1:%d" % port])
        self.assertEqual(rc, 1, err)
        self.assertIn("127.0.0.1:%d" % port, err)
        self.assertIn("WSAEADDRINUSE", err)

    def test_unresolvable_host_names_the_host_and_exits_1(self):
        rc, _, err = run_exe(["run", "--listen", "echo=no-such-host.invalid:7007"])
        self.assertEqual(rc, 1, err)
        self.assertIn("no-such-host.invalid", err)


class BindRetry(unittest.TestCase):
    """With SO_EXCLUSIVEADDRUSE Windows refuses a bind while connections of
    a previous instance still exist (TIME_WAIT included); Wine does not, so
    another socket holding the port stands in for them here."""

    def test_port_released_during_the_retry_then_serves(self):
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        try:
            srv = Server("--listen", "echo=127.0.0.1:%d/tcp" % port, "--bind-retry", "5", "--stats-interval", "0")
            self.addCleanup(srv.kill)
            srv.spawn()
            self.assertTrue(srv.wait_for_line("waiting up to 5 s for the port", 30), srv.output())
            self.assertFalse(any("ready:" in l for l in srv.lines), srv.output())
            released = time.monotonic()
            holder.close()
            srv.wait_ready(30)
            ready_after = time.monotonic() - released
        finally:
            holder.close()
        self.assertIn("the port is free again after", srv.output())
        self.assertLess(ready_after, 5, srv.output())
        self.assertEqual(tcp_echo(port, b"after the wait"), b"after the wait")
        srv.interrupt()
        self.assertEqual(srv.wait(30), 0, srv.output())

    def test_port_held_throughout_fails_after_the_window_naming_wsaeaddrinuse(self):
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen(1)
            port = holder.getsockname()[1]
            started = time.monotonic()
            rc, _, err = run_exe(["run", "--listen", "echo=127.0.0.1:%d" % port, "--bind-retry", "3"])
            took = time.monotonic() - started
        self.assertEqual(rc, 1, err)
        self.assertIn("waiting up to 3 s for the port", err)
        self.assertIn("bind failed: WSAEADDRINUSE", err)
        self.assertIn("127.0.0.1:%d" % port, err)
        self.assertGreaterEqual(took, 3, err)

    def test_other_bind_errors_are_not_retried(self):
        # 192.0.2.1 (TEST-NET-1) is not a local address: WSAEADDRNOTAVAIL at once.
        started = time.monotonic()
        rc, _, err = run_exe(["run", "--listen", "echo=192.0.2.1:0", "--bind-retry", "30"])
        took = time.monotonic() - started
        self.assertEqual(rc, 1, err)
        self.assertIn("WSAEADDRNOTAVAIL", err)
        self.assertNotIn("waiting", err)
        self.assertLess(took, 15, err)


class UnicodePaths(unittest.TestCase):
    """--config and --log-file in folders whose names the ANSI code page
    cannot hold. Wine takes the ANSI code page from the Unix locale; with
    LANG=C.UTF-8 (set here on purpose) it is 1252, which has neither
    Cyrillic nor CJK, so argv in the ANSI code page would turn the names into
    '?' and open nothing."""

    DIR_NAME = "\u043a\u043e\u043d\u0444\u0438\u0433-\u914d\u7f6e"  # конфиг-配置

    def test_config_and_log_file_in_a_cyrillic_cjk_folder(self):
        env = wine_env()
        env["LANG"] = "C.UTF-8"
        env.pop("LC_ALL", None)
        base = tempfile.mkdtemp(prefix="portserve-e2e-")
        self.addCleanup(shutil.rmtree, base, True)
        folder = os.path.join(base, self.DIR_NAME)
        os.mkdir(folder)
        ini = os.path.join(folder, "portserve.ini")
        log = os.path.join(folder, "\u65e5\u5fd7.log")  # 日志.log
        port = free_port()
        with open(ini, "w", encoding="utf-8") as f:
            f.write("[server]\nstats_interval = 0\n\n[listeners]\necho = 127.0.0.1:%d/tcp\n" % port)
        srv = Server("--config", windows_path(ini), "--log-file", windows_path(log))
        self.addCleanup(srv.kill)
        srv.start(env=env)
        self.assertEqual(srv.port(service="echo"), port, srv.output())
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall("\u043f\u0440\u0438\u0432\u0435\u0442".encode("utf-8"))
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(s).decode("utf-8"), "\u043f\u0440\u0438\u0432\u0435\u0442")
        srv.interrupt()
        self.assertEqual(srv.wait(30), 0, srv.output())
        with open(log, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("listening on tcp 127.0.0.1:%d (echo)" % port, text)
        self.assertIn(COUNTERS_ZERO, text)

    def test_missing_config_in_such_a_folder_is_named_intact(self):
        env = wine_env()
        env["LANG"] = "C.UTF-8"
        env.pop("LC_ALL", None)
        path = windows_path(os.path.join("/nonexistent", self.DIR_NAME, "x.ini"))
        p = subprocess.run(["wine", EXE, "run", "--config", path], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=60, env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn(self.DIR_NAME, p.stderr.decode("utf-8", errors="replace"))


class Echo(unittest.TestCase):
    def test_python_socket_ipv4_and_ipv6(self):
        with Server("--listen", "echo=127.0.0.1:0", "--listen", "echo=[::1]:0") as srv:
            for family, addr in [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]:
                with socket.socket(family) as s:
                    s.settimeout(20)
                    s.connect((addr, srv.port(addr)))
                    payload = os.urandom(256 * 1024)
                    s.sendall(payload)
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(recv_until_eof(s), payload, addr)
            srv.interrupt()
            self.assertEqual(srv.wait(30), 0, srv.output())
            self.assertIn(COUNTERS_ZERO, srv.output())

    def test_socat(self):
        require("socat")
        with Server("--listen", "echo=127.0.0.1:0") as srv:
            payload = b"".join(b"line %d from socat\n" % i for i in range(5000))
            p = subprocess.run(["socat", "-t", "10", "-", "TCP:127.0.0.1:%d" % srv.port()], input=payload,
                               capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, payload)

    def test_netcat(self):
        require("nc")
        with Server("--listen", "echo=127.0.0.1:0") as srv:
            payload = os.urandom(100000)
            # OpenBSD nc: -N sends FIN after stdin's EOF; nc exits when the server closes.
            p = subprocess.run(["nc", "-N", "127.0.0.1", str(srv.port())], input=payload, capture_output=True,
                               timeout=60)
            self.assertEqual(p.stdout, payload, p.stderr)


class Udp(unittest.TestCase):
    def test_netcat_udp_echo(self):
        require("nc")
        with Server("--listen", "echo=127.0.0.1:0/udp") as srv:
            p = subprocess.run(["nc", "-u", "-w", "2", "127.0.0.1", str(srv.port(transport="udp"))],
                               input=b"hello over udp\n", capture_output=True, timeout=30)
            self.assertEqual(p.stdout, b"hello over udp\n", p.stderr)

    def spoof_udp(self, src_port, dst_port, payload=b""):
        """One IPv4 UDP datagram on loopback with a source port we choose:
        what a spoofer sends, and what a normal socket cannot (port 0, or a
        port the server holds). Needs CAP_NET_RAW (the tests run as root)."""
        try:
            raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        except PermissionError as e:
            self.skipTest("no raw socket (not root?): %s" % e)
        import struct
        udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload  # checksum 0: none (IPv4)
        # The kernel fills in the IP checksum and total length (IP_HDRINCL, raw(7)).
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0, 64, socket.IPPROTO_UDP, 0,
                         socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1"))
        with raw:
            raw.sendto(ip + udp, ("127.0.0.1", 0))

    def test_reflection_guard_drops_spoofed_port0_and_own_port_loop(self):
        """The CVE-1999-0103 loop inside one portserve: a datagram to chargen
        "from" the server's own echo port would start echo<->chargen for
        ever; one from port 0 would be answered to nobody. Both are dropped
        before the handler and counted, and the server answers a normal
        client afterwards."""
        with Server("--listen", "echo=127.0.0.1:0/udp", "--listen", "chargen=127.0.0.1:0/udp") as srv:
            echo = srv.port(service="echo", transport="udp")
            chargen = srv.port(service="chargen", transport="udp")
            self.spoof_udp(echo, chargen)
            self.spoof_udp(0, echo, b"to nobody")
            self.spoof_udp(19, echo, b"from chargen")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(10)
                s.sendto(b"normal", ("127.0.0.1", echo))
                self.assertEqual(s.recvfrom(100)[0], b"normal")
            srv.interrupt()
            self.assertEqual(srv.wait(30), 0, srv.output())
            self.assertIn("udp guard: 1 datagram(s) dropped for source port 0, 1 for a low port, "
                          "1 for one of our ports; 0 repl(ies) over a source's rate", srv.output())

    def test_socat_udp_daytime_ipv6(self):
        require("socat")
        with Server("--listen", "daytime=[::1]:0/udp") as srv:
            p = subprocess.run(["socat", "-t", "2", "-", "UDP6:[::1]:%d" % srv.port("::1", transport="udp")],
                               input=b"\n", capture_output=True, timeout=30)
            self.assertRegex(p.stdout.decode(), r"^\w+day, \w+ \d+, \d{4} \d\d:\d\d:\d\d-UTC\r\n$")

    def test_python_udp_chargen_and_qotd(self):
        with Server("--listen", "chargen=127.0.0.1:0", "--listen", "qotd=127.0.0.1:0") as srv:
            for service in ("chargen", "qotd"):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.settimeout(10)
                    s.sendto(b"?", ("127.0.0.1", srv.port(service=service, transport="udp")))
                    data = s.recv(70000)
                self.assertLessEqual(len(data), 512, service)
                self.assertGreater(len(data), 0, service)
            srv.interrupt()
            self.assertEqual(srv.wait(30), 0)
            self.assertIn(COUNTERS_ZERO, srv.output())


class ConfigFile(unittest.TestCase):
    def test_services_from_the_config_file(self):
        ini = write_ini(self, "[server]\nthreads = 2\nstats_interval = 0\n\n[listeners]\n"
                             "echo = 127.0.0.1:0\ndaytime = 127.0.0.1:0/udp ; a comment\n")
        with Server("--config", ini) as srv:
            with socket.create_connection(("127.0.0.1", srv.port(service="echo")), timeout=10) as s:
                s.sendall(b"from the ini")
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_eof(s), b"from the ini")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(10)
                s.sendto(b"", ("127.0.0.1", srv.port(service="daytime", transport="udp")))
                self.assertTrue(s.recv(512).endswith(b"-UTC\r\n"))
            self.assertIn("2 worker thread(s)", srv.output())

    def test_every_bad_config_line_is_named_with_file_and_line(self):
        ini = write_ini(self, "[server]\nthreads = 2\nthraeds = 3\naccepts = many\n[listeners]\necho = 127.0.0.1:x\n")
        rc, _, err = run_exe(["run", "--config", ini])
        self.assertEqual(rc, 2)
        lines = [l for l in err.replace("\r", "").split("\n") if l]
        self.assertEqual(len(lines), 4, err)
        self.assertTrue(lines[0].startswith(ini + ":3: unknown key 'thraeds' in [server]"), err)
        self.assertTrue(lines[1].startswith(ini + ":4: accepts: 'many' is not a number"), err)
        self.assertTrue(lines[2].startswith(ini + ":6: "), err)
        self.assertEqual(lines[3], "portserve: 3 error(s); 'portserve --help' lists the commands and options")


class Lifecycle(unittest.TestCase):
    def test_stats_line_while_running(self):
        with Server("--listen", "echo=127.0.0.1:0", "--stats-interval", "1") as srv:
            with socket.create_connection(("127.0.0.1", srv.port()), timeout=20) as s:
                s.sendall(b"x" * 1000)
                s.shutdown(socket.SHUT_WR)
                recv_until_eof(s)
            self.assertTrue(srv.wait_for_line("stats: conns", 20), srv.output())
            stats = [l for l in srv.output().splitlines() if "stats: conns" in l]
            self.assertRegex(stats[-1], r"conns \d+ open 1 total \|.* \| in 1000 B ")
            # The pools at full size: one listener x 16 accepts, one UDP socket x 1 receive.
            self.assertIn("| posted 16 accept 1 udp 0 awaiting-data | errors 0 accept 0 udp 0 retries", stats[-1])
            srv.interrupt()
            self.assertEqual(srv.wait(30), 0)

    def test_ctrl_c_with_100_busy_connections_drains_and_exits_0(self):
        with Server("--listen", "echo=127.0.0.1:0", "--drain-timeout", "20000") as srv:
            sel = selectors.DefaultSelector()
            conns = {}
            for i in range(100):
                s = socket.create_connection(("127.0.0.1", srv.port()), timeout=20)
                s.setblocking(False)
                conns[s] = {"sent": bytearray(), "got": bytearray(), "eof": False, "seed": i}
                sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
            interrupted = False
            deadline = time.monotonic() + 120
            open_count = len(conns)
            while open_count > 0:
                self.assertLess(time.monotonic(), deadline, "clients still open: %d\n%s" % (open_count, srv.output()))
                if not interrupted and all(len(c["got"]) > 0 for c in conns.values()):
                    srv.interrupt()
                    interrupted = True
                for key, ev in sel.select(timeout=1):
                    s, c = key.fileobj, conns[key.fileobj]
                    # A reset is never a graceful close: it fails the test
                    # wherever it shows, on recv or on send (after a reset
                    # Linux reports EOF on the next recv, so swallowing it on
                    # send would count it as a clean close).
                    if ev & selectors.EVENT_READ:
                        try:
                            data = s.recv(65536)
                        except BlockingIOError:
                            data = None
                        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as e:
                            self.fail("connection %d: %r on recv instead of a graceful close\n%s"
                                      % (c["seed"], e, srv.output()))
                        if data:
                            c["got"] += data
                        elif data is not None:
                            # EOF after the echo of everything the server read:
                            # what came back is exactly a prefix of what was sent.
                            self.assertEqual(bytes(c["got"]), bytes(c["sent"][:len(c["got"])]),
                                             "connection %d: EOF after a wrong echo" % c["seed"])
                            c["eof"] = True
                    if c["eof"]:
                        sel.unregister(s)
                        s.close()
                        open_count -= 1
                        continue
                    if ev & selectors.EVENT_WRITE and len(c["sent"]) - len(c["got"]) < 65536:
                        chunk = bytes((c["seed"] + len(c["sent"]) + k) % 251 for k in range(4096))
                        try:
                            n = s.send(chunk)
                        except BlockingIOError:
                            n = 0
                        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as e:
                            self.fail("connection %d: %r on send instead of a graceful close\n%s"
                                      % (c["seed"], e, srv.output()))
                        c["sent"] += chunk[:n]
            for c in conns.values():
                self.assertEqual(bytes(c["got"]), bytes(c["sent"][:len(c["got"])]), "echo is a prefix of what was sent")
            self.assertEqual(srv.wait(60), 0, srv.output())
            out = srv.output()
            self.assertIn("stopping (Ctrl+C)", out)
            self.assertIn("0 reset at the deadline", out)
            self.assertIn(COUNTERS_ZERO, out)


if __name__ == "__main__":
    if not EXE or not os.path.exists(EXE):
        print("PORTSERVE_EXE must name portserve.exe", file=sys.stderr)
        sys.exit(2)
    harness.main()
