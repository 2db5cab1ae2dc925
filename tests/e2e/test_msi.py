"""End-to-end: the MSI (installer/portserve.wxs built with wixl) installed,
upgraded and removed with Wine's msiexec.

Each test builds the MSIs it needs from the same portserve.exe with
installer/build-msi.sh, the recipe `./build.sh msi` uses, and installs them
with LISTEN on a free port (the shipped portserve.ini listens on 7007, a
fixed port two test runs could share) and, where it matters, ADMIN on
another. tearDown removes whatever is left (products, service, folders),
even after a failure.

What Wine 8's msiexec cannot run is checked in the built MSI's tables
(test_tables_*): MsiConfigureServices (the service SID type, privileges,
delayed start, failure actions and their flag, pre-shutdown time), the
folder ACL (MsiLockPermissionsEx), and what netsh would do with the firewall
rule (Wine's netsh is a stub): docs/wine-notes.md, rows 18, 28 and 31."""
import hashlib
import math
import os
import re
import socket
import struct
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
SHIPPED_INI = os.path.join(ROOT, "portserve.ini.example")
OLD_LAYOUT_WXS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "portserve-programfiles.wxs")
UNINSTALL_KEY = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall"
ENVIRONMENT_KEY = r"HKLM\System\CurrentControlSet\Control\Session Manager\Environment"
VERSION_N, VERSION_N1 = "0.9.1", "0.9.2"
# The shipped admin address when ADMIN is not given (installer/portserve.wxs).
DEFAULT_ADMIN = "127.0.0.1:9612"


def setUpModule():
    scm.check_environment()
    for tool in ("wixl", "msibuild", "msiinfo"):
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode != 0:
            raise AssertionError("%s not installed (apt-get install wixl msitools)" % tool)
    if scm.query() is not None:
        raise AssertionError("a service 'portserve' is already installed in this prefix")
    if "WINEPATH" in scm.wine_env():
        raise AssertionError("WINEPATH is set: `cmd /c portserve` would not show that the MSI put it on PATH")


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


def system_path():
    """The system PATH (the registry value new processes start with), as a list."""
    rc, out = scm.reg_query(ENVIRONMENT_KEY, "PATH")
    m = re.search(r"^\s+PATH\s+REG_(?:EXPAND_)?SZ\s+(.*)$", out, re.M | re.I)
    return m.group(1).strip().split(";") if m else []


def find_on_path(name):
    """The Windows path of the first NAME.exe in the system PATH's folders, as
    a prompt's search finds it. Done here rather than with `wine cmd /c NAME`:
    Wine's cmd stops at an empty PATH element (";;", which Wine's msiexec
    leaves behind when it takes an entry out) and exits 0 having run nothing
    (docs/wine-notes.md, row 29); Windows skips such elements, as this does."""
    for folder in system_path():
        folder = re.sub(r"%SystemRoot%", r"C:\\windows", folder, flags=re.I)
        if not folder or not re.match(r"(?i)c:\\", folder):
            continue
        exe = folder.rstrip("\\") + "\\" + name + ".exe"
        if os.path.isfile(scm.drive_c(*exe[3:].split("\\"))):
            return exe
    return None


def msi_table(msi, table):
    """The rows of TABLE in MSI (`msiinfo export`) as lists of strings."""
    p = subprocess.run(["msiinfo", "export", msi, table], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("msiinfo export %s %s: %s" % (msi, table, p.stdout + p.stderr))
    # Three header lines: column names, column types, table name and keys.
    return [line.rstrip("\r").split("\t") for line in p.stdout.splitlines()[3:] if line.strip()]


def product_code(msi):
    return [r[1] for r in msi_table(msi, "Property") if r[0] == "ProductCode"][0]


def ini_lines(text):
    """{section: [(key, value)]} of an INI text, spaces around '=' ignored
    (Wine's WritePrivateProfileString drops them: docs/wine-notes.md)."""
    sections, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]").lower(), [])
        elif "=" in line and current is not None:
            key, value = line.split("=", 1)
            current.append((key.strip().lower(), value.strip()))
    return sections


def service_sid(name):
    """NT SERVICE\\NAME's SID: S-1-5-80- and the SHA-1 of the upper-case name
    in UTF-16LE as five little-endian 32-bit numbers (what `sc showsid` prints)."""
    digest = hashlib.sha1(name.upper().encode("utf-16-le")).digest()
    return "S-1-5-80-" + "-".join(str(n) for n in struct.unpack("<5I", digest))


def install_settings():
    """What `portserve install` sets (server/app/service.c) with the configuration
    the MSI ships (portserve.ini.example): failure actions (reset period in s,
    [(action, delay in ms)]), the pre-shutdown time in ms, and the settings
    behind MsiServiceConfig's other rows."""
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
    with open(SHIPPED_INI) as f:
        drain = int(re.search(r"^drain_timeout = (\d+)$", f.read(), re.M).group(1))
    sid_types = {"SERVICE_SID_TYPE_NONE": 0, "SERVICE_SID_TYPE_UNRESTRICTED": 1, "SERVICE_SID_TYPE_RESTRICTED": 3}
    booleans = {"TRUE": 1, "FALSE": 0}
    privileges = re.search(r'wchar_t required\[\] = L"((?:\w+\\0)+)";', source).group(1)
    return {
        "reset": reset, "actions": actions, "preshutdown": drain + slack,
        "sid_type": sid_types[re.search(r"sid\.dwServiceSidType = (\w+);", source).group(1)],
        "delayed": booleans[re.search(r"delayed\.fDelayedAutostart = (\w+);", source).group(1)],
        "failure_flag": booleans[re.search(r"fFailureActionsOnNonCrashFailures = (\w+);", source).group(1)],
        "privileges": [p for p in privileges.split("\\0") if p],
    }


def show(command, output):
    """The commands a test runs and what they print, on stderr: the README's
    "Install as a service" quotes a run of this module (ctest -V)."""
    print("\n$ %s\n%s" % (command, output.rstrip()), file=sys.stderr)


class Msi(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ps-msi-")
        self.program_files = scm.drive_c("Program Files", "portserve")
        self.program_data = scm.drive_c("ProgramData", "portserve")
        for folder in (self.program_files, self.program_data):
            self.assertFalse(os.path.exists(folder), "%s exists before the test" % folder)
        self.ini = os.path.join(self.program_data, "portserve.ini")
        self.log_path = os.path.join(self.program_data, "logs", "portserve.log")
        self.port = scm.free_port_tcp_udp()
        self.listen = "LISTEN=echo=127.0.0.1:%d/tcp" % self.port

    def tearDown(self):
        for code, _ in installed_products():
            scm.wine("msiexec", "/x", code, "/qn", timeout=120)
        problems = scm.force_remove()
        # The configuration is Permanent: it outlives the product by design.
        for folder in (self.program_files, self.program_data, self.dir):
            scm.remove_tree(folder)
        self.assertEqual(problems, [], "cleanup")

    def build(self, version, name, config=SHIPPED_INI):
        out = os.path.join(self.dir, name)
        p = subprocess.run([BUILD_MSI, version, EXE, config, out], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stderr, "", "build-msi.sh printed warnings")
        return out

    def build_old_layout(self, version, config):
        """The MSI before the configuration moved to ProgramData
        (tests/e2e/portserve-programfiles.wxs)."""
        out = os.path.join(self.dir, "portserve-programfiles-%s.msi" % version)
        p = subprocess.run(["wixl", "-a", "x64", "-D", "Version=" + version, "-D", "PortserveExe=" + EXE.lstrip("/"),
                            "-D", "ConfigFile=" + config.lstrip("/"), "-o", out, OLD_LAYOUT_WXS],
                           cwd="/", capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # Permanent | NeverOverwrite on Config, as the old build-msi.sh set them.
        p = subprocess.run(["msibuild", out, "-q", "UPDATE `Component` SET `Attributes` = 400 "
                            "WHERE `Component` = 'Config'"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return out

    def config_with(self, port, extra=""):
        """The shipped configuration listening on 127.0.0.1:PORT, plus EXTRA
        lines in [server]; a file in the test's folder."""
        with open(SHIPPED_INI) as f:
            text = f.read()
        self.assertIn("echo = 127.0.0.1:7007/tcp", text)
        self.assertIn("[server]\n", text)
        text = text.replace("echo = 127.0.0.1:7007/tcp", "echo = 127.0.0.1:%d/tcp" % port)
        text = text.replace("[server]\n", "[server]\n" + extra, 1)
        return harness.write_ini(self, text, os.path.join(self.dir, "portserve-%d.ini" % port))

    def msiexec(self, *args):
        rc, out = scm.wine("msiexec", *args, timeout=180)
        self.assertEqual(rc, 0, "msiexec %s: %s" % (" ".join(args), out))
        return out

    def test_install_with_properties_serves_stats_from_path_logs_to_programdata_uninstall_keeps_config(self):
        msi = self.build(VERSION_N, "portserve-%s.msi" % VERSION_N)
        admin = "127.0.0.1:%d" % scm.free_port_tcp_udp()
        command = ("msiexec", "/i", scm.windows_path(msi), self.listen, "ADMIN=" + admin, "/qn")
        show(" ".join(command), self.msiexec(*command[1:]))
        scm.wait_state("RUNNING", 30)
        self.assertEqual(harness.tcp_echo(self.port, b"from the MSI"), b"from the MSI")
        self.assertEqual([v for _, v in installed_products()], [VERSION_N])

        # The configuration is in ProgramData, with the properties in it; the
        # service reads it from there.
        self.assertTrue(os.path.isfile(os.path.join(self.program_files, "portserve.exe")))
        self.assertFalse(os.path.exists(os.path.join(self.program_files, "portserve.ini")))
        ini = ini_lines(harness.read_text(self.ini))
        self.assertEqual([v for k, v in ini["listeners"] if k == "echo"], ["127.0.0.1:%d/tcp" % self.port])
        self.assertEqual([v for k, v in ini["server"] if k == "admin"], [admin])
        self.assertEqual([v for k, v in ini["server"] if k == "log_file"],
                         [r"C:\ProgramData\portserve\logs\portserve.log"])
        rc, out = scm.portserve("status")
        show("portserve status", out)
        self.assertIn("account: NT AUTHORITY\\LocalService", out)
        self.assertIn("start: automatic", out)
        self.assertRegex(out, r'command: .*portserve\.exe"? service --config "C:\\ProgramData\\portserve\\'
                              r'portserve\.ini"')
        rc, reg = scm.reg_query(scm.EVENTLOG_KEY)
        self.assertEqual(rc, 0, reg)
        self.assertRegex(reg, r"EventMessageFile\s+REG_EXPAND_SZ\s+C:\\Program Files\\portserve\\portserve\.exe")

        # portserve is on the system PATH: a new prompt finds it by name, and
        # `portserve stats` reads the admin endpoint the MSI configured.
        self.assertIn(r"C:\Program Files\portserve" + "\\", system_path())
        exe = find_on_path("portserve")
        self.assertEqual(exe, r"C:\Program Files\portserve\portserve.exe", system_path())
        rc, out = scm.wine(exe, "stats", "--admin", admin, timeout=60)
        show("portserve stats --admin " + admin, out)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"portserve \S+, serving")
        self.assertRegex(out, r"echo\s+tcp 127\.0\.0\.1:%d\s" % self.port)
        self.assertRegex(out, r"admin\s+tcp %s\s" % re.escape(admin))

        # The log file is in ProgramData's logs folder, which the MSI made.
        log = harness.wait_for_text(self.log_path, "ready:")
        self.assertIn("listening on tcp 127.0.0.1:%d (echo)" % self.port, log)
        self.assertRegex(log, r"ready: .*")
        show(r"type C:\ProgramData\portserve\logs\portserve.log",
             "\n".join(line for line in log.splitlines() if "listening on" in line or "ready:" in line))

        # Uninstall: service, exe, source and PATH entry gone; the
        # configuration and the logs stay.
        command = ("msiexec", "/x", scm.windows_path(msi), "/qn")
        show(" ".join(command), self.msiexec(*command[1:]))
        self.assertIsNone(scm.query(), "sc query finds no service 'portserve'")
        self.assertEqual(installed_products(), [])
        self.assertEqual(portserve_service_keys(), [])
        rc, reg = scm.reg_query(scm.EVENTLOG_KEY)
        self.assertNotEqual(rc, 0, "Event Log source removed:\n" + reg)
        self.assertFalse(os.path.exists(os.path.join(self.program_files, "portserve.exe")))
        self.assertNotIn(r"C:\Program Files\portserve" + "\\", system_path())
        self.assertEqual(sorted(os.listdir(self.program_data)), ["logs", "portserve.ini"])
        self.assertIn("ready:", harness.read_text(self.log_path))
        with socket.socket() as s:
            s.settimeout(5)
            self.assertNotEqual(s.connect_ex(("127.0.0.1", self.port)), 0, "nothing serves after uninstall")

    def test_fresh_install_without_admin_gets_the_default_admin_address(self):
        msi = self.build(VERSION_N, "portserve.msi")
        # Whether the service then runs depends on 9612 being free on this
        # machine (the install does not wait for it): only the file is checked.
        self.msiexec("/i", scm.windows_path(msi), self.listen, "/qn")
        ini = ini_lines(harness.read_text(self.ini))
        self.assertEqual([v for k, v in ini["server"] if k == "admin"], [DEFAULT_ADMIN])

    def test_upgrade_keeps_the_edited_configuration_and_writes_only_what_it_is_given(self):
        msi = {v: self.build(v, "portserve-%s.msi" % v) for v in (VERSION_N, VERSION_N1)}
        self.msiexec("/i", scm.windows_path(msi[VERSION_N]), self.listen, "/qn")
        scm.wait_state("RUNNING", 30)

        # The operator moves it to another port and restarts it.
        with open(self.ini) as f:
            text = f.read()
        new_port = scm.free_port_tcp_udp()
        edited = text.replace("127.0.0.1:%d/tcp" % self.port, "127.0.0.1:%d/tcp" % new_port)
        self.assertNotEqual(edited, text)
        with open(self.ini, "w") as f:
            f.write(edited)
        rc, out = scm.wine("net", "stop", "portserve", timeout=60)
        self.assertEqual(rc, 0, out)
        rc, out = scm.wine("net", "start", "portserve", timeout=60)
        self.assertEqual(rc, 0, out)
        scm.wait_state("RUNNING", 30)
        self.assertEqual(harness.tcp_echo(new_port, b"edited"), b"edited")

        # Version N+1 without properties replaces N: one product, one
        # service, the file byte for byte as the operator left it.
        self.msiexec("/i", scm.windows_path(msi[VERSION_N1]), "/qn")
        scm.wait_state("RUNNING", 30)
        self.assertEqual([v for _, v in installed_products()], [VERSION_N1])
        self.assertEqual(portserve_service_keys(), ["portserve"])
        with open(self.ini) as f:
            self.assertEqual(f.read(), edited, "the upgrade kept the edited portserve.ini")
        self.assertEqual(harness.tcp_echo(new_port, b"after the upgrade"), b"after the upgrade")
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", self.port), timeout=5).close()

        # A reinstall of N+1 that names ADMIN writes that one setting.
        admin = "127.0.0.1:%d" % scm.free_port_tcp_udp()
        self.msiexec("/i", scm.windows_path(self.build(VERSION_N1, "again/portserve.msi")), "ADMIN=" + admin, "/qn")
        scm.wait_state("RUNNING", 30)
        ini = ini_lines(harness.read_text(self.ini))
        self.assertEqual([v for k, v in ini["server"] if k == "admin"], [admin])
        self.assertEqual([v for k, v in ini["listeners"] if k == "echo"], ["127.0.0.1:%d/tcp" % new_port])
        rc, out = scm.portserve("stats", "--admin", admin)
        self.assertEqual(rc, 0, out)

    def test_upgrade_from_the_program_files_layout_moves_the_configuration_to_programdata(self):
        old_ini = os.path.join(self.program_files, "portserve.ini")
        old_msi = self.build_old_layout(VERSION_N, self.config_with(self.port))
        self.msiexec("/i", scm.windows_path(old_msi), "/qn")
        scm.wait_state("RUNNING", 30)
        self.assertEqual(harness.tcp_echo(self.port, b"old layout"), b"old layout")
        # The operator's edit in the old place.
        new_port = scm.free_port_tcp_udp()
        with open(old_ini) as f:
            edited = f.read().replace("127.0.0.1:%d/tcp" % self.port, "127.0.0.1:%d/tcp" % new_port)
        with open(old_ini, "w") as f:
            f.write(edited)

        self.msiexec("/i", scm.windows_path(self.build(VERSION_N1, "portserve-%s.msi" % VERSION_N1)), "/qn")
        scm.wait_state("RUNNING", 30)
        self.assertEqual([v for _, v in installed_products()], [VERSION_N1])
        with open(self.ini) as f:
            self.assertEqual(f.read(), edited, "the edited configuration, copied to ProgramData as it was")
        with open(old_ini) as f:
            self.assertEqual(f.read(), edited, "the old file is left where it was")
        rc, out = scm.portserve("status")
        self.assertIn(r'--config "C:\ProgramData\portserve\portserve.ini"', out)
        self.assertEqual(harness.tcp_echo(new_port, b"migrated"), b"migrated")

    def test_same_version_rebuild_replaces_the_installed_product(self):
        first = self.build(VERSION_N, "first/portserve-%s.msi" % VERSION_N)
        second = self.build(VERSION_N, "second/portserve-%s.msi" % VERSION_N)
        self.assertNotEqual(product_code(first), product_code(second), "wixl gives every build a new ProductCode")

        self.msiexec("/i", scm.windows_path(first), self.listen, "/qn")
        scm.wait_state("RUNNING", 30)
        self.msiexec("/i", scm.windows_path(second), "/qn")
        scm.wait_state("RUNNING", 30)
        self.assertEqual(installed_products(), [(product_code(second), VERSION_N)])
        self.assertEqual(portserve_service_keys(), ["portserve"])
        self.assertEqual(harness.tcp_echo(self.port, b"same version"), b"same version")

    def test_install_succeeds_when_the_port_is_taken_and_the_service_starts_once_it_is_free(self):
        # A service waits up to 120 s for a port still held (bind_retry); this
        # test wants the failure within seconds.
        msi = self.build(VERSION_N, "portserve.msi", self.config_with(self.port, "bind_retry = 2\n"))
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
            self.assertTrue(os.path.isfile(os.path.join(self.program_files, "portserve.exe")))
            self.assertTrue(os.path.isfile(self.ini))
            log = harness.read_text(self.log_path)
            self.assertIn("127.0.0.1:%d" % self.port, log)
            self.assertIn("WSAEADDRINUSE", log)
            self.assertIn("could not start: a listener could not open (service-specific exit code 2)", log)
        # The operator frees the port and starts the service.
        rc, out = scm.wine("net", "start", "portserve", timeout=60)
        self.assertEqual(rc, 0, out)
        scm.wait_state("RUNNING", 30)
        self.assertEqual(harness.tcp_echo(self.port, b"after the fix"), b"after the fix")

    def test_listen_without_a_service_name_fails_the_install(self):
        msi = self.build(VERSION_N, "portserve.msi")
        log = os.path.join(self.dir, "install.log")
        rc, out = scm.wine("msiexec", "/i", scm.windows_path(msi), "LISTEN=:%d" % self.port, "/qn", "/l*v",
                           scm.windows_path(log), timeout=180)
        # 1603 (ERROR_INSTALL_FAILURE); a Linux exit status keeps its low byte.
        self.assertEqual(rc, 1603 & 0xFF, out)
        with open(log, "rb") as f:
            self.assertIn(b"LISTEN=:%d: expected SERVICE=HOST:PORT or SERVICE=:PORT" % self.port, f.read())
        self.assertEqual(installed_products(), [])
        self.assertIsNone(scm.query())
        self.assertFalse(os.path.exists(self.program_files))

    def test_firewall_1_runs_the_rule_actions_and_uninstall_deletes_the_rule(self):
        msi = self.build(VERSION_N, "portserve.msi")
        log = os.path.join(self.dir, "install.log")
        self.msiexec("/i", scm.windows_path(msi), self.listen, "FIREWALL=1", "/qn", "/l*v", scm.windows_path(log))
        scm.wait_state("RUNNING", 30)
        # Wine's netsh is a stub that succeeds (docs/wine-notes.md): what this
        # shows is that the actions are sequenced, run and succeed; what they
        # run is checked in the table test below. A deferred action appears
        # twice in the log: scheduled, then run from the script.
        ran = self.actions_run(log)
        self.assertEqual(ran.count("FirewallDelete"), 2, ran)
        self.assertEqual(ran.count("FirewallAdd"), 2, ran)
        log = os.path.join(self.dir, "uninstall.log")
        self.msiexec("/x", scm.windows_path(msi), "/qn", "/l*v", scm.windows_path(log))
        ran = self.actions_run(log)
        self.assertIn("FirewallDelete", ran)
        self.assertNotIn("FirewallAdd", ran)

    def test_no_firewall_property_no_rule_actions(self):
        msi = self.build(VERSION_N, "portserve.msi")
        log = os.path.join(self.dir, "install.log")
        self.msiexec("/i", scm.windows_path(msi), self.listen, "/qn", "/l*v", scm.windows_path(log))
        ran = self.actions_run(log)
        self.assertIn("InstallServices", ran)
        self.assertEqual([a for a in ran if a.startswith("Firewall")], [])

    def actions_run(self, path):
        """The actions an msiexec /l*v log says ended with success, in order."""
        with open(path, "rb") as f:
            data = f.read()
        # Windows' msiexec writes its log in UTF-16; Wine's is ASCII.
        text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode(errors="replace")
        return re.findall(r"^Action ended \S+: (\w+)\. Return value 1\.", text, re.M)

    # ---- What Wine's msiexec cannot show: the tables ------------------------

    def test_tables_service_settings_match_portserve_install(self):
        # Wine 8's msiexec does not run MsiConfigureServices (dlls/msi/action.c
        # has no such action; an unknown action in the sequence is skipped),
        # and Wine's SCM does not store failure actions (docs/wine-notes.md,
        # rows 11 and 18).
        msi = self.build(VERSION_N, "portserve.msi")
        want = install_settings()
        self.assertTrue(want["actions"], "no SC_ACTION array found in server/app/service.c")
        events = str(1 | 4)  # msidbServiceConfigEventInstall | ...Reinstall
        self.assertEqual(msi_table(msi, "MsiServiceConfigFailureActions"), [[
            "portserve", "portserve", events, str(want["reset"]), "", "",
            "[~]".join(str(a) for a, _ in want["actions"]), "[~]".join(str(d) for _, d in want["actions"]),
            "Server"]])
        config = {int(r[3]): r for r in msi_table(msi, "MsiServiceConfig")}
        self.assertTrue(all(r[1] == "portserve" and r[2] == events and r[5] == "Server" for r in config.values()),
                        config)
        # ConfigType: SERVICE_CONFIG_DELAYED_AUTO_START_INFO 3, _FAILURE_ACTIONS_FLAG 4,
        # _SERVICE_SID_INFO 5, _REQUIRED_PRIVILEGES_INFO 6, _PRESHUTDOWN_INFO 7.
        self.assertEqual(sorted(config), [3, 4, 5, 6, 7])
        self.assertEqual(config[3][4], str(want["delayed"]))
        self.assertEqual(config[4][4], str(want["failure_flag"]))
        self.assertEqual(config[5][4], str(want["sid_type"]))
        self.assertEqual(config[6][4], "".join(p + "[~]" for p in want["privileges"]))
        self.assertEqual(config[7][4], str(want["preshutdown"]))
        # MsiConfigureServices runs between InstallServices and StartServices,
        # its documented place, and only where Windows Installer has it (5.0).
        sequence = {r[0]: (r[1], int(r[2])) for r in msi_table(msi, "InstallExecuteSequence")}
        self.assertEqual(sequence["MsiConfigureServices"][0], 'VersionMsi >= "5.00"')
        self.assertLess(sequence["InstallServices"][1], sequence["MsiConfigureServices"][1])
        self.assertLess(sequence["MsiConfigureServices"][1], sequence["StartServices"][1])
        service = msi_table(msi, "ServiceInstall")
        # Name, StartType (SERVICE_AUTO_START), StartName, Arguments.
        self.assertEqual([(r[1], r[4], r[8], r[10]) for r in service],
                         [("portserve", "2", "NT AUTHORITY\\LocalService",
                           'service --config "[CONFIGFOLDER]portserve.ini"')])

    def test_tables_firewall_rule_is_opt_in_deferred_elevated_and_undone(self):
        msi = self.build(VERSION_N, "portserve.msi")
        actions = {r[0]: (int(r[1]), r[2], r[3]) for r in msi_table(msi, "CustomAction")}
        sequence = {r[0]: (r[1], int(r[2])) for r in msi_table(msi, "InstallExecuteSequence")}
        exe_in_directory, deferred, rollback, no_impersonate, ignore = 34, 0x400, 0x100, 0x800, 0x40
        netsh = '"[System64Folder]netsh.exe" advfirewall firewall '
        program = 'name="portserve" program="[INSTALLFOLDER]portserve.exe"'
        kind, source, target = actions["FirewallAdd"]
        self.assertEqual(kind, exe_in_directory | deferred | no_impersonate)  # its failure fails the install
        self.assertEqual(source, "System64Folder")
        self.assertTrue(target.startswith(netsh + "add rule "), target)
        self.assertIn('program="[INSTALLFOLDER]portserve.exe"', target)
        self.assertIn("dir=in action=allow", target)
        for name, extra in (("FirewallDelete", 0), ("FirewallDeleteOnRollback", rollback)):
            kind, source, target = actions[name]
            self.assertEqual(kind, exe_in_directory | deferred | extra | no_impersonate | ignore, name)
            self.assertEqual(target, netsh + "delete rule " + program)
        # Opt-in, off by default; the rule goes on uninstall, not on the
        # removal of an old product by an upgrade.
        properties = {r[0]: r[1] for r in msi_table(msi, "Property")}
        self.assertNotIn("FIREWALL", properties)
        self.assertEqual(sequence["FirewallAdd"][0], 'FIREWALL = "1" AND NOT REMOVE ~= "ALL"')
        self.assertEqual(sequence["FirewallDeleteOnRollback"][0], 'FIREWALL = "1" AND NOT REMOVE ~= "ALL"')
        self.assertEqual(sequence["FirewallDelete"][0], '(FIREWALL = "1" AND NOT REMOVE ~= "ALL") OR '
                                                        '(REMOVE ~= "ALL" AND NOT UPGRADINGPRODUCTCODE)')
        # Delete, then the rollback, then add; deferred actions sit between
        # InstallInitialize and InstallFinalize; the rule is there before the
        # service starts.
        order = [sequence[a][1] for a in ("InstallInitialize", "InstallFiles", "FirewallDelete",
                                          "FirewallDeleteOnRollback", "FirewallAdd", "StartServices",
                                          "InstallFinalize")]
        self.assertEqual(order, sorted(order))
        self.assertIn("System64Folder", [r[0] for r in msi_table(msi, "Directory")])

    def test_tables_path_properties_settings_migration_and_log_folder_acl(self):
        msi = self.build(VERSION_N, "portserve.msi")
        # PATH: appended ([~];), system-wide (*), removed on uninstall (-).
        self.assertEqual(msi_table(msi, "Environment"), [["PathEntry", "=-*PATH", "[~];[INSTALLFOLDER]", "Server"]])
        sequence = {r[0]: int(r[2]) for r in msi_table(msi, "InstallExecuteSequence")}
        self.assertIn("WriteEnvironmentStrings", sequence)
        self.assertIn("RemoveEnvironmentStrings", sequence)
        # The public properties pass to the installing service.
        secure = {r[0]: r[1] for r in msi_table(msi, "Property")}["SecureCustomProperties"].split(";")
        for name in ("LISTEN", "ADMIN", "FIREWALL", "INSTALLFOLDER"):
            self.assertIn(name, secure)
        # Where they go.
        components = {r[0]: (int(r[3]), r[4]) for r in msi_table(msi, "Component")}
        ini = {r[0]: r[1:] for r in msi_table(msi, "IniFile")}
        self.assertEqual(ini["AdminPropertySetting"],
                         ["portserve.ini", "CONFIGFOLDER", "server", "admin", "[ADMIN]", "0", "AdminSetting"])
        self.assertEqual(components["AdminSetting"][1], "ADMIN")
        self.assertEqual(ini["ListenPropertySetting"],
                         ["portserve.ini", "CONFIGFOLDER", "listeners", "[LISTEN_SERVICE]", "[LISTEN_ADDRESS]", "0",
                          "ListenSetting"])
        self.assertEqual(components["ListenSetting"][1], "LISTEN")
        self.assertEqual(ini["AdminDefaultSetting"][3:5], ["admin", DEFAULT_ADMIN])
        self.assertEqual(ini["LogFileSetting"][3:5], ["log_file", "[LOGSFOLDER]portserve.log"])
        permanent, never_overwrite = 16, 128
        for name in ("Config", "ConfigMigration", "FreshSettings", "AdminDefault", "AdminSetting", "ListenSetting"):
            self.assertTrue(components[name][0] & permanent, name + " is Permanent")
        self.assertTrue(components["Config"][0] & never_overwrite)
        self.assertLess(sequence["InstallFiles"], sequence["WriteIniValues"])
        # The configuration from an earlier build (next to the exe) is found
        # by its component and copied when ProgramData has none.
        with open(OLD_LAYOUT_WXS) as f:
            old_guid = re.search(r'<Component Id="Config" Guid="([0-9A-F-]+)"', f.read()).group(1)
        self.assertEqual(msi_table(msi, "CompLocator"), [["OldConfigSearch", "{%s}" % old_guid, "1"]])
        self.assertIn(["OLDCONFIGDIR", "OldConfigSearch"], msi_table(msi, "AppSearch"))
        self.assertEqual(msi_table(msi, "MoveFile"),
                         [["MigrateConfig", "ConfigMigration", "portserve.ini", "portserve.ini", "OLDCONFIGDIR",
                           "CONFIGFOLDER", "0"]])
        self.assertEqual(components["ConfigMigration"][1], "OLDCONFIGDIR AND NOT CONFIGFOUND")
        self.assertLess(sequence["AppSearch"], sequence["RemoveExistingProducts"])
        self.assertLess(sequence["MoveFiles"], sequence["InstallFiles"])
        # The logs folder: SYSTEM and Administrators, and the service by its
        # own SID; protected from ProgramData's inherited entries.
        self.assertEqual(msi_table(msi, "MsiLockPermissionsEx"), [[
            "LogsAcl", "LOGSFOLDER", "CreateFolder",
            "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;%s)" % service_sid("portserve"), ""]])
        self.assertIn(["LOGSFOLDER", "Logs"], msi_table(msi, "CreateFolder"))
        directories = {r[0]: (r[1], r[2]) for r in msi_table(msi, "Directory")}
        self.assertEqual(directories["CONFIGFOLDER"], ("CommonAppDataFolder", "portserve"))
        self.assertEqual(directories["LOGSFOLDER"], ("CONFIGFOLDER", "logs"))


if __name__ == "__main__":
    harness.main()
