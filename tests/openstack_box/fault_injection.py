# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""A WSGI wrapper around a real OpenStack API app that injects the faults a test asks for.

The service answers every request itself, except the ones a rule of ``<faults dir>/<service>.json``
matches, at most ``times`` of them per rule:

- ``"when": "before"``: the request never reaches the service; the client gets ``status``;
- ``"when": "after"``: the service does the work and its answer is replaced by ``status`` (an
  answer lost on its way back: the case where repeating a creation would make a second one);
- ``"delay"``: seconds to wait before answering (a client's timeout).

Rules: ``{"id", "method", "path" (a regular expression on PATH_INFO), "status", "when", "times",
"delay"}``. Each injected fault is one JSON line in ``<faults dir>/<service>.log``, so a test can
assert that the fault happened. Copied next to the gunicorn shim by ``services.start_api``, like
``keystone_audit``.
"""

import json
import os
import re
import threading
import time

_REASONS = {401: "Unauthorized", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout"}


def _drain(environ):
    remaining = int(environ.get("CONTENT_LENGTH") or 0)
    while remaining > 0:
        chunk = environ["wsgi.input"].read(min(remaining, 1 << 20))
        if not chunk:
            return
        remaining -= len(chunk)


def injected(app, faults_dir, service):
    rules_path = os.path.join(faults_dir, service + ".json")
    log_path = os.path.join(faults_dir, service + ".log")
    lock = threading.Lock()
    state = {"mtime": None, "rules": [], "used": {}}

    def rules():
        try:
            mtime = os.stat(rules_path).st_mtime_ns
        except OSError:
            return []
        with lock:
            if mtime != state["mtime"]:
                with open(rules_path) as handle:
                    state["rules"] = json.load(handle)
                state["mtime"] = mtime
            return list(state["rules"])

    def claim(environ):
        for rule in rules():
            if rule.get("method", environ["REQUEST_METHOD"]) != environ["REQUEST_METHOD"]:
                continue
            if not re.search(rule.get("path", ""), environ.get("PATH_INFO", "")):
                continue
            with lock:
                used = state["used"].get(rule["id"], 0)
                if used >= rule.get("times", 1):
                    continue
                state["used"][rule["id"]] = used + 1
            return rule
        return None

    def record(rule, environ):
        line = json.dumps({"id": rule["id"], "method": environ["REQUEST_METHOD"], "path": environ.get("PATH_INFO"),
                           "status": rule.get("status"), "when": rule.get("when", "before"), "time": time.time()})
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)

    def answer(rule, start_response):
        status = int(rule.get("status", 503))
        body = json.dumps({"error": {"code": status, "message": "injected by the test"}}).encode("utf-8")
        start_response("%d %s" % (status, _REASONS.get(status, "Error")),
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def application(environ, start_response):
        rule = claim(environ)
        if rule is None:
            return app(environ, start_response)
        time.sleep(float(rule.get("delay", 0)))
        if rule.get("when", "before") == "before":
            # Read the body, as a service that fails after reading it: an answer before the upload
            # ends breaks the client's connection instead of giving it the status.
            _drain(environ)
        else:
            # Let the service do the work and drop its answer.
            result = app(environ, lambda *args, **kwargs: None)
            try:
                for _chunk in result:
                    pass
            finally:
                if hasattr(result, "close"):
                    result.close()
        record(rule, environ)
        return answer(rule, start_response)

    return application
