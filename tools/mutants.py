#!/usr/bin/env python3
"""Mutation check: do the tests notice when a behaviour breaks?

Applies the mutants of a committed list (tests/mutants.json) one at a time:
replaces one exact piece of source text, rebuilds only the targets the
mutant's tests run, runs those tests, and puts the file back (also when the
build or a test crashes, times out or the run is interrupted). A mutant is
caught when at least one of its tests fails (a hang counts, reported as a
timeout); it survived when they all pass.

Before anything is mutated every listed test runs once on the unmutated tree
(the baseline): one that fails there stops the run, since a broken test
would "catch" every mutant. All Windows tests of a run share one Wine prefix
(tests/wine-fixture.sh setup/cleanup), removed at the end.

Prints a Markdown table (mutant | file | result | catching test(s)) and
"caught N / survived M". Exit status: 0 when every mutant run was caught;
1 when one survived, could not be applied (its text is not found exactly
once: the list is stale), did not compile, or the baseline failed; 2 for a
bad command line or a missing build (./build.sh mutants builds first).

The list's format is described in its own "about" lines (tests/mutants.json).
Run it with ./build.sh mutants [--only ID...], not as part of ./build.sh test:
it rebuilds once per mutant."""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_LIST = os.path.join(ROOT, "tests", "mutants.json")
BUILD_TIMEOUT_S = 1800
CTEST_LIST_TIMEOUT_S = 120
FIXTURE_TIMEOUT_S = 300
DEFAULT_TEST_TIMEOUT_S = 600  # a test without a ctest TIMEOUT (ctest's default is 1500)
ID_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
GTEST_LINE_RE = re.compile(r"^\[\s*(OK|FAILED|SKIPPED)\s*\] (\S+)(?: \((\d+) ms\))?")
MUTANT_KEYS = {"id", "file", "find", "replace", "occurrence", "breaks", "tests", "pending"}


class Failure(Exception):
    """A check failed (exit 1): stale list, failing baseline."""


class Usage(Exception):
    """Bad command line or missing build (exit 2)."""


def say(msg):
    print("mutants: " + msg, file=sys.stderr, flush=True)


# ---- the list ---------------------------------------------------------------


def load_list(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise Usage("%s: %s" % (path, e))
    mutants = doc.get("mutants") if isinstance(doc, dict) else None
    if not isinstance(mutants, list) or not mutants:
        raise Usage("%s: no \"mutants\" list" % path)
    seen = set()
    for i, m in enumerate(mutants):
        where = "%s: mutant %d" % (path, i + 1)
        if not isinstance(m, dict):
            raise Usage("%s: not an object" % where)
        unknown = set(m) - MUTANT_KEYS
        if unknown:
            raise Usage("%s: unknown key(s) %s" % (where, ", ".join(sorted(unknown))))
        for key in ("id", "file", "find", "replace", "breaks"):
            if not isinstance(m.get(key), str) or (key != "replace" and not m[key]):
                raise Usage("%s: \"%s\" must be a non-empty string" % (where, key))
        if not ID_RE.match(m["id"]):
            raise Usage("%s: id %r: use lower-case letters, digits, '-' and '.'" % (where, m["id"]))
        if m["id"] in seen:
            raise Usage("%s: id %s is listed twice" % (where, m["id"]))
        seen.add(m["id"])
        if m["find"] == m["replace"]:
            raise Usage("%s (%s): replace is the same text as find" % (where, m["id"]))
        tests = m.get("tests")
        if not isinstance(tests, list) or not tests or not all(isinstance(t, str) and t for t in tests):
            raise Usage("%s (%s): \"tests\" must be a non-empty list of names" % (where, m["id"]))
        occ = m.get("occurrence")
        if occ is not None and (not isinstance(occ, int) or occ < 1):
            raise Usage("%s (%s): \"occurrence\" must be a number from 1" % (where, m["id"]))
        if "pending" in m and (not isinstance(m["pending"], str) or not m["pending"]):
            raise Usage("%s (%s): \"pending\" must say why" % (where, m["id"]))
    return mutants


def mutate(text, m):
    """text with m applied; raises Failure when m's text is not where it says."""
    find, occ = m["find"], m.get("occurrence")
    count = text.count(find)
    if occ is None and count != 1:
        raise Failure("%s: the text to replace occurs %d times in %s (must be exactly once, or give "
                      "\"occurrence\")" % (m["id"], count, m["file"]))
    if occ is not None and occ > count:
        raise Failure("%s: occurrence %d asked, the text occurs %d times in %s" % (m["id"], occ, count, m["file"]))
    pos = -len(find)
    for _ in range(occ or 1):
        pos = text.find(find, pos + len(find))
    return text[:pos] + m["replace"] + text[pos + len(find):]


# ---- the tests ctest knows ----------------------------------------------------


class Test:
    def __init__(self, name, build_dir, command, env, cwd, timeout, skip_rc):
        self.name = name
        self.build_dir = build_dir
        self.command = command
        self.env = env  # ctest's ENVIRONMENT: list of NAME=VALUE
        self.cwd = cwd
        self.timeout = timeout
        self.skip_rc = skip_rc
        self.gtest = None  # the gtest name when the command runs one gtest test
        self.base = command
        for i, arg in enumerate(command):
            if arg.startswith("--gtest_filter="):
                self.gtest = arg[len("--gtest_filter="):]
                self.base = command[:i] + command[i + 1:]
        self.wine = any(e.startswith("WINEPREFIX=") for e in env)


def ctest_tests(build_dir):
    """{name: Test} of one build directory (ctest --show-only=json-v1)."""
    p = subprocess.run(["ctest", "--test-dir", build_dir, "--show-only=json-v1"], capture_output=True,
                       timeout=CTEST_LIST_TIMEOUT_S, cwd=ROOT)
    if p.returncode != 0:
        raise Usage("ctest --show-only in %s failed: %s" % (build_dir, p.stderr.decode(errors="replace")))
    tests = {}
    for t in json.loads(p.stdout.decode()).get("tests", []):
        props = {pr["name"]: pr["value"] for pr in t.get("properties", [])}
        if "command" not in t or props.get("DISABLED"):
            continue
        env = props.get("ENVIRONMENT", [])
        tests[t["name"]] = Test(t["name"], build_dir, list(t["command"]), list(env),
                                props.get("WORKING_DIRECTORY", build_dir),
                                float(props.get("TIMEOUT", DEFAULT_TEST_TIMEOUT_S)), props.get("SKIP_RETURN_CODE"))
    return tests


def resolve(patterns, known):
    """The tests each pattern names (a ctest name or a regex matching whole names)."""
    found, missing = [], []
    for pat in patterns:
        try:
            rx = re.compile(pat)
        except re.error as e:
            raise Usage("test pattern %r: %s" % (pat, e))
        hits = sorted(n for n in known if rx.fullmatch(n))
        if not hits:
            missing.append(pat)
        found.extend(h for h in hits if h not in found)
    return found, missing


def build_targets(test, ninja_targets):
    """The CMake targets a test runs: the executables in its command and environment."""
    out = []
    for word in test.command + [e.partition("=")[2] for e in test.env]:
        if not word.startswith(test.build_dir + os.sep):
            continue
        stem = os.path.basename(word)
        stem = stem[:-4] if stem.endswith(".exe") else stem
        if stem in ninja_targets.get(test.build_dir, ()) and stem not in out:
            out.append(stem)
    return out


def ninja_phony_targets(build_dir):
    p = subprocess.run(["ninja", "-C", build_dir, "-t", "targets", "all"], capture_output=True, timeout=120)
    names = set()
    for line in p.stdout.decode(errors="replace").splitlines():
        name, _, kind = line.partition(": ")
        if kind.strip() == "phony" and "/" not in name:
            names.add(name)
    return names


# ---- running --------------------------------------------------------------------


class Runner:
    """Runs groups of tests bounded by a timeout, killing a timed-out group's
    process group (its own session: the test and whatever it started)."""

    def __init__(self, prefix, log_dir, verbose):
        self.prefix = prefix
        self.log_dir = log_dir
        self.verbose = verbose
        self.current = None

    def env_for(self, test):
        env = dict(os.environ)
        for item in test.env:
            name, _, value = item.partition("=")
            env[name] = value
        if test.wine:
            env["WINEPREFIX"] = self.prefix
        return env

    def kill_current(self):
        p = self.current
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def run(self, tests, timeout, label):
        """Runs tests (one gtest executable with a combined filter, or one other
        test); returns ({name: (status, seconds)}, output). status: passed,
        failed, skipped, timeout, crashed."""
        first = tests[0]
        if first.gtest is not None:
            cmd = first.base + ["--gtest_filter=" + ":".join(t.gtest for t in tests)]
        else:
            cmd = first.command
        t0 = time.monotonic()
        self.current = subprocess.Popen(cmd, cwd=first.cwd, env=self.env_for(first), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        proc, rc = self.current, None
        try:
            out, _ = proc.communicate(timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            self.kill_current()
            try:
                out, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                out = b""
        except BaseException:  # Ctrl+C, SIGTERM: the test goes too
            self.kill_current()
            raise
        finally:
            self.current = None
        seconds = time.monotonic() - t0
        text = out.decode(errors="replace")
        self.save_log(label, cmd, text)
        if self.verbose:
            print(text, file=sys.stderr, flush=True)
        return self.results(tests, text, rc, seconds), text

    def save_log(self, label, cmd, text):
        if self.log_dir is None:
            return
        os.makedirs(self.log_dir, exist_ok=True)
        with open(os.path.join(self.log_dir, label + ".log"), "w", encoding="utf-8") as f:
            f.write("$ " + " ".join(cmd) + "\n" + text)

    @staticmethod
    def results(tests, text, rc, seconds):
        res = {}
        if tests[0].gtest is None:
            t = tests[0]
            if rc is None:
                res[t.name] = ("timeout", seconds)
            elif rc == 0:
                res[t.name] = ("passed", seconds)
            elif t.skip_rc is not None and rc == int(t.skip_rc):
                res[t.name] = ("skipped", seconds)
            else:
                res[t.name] = ("failed (exit %d)" % rc, seconds)
            return res
        by_gtest = {t.gtest: t.name for t in tests}
        for line in text.splitlines():
            m = GTEST_LINE_RE.match(line.strip("\r"))
            if m and m.group(2) in by_gtest and by_gtest[m.group(2)] not in res:
                status = {"OK": "passed", "FAILED": "failed", "SKIPPED": "skipped"}[m.group(1)]
                ms = int(m.group(3)) / 1000.0 if m.group(3) else 0.0
                res[by_gtest[m.group(2)]] = (status, ms)
        for t in tests:
            if t.name not in res:
                res[t.name] = ("timeout" if rc is None else "crashed (exit %s, no result)" % rc, seconds)
            elif rc not in (0, None) and res[t.name][0] in ("passed", "skipped") and all(
                    r[0] in ("passed", "skipped") for r in res.values()):
                # Every test passed but the process failed (a crash at exit, a leak report).
                res[t.name] = ("failed (exit %d after the tests)" % rc, res[t.name][1])
        return res


def group(tests):
    """Tests in runs: one per gtest executable (same command, environment and
    directory: one process, a combined filter), one per other test."""
    runs, keyed = [], {}
    for t in tests:
        if t.gtest is None:
            runs.append([t])
            continue
        key = (tuple(t.base), tuple(t.env), t.cwd)
        if key not in keyed:
            keyed[key] = []
            runs.append(keyed[key])
        keyed[key].append(t)
    return runs


# ---- the check ----------------------------------------------------------------


class Check:
    def __init__(self, args):
        self.args = args
        self.win = os.path.abspath(args.win_build)
        self.native = os.path.abspath(args.native_build)
        self.backup_dir = os.path.join(self.win, "mutants-backup")
        self.prefix = os.path.abspath(args.prefix or os.path.join(self.win, "mutants-wineprefix"))
        self.runner = Runner(self.prefix, os.path.join(self.win, "mutants-logs"), args.verbose)
        self.prefix_made = False
        self.built = {}  # (build_dir, target) touched by a mutant: rebuilt at the end
        self.originals = {}  # file -> (bytes, clean in git at the start)
        self.baseline = {}  # test name -> seconds

    # -- files --

    def read(self, rel):
        with open(os.path.join(ROOT, rel), "rb") as f:
            return f.read()

    def write(self, rel, data):
        with open(os.path.join(ROOT, rel), "wb") as f:
            f.write(data)

    def recover(self):
        """Puts back files an interrupted run (killed before its own restore) left mutated."""
        if not os.path.isdir(self.backup_dir):
            return
        for dirpath, _, files in os.walk(self.backup_dir):
            for name in files:
                saved = os.path.join(dirpath, name)
                rel = os.path.relpath(saved, self.backup_dir)
                with open(saved, "rb") as f:
                    data = f.read()
                if self.read(rel) != data:
                    self.write(rel, data)
                    say("restored %s, left mutated by an interrupted run" % rel)
                os.unlink(saved)
        shutil.rmtree(self.backup_dir, ignore_errors=True)

    def remember(self, rel):
        if rel in self.originals:
            return
        clean = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", rel], cwd=ROOT, timeout=60).returncode == 0
        if not clean:
            say("note: %s has uncommitted changes; the mutants apply to the working copy as it is" % rel)
        self.originals[rel] = (self.read(rel), clean)

    def apply(self, m):
        rel = m["file"]
        data = self.originals[rel][0]
        saved = os.path.join(self.backup_dir, rel)
        os.makedirs(os.path.dirname(saved), exist_ok=True)
        with open(saved, "wb") as f:
            f.write(data)
        self.write(rel, mutate(data.decode("utf-8"), m).encode("utf-8"))

    def restore(self, rel):
        self.write(rel, self.originals[rel][0])
        try:
            os.unlink(os.path.join(self.backup_dir, rel))
        except FileNotFoundError:
            pass

    def verify_restored(self):
        bad = []
        for rel, (data, clean) in self.originals.items():
            if self.read(rel) != data:
                bad.append(rel)
            elif clean and subprocess.run(["git", "diff", "--quiet", "HEAD", "--", rel], cwd=ROOT,
                                          timeout=60).returncode != 0:
                bad.append(rel)
        if bad:
            raise Failure("not restored: %s (git diff shows it)" % ", ".join(bad))

    # -- build --

    def build(self, pairs, what):
        by_dir = {}
        for d, target in pairs:
            by_dir.setdefault(d, []).append(target)
        for d, targets in by_dir.items():
            cmd = ["cmake", "--build", d, "--target"] + targets
            try:
                p = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                return "%s: %s took longer than %d s" % (what, " ".join(cmd), BUILD_TIMEOUT_S)
            if p.returncode != 0:
                return "%s: %s failed:\n%s" % (what, " ".join(cmd), p.stdout.decode(errors="replace")[-3000:])
        return None

    # -- wine --

    def wine_setup(self):
        say("one Wine prefix for the run: %s" % self.prefix)
        self.prefix_made = True
        try:
            p = subprocess.run([os.path.join(ROOT, "tests", "wine-fixture.sh"), "setup", self.prefix], cwd=ROOT,
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=FIXTURE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise Usage("tests/wine-fixture.sh setup took longer than %d s" % FIXTURE_TIMEOUT_S)
        if p.returncode != 0:
            raise Usage("tests/wine-fixture.sh setup failed:\n" + (p.stdout + p.stderr).decode(errors="replace"))

    def wine_cleanup(self):
        if not self.prefix_made:
            return
        try:
            subprocess.run([os.path.join(ROOT, "tests", "wine-fixture.sh"), "cleanup", self.prefix], cwd=ROOT,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=FIXTURE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            say("warning: removing the Wine prefix %s took longer than %d s" % (self.prefix, FIXTURE_TIMEOUT_S))
        self.prefix_made = False

    # -- the run --

    def main(self):
        mutants = load_list(self.args.list)
        if self.args.only:
            ids = {m["id"] for m in mutants}
            unknown = [i for i in self.args.only if i not in ids]
            if unknown:
                raise Usage("--only: no mutant %s in %s" % (", ".join(unknown), self.args.list))
            mutants = [m for m in mutants if m["id"] in self.args.only]
        if self.args.skip_pending:
            mutants = [m for m in mutants if "pending" not in m]
        if self.args.list_only:
            for m in mutants:
                print("%-34s %-22s %s%s" % (m["id"], m["file"], ", ".join(m["tests"]),
                                            "  (pending: %s)" % m["pending"] if "pending" in m else ""))
            return 0

        self.recover()
        # The list must apply as it stands before anything is built or run.
        stale = []
        for m in mutants:
            self.remember(m["file"])
            try:
                mutate(self.originals[m["file"]][0].decode("utf-8"), m)
            except Failure as e:
                stale.append(str(e))
        if stale:
            raise Failure("the list is stale:\n  " + "\n  ".join(stale))

        known = {}
        for d in (self.win, self.native):
            if not os.path.isfile(os.path.join(d, "CTestTestfile.cmake")):
                raise Usage("%s is not built (./build.sh mutants builds it)" % d)
            known.update(ctest_tests(d))
        ninja = {d: ninja_phony_targets(d) for d in (self.win, self.native)}

        plan = []  # (mutant, [Test], missing patterns)
        for m in mutants:
            names, missing = resolve(m["tests"], known)
            if missing and "pending" not in m:
                raise Failure("%s: no test named %s (ctest -N lists them)" % (m["id"], ", ".join(missing)))
            plan.append((m, [known[n] for n in names], missing))
        if self.args.check:
            say("the list applies: %d mutant(s), every text found once, every test known" % len(plan))
            return 0

        results = []
        t_start = time.monotonic()
        try:
            needed = []
            for _, tests, missing in plan:
                if not missing:
                    needed.extend(t for t in tests if t not in needed)
            if any(t.wine for t in needed):
                self.wine_setup()
            self.run_baseline(needed)
            for i, (m, tests, missing) in enumerate(plan):
                results.append(self.run_mutant(i + 1, len(plan), m, tests, missing, ninja))
        finally:
            self.runner.kill_current()
            for rel in self.originals:
                self.restore(rel)
            self.wine_cleanup()
            if self.built:
                say("rebuilding %s with the sources restored" % ", ".join(sorted({t for _, t in self.built})))
                err = self.build(list(self.built), "rebuilding the restored sources")
                if err:
                    say(err)
            self.verify_restored()
            shutil.rmtree(self.backup_dir, ignore_errors=True)
        return self.report(results, time.monotonic() - t_start)

    def run_baseline(self, tests):
        if not tests:
            return
        say("baseline: %d test(s) on the unmutated tree" % len(tests))
        broken = []
        for run in group(tests):
            timeout = sum(t.timeout for t in run)
            res, out = self.runner.run(run, timeout, "baseline-" + run[0].name)
            for name, (status, seconds) in res.items():
                self.baseline[name] = seconds
                if status == "skipped":
                    say("warning: %s is skipped on the unmutated tree; it cannot catch anything here" % name)
                elif status != "passed":
                    broken.append("%s: %s" % (name, status))
            if any(r[0] not in ("passed", "skipped") for r in res.values()):
                say("output of the failing baseline run:\n" + out[-4000:])
        if broken:
            raise Failure("tests fail on the unmutated tree (fix them first; a mutant they 'catch' proves "
                          "nothing):\n  " + "\n  ".join(broken))

    def timeout_for(self, run):
        if self.args.timeout:
            return self.args.timeout
        ctest = sum(t.timeout for t in run)
        took = sum(self.baseline.get(t.name, t.timeout) for t in run)
        return min(ctest, 3 * took + 60)

    def run_mutant(self, n, total, m, tests, missing, ninja):
        t0 = time.monotonic()
        row = {"id": m["id"], "file": m["file"], "pending": m.get("pending"), "caught": [], "result": None}
        if missing:
            row["result"] = "survived"
            row["note"] = "no test named %s yet" % ", ".join(missing)
            say("[%d/%d] %s: survived (no test named %s)" % (n, total, m["id"], ", ".join(missing)))
            return row
        pairs = []
        for t in tests:
            targets = build_targets(t, ninja)
            for target in targets or ["all"]:
                if (t.build_dir, target) not in pairs:
                    pairs.append((t.build_dir, target))
        self.apply(m)
        try:
            for p in pairs:
                self.built[p] = True
            err = self.build(pairs, "building mutant " + m["id"])
            if err:
                row["result"] = "did not compile"
                row["note"] = "fix the replacement text"
                say("[%d/%d] %s: %s" % (n, total, m["id"], err))
                return row
            for run in group(tests):
                res, _ = self.runner.run(run, self.timeout_for(run), "mutant-%s-%s" % (m["id"], run[0].name))
                for name, (status, _) in sorted(res.items()):
                    if status not in ("passed", "skipped"):
                        row["caught"].append("%s (%s)" % (name, status))
        finally:
            self.restore(m["file"])
        row["result"] = "caught" if row["caught"] else "survived"
        row["seconds"] = time.monotonic() - t0
        say("[%d/%d] %s: %s%s (%.0f s)" % (n, total, m["id"], row["result"],
                                           " by " + ", ".join(row["caught"]) if row["caught"] else "",
                                           row["seconds"]))
        return row

    def report(self, rows, seconds):
        print("| mutant | file | result | catching test(s) |")
        print("|---|---|---|---|")
        for r in rows:
            note = ", ".join(r["caught"]) if r["caught"] else r.get("note", "")
            if r["pending"] and r["result"] != "caught":
                note = (note + "; " if note else "") + "pending: " + r["pending"]
            elif r["pending"]:
                note += "; marked pending: its test now exists, remove \"pending\" from the list"
            print("| %s | %s | %s | %s |" % (r["id"], r["file"], r["result"], note))
        caught = sum(r["result"] == "caught" for r in rows)
        survived = sum(r["result"] == "survived" for r in rows)
        broken = len(rows) - caught - survived
        print("\ncaught %d / survived %d%s  (%d mutant(s), %.1f min)" % (
            caught, survived, " / did not compile %d" % broken if broken else "", len(rows), seconds / 60))
        return 0 if caught == len(rows) else 1


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="tools/mutants.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants")
    ap.add_argument("--skip-pending", action="store_true",
                    help="leave out the mutants marked \"pending\" (their catching test is not written yet)")
    ap.add_argument("--list", default=DEFAULT_LIST, help="the mutant list (default: tests/mutants.json)")
    ap.add_argument("--list-mutants", dest="list_only", action="store_true", help="print the mutants and exit")
    ap.add_argument("--check", action="store_true",
                    help="only check that the list applies (each text found once, each test known); runs nothing")
    ap.add_argument("--timeout", type=float, metavar="SEC",
                    help="bound on each mutant's test run (default: 3x its baseline time + 60 s, at most the "
                         "tests' ctest TIMEOUTs added up)")
    ap.add_argument("--win-build", default=os.path.join(ROOT, "build", "win"), help="default: build/win")
    ap.add_argument("--native-build", default=os.path.join(ROOT, "build", "native"), help="default: build/native")
    ap.add_argument("--prefix", help="the Wine prefix to create and remove (default: build/win/mutants-wineprefix)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every test run's output (each run's output is also kept in "
                    "build/win/mutants-logs/)")
    return ap.parse_args(argv)


def main(argv):
    args = parse_args(argv)

    def on_term(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        return Check(args).main()
    except Usage as e:
        say("error: %s" % e)
        return 2
    except Failure as e:
        say("error: %s" % e)
        return 1
    except KeyboardInterrupt:
        say("interrupted; sources restored, Wine prefix removed")
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
