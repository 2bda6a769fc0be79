#!/usr/bin/env python3
"""Checks that sluice's layers include downwards only (docs/design.md, "Layers").

Every public header under include/sluice/<layer>/, every layer's umbrella header
include/sluice/<layer>.hpp and every source under src/<layer>/ belongs to <layer>. A file may
include sluice headers of its own layer and of the layers listed for it in ALLOWED, nothing
else: core includes nothing above it, compose only core, io only core and compose, codec those
and offload (the CPU pool parallel gzip shares), testing (the conformance kit) only core and
compose.
<sluice/sluice.hpp> (everything) belongs to no layer and no layer may include it. The CLI
(tools/) may include anything and is not checked.

Prints one line per offending include, "path:line: ...", and exits 1; exits 0 when clean.
Usage: check-layers.py [ROOT]        (ROOT: the source tree, default: this script's parent's parent)
       check-layers.py --self-test   (shows that an upward include is caught)
"""
import os
import re
import sys
import tempfile

# layer -> the layers it may include besides itself. A new layer (sinks, db, monitor, offload,
# dist) gets its line here in the issue that creates its folder.
ALLOWED = {
    "core": [],
    "compose": ["core"],
    "io": ["core", "compose"],
    # CPU-heavy work on a pool of threads (beside compose: an operator); its pool is shared with
    # parallel gzip, so codec may include it.
    "offload": ["core", "compose"],
    "codec": ["core", "compose", "offload"],
    # Sockets (TCP, Unix, TLS) and servers; HTTP on top of them (gzip bodies from codec).
    "net": ["core", "compose", "io"],
    "http": ["core", "compose", "io", "codec", "net"],
    # The tutorial's writers done right: batching, fan-out, buffering, validating, logging (files
    # and gzip of rotated logs from io and codec).
    "sinks": ["core", "compose", "io", "codec"],
    # Rows, the formats that carry them (CSV, JSON lines) and the databases (SQLite, PostgreSQL
    # COPY): the database sinks are batch writers underneath.
    "db": ["core", "compose", "io", "codec", "sinks"],
    # Streams over a distributed log (NATS JetStream through libnats, which does its own
    # networking: not net): typed items through codec's serializers, sinks' writers as dead
    # letters and downstream of the acknowledging writer.
    "messaging": ["core", "compose", "io", "codec", "sinks"],
    # Figures of running pipelines for a monitoring system: the monitors' snapshots (core) in the
    # Prometheus text format and JSON, served at /metrics by the HTTP server.
    "metrics": ["core", "compose", "io", "codec", "net", "http"],
    # The conformance kit: runs the stream contract's scenarios on a user's stream, through the
    # public surface of the core's streams and loops only. (Its tests use every layer; the kit
    # itself needs no more.)
    "testing": ["core", "compose"],
}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](sluice/[^>"]+)[>"]')


def layer_of_include(path):
    """'sluice/core/buffer.hpp' -> 'core'; 'sluice/io.hpp' -> 'io'; 'sluice/sluice.hpp' -> None."""
    parts = path.split("/")
    if len(parts) >= 3:
        return parts[1]
    name = parts[1][:-4] if parts[1].endswith(".hpp") else parts[1]
    return None if name == "sluice" else name


def files_under(root, folder, exts):
    """Every file under `folder` ending in one of `exts`, relative to root, in a stable order."""
    for dirpath, _, names in sorted(os.walk(folder)):
        for n in sorted(names):
            if n.endswith(exts):
                yield os.path.relpath(os.path.join(dirpath, n), root)


def files_by_layer(root):
    """Yields (layer, path relative to root) for every checked file; unknown folders as layer '?'."""
    inc = os.path.join(root, "include", "sluice")
    for entry in sorted(os.listdir(inc)):
        full = os.path.join(inc, entry)
        if os.path.isdir(full):
            for rel in files_under(root, full, (".hpp", ".h")):
                yield entry, rel
        elif entry.endswith(".hpp") and entry != "sluice.hpp":
            yield entry[:-4], os.path.relpath(full, root)
    src = os.path.join(root, "src")
    for entry in sorted(os.listdir(src)):
        full = os.path.join(src, entry)
        if os.path.isdir(full):
            for rel in files_under(root, full, (".cpp", ".hpp", ".h")):
                yield entry, rel
        else:
            yield "?", os.path.relpath(full, root)


def check(root):
    problems = []
    checked = 0
    for layer, rel in files_by_layer(root):
        checked += 1
        if layer not in ALLOWED:
            problems.append(f"{rel}: not in a known layer folder ({', '.join(ALLOWED)}); "
                            "add the new layer to ALLOWED in scripts/check-layers.py")
            continue
        may = [layer] + ALLOWED[layer]
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                to = layer_of_include(target)
                if to in may:
                    continue
                what = "everything" if to is None else f"the {to} layer"
                problems.append(f"{rel}:{lineno}: {layer} may not include \"{target}\" ({what}); "
                                f"{layer} may include: {', '.join(may)}")
    return checked, problems


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        for d in ("include/sluice/core", "include/sluice/compose", "src/core"):
            os.makedirs(os.path.join(tmp, d))
        with open(os.path.join(tmp, "include/sluice/compose/pipeline.hpp"), "w") as f:
            f.write('#include "sluice/core/stream.hpp"\n')
        with open(os.path.join(tmp, "include/sluice/core/stream.hpp"), "w") as f:
            f.write('#pragma once\n#include <vector>\n#include "sluice/compose/pipeline.hpp"\n')
        with open(os.path.join(tmp, "src/core/stream.cpp"), "w") as f:
            f.write('#include "sluice/core/stream.hpp"\n#include <sluice/sluice.hpp>\n')
        _, problems = check(tmp)
        want = [
            'include/sluice/core/stream.hpp:3: core may not include "sluice/compose/pipeline.hpp"',
            'src/core/stream.cpp:2: core may not include "sluice/sluice.hpp"',
        ]
        ok = len(problems) == len(want) and all(p.startswith(w) for p, w in zip(problems, want))
        for p in problems:
            print("self-test saw:", p)
        print("check-layers self-test:", "ok" if ok else "FAILED")
        return 0 if ok else 1


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    checked, problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"check-layers: {len(problems)} upward or unknown include(s) in {checked} files")
        return 1
    print(f"check-layers: {checked} files, every include points down")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
