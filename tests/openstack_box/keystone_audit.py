# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""A WSGI wrapper around the real Keystone app that records who authenticated with which
application credential, and when an application credential was deleted.

Keystone's own logs name neither the credential of a token request nor the client, and the access
log cannot see request bodies. The rotation test needs both to show the order "CAPO authenticates
with the new credential, then the old one is deleted". Keystone answers every request itself; this
only reads the request and the status. Credential secrets are never written: only IDs.

Copied next to the gunicorn shim by :func:`services.start_api` (the services venv stays as it is
installed), imported by the shim, one JSON object per line in ``keystone-audit.log``.
"""

import io
import json
import os
import re
import time

_DELETE = re.compile(r"/v3/users/[^/]+/application_credentials/(?P<id>[^/]+)$")


def _token_credential(body):
    """(auth methods, application credential id or name) of a token request body."""
    try:
        identity = json.loads(body.decode("utf-8"))["auth"]["identity"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return [], None
    methods = identity.get("methods") or []
    credential = identity.get("application_credential") or {}
    return methods, credential.get("id") or credential.get("name")


def audited(app, log_path):
    def write(record):
        line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)  # one write of a short line with O_APPEND: lines never interleave
        finally:
            os.close(fd)

    def middleware(environ, start_response):
        method, path = environ.get("REQUEST_METHOD"), (environ.get("PATH_INFO") or "").rstrip("/")
        record = None
        if method == "POST" and path.endswith("/v3/auth/tokens"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            methods, credential = _token_credential(body)
            record = {"event": "token", "methods": methods, "application_credential": credential}
        elif method == "DELETE" and _DELETE.search(path):
            record = {"event": "delete_application_credential",
                      "application_credential": _DELETE.search(path).group("id")}
        if record is None:
            return app(environ, start_response)
        record["user_agent"] = environ.get("HTTP_USER_AGENT", "")
        statuses = []

        def recording_start_response(status, headers, exc_info=None):
            statuses.append(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        body_iter = app(environ, recording_start_response)
        record.update(time=time.time(), status=statuses[0] if statuses else None)
        write(record)
        return body_iter

    return middleware
