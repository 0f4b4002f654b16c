# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Cache keys and cache directories of the embedded build.

A binary lives in ``<cache_dir>/embedded/<component>/<version>-<key>/<component>``; ``key`` hashes
everything that determines it (wrapper module files, package, linker flags, toolchain, edit step).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import shutil
import time


_FILE_DIGESTS = {}


def file_sha256(path):
    """sha256 of a file, read in chunks and remembered by path, size and mtime (binaries are large
    and their digests are asked for by several keys)."""
    stat = os.stat(path)
    marker = (path, stat.st_size, stat.st_mtime_ns)
    if marker not in _FILE_DIGESTS:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _FILE_DIGESTS[marker] = digest.hexdigest()
    return _FILE_DIGESTS[marker]


def default_cache_dir():
    base = os.environ.get("SCS_KAAS_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "scs-kaas")
    return base


def cache_key(files, package, ldflags, toolchain, edit_digest, extra=()):
    """Hex key over every input that determines a binary (``extra``: further inputs as strings,
    e.g. build tags, a cgo build's environment, compiler and static library versions)."""
    h = hashlib.sha256()
    for path in files:
        h.update(os.path.basename(path).encode("utf-8") + b"\0")
        with open(path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    for part in (package, ldflags, json.dumps(toolchain, sort_keys=True), edit_digest, "-trimpath") + tuple(extra):
        h.update(b"\0" + part.encode("utf-8"))
    return h.hexdigest()[:16]


def _is_executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _remove_stale_temp_dirs(parent, max_age=6 * 3600):
    """Remove temporary build directories an interrupted build left behind (older than max_age)."""
    now = time.time()
    for name in os.listdir(parent):
        path = os.path.join(parent, name)
        if name.startswith(".tmp-") and os.path.isdir(path) and now - os.stat(path).st_mtime > max_age:
            shutil.rmtree(path, ignore_errors=True)


def install_build(tmp, step, info, name, log):
    """Write ``info`` as ``build.json`` into the finished build directory ``tmp`` and move it into
    the cache as ``step["dir"]``; a concurrent call that finished the same key first wins (same
    inputs, so its binary is kept)."""
    with open(os.path.join(tmp, "build.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, sort_keys=True)
    os.chmod(tmp, 0o755)
    if _is_executable(step["binary"]):
        log("%s: %s appeared meanwhile, keeping it" % (name, step["binary"]))
        return
    if os.path.isdir(step["dir"]):
        shutil.rmtree(step["dir"])
    os.rename(tmp, step["dir"])
