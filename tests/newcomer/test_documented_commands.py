# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Every shell block of README.md and docs/*.md works when pasted.

The blocks are extracted from the documents (fences ``bash``, ``sh``, ``shell``); nothing lists
them by hand. Each document's blocks run in order in one fresh shell from the repository root,
after `make demo`, in a clean environment: nothing that make exports (ANSIBLE_*, PYTHONPATH) and no
venv on PATH unless the document activates it. HOME is a new directory, so `~` in a command is this
test's own and never the machine's running management cluster; the binary and Go caches are the
machine's (SCS_KAAS_CACHE_DIR, GOMODCACHE, GOCACHE), so nothing is rebuilt.

One kind of command is not run: the commands that run this very suite (`make test`, `bash .ci/run`);
each such line is replaced by a no-op that says so. Commands that need machines this suite does not
have (k3s hosts, Docker) are shown in the documents in ``text`` fences, next to the reason.
`make demo-real-nodes` runs as pasted: its engine, registry and management cluster in a network
namespace of its own, its state in a short directory of this test's (SCS_KAAS_REAL_NODES_STATE_DIR:
the engine's socket paths do not fit below the new HOME), and afterwards nothing of it may run.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import tempfile

import pytest

from newcomer import REPO_ROOT, clean_environment, real_node_demo_running, run, stop_real_node_demo

_FENCE = re.compile(r"^```(bash|sh|shell)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
_SELF = re.compile(r"^\s*(make\s+test(\s|$)|bash\s+\.ci/run(\s|$))")
BLOCK_TIMEOUT = 1800


def shell_blocks(path):
    with open(os.path.join(REPO_ROOT, path)) as handle:
        text = handle.read()
    return [(text[:match.start()].count("\n") + 1, match.group(2)) for match in _FENCE.finditer(text)]


# docs/ in name order, then README.md (it ends by stopping the management cluster).
ALL_DOCUMENTS = [os.path.relpath(p, REPO_ROOT) for p in sorted(glob.glob(os.path.join(REPO_ROOT, "docs", "*.md")))]
ALL_DOCUMENTS.append("README.md")
DOCUMENTS = [path for path in ALL_DOCUMENTS if shell_blocks(path)]


def _without_self(block):
    return "\n".join(": excluded, it runs this suite: %s" % line.strip() if _SELF.match(line) else line
                     for line in block.splitlines())


def _go_env(name):
    return subprocess.run(["go", "env", name], stdout=subprocess.PIPE, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def newcomer_home(tmp_path_factory):
    home = str(tmp_path_factory.mktemp("home"))
    yield home
    from ansible_collections.scs.kaas.plugins.module_utils.embedded import runtime

    runtime.EmbeddedCluster(os.path.join(home, ".local", "state", "scs-kaas", "embedded")).stop()


@pytest.fixture(scope="module")
def real_nodes_state_dir():
    """Where `make demo-real-nodes` keeps its engine, registry and management cluster; whatever a
    failed run left running there is stopped afterwards, and the directory removed."""
    state_dir = tempfile.mkdtemp(prefix="scs-kaas-rn-")
    yield state_dir
    stop_real_node_demo(state_dir)


@pytest.fixture(scope="module")
def newcomer_env(newcomer_home, real_nodes_state_dir):
    cache = os.environ.get("SCS_KAAS_CACHE_DIR") or os.path.expanduser("~/.cache/scs-kaas")
    return clean_environment(HOME=newcomer_home, SCS_KAAS_CACHE_DIR=cache, GOMODCACHE=_go_env("GOMODCACHE"),
                             GOCACHE=_go_env("GOCACHE"), GOPATH=_go_env("GOPATH"),
                             SCS_KAAS_REAL_NODES_STATE_DIR=real_nodes_state_dir)


@pytest.fixture(scope="module")
def after_make_demo(newcomer_env):
    rc, output = run("make demo", newcomer_env, BLOCK_TIMEOUT)
    assert rc == 0, "make demo (the documents' starting point) failed:\n%s" % output[-4000:]


def test_the_documents_have_shell_blocks():
    """The extraction finds what a reader sees (guards the test below against a broken pattern)."""
    counts = {path: len(shell_blocks(path)) for path in ALL_DOCUMENTS}
    assert counts["README.md"] >= 3, counts
    assert sum(counts.values()) >= 6, counts


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_shell_block_works_when_pasted(document, after_make_demo, newcomer_env):
    blocks = shell_blocks(document)
    script = ["set -euo pipefail"]
    for line, block in blocks:
        script.append("echo '>>> %s:%d'" % (document, line))
        script.append(_without_self(block))
    rc, output = run("\n".join(script), newcomer_env, BLOCK_TIMEOUT * max(1, len(blocks)))
    started = re.findall(r"^>>> (\S+)$", output, re.M)
    assert rc == 0, "a block of %s failed when pasted (last block started: %s):\n%s" % (
        document, started[-1] if started else "none", output[-6000:])
    assert len(started) == len(blocks)


def test_the_real_node_demo_of_the_readme_tore_down_what_it_started(real_nodes_state_dir):
    """README.md's `make demo-real-nodes` (run above) ends with its management cluster, registry and
    engine stopped, so its network namespace is gone with them."""
    assert os.path.isdir(os.path.join(real_nodes_state_dir, "engine")), (
        "README.md's `make demo-real-nodes` did not run (run this test with the README's)")
    assert real_node_demo_running(real_nodes_state_dir) == []
