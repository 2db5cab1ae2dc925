"""End-to-end: the MSI (installer/portserve.wxs built with wixl) installed,
upgraded and removed with Wine's msiexec.

The test builds two MSIs of the same portserve.exe, versions N and N+1, with
installer/build-msi.sh, the recipe `./build.sh msi` uses. Their default
configuration listens on a free port so that the service the MSI starts can
serve at once. tearDown removes whatever is left (product, service, folder),
even after a failure."""
import os
import re
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
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


class Msi(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ps-msi-")
        self.folder = scm.drive_c("Program Files", "portserve")
        self.assertFalse(os.path.exists(self.folder), "%s exists before the test" % self.folder)
        self.port = scm.free_port_tcp_udp()
        ini = os.path.join(self.dir, "portserve.ini")
        with open(os.path.join(ROOT, "portserve.ini.example")) as f:
            text = f.read()
        self.assertIn("echo = 127.0.0.1:7007/tcp", text)
        with open(ini, "w") as f:
            f.write(text.replace("echo = 127.0.0.1:7007/tcp", "echo = 127.0.0.1:%d/tcp" % self.port))
        self.msi = {}
        for version in (VERSION_N, VERSION_N1):
            out = os.path.join(self.dir, "portserve-%s.msi" % version)
            p = subprocess.run([BUILD_MSI, version, EXE, ini, out], capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.msi[version] = out

    def tearDown(self):
        for version in (VERSION_N1, VERSION_N):
            if installed_products():
                scm.wine("msiexec", "/x", scm.windows_path(self.msi[version]), "/qn", timeout=120)
        problems = scm.force_remove()
        # The configuration is Permanent: it outlives the product by design.
        scm.remove_tree(self.folder)
        scm.remove_tree(self.dir)
        self.assertEqual(problems, [], "cleanup")

    def msiexec(self, *args):
        rc, out = scm.wine("msiexec", *args, timeout=180)
        self.assertEqual(rc, 0, "msiexec %s: %s" % (" ".join(args), out))

    def test_install_serves_upgrade_keeps_edited_config_uninstall_removes(self):
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


if __name__ == "__main__":
    unittest.main()
