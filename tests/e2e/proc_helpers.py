# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""/proc and socket helpers only the tests and benchmarks need (moved out of the runtime).

``proc_starttime``, ``proc_cmdline`` and ``listeners`` are the runtime's own (process
supervision uses them); they are re-exported so tests read processes the way the runtime does.
"""

from __future__ import annotations

import os
import signal

import helpers

helpers.ensure_collection_path()

from ansible_collections.scs.kaas.plugins.module_utils.embedded import process  # noqa: E402

listeners = process.listeners
proc_cmdline = process.proc_cmdline
proc_starttime = process.proc_starttime


def proc_status_kb(pid, field):
    """A ``kB`` value (e.g. VmHWM, VmRSS) from /proc/<pid>/status, or None."""
    try:
        with open("/proc/%d/status" % pid, "r") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (IOError, OSError, ValueError):
        return None
    return None


def descendants(pids):
    """``pids`` plus all their descendant pids (read from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "r") as handle:
                stat = handle.read()
        except (IOError, OSError):
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        children.setdefault(int(rest[1]), []).append(int(entry))
    out = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in out:
            continue
        out.add(pid)
        todo.extend(children.get(pid, []))
    return out


def kill_tree(pid, signum=signal.SIGKILL):
    """Send ``signum`` to ``pid`` and every process below it, all frozen (SIGSTOP) first so that none
    acts in between. Ansible runs a module in a session of its own: its process group is not enough."""
    tree = descendants([pid])
    for each in (signal.SIGSTOP, signum, signal.SIGCONT):
        for member in tree:
            try:
                os.kill(member, each)
            except ProcessLookupError:
                pass
