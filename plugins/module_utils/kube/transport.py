# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""HTTP transport of the kube client: a kubeconfig read into one urllib3 pool.

Importing the ``kubernetes`` package costs about half a second, because its ``__init__`` loads
every generated API and model class; a module run that reconciles a fleet in two seconds cannot
carry that. What the client needs from a kubeconfig for the management clusters this collection
makes or meets (embedded, k3s, kind, an operator's file) is the server, its CA, a client
certificate or a bearer token, and maybe a proxy: :func:`load` reads exactly that. A user entry
this reader does not take apart (an ``exec`` credential plugin, an ``auth-provider``, basic
auth) or a ``KUBECONFIG`` list of files to merge is handed to the kubernetes package's own
loader, which then runs in this process only, and whose token hook is called before every request
(exec tokens expire).

Client certificates and keys given as data are written to a private temporary directory only
for as long as ``ssl`` needs to load them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import shutil
import ssl
import tempfile

try:
    from urllib.parse import urlencode, urlsplit
    from urllib.request import getproxies, proxy_bypass_environment
except ImportError:  # pragma: no cover - Python 2 is not supported, keeps sanity happy
    from urllib import urlencode, getproxies, proxy_bypass_environment
    from urlparse import urlsplit

from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError

try:
    import urllib3
    import yaml
    HAS_TRANSPORT_LIBS = True
except ImportError:
    HAS_TRANSPORT_LIBS = False

DEFAULT_KUBECONFIG = "~/.kube/config"
# User entries this reader understands; any other key hands the file to the kubernetes package.
_SIMPLE_USER_KEYS = {"token", "tokenFile", "client-certificate", "client-certificate-data", "client-key",
                     "client-key-data", "extensions"}


class KubeconfigError(KaasError):
    """The kubeconfig is missing, unreadable or does not name a usable context."""


class Connection(object):
    """What one request needs: the server, TLS material, credentials and a proxy."""

    def __init__(self, server, ca_file=None, ca_data=None, cert_file=None, cert_data=None, key_file=None,
                 key_data=None, token=None, insecure=False, tls_server_name=None, proxy_url=None,
                 token_hook=None, basic_auth=None):
        self.server = server.rstrip("/")
        self.ca_file, self.ca_data = ca_file, ca_data
        self.cert_file, self.cert_data = cert_file, cert_data
        self.key_file, self.key_data = key_file, key_data
        self.token = token
        self.insecure = insecure
        self.tls_server_name = tls_server_name
        self.proxy_url = proxy_url
        # Called before each request with no argument; returns the bearer token to send.
        self.token_hook = token_hook
        self.basic_auth = basic_auth  # the whole Authorization header of a user with a password


def _decode(value, what):
    try:
        return base64.b64decode(value).decode("utf-8") if value else None
    except (ValueError, TypeError) as exc:
        raise KubeconfigError("%s is not valid base64: %s" % (what, exc))


def _named(entries, name, what, path):
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry.get(what) or {}
    raise KubeconfigError("kubeconfig %s has no %s named %r" % (path, what, name))


def kubeconfig_path(kubeconfig=None):
    """The file to read: the argument, else $KUBECONFIG, else ~/.kube/config (None: a list to merge)."""
    path = kubeconfig or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    if not kubeconfig and os.pathsep in path:
        return None
    return os.path.expanduser(path)


def read_config(path, context=None):
    """(cluster, user) entries of ``context`` (or the current one) in the kubeconfig at ``path``."""
    try:
        with open(path) as handle:
            config = yaml.safe_load(handle) or {}
    except (IOError, OSError) as exc:
        raise KubeconfigError("cannot read kubeconfig %s: %s" % (path, exc))
    except yaml.YAMLError as exc:
        raise KubeconfigError("kubeconfig %s is not valid YAML: %s" % (path, exc))
    if not isinstance(config, dict):
        raise KubeconfigError("kubeconfig %s is not a mapping" % path)
    name = context or config.get("current-context")
    if not name:
        raise KubeconfigError("kubeconfig %s has no current-context and no context was given" % path)
    entry = _named(config.get("contexts"), name, "context", path)
    cluster = _named(config.get("clusters"), entry.get("cluster"), "cluster", path)
    user = _named(config.get("users"), entry.get("user"), "user", path) if entry.get("user") else {}
    return cluster, user


def simple_connection(path, context=None):
    """The Connection of ``context`` in the file at ``path``, or None when its user needs the
    kubernetes package (exec plugin, auth provider, basic auth)."""
    cluster, user = read_config(path, context)
    if set(user) - _SIMPLE_USER_KEYS:
        return None
    if not cluster.get("server"):
        raise KubeconfigError("cluster of kubeconfig %s has no server" % path)
    base = os.path.dirname(os.path.abspath(path))

    def relative(value):
        return os.path.join(base, os.path.expanduser(value)) if value else None

    token = user.get("token")
    if not token and user.get("tokenFile"):
        with open(relative(user["tokenFile"])) as handle:
            token = handle.read().strip()
    return Connection(
        cluster["server"], ca_file=relative(cluster.get("certificate-authority")),
        ca_data=_decode(cluster.get("certificate-authority-data"), "certificate-authority-data"),
        cert_file=relative(user.get("client-certificate")),
        cert_data=_decode(user.get("client-certificate-data"), "client-certificate-data"),
        key_file=relative(user.get("client-key")), key_data=_decode(user.get("client-key-data"), "client-key-data"),
        token=token, insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name"), proxy_url=cluster.get("proxy-url"))


def package_connection(kubeconfig=None, context=None):
    """The Connection the kubernetes package's loader makes (exec plugins, auth providers, merged files)."""
    try:
        from kubernetes import client as k8s_client
        from kubernetes import config as k8s_config
    except ImportError:
        raise KubeconfigError("this kubeconfig needs the kubernetes Python package (pip install kubernetes): its "
                              "user entry runs a credential plugin or provider, or KUBECONFIG lists several files")
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration,
                                    persist_config=False)
    except Exception as exc:  # the package raises ConfigException and plain errors alike
        raise KubeconfigError("cannot load kubeconfig %s: %s" % (kubeconfig or "(default)", exc))

    def token():
        if configuration.refresh_api_key_hook is not None:
            configuration.refresh_api_key_hook(configuration)
        keys = configuration.api_key or {}
        value = keys.get("BearerToken") or keys.get("authorization") or ""
        return value[len("Bearer "):] if value.startswith("Bearer ") else (value or None)

    return Connection(configuration.host, ca_file=configuration.ssl_ca_cert, cert_file=configuration.cert_file,
                      key_file=configuration.key_file, insecure=not configuration.verify_ssl,
                      tls_server_name=getattr(configuration, "tls_server_name", None),
                      proxy_url=getattr(configuration, "proxy", None), token_hook=token,
                      basic_auth=configuration.get_basic_auth_token() if configuration.username else None)


def connection(kubeconfig=None, context=None):
    path = kubeconfig_path(kubeconfig)
    if path is not None:
        if not os.path.exists(path):
            raise KubeconfigError("kubeconfig %s does not exist" % path)
        found = simple_connection(path, context)
        if found is not None:
            return found
    return package_connection(kubeconfig, context)


def ssl_context(conn):
    context = ssl.create_default_context()
    if conn.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif conn.ca_file or conn.ca_data:
        context = ssl.create_default_context(cafile=conn.ca_file, cadata=conn.ca_data)
    if conn.cert_file or conn.cert_data:
        private = tempfile.mkdtemp(prefix="scs-kaas-tls-")  # mode 0700
        try:
            cert, key = conn.cert_file, conn.key_file
            for attr, data in (("cert", conn.cert_data), ("key", conn.key_data)):
                if data:
                    target = os.path.join(private, attr)
                    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
                        handle.write(data)
                    cert, key = (target, key) if attr == "cert" else (cert, target)
            context.load_cert_chain(cert, key)
        finally:
            shutil.rmtree(private, ignore_errors=True)
    return context


def _proxy_for(conn):
    if conn.proxy_url:
        return conn.proxy_url
    proxies = getproxies()
    parts = urlsplit(conn.server)
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and not proxy_bypass_environment(parts.hostname or "", proxies):
        return proxy
    return None


class Transport(object):
    """One urllib3 pool to the server of a Connection; thread safe like urllib3's pools."""

    def __init__(self, conn, user_agent, pool_size, retries):
        self.conn = conn
        self.server = conn.server
        self.headers = {"User-Agent": user_agent}
        if conn.basic_auth:
            self.headers["Authorization"] = conn.basic_auth
        options = {"maxsize": pool_size, "retries": retries, "block": False}
        if conn.server.startswith("https"):
            options["ssl_context"] = ssl_context(conn)
            if conn.tls_server_name:
                options["server_hostname"] = conn.tls_server_name
                options["assert_hostname"] = conn.tls_server_name
        proxy = _proxy_for(conn)
        if proxy:
            self.pool = urllib3.ProxyManager(proxy, **options)
        else:
            self.pool = urllib3.PoolManager(**options)

    def close(self):
        self.pool.clear()

    def headers_for(self, accept, content_type=None):
        headers = dict(self.headers, Accept=accept)
        token = self.conn.token_hook() if self.conn.token_hook else self.conn.token
        if token:
            headers["Authorization"] = "Bearer %s" % token
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def url(self, path, query=None):
        pairs = [(k, v) for k, v in (query or {}).items() if v is not None]
        return self.server + path + ("?" + urlencode(pairs) if pairs else "")

    def request(self, method, path, query=None, body=None, content_type=None, accept=None, timeout=60,
                stream=False):
        """The urllib3 response (its body read, unless ``stream``); raises urllib3's errors."""
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = self.headers_for(accept or "application/json", content_type if body is not None else None)
        if isinstance(timeout, tuple):
            timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        return self.pool.request(method, self.url(path, query), body=body, headers=headers, timeout=timeout,
                                 preload_content=not stream)


def watch_events(response):
    """Decoded events of a watch response, one JSON document per line."""
    pending = b""
    for chunk in response.stream(4096, decode_content=True):
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)
    if pending.strip():
        yield json.loads(pending)
