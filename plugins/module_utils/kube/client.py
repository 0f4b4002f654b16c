# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""A thin client for the management cluster over urllib3 (transport.py reads the kubeconfig).

Why not DynamicClient: it runs API discovery (dozens of requests, or a cache file) before the
first call. The kinds this collection touches are known, so their paths come from a table;
anything else (e.g. the infrastructure kind a Cluster refers to) is looked up with a targeted
discovery of one API group, cached per client.

Identity: every request carries the user agent ``scs.kaas/<collection version>`` and every
apply the field manager ``scs.kaas`` (see docs/architecture.md); the embedded management cluster
passes its own (``scs.kaas-embedded``). Requests answered 429 or 503 (e.g. a new CRD's storage
still initializing) are retried by urllib3 through the pool's ``retries`` setting. The kubernetes
package is loaded only for a kubeconfig whose credentials it must produce (transport.py).

A restart of the API server in the middle of a run (an upgrade of the management cluster, a crash)
is ridden out: once the server has answered this client, a request that could not connect, or a
safe-to-repeat one (GET, DELETE, server-side apply) whose connection broke, is sent again with
backoff for up to ``reconnect_timeout`` seconds. A server that never answered fails at once (a
wrong kubeconfig should not cost a minute).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import json
import ssl
import threading
import time

from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2 is not supported, keeps sanity happy
    from urllib import quote

from ansible_collections.scs.kaas.plugins.module_utils.kube import transport as _transport

# The kubernetes package is loaded only for kubeconfigs the transport hands to it (transport.py);
# modules still require it, so a missing package is reported before anything is sent.
KUBERNETES_IMP_ERR = None
try:
    HAS_KUBERNETES = importlib.util.find_spec("kubernetes") is not None and _transport.HAS_TRANSPORT_LIBS
except ValueError:  # a half-imported kubernetes in sys.modules
    HAS_KUBERNETES = True
if not HAS_KUBERNETES:
    KUBERNETES_IMP_ERR = "No module named 'kubernetes'"
try:
    from urllib3.exceptions import HTTPError as TransportError, NewConnectionError, ProtocolError
    from urllib3.util.retry import Retry
except ImportError:
    import traceback
    KUBERNETES_IMP_ERR = traceback.format_exc()
    HAS_KUBERNETES = False

# The only copy of galaxy.yml's ``version`` (modules run without galaxy.yml at hand);
# tests/tooling/test_collection_version.py fails when the two disagree.
COLLECTION_VERSION = "1.0.0"
USER_AGENT = "scs.kaas/%s" % COLLECTION_VERSION
FIELD_MANAGER = "scs.kaas"

# (apiGroup, kind) -> (version, plural, namespaced)
KNOWN_RESOURCES = {
    ("", "Secret"): ("v1", "secrets", True),
    ("", "Namespace"): ("v1", "namespaces", False),
    ("", "ConfigMap"): ("v1", "configmaps", True),
    ("cluster.x-k8s.io", "Cluster"): ("v1beta2", "clusters", True),
    ("cluster.x-k8s.io", "ClusterClass"): ("v1beta2", "clusterclasses", True),
    ("cluster.x-k8s.io", "Machine"): ("v1beta2", "machines", True),
    ("cluster.x-k8s.io", "MachineSet"): ("v1beta2", "machinesets", True),
    ("cluster.x-k8s.io", "MachineDeployment"): ("v1beta2", "machinedeployments", True),
    ("cluster.x-k8s.io", "MachinePool"): ("v1beta2", "machinepools", True),
    ("cluster.x-k8s.io", "MachineHealthCheck"): ("v1beta2", "machinehealthchecks", True),
    ("controlplane.cluster.x-k8s.io", "KubeadmControlPlane"): ("v1beta2", "kubeadmcontrolplanes", True),
    ("bootstrap.cluster.x-k8s.io", "KubeadmConfig"): ("v1beta2", "kubeadmconfigs", True),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): ("v1", "customresourcedefinitions", False),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): ("v1", "mutatingwebhookconfigurations", False),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): ("v1", "validatingwebhookconfigurations", False),
    ("clusterctl.cluster.x-k8s.io", "Provider"): ("v1alpha3", "providers", True),
    ("addons.cluster.x-k8s.io", "HelmChartProxy"): ("v1alpha1", "helmchartproxies", True),
    ("addons.cluster.x-k8s.io", "HelmReleaseProxy"): ("v1alpha1", "helmreleaseproxies", True),
}
# Accept header of a metadata-only LIST (names, labels, generation: no multi-MB CRD bodies).
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


def retry_policy(total=8, backoff=0.1):
    """urllib3 retries of 429 and 503 answers, for every method (server-side apply is idempotent).

    Backoff 0, 0.2, 0.4 ... s (about 25 s in all). The server's Retry-After (1 s) is not waited
    for: a custom resource's storage that is still initialising is usually ready well before.
    """
    return Retry(total=total, connect=0, read=0, status=total, backoff_factor=backoff,
                 status_forcelist=(429, 503), allowed_methods=None, raise_on_status=False,
                 respect_retry_after_header=False)


class KubeError(KaasError):
    """An API error with the HTTP status, the API reason and the server's message."""

    def __init__(self, status, reason, message, details=None):
        super(KubeError, self).__init__("%s %s: %s" % (status, reason, message))
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or {}

    def __str__(self):
        # ``details`` is the API's status details here, not a diagnostics text to append.
        return Exception.__str__(self)


class Resource(object):
    __slots__ = ("group", "version", "kind", "plural", "namespaced")

    def __init__(self, group, version, kind, plural, namespaced):
        self.group, self.version, self.kind = group, version, kind
        self.plural, self.namespaced = plural, namespaced

    @property
    def api_version(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    def path(self, namespace=None, name=None):
        base = "/apis/%s/%s" % (self.group, self.version) if self.group else "/api/%s" % self.version
        if self.namespaced and namespace:
            base += "/namespaces/%s" % quote(namespace, safe="")
        base += "/" + self.plural
        if name:
            base += "/" + quote(name, safe="")
        return base


def split_api_version(api_version):
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


APPLY_PATCH = "application/apply-patch+yaml"


def _never_connected(exc):
    """The request never reached the server (refused, or the socket could not be opened)."""
    reason = getattr(exc, "reason", None)
    return isinstance(exc, (NewConnectionError, ConnectionRefusedError)) or isinstance(reason, NewConnectionError)


def _broken_in_flight(exc):
    reason = getattr(exc, "reason", None)
    return isinstance(exc, (ProtocolError, ConnectionError)) or isinstance(reason, (ProtocolError, ConnectionError))


def _safe_to_repeat(method, content_type):
    return method in ("GET", "HEAD", "DELETE") or (method == "PATCH" and content_type == APPLY_PATCH)


class KubeClient(object):
    """Requests against one management cluster; safe to share between threads."""

    def __init__(self, kubeconfig=None, context=None, request_timeout=60, pool_size=32,
                 user_agent=USER_AGENT, field_manager=FIELD_MANAGER, reconnect_timeout=120):
        try:
            connection = _transport.connection(kubeconfig, context)
            self.transport = _transport.Transport(connection, user_agent, pool_size, retry_policy())
        except (IOError, OSError, ssl.SSLError) as exc:  # CA or client certificate files
            raise KubeError(0, "KubeconfigError", "cannot use kubeconfig %s: %s" % (kubeconfig or "(default)", exc))
        except _transport.KubeconfigError as exc:
            raise KubeError(0, "KubeconfigError", str(exc))
        self.field_manager = field_manager
        self.request_timeout = request_timeout
        self.reconnect_timeout = reconnect_timeout
        self._answered = False  # the server answered once: a refused connection now means a restart
        self._discovered = {}
        self._lock = threading.Lock()
        self.requests = 0  # number of requests sent (for tests and benchmarks)

    def close(self):
        try:
            self.transport.close()
        except Exception:  # pylint: disable=broad-except
            pass

    # -- low level -------------------------------------------------------------------------

    def request(self, method, path, query=None, body=None, content_type=None, timeout=None, accept=None):
        """Send one request; return the decoded JSON body; raise KubeError for non-2xx."""
        if body is not None and content_type and content_type != "application/json" \
                and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        deadline, delay = None, 0.2
        while True:
            with self._lock:
                self.requests += 1
            try:
                resp = self.transport.request(method, path, query=query, body=body,
                                              content_type=content_type or "application/json", accept=accept,
                                              timeout=timeout or self.request_timeout)
                break
            except Exception as exc:  # urllib3 errors: unreachable API server, TLS problems
                if not self._may_reconnect(exc, method, content_type):
                    raise KubeError(0, type(exc).__name__, str(exc))
                deadline = deadline or time.monotonic() + self.reconnect_timeout
                if time.monotonic() + delay > deadline:
                    raise KubeError(0, type(exc).__name__, "the API server did not answer again within %ss: %s"
                                    % (self.reconnect_timeout, exc))
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        self._answered = True
        data = resp.data
        try:
            decoded = json.loads(data) if data else {}
        except ValueError:
            decoded = {"message": data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)}
        if not 200 <= resp.status <= 299:
            raise KubeError(resp.status, decoded.get("reason") or resp.reason,
                            decoded.get("message") or str(decoded), decoded.get("details"))
        return decoded

    def _may_reconnect(self, exc, method, content_type):
        if not self._answered or self.reconnect_timeout <= 0:
            return False
        return _never_connected(exc) or (_broken_in_flight(exc) and _safe_to_repeat(method, content_type))

    def stream(self, path, query, timeout):
        """Open a streaming GET (a watch); returns the unread urllib3 response."""
        with self._lock:
            self.requests += 1
        resp = self.transport.request("GET", path, query=query, timeout=timeout, stream=True)
        if not 200 <= resp.status <= 299:
            data = resp.read()
            resp.release_conn()
            try:
                decoded = json.loads(data)
            except ValueError:
                decoded = {}
            raise KubeError(resp.status, decoded.get("reason") or resp.reason, decoded.get("message") or str(data))
        return resp

    # -- resources -------------------------------------------------------------------------

    def resource(self, api_version_or_group, kind):
        """Resource for ('cluster.x-k8s.io/v1beta2' or 'cluster.x-k8s.io', kind)."""
        if "/" in api_version_or_group or api_version_or_group == "v1":
            group, version = split_api_version(api_version_or_group)
        else:
            group, version = api_version_or_group, None
        known = KNOWN_RESOURCES.get((group, kind))
        if known and (version is None or version == known[0]):
            return Resource(group, known[0], kind, known[1], known[2])
        key = (group, version, kind)
        if key in self._discovered:
            return self._discovered[key]
        if version is None and (group, kind) in self._discovered:
            return self._discovered[(group, kind)]
        if version is None:
            # One group may serve its kinds at different versions (CAPD's infrastructure kinds at
            # v1beta2, CAPO's at v1beta1): the preferred version first, then the others.
            info = self.request("GET", "/apis/%s" % group)
            preferred = (info.get("preferredVersion") or {}).get("version")
            versions = [preferred] + [v.get("version") for v in info.get("versions") or [] if v.get("version") != preferred]
        else:
            versions = [version]
        for candidate in versions:
            path = "/apis/%s/%s" % (group, candidate) if group else "/api/%s" % candidate
            for res in self.request("GET", path).get("resources", []):
                if res.get("kind") == kind and "/" not in res.get("name", ""):
                    found = Resource(group, candidate, kind, res["name"], res.get("namespaced", True))
                    self._discovered[(group, candidate, kind)] = found
                    self._discovered.setdefault((group, kind), found)
                    return found
        raise KubeError(404, "NotFound", "kind %s is not served by API group %s (versions %s)"
                        % (kind, group, ", ".join(v for v in versions if v)))

    def get(self, resource, name, namespace=None):
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", resource.path(namespace, name))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, resource, namespace=None, label_selector=None, field_selector=None, metadata_only=False,
             resource_version=None):
        """LIST; ``metadata_only`` returns items with ``metadata`` only (PartialObjectMetadataList).

        ``resource_version="0"`` accepts any recent state the server has at hand (no consistent
        read, which right after an API server start can wait for its watch cache).
        """
        return self.request("GET", resource.path(namespace), query={
            "labelSelector": label_selector, "fieldSelector": field_selector, "resourceVersion": resource_version},
            accept=METADATA_LIST if metadata_only else None)

    def apply(self, obj, dry_run=False, force=False):
        """Server-side apply under this client's field manager; returns the resulting object.

        Without ``force`` a field another manager owns with a different value makes the server
        answer 409 (reason Conflict) and write nothing; ``force`` takes such fields over.
        """
        resource = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        query = {"fieldManager": self.field_manager, "force": "true" if force else None,
                 "dryRun": "All" if dry_run else None}
        return self.request("PATCH", resource.path(meta.get("namespace"), meta["name"]), query=query,
                            body=json.dumps(obj), content_type=APPLY_PATCH)

    def delete(self, resource, name, namespace=None, propagation="Background", dry_run=False):
        """Delete; returns False when the object was already gone."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        try:
            self.request("DELETE", resource.path(namespace, name), body=body,
                         query={"dryRun": "All" if dry_run else None})
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def watch(self, resource, namespace=None, name=None, label_selector=None, resource_version=None,
              timeout_seconds=60):
        """Generator of watch events ({'type', 'object'}) until the server ends the watch.

        The server ends it after ``timeout_seconds``; ERROR events (410 Gone and others) and a
        broken stream raise ``KubeError`` so callers can re-list and resume.
        """
        query = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "fieldSelector": "metadata.name=%s" % name if name else None,
            "labelSelector": label_selector,
            "resourceVersion": resource_version,
            "timeoutSeconds": str(int(max(1, timeout_seconds))),
        }
        try:
            resp = self.stream(resource.path(namespace), query, timeout=(10, timeout_seconds + 15))
        except TransportError as exc:  # could not open (API server restarting)
            raise KubeError(0, "WatchError", "%s: %s" % (type(exc).__name__, exc))
        try:
            for event in _transport.watch_events(resp):
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise KubeError(status.get("code") or 0, status.get("reason") or "WatchError",
                                    status.get("message") or json.dumps(status))
                yield {"type": event.get("type"), "object": event.get("object")}
        except (TransportError, ValueError) as exc:  # the stream broke, or a line was cut off
            raise KubeError(0, "WatchError", "%s: %s" % (type(exc).__name__, exc))
        finally:
            # a watch left before its end still has a body in flight: its connection is not reused
            resp.close()
            resp.release_conn()
