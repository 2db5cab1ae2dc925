"""Reload without dropping connections, in the console: `portserve reload PID`
re-reads the configuration, opens the listeners it adds, closes the ones it
drops (their open connections carry on), and keeps everything as it was
when the new configuration is bad. A checked echo client on a listener that
stays sees no error throughout. Clients: Python's socket."""
import re
import socket
import threading
import time
import unittest

import harness
from harness import Server, free_port, run_exe, tcp_echo, windows_path, write_ini


class EchoClient(threading.Thread):
    """Echoes 64-byte messages on one connection until stopped; counts errors."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.rounds = 0
        self.errors = []

    def run(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
                s.settimeout(10)
                i = 0
                while not self.stop.is_set():
                    msg = (b"%08d" % i) * 8
                    s.sendall(msg)
                    got = b""
                    while len(got) < len(msg):
                        chunk = s.recv(len(msg) - len(got))
                        if not chunk:
                            raise ConnectionError("EOF after %d rounds" % self.rounds)
                        got += chunk
                    if got != msg:
                        raise ValueError("round %d: got %r" % (i, got[:16]))
                    i += 1
                    self.rounds = i
        except Exception as e:  # recorded, asserted by the test
            self.errors.append(repr(e))


class Reload(unittest.TestCase):
    def test_adds_and_drops_listeners_keeps_connections_and_rejects_a_bad_config(self):
        keep, drop, new = free_port(), free_port(), free_port()
        ini = write_ini(self, "[server]\nstats_interval = 0\n\n[listeners]\n"
                        "echo = 127.0.0.1:%d/tcp\necho = 127.0.0.1:%d/tcp\n" % (keep, drop))
        with Server("--config", windows_path(ini)) as srv:
            m = re.search(r"portserve reload (\d+)", srv.output())
            self.assertIsNotNone(m, srv.output())
            pid = m.group(1)
            client = EchoClient(keep)
            client.start()
            self.addCleanup(client.stop.set)
            # An established connection on the listener the reload drops.
            old = socket.create_connection(("127.0.0.1", drop), timeout=10)
            self.addCleanup(old.close)
            old.settimeout(10)

            write_ini(self, "[server]\nstats_interval = 0\nmax_connections = 1000\n\n[listeners]\n"
                            "echo = 127.0.0.1:%d/tcp\necho = 127.0.0.1:%d/tcp\n" % (keep, new), ini)
            rc, out, err = run_exe(["reload", pid])
            self.assertEqual(rc, 0, out + err)
            self.assertTrue(srv.wait_for_line("reload done", 30), srv.output())
            self.assertIn("1 listener(s) added, 1 removed", srv.output())
            self.assertEqual(tcp_echo(new, b"ping"), b"ping", "the added listener serves")
            with self.assertRaises(OSError, msg="the dropped listener is closed"):
                tcp_echo(drop, b"ping")
            old.sendall(b"still here")
            self.assertEqual(old.recv(64), b"still here", "its established connection carries on")

            # A bad configuration: rejected, everything keeps serving.
            write_ini(self, "[server]\nthraeds = 3\n\n[listeners]\necho = 127.0.0.1:%d/tcp\n" % keep, ini)
            rc, out, err = run_exe(["reload", pid])
            self.assertEqual(rc, 0, out + err)
            self.assertTrue(srv.wait_for_line("reload rejected", 30), srv.output())
            self.assertIn("unknown key 'thraeds'", srv.output())
            self.assertEqual(tcp_echo(new, b"ping"), b"ping", "the running configuration stays")
            time.sleep(0.5)  # a few more rounds for the checked client

            client.stop.set()
            client.join(20)
            self.assertEqual(client.errors, [], srv.output())
            self.assertGreater(client.rounds, 10)
            old.close()
            srv.interrupt()
            self.assertEqual(srv.wait(30), 0, srv.output())

    def test_rejected_reload_closes_the_listeners_it_had_opened(self):
        """Two listeners added, the second on a port another process holds:
        the reload is rejected and leaves exactly the old listeners, the
        first added one closed again (and free for a later reload)."""
        keep, first, held = free_port(), free_port(), free_port()
        base = "[server]\nstats_interval = 0\nbind_retry = 0\n\n[listeners]\necho = 127.0.0.1:%d/tcp\n" % keep
        ini = write_ini(self, base)
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", held))
        holder.listen(1)
        with Server("--config", windows_path(ini)) as srv:
            pid = re.search(r"portserve reload (\d+)", srv.output()).group(1)
            write_ini(self, base + "echo = 127.0.0.1:%d/tcp\necho = 127.0.0.1:%d/tcp\n" % (first, held), ini)
            rc, out, err = run_exe(["reload", pid])
            self.assertEqual(rc, 0, out + err)
            self.assertTrue(srv.wait_for_line("reload rejected", 30), srv.output())
            self.assertIn("listening on tcp 127.0.0.1:%d (echo)" % first, srv.output(),
                          "the first added listener opened before the second failed")
            with self.assertRaises(OSError, msg="the first added listener is closed again"):
                tcp_echo(first, b"ping")
            self.assertEqual(tcp_echo(keep, b"ping"), b"ping", "the running configuration stays")
            # Nothing of the rejected reload holds the port: adding it alone works.
            write_ini(self, base + "echo = 127.0.0.1:%d/tcp\n" % first, ini)
            rc, out, err = run_exe(["reload", pid])
            self.assertEqual(rc, 0, out + err)
            self.assertTrue(srv.wait_for_line("reload done", 30), srv.output())
            self.assertEqual(tcp_echo(first, b"ping"), b"ping")
            srv.interrupt()
            self.assertEqual(srv.wait(30), 0, srv.output())

    def test_reload_of_a_pid_that_is_not_portserve_fails_clearly(self):
        rc, out, err = run_exe(["reload", "999999"])
        self.assertEqual(rc, 1)
        self.assertIn("no portserve console with process ID 999999", err)


if __name__ == "__main__":
    harness.main()
