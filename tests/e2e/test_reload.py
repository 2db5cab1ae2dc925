"""Reload without dropping connections, in the console: `portserve reload PID`
re-reads the configuration, opens the listeners it adds, closes the ones it
drops (their open connections carry on), and keeps everything as it was
when the new configuration is bad. A checked echo client on a listener that
stays sees no error throughout. Clients: Python's socket."""
import os
import re
import socket
import tempfile
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
            # An established connection on the listener the reload drops: it
            # has spoken, so it is a connection (echo's accepts wait for a
            # client's first bytes, --accept-data).
            old = socket.create_connection(("127.0.0.1", drop), timeout=10)
            self.addCleanup(old.close)
            old.settimeout(10)
            old.sendall(b"hello")
            self.assertEqual(old.recv(64), b"hello")
            # One that connected and never spoke is not yet a connection: its
            # accept goes with the listener (docs/design.md, "Accepting with
            # the first bytes").
            silent = socket.create_connection(("127.0.0.1", drop), timeout=10)
            self.addCleanup(silent.close)
            silent.settimeout(10)

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
            self.assertEqual(silent.recv(64), b"", "a client that never spoke is closed with the listener")

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

    def start_with(self, ini_text):
        """A console server on a temporary configuration; returns (srv, ini, pid)."""
        d = tempfile.mkdtemp()
        ini = os.path.join(d, "portserve.ini")
        self.addCleanup(lambda: (os.path.exists(ini) and os.remove(ini), os.rmdir(d)))
        write_ini(self, ini_text, ini)
        srv = Server("--config", windows_path(ini))
        srv.start()
        self.addCleanup(srv.kill)
        return srv, ini, re.search(r"portserve reload (\d+)", srv.output()).group(1)

    @staticmethod
    def count(srv, needle):
        """Lines of srv's output that hold `needle`."""
        return sum(1 for line in srv.output().splitlines() if needle in line)

    def reload(self, srv, pid, ini, text, outcome, n):
        """Writes the configuration, asks for a reload and waits until it
        ends (done or rejected); asserts it ended with the n-th line with
        `outcome` and returns the seconds it took."""
        write_ini(self, text, ini)
        ended = self.count(srv, "reload done") + self.count(srv, "reload rejected")
        t0 = time.monotonic()
        rc, out, err = run_exe(["reload", pid])
        self.assertEqual(rc, 0, out + err)
        end = time.monotonic() + 60
        while self.count(srv, "reload done") + self.count(srv, "reload rejected") <= ended:
            self.assertLess(time.monotonic(), end, "the reload did not end:\n" + srv.output())
            time.sleep(0.05)
        took = time.monotonic() - t0
        self.assertEqual(self.count(srv, outcome), n, srv.output())
        return took

    def test_raising_max_connections_makes_room_for_more_sources(self):
        """The per-source table is sized for --max-connections: after a
        reload from 2 to 6, five distinct sources (127.0.0.2..6, the client
        socket bound to each) are all admitted, none refused for a table
        sized for the old limit."""
        port = free_port()
        head = "[server]\nstats_interval = 0\nmax_connections_per_source = 1\naccepts = 1\n"
        tail = "\n[listeners]\necho = 127.0.0.1:%d/tcp\n" % port
        srv, ini, pid = self.start_with(head + "max_connections = 2" + tail)
        self.reload(srv, pid, ini, head + "max_connections = 6\nkeepalive = 30" + tail, "reload done", 1)
        # The line says what each change reaches, as the code applies it.
        self.assertIn("applied now, to open connections too: --max-connections 2 -> 6; "
                      "for connections accepted from now on: --keepalive 60 -> 30", srv.output())
        clients = []
        for i in range(2, 7):
            c = socket.socket()
            self.addCleanup(c.close)
            c.bind(("127.0.0.%d" % i, 0))
            c.settimeout(10)
            c.connect(("127.0.0.1", port))
            c.sendall(b"from .%d" % i)
            self.assertEqual(c.recv(64), b"from .%d" % i, "source 127.0.0.%d is admitted" % i)
            clients.append(c)
        for c in clients:
            c.close()
        srv.interrupt()
        self.assertEqual(srv.wait(30), 0, srv.output())

    def test_changing_the_service_or_flags_on_a_port_hands_its_sockets_over(self):
        """echo -> discard on one port (TCP and UDP), then the ,optional flag:
        no second bind against our own sockets (which SO_EXCLUSIVEADDRUSE
        refuses until the whole bind retry passes), new connections and
        datagrams get the new service, an open connection keeps echo."""
        port = free_port()
        head = "[server]\nstats_interval = 0\nbind_retry = 20\n\n[listeners]\n"
        srv, ini, pid = self.start_with(head + "echo = 127.0.0.1:%d\n" % port)
        old = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(old.close)
        old.settimeout(10)
        old.sendall(b"before")
        self.assertEqual(old.recv(64), b"before")

        took = self.reload(srv, pid, ini, head + "discard = 127.0.0.1:%d\n" % port, "reload done", 1)
        self.assertLess(took, 10, "the reload waited for a bind: " + srv.output())
        self.assertIn("0 listener(s) added, 0 removed, 1 changed in place", srv.output())
        self.assertNotIn("reload rejected", srv.output())
        with socket.create_connection(("127.0.0.1", port), timeout=10) as new:
            new.sendall(b"into the void")
            new.settimeout(1.0)
            with self.assertRaises(socket.timeout, msg="a new connection gets discard: no echo"):
                new.recv(64)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(1.0)
            u.sendto(b"datagram", ("127.0.0.1", port))
            with self.assertRaises(socket.timeout, msg="a new datagram gets discard: no reply"):
                u.recvfrom(64)
        old.sendall(b"after")
        self.assertEqual(old.recv(64), b"after", "the open connection keeps echo until it closes")

        took = self.reload(srv, pid, ini, head + "discard = 127.0.0.1:%d,optional\n" % port, "reload done", 2)
        self.assertLess(took, 10, "the reload waited for a bind: " + srv.output())
        self.assertEqual(self.count(srv, "1 changed in place"), 2, srv.output())
        with socket.create_connection(("127.0.0.1", port), timeout=10) as again:
            again.sendall(b"x")
            again.settimeout(1.0)
            with self.assertRaises(socket.timeout, msg="still discard, now optional"):
                again.recv(64)
        old.close()
        srv.interrupt()
        self.assertEqual(srv.wait(30), 0, srv.output())

    def test_each_reload_waits_for_a_port_on_its_own_bind_window(self):
        """A reload whose bind is refused until its window ends, then a
        second one whose port is freed after a second: the second waits and
        succeeds (a window started by the first reload's refusal and never
        reset would fail it at once)."""
        keep, held, later = free_port(), free_port(), free_port()
        head = "[server]\nstats_interval = 0\nbind_retry = 3\n\n[listeners]\necho = 127.0.0.1:%d/tcp\n" % keep
        srv, ini, pid = self.start_with(head)
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", held))
        holder.listen(1)
        self.reload(srv, pid, ini, head + "echo = 127.0.0.1:%d/tcp\n" % held, "reload rejected", 1)

        second = socket.socket()
        self.addCleanup(second.close)
        second.bind(("127.0.0.1", later))
        second.listen(1)
        threading.Timer(1.0, second.close).start()
        took = self.reload(srv, pid, ini, head + "echo = 127.0.0.1:%d/tcp\n" % later, "reload done", 1)
        self.assertGreater(took, 0.8, "the bind waited for the port")
        self.assertEqual(tcp_echo(later, b"ping"), b"ping")
        srv.interrupt()
        self.assertEqual(srv.wait(30), 0, srv.output())

    def test_a_reload_whose_udp_half_cannot_bind_leaves_no_tcp_behind(self):
        """echo = 127.0.0.1:P (TCP and UDP) added while another process
        holds UDP P: the reload is rejected, and TCP P, opened first, is
        closed again, so the running configuration is exactly the old one;
        once the port is free the same reload works."""
        keep, port = free_port(), free_port()
        head = "[server]\nstats_interval = 0\nbind_retry = 0\n\n[listeners]\necho = 127.0.0.1:%d/tcp\n" % keep
        srv, ini, pid = self.start_with(head)
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", port))
        self.reload(srv, pid, ini, head + "echo = 127.0.0.1:%d\n" % port, "reload rejected", 1)
        self.assertIn("listening on tcp 127.0.0.1:%d (echo)" % port, srv.output(),
                      "TCP opened before UDP failed")
        with self.assertRaises(OSError, msg="TCP %d is closed again" % port):
            tcp_echo(port, b"ping")
        self.assertEqual(tcp_echo(keep, b"ping"), b"ping", "the running configuration stays")
        holder.close()
        rc, out, err = run_exe(["reload", pid])
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(srv.wait_for_line("reload done", 30), srv.output())
        self.assertEqual(tcp_echo(port, b"ping"), b"ping")
        srv.interrupt()
        self.assertEqual(srv.wait(30), 0, srv.output())

    def test_reload_of_a_pid_that_is_not_portserve_fails_clearly(self):
        rc, out, err = run_exe(["reload", "999999"])
        self.assertEqual(rc, 1)
        self.assertIn("no portserve console with process ID 999999", err)


if __name__ == "__main__":
    harness.main()
