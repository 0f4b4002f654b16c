# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Processes of the box: each in its own process group (killed as a whole), output to a log file;
readiness by polling, never by sleeping a fixed time."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time


class BoxError(RuntimeError):
    pass


class Processes:
    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.running = {}  # name -> Popen

    def log_path(self, name):
        return os.path.join(self.log_dir, name + ".log")

    def start(self, name, argv, env=None, cwd=None):
        log = open(self.log_path(name), "ab")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=env, cwd=cwd, start_new_session=True)
        finally:
            log.close()
        self.running[name] = proc
        return proc

    def check_alive(self, names=None):
        for name in names or list(self.running):
            proc = self.running[name]
            if proc.poll() is not None:
                raise BoxError("%s exited with %s; last lines of %s:\n%s"
                               % (name, proc.returncode, self.log_path(name), tail(self.log_path(name))))

    def pids(self):
        """Every live process in one of our process groups (workers and children included)."""
        groups = {proc.pid for proc in self.running.values()}
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.getpgid(int(entry)) in groups:
                        found.append(int(entry))
                except OSError:
                    pass
        return found

    def pss_kib(self):
        """Proportional set size of all our processes, KiB (``/proc/<pid>/smaps_rollup``)."""
        total = 0
        for pid in self.pids():
            try:
                with open("/proc/%d/smaps_rollup" % pid) as handle:
                    total += sum(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
            except OSError:
                pass
        return total

    def stop(self, names=None, timeout=20):
        names = list(reversed(list(self.running))) if names is None else names
        for name in names:
            _signal_group(self.running[name], signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name in names:
            proc = self.running.pop(name)
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc, signal.SIGKILL)  # stragglers of the group (workers, children)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                pass


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def tail(path, lines=30):
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 8000))
            return b"\n".join(handle.read().splitlines()[-lines:]).decode(errors="replace")
    except OSError:
        return "(no log)"


def wait_for(what, check, timeout, processes=None, interval=0.5):
    """Poll ``check()`` until it returns a true value; fail early when a box process died."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - the last error is reported on timeout
            last = exc
        if processes is not None:
            processes.check_alive()
        if time.monotonic() > deadline:
            raise BoxError("timed out after %ss waiting for %s (last error: %r)" % (timeout, what, last))
        time.sleep(interval)


def port_open(host, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def run(argv, env=None, timeout=600, log=None):
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if log:
        with open(log, "a") as handle:
            handle.write("$ %s\n%s%s" % (" ".join(argv), proc.stdout, proc.stderr))
    if proc.returncode != 0:
        raise BoxError("%s failed (rc %d):\n%s%s"
                       % (" ".join(argv[:4]), proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc.stdout
