# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Plain HTTP/1.0 requests over a Unix socket or TCP: readiness checks and small calls to local daemons."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket


def get(address, path, timeout=5.0):
    """``(status, body)`` of ``GET path`` at ``address`` (``unix:///x.sock`` or ``host:port``), or None.

    None means nothing answered (no socket, refused, reset): the daemon is not up yet.
    """
    return request(address, "GET", path, timeout=timeout)


def request(address, method, path, document=None, timeout=5.0):
    """``(status, body)`` of ``method path`` with ``document`` sent as JSON, or None (see ``get``)."""
    payload = b"" if document is None else json.dumps(document).encode("utf-8")
    headers = {} if document is None else {"Content-Type": "application/json", "Content-Length": str(len(payload))}
    answer = _exchange(address, method, path, headers, payload, timeout)
    return None if answer is None else (answer[0], answer[2])


def head(address, path, headers=None, timeout=5.0):
    """``(status, {header: value})`` of ``HEAD path`` sent with ``headers``, or None (see ``get``).

    Header names come back in their canonical form (``Docker-Content-Digest``), whatever case the
    server wrote them in."""
    answer = _exchange(address, "HEAD", path, headers or {}, b"", timeout)
    return None if answer is None else (answer[0], answer[1])


def _canonical(name):
    return "-".join(part.capitalize() for part in name.split("-"))


def _exchange(address, method, path, headers, payload, timeout):
    """``(status, headers, body)`` of one request, or None when nothing answered."""
    try:
        if address.startswith("unix://"):
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.settimeout(timeout)
            conn.connect(address[len("unix://"):])
            host = "localhost"
        else:
            host, _sep, port = address.rpartition(":")
            conn = socket.create_connection((host.strip("[]"), int(port)), timeout)
        lines = "".join("%s: %s\r\n" % item for item in sorted(headers.items()))
        try:
            conn.sendall(("%s %s HTTP/1.0\r\nHost: %s\r\n%s\r\n" % (method, path, host, lines)).encode("ascii")
                         + payload)
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
    raw_head, _sep, body = b"".join(chunks).partition(b"\r\n\r\n")
    head_lines = raw_head.split(b"\r\n")
    status_line = head_lines[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        return None
    fields = {}
    for line in head_lines[1:]:
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            fields[_canonical(name.strip())] = value.strip()
    return int(status_line[1]), fields, body
