"""End-to-end: the MSI (installer/portserve.wxs built with wixl) installed,
upgraded and removed with Wine's msiexec.

Each test builds the MSIs it needs from the same portserve.exe with
installer/build-msi.sh, the recipe `./build.sh msi` uses. Their default
configuration listens on a free port so that the service the MSI starts can
serve at once. tearDown removes whatever is left (products, service, folder),
even after a failure.

Wine 8's msiexec does not run MsiConfigureServices (docs/wine-notes.md), so
the failure actions and pre-shutdown time are checked in the built MSI's
tables, against the values `portserve install` uses."""
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import EXE  # noqa: E402
import scm  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_MSI = os.path.join(ROOT, "installer", "build-msi.sh")
UNINSTALL_KEY = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall"
VERSION_N, VERSION_N1 = "0.9.1", "0.9.2"


def setUpModule():
    scm.check_environment()
    for tool in ("wixl", "msibuild", "msiinfo"):
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode != 0:
            raise AssertionError("%s not installed (apt-get install wixl msitools)" % tool)
    if scm.query() is not None:
        raise AssertionError("a service 'portserve' is already installed in this prefix")


def installed_products():
    """[(product code, DisplayVersion)] of every product named portserve."""
    rc, out = scm.wine("reg", "query", UNINSTALL_KEY, "/s", timeout=60)
    products = []
    current, name, version = None, None, None
    for line in out.splitlines() + ["HKEY_END"]:
        if line.startswith("HKEY_"):
            if current and name == "portserve":
                products.append((current, version))
            current, name, version = line.rsplit("\\", 1)[-1], None, None
            continue
        m = re.match(r"\s+(DisplayName|DisplayVersion)\s+REG_SZ\s+(.*)$", line)
        if m and m.group(1) == "DisplayName":
            name = m.group(2).strip()
        elif m:
            version = m.group(2).strip()
    return products


def portserve_service_keys():
    """Names of the services whose name contains 'portserve'."""
    rc, out = scm.wine("reg", "query", r"HKLM\SYSTEM\CurrentControlSet\Services", timeout=60)
    return [line.rsplit("\\", 1)[-1] for line in out.splitlines()
            if line.startswith("HKEY_") and "portserve" in line.rsplit("\\", 1)[-1].lower()]


def msi_table(msi, table):
    """The rows of TABLE in MSI (`msiinfo export`) as lists of strings."""
    p = subprocess.run(["msiinfo", "export", msi, table], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("msiinfo export %s %s: %s" % (msi, table, p.stdout + p.stderr))
    # Three header lines: column names, column types, table name and keys.
    return [line.rstrip("\r").split("\t") for line in p.stdout.splitlines()[3:] if line.strip()]


def product_code(msi):
    return [r[1] for r in msi_table(msi, "Property") if r[0] == "ProductCode"][0]


def install_settings():
    """What `portserve install` sets (server/app/service.c) with the configuration
    the MSI ships (portserve.ini.example): failure actions (reset period in s,
    [(action, delay in ms)]) and the pre-shutdown time in ms."""
    with open(os.path.join(ROOT, "server", "app", "service.c")) as f:
        source = f.read()
    actions = re.search(r"SC_ACTION actions\[\d+\] = \{(.*)\};", source).group(1)
    actions = [(1 if kind == "SC_ACTION_RESTART" else kind, int(delay))
               for kind, delay in re.findall(r"\{(SC_ACTION_\w+), (\d+)\}", actions)]
    reset = re.search(r"failure\.dwResetPeriod = ([\d *]+);", source).group(1)
    reset = math.prod(int(factor) for factor in reset.split("*"))
    slack = int(re.search(r"#define SERVICE__STOP_SLACK_MS (\d+)u", source).group(1))
    self_check = re.search(r"dwPreshutdownTimeout = drain_timeout_ms \+ SERVICE__STOP_SLACK_MS;", source)
    assert self_check, "server/app/service.c computes the pre-shutdown time differently: update this test"
    with open(os.path.join(ROOT, "portserve.ini.example")) as f:
        drain = int(re.search(r"^drain_timeout = (\d+)$", f.read(), re.M).group(1))
    return reset, actions, drain + slack


class Msi(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ps-msi-")
        self.folder = scm.drive_c("Program Files", "portserve")
        self.assertFalse(os.path.exists(self.folder), "%s exists before the test" % self.folder)
        self.port = scm.free_port_tcp_udp()
        self.log_path = os.path.join(self.dir, "portserve.log")
        with open(os.path.join(ROOT, "portserve.ini.example")) as f:
            text = f.read()
        self.assertIn("echo = 127.0.0.1:7007/tcp", text)
        self.assertIn(";log_file = ", text)
        text = text.replace("echo = 127.0.0.1:7007/tcp", "echo = 127.0.0.1:%d/tcp" % self.port)
        # A service waits up to 120 s for a port still held (bind_retry); the
        # port-taken test wants the failure within seconds.
        self.assertIn("[server]\n", text)
        text = text.replace("[server]\n", "[server]\nbind_retry = 2\n", 1)
        self.ini = os.path.join(self.dir, "portserve.ini")
        with open(self.ini, "w") as f:
            f.write(re.sub(r"^;log_file = .*$", lambda m: "log_file = " + scm.windows_path(self.log_path),
                           text, flags=re.M))

    def build(self, version, name):
        out = os.path.join(self.dir, name)
        p = subprocess.run([BUILD_MSI, version, EXE, self.ini, out], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return out

    def tearDown(self):
        for code, _ in installed_products():
            scm.wine("msiexec", "/x", code, "/qn", timeout=120)
        problems = scm.force_remove()
        # The configuration is Permanent: it outlives the product by design.
        scm.remove_tree(self.folder)
        scm.remove_tree(self.dir)
        self.assertEqual(problems, [], "cleanup")

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def msiexec(self, *args):
        rc, out = scm.wine("msiexec", *args, timeout=180)
        self.assertEqual(rc, 0, "msiexec %s: %s" % (" ".join(args), out))

    def test_install_serves_upgrade_keeps_edited_config_uninstall_removes(self):
        self.msi = {v: self.build(v, "portserve-%s.msi" % v) for v in (VERSION_N, VERSION_N1)}
        # Version N: the service is registered, started by the MSI, and serves.
        self.msiexec("/i", scm.windows_path(self.msi[VERSION_N]), "/qn")
        scm.wait_state("RUNNING", 30)
        self.assertEqual(scm.tcp_echo(self.port, b"from the MSI"), b"from the MSI")
        products = installed_products()
        self.assertEqual([v for _, v in products], [VERSION_N], products)
        self.assertTrue(os.path.isfile(os.path.join(self.folder, "portserve.exe")))
        rc, out = scm.portserve("status")
        self.assertIn("account: NT AUTHORITY\\LocalService", out)
        self.assertIn("start: automatic", out)
        self.assertRegex(out, r'command: .*portserve\.exe"? service --config "C:\\Program Files\\portserve\\'
                              r'portserve\.ini"')
        rc, reg = scm.reg_query(scm.EVENTLOG_KEY)
        self.assertEqual(rc, 0, reg)
        self.assertRegex(reg, r"EventMessageFile\s+REG_EXPAND_SZ\s+C:\\Program Files\\portserve\\portserve\.exe")
        self.assertRegex(reg, r"TypesSupported\s+REG_DWORD\s+0x7\b")

        # The operator moves it to another port and restarts it.
        ini = os.path.join(self.folder, "portserve.ini")
        with open(ini) as f:
            text = f.read()
        new_port = scm.free_port_tcp_udp()
        edited = text.replace("127.0.0.1:%d/tcp" % self.port, "127.0.0.1:%d/tcp" % new_port)
        self.assertNotEqual(edited, text)
        with open(ini, "w") as f:
            f.write(edited)
        rc, out = scm.wine("net", "stop", "portserve", timeout=60)
        self.assertEqual(rc, 0, out)
        rc, out = scm.wine("net", "start", "portserve", timeout=60)
        self.assertEqual(rc, 0, out)
        scm.wait_state("RUNNING", 30)
        self.assertEqual(scm.tcp_echo(new_port, b"edited"), b"edited")

        # Version N+1 replaces N: one product, one service, the edit kept.
        self.msiexec("/i", scm.windows_path(self.msi[VERSION_N1]), "/qn")
        scm.wait_state("RUNNING", 30)
        products = installed_products()
        self.assertEqual([v for _, v in products], [VERSION_N1], products)
        self.assertEqual(portserve_service_keys(), ["portserve"])
        with open(ini) as f:
            self.assertEqual(f.read(), edited, "the upgrade kept the edited portserve.ini")
        self.assertEqual(scm.tcp_echo(new_port, b"after the upgrade"), b"after the upgrade")
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", self.port), timeout=5).close()

        # Uninstall: service, Event Log source, exe and product gone; the
        # edited configuration stays (Permanent, the README ("Install as a service")).
        self.msiexec("/x", scm.windows_path(self.msi[VERSION_N1]), "/qn")
        self.assertIsNone(scm.query(), "sc query finds no service 'portserve'")
        self.assertEqual(installed_products(), [])
        self.assertEqual(portserve_service_keys(), [])
        rc, reg = scm.reg_query(scm.EVENTLOG_KEY)
        self.assertNotEqual(rc, 0, "Event Log source removed:\n" + reg)
        self.assertFalse(os.path.exists(os.path.join(self.folder, "portserve.exe")))
        self.assertEqual(sorted(os.listdir(self.folder)), ["portserve.ini"])
        with socket.socket() as s:
            s.settimeout(5)
            self.assertNotEqual(s.connect_ex(("127.0.0.1", new_port)), 0, "nothing serves after uninstall")

    def test_msi_sets_failure_actions_and_preshutdown_time_like_portserve_install(self):
        # Read from the built MSI: Wine 8's msiexec does not run
        # MsiConfigureServices (dlls/msi/action.c has no such action; an
        # unknown action in the sequence is skipped), and Wine's SCM does not
        # store failure actions (docs/wine-notes.md, rows 11 and 15).
        msi = self.build(VERSION_N, "portserve.msi")
        reset, actions, preshutdown = install_settings()
        self.assertTrue(actions, "no SC_ACTION array found in server/app/service.c")
        install, reinstall = 1, 4  # msidbServiceConfigEventInstall, ...Reinstall
        self.assertEqual(msi_table(msi, "MsiServiceConfigFailureActions"), [[
            "portserve", "portserve", str(install | reinstall), str(reset), "", "",
            "[~]".join(str(a) for a, _ in actions), "[~]".join(str(d) for _, d in actions), "Server"]])
        service_config_preshutdown_info = 7
        self.assertEqual(msi_table(msi, "MsiServiceConfig"), [[
            "portservePreShutdown", "portserve", str(install | reinstall), str(service_config_preshutdown_info),
            str(preshutdown), "Server"]])
        # MsiConfigureServices runs between InstallServices and StartServices,
        # its documented place, and only where Windows Installer has it (5.0).
        sequence = {r[0]: (r[1], int(r[2])) for r in msi_table(msi, "InstallExecuteSequence")}
        self.assertEqual(sequence["MsiConfigureServices"][0], 'VersionMsi >= "5.00"')
        self.assertLess(sequence["InstallServices"][1], sequence["MsiConfigureServices"][1])
        self.assertLess(sequence["MsiConfigureServices"][1], sequence["StartServices"][1])

    def test_same_version_rebuild_replaces_the_installed_product(self):
        first = self.build(VERSION_N, "first/portserve-%s.msi" % VERSION_N)
        second = self.build(VERSION_N, "second/portserve-%s.msi" % VERSION_N)
        self.assertNotEqual(product_code(first), product_code(second), "wixl gives every build a new ProductCode")

        self.msiexec("/i", scm.windows_path(first), "/qn")
        scm.wait_state("RUNNING", 30)
        self.msiexec("/i", scm.windows_path(second), "/qn")
        scm.wait_state("RUNNING", 30)
        self.assertEqual(installed_products(), [(product_code(second), VERSION_N)])
        self.assertEqual(portserve_service_keys(), ["portserve"])
        self.assertEqual(scm.tcp_echo(self.port, b"same version"), b"same version")

    def test_install_succeeds_when_the_port_is_taken_and_the_service_starts_once_it_is_free(self):
        msi = self.build(VERSION_N, "portserve.msi")
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", self.port))
            holder.listen(1)
            # The install does not wait for the service to run: it succeeds,
            # and the service it started stops on its own, naming the cause.
            self.msiexec("/i", scm.windows_path(msi), "/qn")
            stopped = scm.wait_state("STOPPED", 30)
            self.assertEqual(int(stopped["WIN32_EXIT_CODE"]), scm.ERROR_SERVICE_SPECIFIC_ERROR, stopped)
            self.assertEqual(stopped["SERVICE_EXIT_CODE"], "2", stopped)
            self.assertEqual([v for _, v in installed_products()], [VERSION_N])
            self.assertTrue(os.path.isfile(os.path.join(self.folder, "portserve.exe")))
            self.assertTrue(os.path.isfile(os.path.join(self.folder, "portserve.ini")))
            log = self.log()
            self.assertIn("127.0.0.1:%d" % self.port, log)
            self.assertIn("WSAEADDRINUSE", log)
            self.assertIn("could not start: a listener could not open (service-specific exit code 2)", log)
        # The operator frees the port and starts the service.
        rc, out = scm.wine("net", "start", "portserve", timeout=60)
        self.assertEqual(rc, 0, out)
        scm.wait_state("RUNNING", 30)
        self.assertEqual(scm.tcp_echo(self.port, b"after the fix"), b"after the fix")


if __name__ == "__main__":
    harness.main()
