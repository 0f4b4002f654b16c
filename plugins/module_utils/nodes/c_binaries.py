# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Node binaries built from C sources: the pause process of kubeadm's sandbox image.

Kubernetes releases pause from ``build/pause/linux/pause.c`` of ``k8s.io/kubernetes``, compiled
statically with gcc and stripped (``build/pause/Makefile``). Here the source comes from the
module of the node's Kubernetes version (the Go module cache, checked against the wrapper's
go.sum), is compiled with the system's gcc and linked with Debian's glibc (``libc6-dev``).

The binary lands in the embedded build's cache layout,
``<cache_dir>/embedded/<name>/<version>-<key>/<name>`` with a ``build.json`` beside it; ``key``
hashes the source's sha256, the flags, the compiler's version and the Debian versions of the
compiler, binutils (strip) and libc6-dev. ``build.json`` carries what the bill of materials
records (``node_binaries.write_bom``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import shutil
import tempfile
import time

from ansible_collections.scs.kaas.plugins.module_utils.embedded.build_cache import file_sha256, install_build
from ansible_collections.scs.kaas.plugins.module_utils.embedded.go_tool import _run
from ansible_collections.scs.kaas.plugins.module_utils.errors import BuildError

# build/pause/Makefile: CFLAGS = -Os -Wall -Werror -static -DVERSION=v$(TAG)-$(REV), then strip.
# REV is `git describe --contains` of the build's checkout; here the module version the source
# comes from takes its place.
PAUSE_CFLAGS = ("-Os", "-Wall", "-Werror", "-static")
LIBC = "libc6-dev"


class CBinary(object):
    """A binary compiled from one C file of a Go module: ``name``, the module and its version
    (the pin), the source's path in it, the version the binary reports (``version``, naming the
    cache directory) and the compiler flags."""

    __slots__ = ("name", "module", "pin", "source", "version", "cflags")

    def __init__(self, name, module, pin, source, version, cflags):
        self.name, self.module, self.pin, self.source = name, module, pin, source
        self.version, self.cflags = version, tuple(cflags)


def pause(kubernetes_version, pause_version):
    """The pause binary of kubeadm's sandbox image ``pause_version`` from ``k8s.io/kubernetes``
    ``kubernetes_version``."""
    return CBinary("pause", "k8s.io/kubernetes", kubernetes_version, "build/pause/linux/pause.c", pause_version,
                   PAUSE_CFLAGS + ("-DVERSION=v%s-%s" % (pause_version, kubernetes_version),))


def c_cache_key(source_sha256, cflags, compiler, packages):
    """Hex key over what determines a C binary: its source, flags, compiler version line and the
    Debian versions of the packages that compile, link and strip it (``{package: version}``)."""
    h = hashlib.sha256()
    for part in (source_sha256, json.dumps(list(cflags)), compiler, json.dumps(packages, sort_keys=True), "strip"):
        h.update(part.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


def _debian_version(runner, package):
    result = runner.run(["dpkg-query", "-W", "-f=${Version}", package])
    if result.rc != 0 or not result.stdout.strip():
        raise BuildError("the C build needs the Debian package %s, which is not installed "
                         "(requirements/debian-packages.txt; `make debian-packages`)" % package)
    return result.stdout.strip()


def toolchain(runner):
    """``(gcc path, its version line, {Debian package: version}, Debian architecture)``: the
    packages are the compiler's, binutils (strip) and libc6-dev (linked in statically)."""
    gcc = shutil.which("gcc")
    if not gcc:
        raise BuildError("the C build needs gcc (Debian package gcc; requirements/debian-packages.txt)")
    compiler = _run(runner, [gcc, "--version"], None, None, "gcc --version").splitlines()[0]
    owner = _run(runner, ["dpkg-query", "-S", os.path.realpath(gcc)], None, None, "dpkg-query -S gcc")
    packages = dict((p, _debian_version(runner, p)) for p in (owner.split(":", 1)[0], "binutils", LIBC))
    arch = _run(runner, ["dpkg", "--print-architecture"], None, None, "dpkg --print-architecture").strip()
    return gcc, compiler, packages, arch


def plan(record, module_info, cache_dir, tools):
    """Where ``record`` lives in the cache and what builds it, from the module's download
    information (``go mod download -json``: Dir, Sum) and :func:`toolchain`'s result."""
    gcc, compiler, packages, arch = tools
    source = os.path.join(module_info["Dir"], record.source)
    if not os.path.isfile(source):
        raise BuildError("%s: %s not found in %s@%s" % (record.name, record.source, record.module, record.pin))
    source_sha256 = file_sha256(source)
    key = c_cache_key(source_sha256, record.cflags, compiler, dict(packages, arch=arch))
    out_dir = os.path.join(cache_dir, "embedded", record.name, "%s-%s" % (record.version, key))
    info = {"language": "c", "component": record.name, "module": record.module, "module_version": record.pin,
            "module_sum": module_info.get("Sum"), "source": record.source, "source_sha256": source_sha256,
            "cflags": list(record.cflags), "compiler": compiler, "arch": arch,
            "static_libraries": {LIBC: packages[LIBC]},
            "build_tools": dict((p, v) for p, v in packages.items() if p != LIBC)}
    return {"gcc": gcc, "source": source, "dir": out_dir, "binary": os.path.join(out_dir, record.name),
            "info": info}


def build(runner, step, log):
    """Compile and strip ``step`` (:func:`plan`) into a temporary directory renamed into place;
    its seconds."""
    parent = os.path.dirname(step["dir"])
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    name = step["info"]["component"]
    try:
        start = time.time()
        out = os.path.join(tmp, name)
        _run(runner, [step["gcc"]] + step["info"]["cflags"] + ["-o", out, step["source"]], tmp, None,
             "gcc %s" % name)
        _run(runner, ["strip", out], tmp, None, "strip %s" % name)
        took = round(time.time() - start, 2)
        install_build(tmp, step, dict(step["info"], build_seconds=took), name, log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log("%s: built in %.1fs -> %s" % (name, took, step["binary"]))
    return took


def read_build_info(binary):
    """The ``build.json`` of a C binary in the cache, or None for a Go binary."""
    path = os.path.join(os.path.dirname(binary), "build.json")
    if not os.path.isfile(path):
        return None
    with open(path, "r", encoding="utf-8") as f:
        info = json.load(f)
    return info if info.get("language") == "c" else None
