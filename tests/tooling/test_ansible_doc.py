# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""``ansible-doc`` must render the documentation of every plugin in the collection.

The plugin lists are read from the tree at collection time, so new modules, lookups and
filters are covered without touching this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
import tempfile

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def _plugins(kind, suffixes):
    directory = os.path.join(REPO_ROOT, "plugins", kind)
    if not os.path.isdir(directory):
        return []
    names = set()
    for entry in sorted(os.listdir(directory)):
        base, ext = os.path.splitext(entry)
        if ext in suffixes and not base.startswith("_") and base != "__init__":
            names.add(base)
    return sorted(names)


def _filter_names():
    # Filters are documented in one YAML file each (the .py file may hold several filters).
    return _plugins("filter", (".yml", ".yaml"))


MODULES = _plugins("modules", (".py",))
CASES = ([("module", name) for name in MODULES]
         + [("lookup", name) for name in _plugins("lookup", (".py",))]
         + [("filter", name) for name in _filter_names()])


@pytest.fixture(scope="module")
def doc_env():
    env = dict(os.environ)
    paths = [p for p in env.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
    if not any(os.path.realpath(os.path.join(p, "ansible_collections", "scs", "kaas")) == os.path.realpath(REPO_ROOT)
               for p in paths):
        root = tempfile.mkdtemp(prefix="scs-kaas-doc-")
        os.makedirs(os.path.join(root, "ansible_collections", "scs"))
        os.symlink(REPO_ROOT, os.path.join(root, "ansible_collections", "scs", "kaas"))
        paths.insert(0, root)
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(paths)
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_DEPRECATION_WARNINGS"] = "1"
    return env


def test_the_collection_has_modules():
    assert "k8s_version" in MODULES


_BATCH = {}


def _ansible_doc(env, kind, names, as_json):
    args = [os.path.join(BIN, "ansible-doc"), "-t", kind] + (["--json"] if as_json else [])
    return subprocess.run(args + ["scs.kaas." + n for n in names], env=env, capture_output=True, text=True,
                          check=False, timeout=300, stdin=subprocess.DEVNULL)


def _batch(env, kind, as_json):
    """One ansible-doc call for all plugins of a kind (fast path); None when it did not succeed cleanly."""
    key = (kind, as_json)
    if key not in _BATCH:
        names = [n for k, n in CASES if k == kind]
        run = _ansible_doc(env, kind, names, as_json)
        ok = run.returncode == 0 and "ERROR" not in run.stderr and "WARNING" not in run.stderr
        _BATCH[key] = run.stdout if ok else None
    return _BATCH[key]


@pytest.mark.parametrize("kind, name", CASES, ids=["%s:%s" % c for c in CASES])
def test_ansible_doc_renders(kind, name, doc_env):
    fqcn = "scs.kaas." + name
    output = _batch(doc_env, kind, True)
    if output is None:  # something of this kind is broken: run this plugin alone for a precise answer
        run = _ansible_doc(doc_env, kind, [name], True)
        assert run.returncode == 0, "ansible-doc -t %s --json %s failed:\n%s" % (kind, fqcn, run.stderr)
        assert "WARNING" not in run.stderr and "ERROR" not in run.stderr, run.stderr
        output = run.stdout
    data = json.loads(output)
    assert fqcn in data, "ansible-doc did not return docs for %s: %s" % (fqcn, sorted(data))
    doc = data[fqcn]["doc"]
    assert doc.get("short_description"), "%s has no short_description" % fqcn
    assert doc.get("version_added"), "%s has no version_added" % fqcn
    assert data[fqcn].get("examples"), "%s has no EXAMPLES" % fqcn
    if kind == "module":
        assert data[fqcn].get("return"), "%s has no RETURN" % fqcn

    text = _batch(doc_env, kind, False)
    if text is None:
        run = _ansible_doc(doc_env, kind, [name], False)
        assert run.returncode == 0 and "ERROR" not in run.stderr, run.stderr
        text = run.stdout
    assert "> %s %s" % (kind.upper(), fqcn) in text, "ansible-doc -t %s %s rendered no page" % (kind, fqcn)
