#!/usr/bin/env python3
"""The layers of portserve, checked over the sources' #include lines.

Each folder is a layer (docs/design.md, "Layers"); a file may include only
headers of its own layer and of the layers below it. The build enforces most
of this by itself (each layer's folder is a PRIVATE include directory of its
CMake library, so an upward include does not compile); this check adds what
the build cannot see: the public headers in include/ all sit in one folder,
but each belongs to one layer, and a lower layer must not use a higher one's.

  tools/layers.py [ROOT]     exit 0 if every include points down, 1 otherwise

Quoted includes only (<...> are the system's). A name found in two folders
is itself an error: the include would depend on the search order."""
import os
import re
import sys

# Lowest first. A layer may include itself and everything before it in this
# list, unless `may` says otherwise.
LAYERS = [
    ("base", ["common/base"], "portable helpers and parsers"),
    ("handler-api", [], "what a protocol handler sees of the engine (include/)"),
    ("engine-api", [], "the engine's public headers (include/)"),
    ("engine", ["server/engine"], "the Win32 engine"),
    ("services-api", [], "the services' public header (include/)"),
    ("services", ["common/services"], "the built-in protocols"),
    ("appcore", ["common/app"], "options and configuration"),
    ("app", ["server/app"], "portserve.exe"),
]
# The public headers, each owned by a layer.
PUBLIC = {
    "listen_spec.h": "base",
    "ps_net.h": "base",
    "ps_engine.h": "engine-api",
    "ps_handler.h": "handler-api",
    "ps_log.h": "handler-api",
    "ps_stats.h": "handler-api",
    "ps_services.h": "services-api",
}
# What a layer may include, where it is not "every layer below": the
# services are written against the handler API, not against the engine.
MAY = {
    "services-api": {"base", "handler-api", "services-api"},
    "services": {"base", "handler-api", "services-api", "services"},
    "appcore": {"base", "handler-api", "engine-api", "services-api", "services", "appcore"},
    "app": {"base", "handler-api", "engine-api", "services-api", "services", "appcore", "app"},
}
# Programs and tests outside the layers, and what they may use.
OUTSIDE = {
    "examples": {"base", "handler-api", "engine-api", "examples"},
}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_rank(name):
    return [n for n, _, _ in LAYERS].index(name)


def allowed(layer):
    if layer in MAY:
        return MAY[layer]
    if layer in OUTSIDE:
        return OUTSIDE[layer]
    return {n for n, _, _ in LAYERS[: layer_rank(layer) + 1]}


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    owner = {}  # header name -> (layer, path)
    files = []  # (layer, path)
    problems = []
    folders = [(n, d) for n, ds, _ in LAYERS for d in ds] + [(n, n) for n in OUTSIDE]
    for layer, folder in folders:
        for dirpath, _, names in os.walk(os.path.join(root, folder)):
            for name in sorted(names):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                files.append((layer, path))
                if name.endswith(".h"):
                    if name in owner or name in PUBLIC:
                        problems.append("%s: header name also used by %s" % (path, owner.get(name, ("", "include/" + name))[1]))
                    owner[name] = (layer, path)
    for name, layer in PUBLIC.items():
        path = os.path.join("include", name)
        if not os.path.exists(os.path.join(root, path)):
            problems.append("%s: listed in tools/layers.py but missing" % path)
        owner[name] = (layer, path)
        files.append((layer, path))
    for name in sorted(os.listdir(os.path.join(root, "include"))):
        if name.endswith(".h") and name not in PUBLIC:
            problems.append("include/%s: a public header tools/layers.py does not assign to a layer" % name)
    for layer, path in files:
        with open(os.path.join(root, path), encoding="utf-8") as f:
            text = f.read()
        for inc in INCLUDE_RE.findall(text):
            name = os.path.basename(inc)
            if name not in owner:
                continue  # a test helper, a generated file, or a header of another tree
            target, where = owner[name]
            if target not in allowed(layer):
                problems.append("%s includes %s (%s, layer %s): layer %s may include only %s" %
                                (path, inc, where, target, layer, ", ".join(sorted(allowed(layer)))))
    for p in problems:
        print("tools/layers.py: " + p, file=sys.stderr)
    if problems:
        return 1
    print("tools/layers.py: %d files, every include points down" % len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
