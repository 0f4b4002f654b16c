# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Process supervision (no cluster): spawning detached, pid records, stop, listeners."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys
import time

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.embedded import process
from ansible_collections.scs.kaas.plugins.module_utils.errors import EmbeddedError
from ansible_collections.scs.kaas.roles.management_cluster.files.embedded import local_command

RUNNER = local_command.runner()


def test_spawn_detached_survives_and_is_not_our_child(tmp_path):
    log = str(tmp_path / "sleep.log")
    pid = process.spawn_detached(RUNNER, ["/bin/sh", "-c", "echo hello; exec sleep 30"], {"PATH": "/usr/bin:/bin"}, log, str(tmp_path))
    try:
        start = process.proc_starttime(pid)
        assert start is not None
        with open("/proc/%d/stat" % pid) as handle:
            stat = handle.read()
        fields = stat[stat.rfind(")") + 2:].split()
        assert int(fields[1]) != os.getpid()  # reparented, not our child
        assert int(fields[3]) == pid  # own session
        deadline = time.time() + 5
        while time.time() < deadline and "hello" not in open(log).read():
            time.sleep(0.05)
        assert "hello" in open(log).read()
        assert os.stat(log).st_mode & 0o777 == 0o600
    finally:
        os.kill(pid, 9)
    deadline = time.time() + 5
    while time.time() < deadline and process.proc_starttime(pid) is not None:
        time.sleep(0.05)
    assert process.proc_starttime(pid) is None


def test_spawn_failure_is_reported(tmp_path):
    with pytest.raises(EmbeddedError, match="cannot start /nonexistent/binary"):
        process.spawn_detached(RUNNER, ["/nonexistent/binary"], {}, str(tmp_path / "x.log"), str(tmp_path))


def test_listeners_finds_a_listening_socket_and_its_holder(tmp_path):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        port = sock.getsockname()[1]
        mine = [e for e in process.listeners() if e["port"] == port]
        assert mine and mine[0]["address"] == "127.0.0.1"
        assert (os.path.basename(sys.executable).split(".")[0][:6] in mine[0]["processes"][0][0]
                or mine[0]["processes"][0][1] == os.getpid())
    finally:
        sock.close()


def _supervisor(tmp_path):
    for sub in ("pids", "logs"):
        (tmp_path / sub).mkdir()
    return process.Supervisor(str(tmp_path / "pids"), str(tmp_path / "logs"), str(tmp_path), runner=RUNNER)


def test_supervisor_records_starts_and_stops_only_its_process(tmp_path):
    sup = _supervisor(tmp_path)
    record = sup.start("sleeper", ["/bin/sleep", "30"], {"PATH": "/usr/bin:/bin"}, {"ports": {}})
    assert record["binary"] == "/bin/sleep" and record["starttime"] == process.proc_starttime(record["pid"])
    assert os.stat(sup.pid_file("sleeper")).st_mode & 0o777 == 0o600
    assert sup.running("sleeper")["argv_live"] == ["/bin/sleep", "30"]
    assert sup.gone("sleeper") is None
    assert sup.stop("sleeper", timeout=10) is True
    assert process.proc_starttime(record["pid"]) is None
    assert not os.path.exists(sup.pid_file("sleeper"))
    assert sup.stop("sleeper", timeout=10) is False


def test_a_record_whose_pid_now_runs_something_else_is_not_ours(tmp_path):
    sup = _supervisor(tmp_path)
    with open(sup.pid_file("fake"), "w") as handle:
        # Our own pid with the wrong binary: never to be signalled.
        handle.write('{"pid": %d, "starttime": %d, "binary": "/bin/sleep"}'
                     % (os.getpid(), process.proc_starttime(os.getpid())))
    assert sup.running("fake") is None
    assert sup.gone("fake").startswith("pid %d runs " % os.getpid())
    assert sup.stop("fake", timeout=1) is False
    assert not os.path.exists(sup.pid_file("fake"))


def _listening(family, address):
    import socket

    sock = socket.socket(family)
    sock.bind((address, 0))
    sock.listen(1)
    return sock


def test_listeners_finds_a_listening_ipv6_socket_and_its_holder():
    import socket

    sock = _listening(socket.AF_INET6, "::1")
    try:
        port = sock.getsockname()[1]
        mine = [e for e in process.listeners() if e["port"] == port]
        assert [e["address"] for e in mine] == ["::1"]
        assert (open("/proc/self/comm").read().strip(), os.getpid()) in mine[0]["processes"]
        assert "[::1]:%d" % port in mine[0]["line"] and "pid=%d" % os.getpid() in mine[0]["line"]
    finally:
        sock.close()


def test_listeners_leave_out_sockets_that_do_not_listen():
    import socket

    server = _listening(socket.AF_INET, "127.0.0.1")
    client = socket.create_connection(server.getsockname())
    accepted, _peer = server.accept()
    try:
        ports = [e["port"] for e in process.listeners()]
        assert server.getsockname()[1] in ports
        assert client.getsockname()[1] not in ports  # established, not listening
    finally:
        for sock in (accepted, client, server):
            sock.close()


def test_listening_sockets_parses_proc_net_tcp_of_this_namespace():
    import socket

    sock = _listening(socket.AF_INET, "127.0.0.1")
    try:
        port = sock.getsockname()[1]
        inode = os.fstat(sock.fileno()).st_ino
        assert ("127.0.0.1", port, inode) in process.listening_sockets()
        assert process.socket_owners([inode])[inode] == [(open("/proc/self/comm").read().strip(), os.getpid())]
    finally:
        sock.close()
    assert not [s for s in process.listening_sockets() if s[1] == port]


def test_listeners_on_given_ports_only():
    import socket

    first, second = _listening(socket.AF_INET, "127.0.0.1"), _listening(socket.AF_INET, "127.0.0.1")
    try:
        wanted = first.getsockname()[1]
        assert [e["port"] for e in process.listeners([wanted])] == [wanted]
        assert second.getsockname()[1] in [e["port"] for e in process.listeners()]
    finally:
        first.close()
        second.close()


def test_listening_sockets_reads_both_families_and_only_the_listen_state(tmp_path):
    """A /proc/net copy: LISTEN (0A) rows of tcp and tcp6 count, an ESTABLISHED (01) row does not."""
    (tmp_path / "net").mkdir()
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    (tmp_path / "net" / "tcp").write_text(
        header
        + "   0: 0100007F:3F5B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0\n"
        + "   1: 0100007F:9C40 0100007F:3F5B 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0 20 4 30 10 -1\n")
    (tmp_path / "net" / "tcp6").write_text(
        header
        + "   0: 00000000000000000000000001000000:2710 00000000000000000000000000000000:0000 0A "
          "00000000:00000000 00:00000000 00000000     0        0 4444 1 0 100 0 0 10 0\n")
    assert process.listening_sockets(str(tmp_path)) == [("127.0.0.1", 16219, 4242), ("::1", 10000, 4444)]


def test_exiting_tells_a_live_process_from_a_zombie_and_a_missing_pid():
    assert process.exiting(os.getpid()) is False
    child = os.fork()
    if child == 0:
        os._exit(0)
    try:
        # Not reaped yet: a zombie, whose ports (if any) the kernel releases on its own.
        deadline = time.time() + 10
        while not process.exiting(child) and time.time() < deadline:
            time.sleep(0.01)
        assert process.exiting(child) is True
    finally:
        os.waitpid(child, 0)
    assert process.exiting(child) is True
