# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The collection version lives in galaxy.yml; the one copy modules need must agree with it.

Modules run without galaxy.yml at hand, so ``kube/client.py`` holds ``COLLECTION_VERSION`` (the
user agents are built from it). Everything else derives the version: no other file may spell out
a user agent with a version or define a version constant of its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import yaml

from ansible_collections.scs.kaas.plugins.module_utils.kube import client as kube_client

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THE_COPY = os.path.join("plugins", "module_utils", "kube", "client.py")
SCANNED = ("plugins", "roles", "playbooks", "docs", "tests", "meta", "benchmarks", "README.md", "Makefile")
SKIPPED_DIRS = {".git", ".venv", "__pycache__", "go"}
# A user agent of ours with a literal version, or a second definition of the constant.
COPY = re.compile(r"scs\.kaas[\w.-]*/\d+\.\d+\.\d+|COLLECTION_VERSION\s*=\s*[\"']\d")


def galaxy_version():
    with open(os.path.join(REPO_ROOT, "galaxy.yml")) as handle:
        return yaml.safe_load(handle)["version"]


def test_the_module_copy_is_galaxy_version():
    assert kube_client.COLLECTION_VERSION == galaxy_version()
    assert kube_client.USER_AGENT == "scs.kaas/%s" % galaxy_version()


def _files():
    for entry in SCANNED:
        path = os.path.join(REPO_ROOT, entry)
        if os.path.isfile(path):
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
            for name in files:
                if name.endswith((".py", ".yml", ".yaml", ".md", ".j2", ".cfg", ".txt", ".json", ".sh")):
                    yield os.path.join(root, name)


def test_no_other_copy_of_the_version():
    found = []
    for path in _files():
        rel = os.path.relpath(path, REPO_ROOT)
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if COPY.search(line) and not (rel == THE_COPY and line.startswith("COLLECTION_VERSION = ")):
                    found.append("%s:%d: %s" % (rel, number, line.strip()))
    assert not found, "copies of the collection version (derive them from galaxy.yml):\n" + "\n".join(found)
