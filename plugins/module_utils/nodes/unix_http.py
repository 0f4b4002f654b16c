# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Plain HTTP GETs over a Unix socket or TCP, for readiness checks of local daemons."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket


def get(address, path, timeout=5.0):
    """``(status, body)`` of ``GET path`` at ``address`` (``unix:///x.sock`` or ``host:port``), or None.

    None means nothing answered (no socket, refused, reset): the daemon is not up yet.
    """
    try:
        if address.startswith("unix://"):
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.settimeout(timeout)
            conn.connect(address[len("unix://"):])
            host = "localhost"
        else:
            host, _sep, port = address.rpartition(":")
            conn = socket.create_connection((host, int(port)), timeout)
        try:
            conn.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host)).encode("ascii"))
            chunks = []
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            conn.close()
    except (OSError, socket.error, ValueError):
        return None
    head, _sep, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        return None
    return int(status_line[1]), body
