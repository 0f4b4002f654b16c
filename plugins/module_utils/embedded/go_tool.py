# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The Go toolchain side of the embedded build: find and check the toolchain, its environment,
the wrapper modules under ``<source_dir>/go/`` and the module downloads (``go mod download``).

Standard library only; every failure is a :class:`BuildError`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil

from ansible_collections.scs.kaas.plugins.module_utils import pins as _pins
from ansible_collections.scs.kaas.plugins.module_utils.errors import BuildError


def find_go():
    explicit = os.environ.get("SCS_KAAS_GO")
    candidates = [explicit] if explicit else []
    found = shutil.which("go")
    if found:
        candidates.append(found)
    candidates.append("/usr/local/go/bin/go")
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise BuildError("no Go toolchain found: install Go >= %s (go on PATH, /usr/local/go/bin/go "
                     "or SCS_KAAS_GO)" % _pins.GO_MIN_VERSION)


def go_env():
    """Variables set (on top of the environment) for every go command."""
    return {"GOFLAGS": "-mod=readonly", "GOTOOLCHAIN": "local", "GOWORK": "off"}


def _run(runner, argv, cwd, env, what):
    return runner.run(argv, cwd=cwd, env=env).check(what).stdout


def _version_tuple(text):
    parts = text.lstrip("go").split(".")
    out = []
    for p in parts[:3]:
        digits = "".join(ch for ch in p if ch.isdigit())
        out.append(int(digits or 0))
    while len(out) < 3:
        out.append(0)
    return tuple(out)


def go_toolchain(go, runner):
    """GOVERSION, GOOS, GOARCH and CGO_ENABLED of the toolchain (part of every cache key)."""
    out = _run(runner, [go, "env", "-json", "GOVERSION", "GOOS", "GOARCH", "CGO_ENABLED"], None, go_env(), "go env")
    info = json.loads(out)
    if _version_tuple(info["GOVERSION"]) < _version_tuple(_pins.GO_MIN_VERSION):
        raise BuildError("Go %s is too old: the embedded components need Go >= %s"
                         % (info["GOVERSION"], _pins.GO_MIN_VERSION))
    return info


def wrapper_dir(source_dir, module):
    base = os.path.join(source_dir, "go") if os.path.isdir(os.path.join(source_dir, "go")) else source_dir
    path = os.path.join(base, module)
    if not os.path.isfile(os.path.join(path, "go.mod")):
        raise BuildError("wrapper module %r not found: %s has no go.mod (source_dir=%s)" % (module, path, source_dir))
    return path


def wrapper_files(path):
    """Files of a wrapper module that go into the cache key (go.mod, go.sum, *.go)."""
    names = sorted(n for n in os.listdir(path) if n in ("go.mod", "go.sum") or n.endswith(".go"))
    return [os.path.join(path, n) for n in names]


def parse_go_mod_requires(text):
    """``{module: version}`` of the require directives of a go.mod text."""
    requires = {}
    in_block = False
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if in_block:
            if line == ")":
                in_block = False
                continue
            fields = line.split()
        elif line.startswith("require ("):
            in_block = True
            continue
        elif line.startswith("require "):
            fields = line.split()[1:]
        else:
            continue
        if len(fields) >= 2:
            requires[fields[0]] = fields[1]
    return requires


def download_modules(runner, go, wdir, modules, env):
    """``go mod download -json`` for ``modules`` in the wrapper module; {module: info dict}."""
    out = _run(runner, [go, "mod", "download", "-json"] + list(modules), wdir, env, "go mod download")
    infos = {}
    decoder = json.JSONDecoder()
    pos = 0
    out = out.strip()
    while pos < len(out):
        obj, end = decoder.raw_decode(out, pos)
        if obj.get("Error"):
            raise BuildError("go mod download %s: %s" % (obj.get("Path"), obj["Error"]))
        infos[obj["Path"]] = obj
        pos = end
        while pos < len(out) and out[pos].isspace():
            pos += 1
    return infos


def _read_info(info):
    path = info.get("Info")
    if not path or not os.path.isfile(path):
        return {}
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f)
