# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Supervision of detached local processes: spawn, pid records, liveness, stop.

A pid record (``<pids_dir>/<name>.pid``, JSON, 0600) holds the pid, its start time (clock ticks
after boot, from ``/proc/<pid>/stat``), the binary and the argv. A process counts as ours only
while ``/proc/<pid>`` still shows that start time and that binary, so a reused pid is never
signalled.

Processes are detached (own session, reparented to init through a short-lived spawner), so they
outlive the Ansible module that started them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import signal
import socket
import struct
import sys
import time

from ansible_collections.scs.kaas.plugins.module_utils.poll import PollTimeout, poll_until
from ansible_collections.scs.kaas.plugins.module_utils.errors import EmbeddedError
from ansible_collections.scs.kaas.plugins.module_utils.files import write_if_changed


def proc_starttime(pid):
    """Start time (clock ticks after boot) of ``pid`` or None if it does not exist / is a zombie."""
    try:
        with open("/proc/%d/stat" % pid, "r") as handle:
            stat = handle.read()
    except (IOError, OSError):
        return None
    # The command name is in parentheses and may contain spaces.
    rest = stat[stat.rfind(")") + 2:].split()
    if rest[0] in ("Z", "X"):
        return None
    return int(rest[19])


def threads_exited(pid, starttime):
    """Whether every thread of the process ``pid`` that started at ``starttime`` has exited.

    The main thread of a threaded process shows as a zombie as soon as it exits, while its other
    threads (http.server's request threads) may still hold the open files, the listening socket
    among them, for a moment: a connection then still succeeds, and a new server cannot bind.
    """
    task_dir = "/proc/%d/task" % pid
    try:
        tasks = os.listdir(task_dir)
    except OSError:
        return True
    states = {}
    for task in tasks:
        try:
            with open(os.path.join(task_dir, task, "stat"), "r") as handle:
                stat = handle.read()
        except (IOError, OSError):
            continue  # exited and released meanwhile
        fields = stat[stat.rfind(")") + 2:].split()
        states[int(task)] = (fields[0], int(fields[19]))
    leader = states.get(pid)
    if leader is not None and leader[1] != starttime:
        return True  # the pid belongs to another process now
    return all(state in ("Z", "X") for state, _start in states.values())


def exiting(pid):
    """Whether ``pid`` is on its way out: a zombie, or its memory already released.

    A killed process gives up its memory before its open files: for that moment its command line
    reads empty while it still holds its listening sockets, and a look at the ports names it as
    their holder. A port held by a process in that state is released by the kernel shortly.
    """
    if proc_starttime(pid) is None:
        return True
    return not proc_cmdline(pid)


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            raw = handle.read()
    except (IOError, OSError):
        return None
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def tail(path, lines=200):
    """The last ``lines`` lines of a log file (reads at most its last 256 KiB)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 256 * 1024))
            data = handle.read().decode("utf-8", "replace")
    except (IOError, OSError) as exc:
        return "(no log: %s)" % exc
    return "\n".join(data.splitlines()[-lines:])


_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp{,6}


def _proc_address(hex_addr, family):
    """Text address of a /proc/net/tcp{,6} address: 32-bit words of the network-order address,
    each printed as a number in the host's byte order."""
    packed = b"".join(struct.pack("=I", int(hex_addr[i:i + 8], 16)) for i in range(0, len(hex_addr), 8))
    return socket.inet_ntop(family, packed)


def listening_sockets(proc_root="/proc"):
    """(address, port, inode) of every listening TCP socket of this network namespace."""
    found = []
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            with open(os.path.join(proc_root, "net", name), "r") as handle:
                lines = handle.read().splitlines()[1:]
        except (IOError, OSError):
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            addr, _sep, port = fields[1].partition(":")
            found.append((_proc_address(addr, family), int(port, 16), int(fields[9])))
    return found


def socket_owners(inodes, proc_root="/proc"):
    """inode -> [(command name, pid)] of the processes holding those sockets (those we may see)."""
    owners = dict((inode, []) for inode in inodes)
    if not owners:
        return owners
    for entry in os.listdir(proc_root):
        if not entry.isdigit():
            continue
        fd_dir = os.path.join(proc_root, entry, "fd")
        try:
            fds = os.listdir(fd_dir)
        except (IOError, OSError):
            continue
        held = set()
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except (IOError, OSError):
                continue
            if target.startswith("socket:["):
                inode = int(target[8:-1])
                if inode in owners:
                    held.add(inode)
        if held:
            try:
                with open(os.path.join(proc_root, entry, "comm"), "r") as handle:
                    comm = handle.read().strip()
            except (IOError, OSError):
                comm = "?"
            for inode in held:
                owners[inode].append((comm, int(entry)))
    return owners


def listeners(ports=None, proc_root="/proc"):
    """Listening TCP sockets (only those on ``ports`` if given): list of dicts (address, port,
    processes [(name, pid)], line).

    Read from /proc (no ``ss`` process): sockets from ``net/tcp`` and ``net/tcp6``, their
    holders from the ``fd`` links of every process this user may inspect.
    """
    sockets = [s for s in listening_sockets(proc_root) if ports is None or s[1] in ports]
    owners = socket_owners([inode for _a, _p, inode in sockets], proc_root)
    result = []
    for address, port, inode in sockets:
        procs = sorted(set(owners.get(inode, [])), key=lambda item: item[1])
        holders = ",".join('("%s",pid=%d)' % item for item in procs)
        line = "LISTEN %s:%d users:(%s)" % ("[%s]" % address if ":" in address else address, port, holders)
        result.append({"address": address, "port": port, "processes": procs, "line": line})
    return result


# Runs as ``python -c`` under the caller's runner: starts the process in its own session with
# its output in the log and none of the spawner's descriptors (the runner's pipes close when the
# spawner exits, so the runner returns at once), prints its pid and exits; init adopts it.
_SPAWNER = r"""
import json, os, subprocess, sys
spec = json.loads(sys.stdin.read())
fd = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
proc = subprocess.Popen(spec["argv"], env=spec["env"], cwd=spec["cwd"], stdin=subprocess.DEVNULL,
                        stdout=fd, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
sys.stdout.write(str(proc.pid))
"""


def spawn_detached(runner, argv, env, log_path, cwd):
    """Start ``argv`` in its own session, reparented to init, through ``runner``; return its pid."""
    spec = json.dumps({"argv": argv, "env": env, "log": log_path, "cwd": cwd})
    result = runner.run([sys.executable, "-c", _SPAWNER], data=spec, timeout=60)
    if result.rc != 0:
        raise EmbeddedError("cannot start %s: %s" % (argv[0], result.stderr.strip()))
    return int(result.stdout.strip())


def _reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except OSError:
        pass


class Supervisor(object):
    """Pid records of named processes in ``pids_dir``, their logs in ``logs_dir``."""

    def __init__(self, pids_dir, logs_dir, cwd, log=None, runner=None):
        """``runner`` (``module_utils/command.py``) runs the spawner; only ``start`` needs one."""
        self.runner = runner
        self.pids_dir = pids_dir
        self.logs_dir = logs_dir
        self.cwd = cwd
        self.log = log or (lambda msg: None)

    def pid_file(self, name):
        return os.path.join(self.pids_dir, "%s.pid" % name)

    def log_file(self, name):
        return os.path.join(self.logs_dir, "%s.log" % name)

    def read_pid(self, name):
        try:
            with open(self.pid_file(name), "r") as handle:
                return json.load(handle)
        except (IOError, OSError, ValueError):
            return None

    def running(self, name):
        """The pid record of ``name`` if its process is alive and still that binary, else None."""
        record = self.read_pid(name)
        if not record:
            return None
        pid = int(record.get("pid", 0))
        if pid <= 0 or proc_starttime(pid) != record.get("starttime"):
            return None
        cmdline = proc_cmdline(pid)
        if not cmdline or cmdline[0] != record.get("binary"):
            return None
        record["argv_live"] = cmdline
        return record

    def gone(self, name):
        """Why ``name`` is not running, confirmed after a short pause (None if it is running).

        One look at /proc right after a start has been seen to miss a live process once, so a
        process counts as gone only when a second look a moment later agrees.
        """
        if self.running(name):
            return None
        time.sleep(0.3)
        if self.running(name):
            return None
        record = self.read_pid(name)
        if not record:
            return "no pid file"
        pid = int(record.get("pid", 0))
        starttime = proc_starttime(pid)
        if starttime is None:
            return "pid %d does not exist or is a zombie" % pid
        if starttime != record.get("starttime"):
            return "pid %d now belongs to another process" % pid
        return "pid %d runs %s, not %s" % (pid, (proc_cmdline(pid) or ["?"])[0], record.get("binary"))

    def start(self, name, argv, env, extra=None):
        """Spawn ``argv`` detached, write its pid record; return the record."""
        log_path = self.log_file(name)
        with open(log_path, "ab") as handle:
            handle.write(("\n==== %s starting %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), " ".join(argv))).encode("utf-8"))
        os.chmod(log_path, 0o600)
        if self.runner is None:
            raise EmbeddedError("cannot start %s: no command runner given" % name)
        pid = spawn_detached(self.runner, argv, env, log_path, self.cwd)
        try:
            starttime = poll_until(lambda: proc_starttime(pid), 1.0, "%s to appear in /proc" % name, 0.01, 0.05)
        except PollTimeout:
            raise EmbeddedError("%s exited right after start" % name)
        record = dict(extra or {}, pid=pid, starttime=starttime, binary=argv[0], argv=argv)
        write_if_changed(self.pid_file(name), json.dumps(record, indent=2, sort_keys=True) + "\n", 0o600)
        self.log("started %s (pid %d)" % (name, pid))
        return record

    def _signal_and_wait(self, pid, starttime, sig, timeout):
        try:
            os.kill(pid, sig)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise

        def exited():
            _reap(pid)
            # Not only the main thread: until the others exit they hold the process's files, its
            # listening sockets among them (a new start could not bind, a client still connects).
            return proc_starttime(pid) != starttime and threads_exited(pid, starttime)
        try:
            poll_until(exited, timeout, "pid %d to exit" % pid, 0.05, 0.2)
            return True
        except PollTimeout:
            return False

    def stop(self, name, timeout):
        """SIGTERM (SIGKILL after ``timeout``) the recorded process; False if it was not running."""
        record = self.running(name)
        if not record:
            if os.path.exists(self.pid_file(name)):
                os.unlink(self.pid_file(name))
            return False
        pid, starttime = record["pid"], record["starttime"]
        if not self._signal_and_wait(pid, starttime, signal.SIGTERM, timeout):
            self.log("%s (pid %d) ignored SIGTERM for %ds: SIGKILL" % (name, pid, timeout))
            if not self._signal_and_wait(pid, starttime, signal.SIGKILL, 10):
                raise EmbeddedError("%s (pid %d) did not exit after SIGKILL" % (name, pid))
        os.unlink(self.pid_file(name))
        self.log("stopped %s (pid %d)" % (name, pid))
        return True

    def forget(self, name):
        """Remove the pid record of a process that is not running."""
        if not self.running(name) and os.path.exists(self.pid_file(name)):
            os.unlink(self.pid_file(name))
