# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Relay TCP from 127.0.0.1:<listen port> here to 127.0.0.1:<target port> in another network namespace.

``python tcp_forward.py LISTEN_PORT NETNS_PATH TARGET_PORT`` (NETNS_PATH e.g. ``/proc/<pid>/ns/net``).
The listening socket is made first, in the namespace the forwarder starts in; then the process
enters the other namespace, so every outgoing connection is made there (a socket keeps the
namespace it was created in). Prints ``ready <port>`` once it listens (port 0: a free one).
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def enter_netns(path):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns(%s): %s" % (path, os.strerror(err)))
    finally:
        os.close(fd)


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                sock.shutdown(how)
            except OSError:
                pass


def serve(listener, target_port):
    while True:
        client, _addr = listener.accept()
        try:
            upstream = socket.create_connection(("127.0.0.1", target_port), timeout=10)
            upstream.settimeout(None)
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


def main(argv):
    listen_port, netns, target_port = int(argv[0]), argv[1], int(argv[2])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", listen_port))
    listener.listen(64)
    enter_netns(netns)  # only this thread exists yet: the whole process is in the target namespace now
    print("ready %d" % listener.getsockname()[1], flush=True)
    serve(listener, target_port)


if __name__ == "__main__":
    main(sys.argv[1:])
