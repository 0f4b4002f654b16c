# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Health probes of the embedded components (see ``registry.Probe``), all on 127.0.0.1."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import ssl

try:
    from http.client import HTTPSConnection, HTTPConnection
except ImportError:  # pragma: no cover - Python 2 is not supported
    HTTPSConnection = HTTPConnection = None

HOST = "127.0.0.1"


def _context(cafile, certfile=None, keyfile=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    return ctx


def _status_ok(conn, path, user_agent):
    try:
        conn.request("GET", path, headers={"User-Agent": user_agent})
        return conn.getresponse().status == 200
    except (OSError, ssl.SSLError, ValueError):
        return False
    finally:
        conn.close()


def check(probe, layout, user_agent, timeout=3):
    """True when ``probe`` (a ``registry.Probe``) passes against the ports and PKI of ``layout``."""
    port = layout.ports[probe.port_key]
    try:
        if probe.kind == "http":
            return _status_ok(HTTPConnection(HOST, port, timeout=timeout), probe.path, user_agent)
        pki = layout.pki
        if probe.kind == "https":
            cert = (pki["admin_crt"], pki["admin_key"]) if probe.client_cert else (None, None)
            ctx = _context(pki[probe.ca], *cert)
            return _status_ok(HTTPSConnection(HOST, port, context=ctx, timeout=timeout), probe.path, user_agent)
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            with _context(pki[probe.ca]).wrap_socket(sock, server_hostname=HOST):
                return True
    except (OSError, ssl.SSLError, ValueError):
        return False
