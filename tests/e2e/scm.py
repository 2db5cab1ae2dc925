"""Helpers for the Windows service end-to-end tests: Wine's own sc, net, reg
and msiexec, run from the Linux side with bounded waits.

The service runs in the run's shared Wine prefix (WINEPREFIX), whose
persistent wineserver keeps it alive between commands. Services are started
by Wine's services.exe, not by the tests: they are stopped and deleted
through the SCM (force_remove), never killed."""
import os
import re
import shutil
import socket
import subprocess
import time

from harness import EXE, run_exe, wine_env, windows_path  # noqa: F401 (scm.windows_path)

SERVICE = "portserve"
EVENTLOG_KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\portserve"
SERVICE_KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\portserve"
ERROR_SERVICE_SPECIFIC_ERROR = 1066

_FIELD_RE = re.compile(r"^\s*([A-Z_0-9]+)\s*:\s*(\S+)(?:\s+(\S+))?")


def wine(*args, timeout=60):
    """Runs a Wine program (sc, net, reg, msiexec); returns (rc, output).
    Output is stdout + stderr with the \\r of Wine's console programs removed."""
    p = subprocess.run(["wine"] + list(args), stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                       env=wine_env())
    out = (p.stdout + p.stderr).decode(errors="replace").replace("\r", "")
    return p.returncode, out


def portserve(*args, timeout=120):
    """portserve.exe ARGS; returns (rc, stdout + stderr)."""
    rc, out, err = run_exe(list(args), timeout=timeout)
    return rc, out + err


def query(name=SERVICE):
    """`sc query NAME` as a dict (STATE, WIN32_EXIT_CODE, ...: the numbers, and
    STATE_NAME), or None when the service does not exist. Wine's sc prints
    nothing and exits 1 for a missing service (Windows prints error 1060)."""
    rc, out = wine("sc", "query", name, timeout=30)
    if "SERVICE_NAME" not in out:
        return None
    fields = {}
    for line in out.splitlines():
        m = _FIELD_RE.match(line)
        if m:
            fields[m.group(1)] = m.group(2)
            if m.group(1) == "STATE":
                fields["STATE_NAME"] = m.group(3)
    return fields


def wait_state(state_name, timeout, name=SERVICE):
    """Polls `sc query` until the service is in STATE_NAME; returns the last
    query (None if the service does not exist). Fails on timeout."""
    end = time.monotonic() + timeout
    last = None
    while True:
        last = query(name)
        if last is not None and last.get("STATE_NAME") == state_name:
            return last
        if time.monotonic() > end:
            raise AssertionError("service %s not %s within %s s; last sc query: %r" % (name, state_name, timeout, last))
        time.sleep(0.2)


def reg_query(key, value=None):
    """`reg query KEY [/v VALUE]`: (rc, output)."""
    args = ["reg", "query", key] + (["/v", value] if value else [])
    return wine(*args, timeout=30)


def force_remove(name=SERVICE, timeout=30):
    """Best effort, for tearDown: stop the service if it runs, delete it and
    its Event Log source. Never raises; returns what it could not undo."""
    problems = []
    try:
        q = query(name)
        if q is not None:
            if q.get("STATE_NAME") not in ("STOPPED", None):
                wine("sc", "stop", name, timeout=30)
                try:
                    wait_state("STOPPED", timeout, name)
                except AssertionError as e:
                    problems.append(str(e))
            wine("sc", "delete", name, timeout=30)
            if query(name) is not None:
                problems.append("sc delete %s did not remove it" % name)
        wine("reg", "delete", EVENTLOG_KEY, "/f", timeout=30)
    except (subprocess.TimeoutExpired, OSError) as e:
        problems.append(repr(e))
    return problems


def is_wine():
    """Whether the prefix is Wine's (its own registry key): tests assert the
    Windows behaviour and accept Wine's documented difference only here."""
    rc, _ = reg_query(r"HKLM\Software\Wine")
    return rc == 0


def drive_c(*parts):
    return os.path.join(os.environ["WINEPREFIX"], "drive_c", *parts)


def scm_instances():
    """services.exe processes of this prefix (Linux PIDs). More than one means
    two Service Control Managers answer the same pipe, each with its own
    view of the services: see docs/wine-notes.md."""
    prefix = os.path.realpath(os.environ["WINEPREFIX"])
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmdline = f.read()
            if b"services.exe" not in cmdline:
                continue
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        for entry in env:
            if entry.startswith(b"WINEPREFIX=") and os.path.realpath(entry[11:].decode()) == prefix:
                pids.append(int(pid))
    return pids


def check_environment():
    """Module set-up: the exe, the prefix, and one SCM in it. Anything missing
    fails the run (a skipped module would be reported as passed by ctest)."""
    if not EXE or not os.path.exists(EXE):
        raise AssertionError("PORTSERVE_EXE must name portserve.exe (got %r)" % EXE)
    if not os.environ.get("WINEPREFIX"):
        raise AssertionError("WINEPREFIX must name the test run's Wine prefix")
    wine("sc", "query", "eventlog", timeout=60)  # boots the prefix if it is not running
    pids = scm_instances()
    if len(pids) > 1:
        raise AssertionError(
            "the Wine prefix %s runs %d services.exe (PIDs %s): the SCM answers inconsistently (a service "
            "just created is 'not installed', RegisterServiceCtrlHandlerEx fails with 1060). This happens "
            "when 'wineboot -i' creates a prefix under an already persistent wineserver; restart the "
            "wineserver once after creating the prefix (docs/wine-notes.md)."
            % (os.environ["WINEPREFIX"], len(pids), pids))


def free_port_tcp_udp():
    """A port free for both TCP and UDP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise AssertionError("no port free for both TCP and UDP")


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)
