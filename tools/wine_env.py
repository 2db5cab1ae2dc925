"""The Wine environment of tools/wine-env.sh (its one description) for Python
scripts: bench/bench.py, bench/smoke.py, tests/e2e/harness.py."""
import os

WINE_ENV_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wine-env.sh")


def _read():
    """{'PS_WINE_VARS': [...], 'PS_WINE_UNSET': [...]} from tools/wine-env.sh."""
    found = {}
    with open(WINE_ENV_SH, encoding="utf-8") as f:
        for line in f:
            name, sep, value = line.strip().partition("=")
            if sep and name in ("PS_WINE_VARS", "PS_WINE_UNSET"):
                found[name] = value.strip("'").split()
    if len(found) != 2:
        raise RuntimeError("%s: no PS_WINE_VARS or PS_WINE_UNSET line" % WINE_ENV_SH)
    return found


def wine_env(prefix=None, keep_callers=False):
    """A copy of os.environ with Wine's settings: WINEPREFIX=prefix (if given),
    PS_WINE_VARS (keep_callers: only where the caller has not set them, as
    when ctest already has), PS_WINE_UNSET removed."""
    found = _read()
    env = dict(os.environ)
    if prefix is not None:
        env["WINEPREFIX"] = prefix
    for item in found["PS_WINE_VARS"]:
        name, _, value = item.partition("=")
        if keep_callers:
            env.setdefault(name, value)
        else:
            env[name] = value
    for name in found["PS_WINE_UNSET"]:
        env.pop(name, None)
    return env
