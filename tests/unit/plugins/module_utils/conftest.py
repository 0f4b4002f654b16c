# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Shared by the unit tests of module_utils: an HTTP server on loopback that answers what a test
scripts (for the clients' error paths; the real services are tested in tests/e2e)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.server
import threading

import pytest


@pytest.fixture
def loopback_http():
    """``start(handler_class)`` -> a running server with ``seen`` and ``script`` lists; stopped after the test."""
    servers = []

    def start(handler_class):
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        httpd.seen, httpd.script = [], []
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return httpd
    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()
