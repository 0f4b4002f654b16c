# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""``stop`` never signals a process it did not start, even when a pid file names a live pid.

A pid from an old pid file can belong to an unrelated process by now (the pid was reused). The
tests start a real unrelated process, write its pid into a component's pid record with another
start time or another binary, and check that ``stop`` leaves it running. The last case records
the process exactly as ``start`` would and must stop it: the same setup can fail.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import signal
import sys
import time

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.embedded import process, runtime
from ansible_collections.scs.kaas.roles.management_cluster.files.embedded import local_command


# Blocks the signals stop() sends (SIGKILL cannot be blocked), so a signal that was sent stays
# pending and /proc shows it right after the kill() call: no waiting for a delivery.
BLOCKER = (
    "import signal, time\n"
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT})\n"
    "time.sleep(300)\n"
)


def _spawn(tmp_path, argv):
    pid = process.spawn_detached(local_command.runner(), argv, {"PATH": "/usr/bin:/bin"}, str(tmp_path / "unrelated.log"), str(tmp_path))
    deadline = time.time() + 10
    while time.time() < deadline:
        # Wait until the process runs its final program (exec done, signals blocked).
        if process.proc_cmdline(pid) == argv and (argv[0] != sys.executable or _blocked(pid)):
            return pid
        time.sleep(0.02)
    raise AssertionError("the unrelated process %r did not come up" % argv)


def _status(pid, field):
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1], 16)
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def _blocked(pid):
    return _status(pid, "SigBlk") & (1 << (signal.SIGTERM - 1))


def _pending(pid):
    """Signals sent to ``pid`` and not yet delivered (thread and process pending sets)."""
    return _status(pid, "SigPnd") | _status(pid, "ShdPnd")


@pytest.fixture
def unrelated(tmp_path):
    """A detached process (like the components: own session, not our child) that blocks SIGTERM."""
    argv = [sys.executable, "-c", BLOCKER]
    pid = _spawn(tmp_path, argv)
    yield pid, argv[0]
    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def recorded(tmp_path):
    """A detached ``sleep``: what stop() may signal when its pid record matches."""
    argv = [shutil.which("sleep"), "300"]
    pid = _spawn(tmp_path, argv)
    yield pid, argv[0]
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _record(cluster, name, pid, starttime, binary):
    pids = cluster.paths["pids"]
    os.makedirs(pids, mode=0o700, exist_ok=True)
    with open(os.path.join(pids, "%s.pid" % name), "w") as handle:
        json.dump({"pid": pid, "starttime": starttime, "binary": binary, "argv": [binary]}, handle)


def _untouched(pid, starttime):
    """``pid`` is still the process that started at ``starttime`` and no signal was sent to it."""
    return process.proc_starttime(pid) == starttime and _pending(pid) == 0


@pytest.mark.parametrize("component", ["etcd", "kube-apiserver", "capd-manager"])
@pytest.mark.parametrize("mismatch", ["other start time", "other binary", "both"])
def test_stop_leaves_a_reused_pid_alone(tmp_path, unrelated, component, mismatch):
    pid, binary = unrelated
    real_start = process.proc_starttime(pid)
    assert real_start is not None and process.proc_cmdline(pid)[0] == binary
    recorded_start = real_start - 1 if mismatch in ("other start time", "both") else real_start
    recorded_binary = (str(tmp_path / "bin" / component) if mismatch in ("other binary", "both") else binary)
    cluster = runtime.EmbeddedCluster(str(tmp_path / "state"))
    _record(cluster, component, pid, recorded_start, recorded_binary)

    result = cluster.stop()

    assert _untouched(pid, real_start), "stop signalled pid %d (%s) through a stale pid file" % (pid, mismatch)
    assert result["stopped"] == [] and result["changed"] is False, result
    assert result["components"][component]["running"] is False
    # The stale record is dropped, so a later stop cannot hit the pid either.
    assert not os.path.exists(os.path.join(cluster.paths["pids"], "%s.pid" % component))
    assert cluster.stop()["stopped"] == [] and _untouched(pid, real_start)


def test_stop_does_stop_the_process_it_recorded(tmp_path, recorded):
    pid, binary = recorded
    real_start = process.proc_starttime(pid)
    cluster = runtime.EmbeddedCluster(str(tmp_path / "state"))
    _record(cluster, "etcd", pid, real_start, binary)

    result = cluster.stop()

    assert result["stopped"] == ["etcd"] and result["changed"] is True, result
    deadline = time.time() + 10
    while process.proc_starttime(pid) == real_start and time.time() < deadline:
        time.sleep(0.05)
    assert process.proc_starttime(pid) != real_start, "the recorded process still runs"
    assert not os.path.exists(os.path.join(cluster.paths["pids"], "etcd.pid"))


def test_stop_in_check_mode_signals_nothing(tmp_path, unrelated):
    pid, binary = unrelated
    real_start = process.proc_starttime(pid)
    cluster = runtime.EmbeddedCluster(str(tmp_path / "state"))
    _record(cluster, "etcd", pid, real_start, binary)
    result = cluster.stop(check_mode=True)
    assert result["stopped"] == ["etcd"] and result["changed"] is True
    assert _untouched(pid, real_start)
    assert os.path.exists(os.path.join(cluster.paths["pids"], "etcd.pid"))
