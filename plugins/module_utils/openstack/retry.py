# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Bounded retries of cloud requests, only where the request is safe to repeat.

A cloud answers 5xx while an API worker restarts, a load balancer in front of it times out, a
connection breaks. Repeating a request is safe when doing it twice has the effect of doing it once:
GET, HEAD and OPTIONS read; a repeated DELETE finds the resource gone (404, which callers treat as
gone). A POST, PUT or PATCH is not: the first attempt may have been done before its answer was lost,
and a second one would create a second application credential, server group or image. Those are
sent again only when the service never got to them (the connection was refused, or a reused idle
connection was closed before the request was read); otherwise the error is reported at once, saying
that a rerun is the way on, because every module finds what an interrupted run made by its name
(which carries the cluster's uid).

keystoneauth's own ``connect_retries`` sends a request again after any connection failure or
timeout, whatever its method, so the connections this collection opens set it to 0 and use
:func:`install` instead. An expired or revoked token is keystoneauth's own business: it fetches a
new token once and repeats the request (401 means the request was not done).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import re
import sys
import time

from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError

# keystoneauth1 (it comes with openstacksdk) is imported with the SDK, when a module connects: its
# exceptions alone cost 0.2 s, which a batch without an OpenStack cluster must not pay.
HAS_KEYSTONEAUTH = importlib.util.find_spec("keystoneauth1") is not None

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "DELETE")
RETRIED_STATUS = (500, 502, 503, 504)
# Seconds between attempts: 5 attempts in about 8 s, longer than an API worker's restart.
BACKOFF = (0.5, 1.0, 2.0, 4.0)
# Asking Keystone for a token creates nothing that outlives it: safe to repeat.
_TOKEN_REQUEST = re.compile(r"/v3/auth/tokens/?$")
# Never done: the connection was refused, or the server closed a reused idle connection without
# reading the request (the keep-alive race every HTTP client meets; gunicorn closes idle ones).
_NEVER_SENT = re.compile(r"Connection refused|NewConnectionError|Name or service not known|No route to host|"
                         r"Network is unreachable|"
                         r"Remote end closed connection without response")


class UnsafeToRepeat(KaasError):
    """A request that changes the cloud failed in a way that leaves open whether it was done."""

    def __init__(self, method, url, cause, service=None):
        super(UnsafeToRepeat, self).__init__(
            "%s%s %s failed (%s); it is not sent again, because it may have been done before its answer was "
            "lost. Run the playbook again: the rerun finds what this run made and finishes it"
            % ("%s service: " % service if service else "", method, _path(url), cause))
        self.method = method
        self.url = url
        self.cause = cause


def _path(url):
    return re.sub(r"^[a-z]+://[^/]+", "", url or "") or url


def _status(exc_or_response):
    return getattr(exc_or_response, "http_status", None) or getattr(exc_or_response, "status_code", None)


def _ksa_exceptions():
    """keystoneauth1's exceptions module, once anything has imported it (an error of keystoneauth
    implies it has), else None."""
    return sys.modules.get("keystoneauth1.exceptions")


def is_keystoneauth_error(exc):
    """Whether ``exc`` is one of keystoneauth's own errors (connection refused, timed out, HTTP)."""
    ksa_exceptions = _ksa_exceptions()
    return ksa_exceptions is not None and isinstance(exc, ksa_exceptions.ClientException)


def _never_sent(exc):
    ksa_exceptions = _ksa_exceptions()
    return (ksa_exceptions is not None and isinstance(exc, ksa_exceptions.ConnectFailure)
            and bool(_NEVER_SENT.search(str(exc))))


def _transient(exc):
    ksa_exceptions = _ksa_exceptions()
    if ksa_exceptions is None:
        return False
    return isinstance(exc, (ksa_exceptions.ConnectFailure, ksa_exceptions.ConnectTimeout)) or (
        isinstance(exc, ksa_exceptions.HttpError) and _status(exc) in RETRIED_STATUS)


def decide(method, url, outcome, repeatable=True):
    """'done', 'retry' or 'unsafe' for one attempt's outcome (a response or an exception).
    ``repeatable`` is False for a request whose body is a stream (an image file): the first attempt
    consumed it, so a second one would send an empty body."""
    verdict = _decide(method, url, outcome)
    return "unsafe" if verdict == "retry" and not repeatable else verdict


def _decide(method, url, outcome):
    method = (method or "GET").upper()
    safe = method in SAFE_METHODS or (method == "POST" and bool(_TOKEN_REQUEST.search(_path(url).split("?")[0])))
    if isinstance(outcome, Exception):
        if not _transient(outcome):
            return "done"
        return "retry" if safe or _never_sent(outcome) else "unsafe"
    if _status(outcome) in RETRIED_STATUS:
        return "retry" if safe else "unsafe"
    return "done"


def install(session, backoff=BACKOFF, sleep=time.sleep):
    """Wrap ``session.request`` (a keystoneauth Session) with the retry policy; returns the session."""
    if getattr(session, "_scs_kaas_retry", False):
        return session
    original = session.request

    def request(url, method, *args, **kwargs):
        delays = list(backoff)
        while True:
            try:
                outcome = original(url, method, *args, **kwargs)
            except Exception as exc:  # pylint: disable=broad-except  # sorted by decide()
                outcome = exc
            verdict = decide(method, url, outcome, repeatable=not hasattr(kwargs.get("data"), "read"))
            if verdict == "retry" and delays:
                sleep(delays.pop(0))
                continue
            if verdict == "unsafe":
                service = (kwargs.get("endpoint_filter") or {}).get("service_type")
                raise UnsafeToRepeat(method, url, _describe(outcome), service)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

    session.request = request
    session._scs_kaas_retry = True
    return session


def _describe(outcome):
    status = _status(outcome)
    if status:
        return "HTTP %s" % status
    return "%s: %s" % (type(outcome).__name__, str(outcome).split("\n", 1)[0][:200])
