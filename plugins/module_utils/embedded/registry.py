# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The components of the embedded management cluster, one record each.

A record says everything the runtime needs about one process: the Go wrapper module, package and
pin it is built from (``build.py`` builds it), its binary name, argv, extra environment, ports
(with the inventory keys of ``ports``), health probes, the webhook port the provider's CRD
conversion and admission webhooks point at, the provider it serves (a ``providers/catalog.py``
key: CRD sources, webhooks and the clusterctl inventory entry), what it needs before it may
start, its start timeout and the switch (``SWITCHES``) that turns it on, if it is not always
on. Adding a controller is one record here, its pins and its Go wrapper module under
``roles/management_cluster/files/embedded/go/``.

The build reads everything from here too: :data:`TOOLS` (binaries built but not run as
components), :data:`WRAPPER_MODULES` (version stamps and source edits of a wrapper module) and
:data:`CRD_ONLY_PROVIDERS` (catalog providers whose CRDs are installed without their controller).

``argv`` functions get the binary path and a :class:`Layout` (ports, PKI files, state paths).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.scs.kaas.plugins.module_utils import pins as _pins
from ansible_collections.scs.kaas.plugins.module_utils.embedded import pki as _pki
from ansible_collections.scs.kaas.plugins.module_utils.errors import EmbeddedError
from ansible_collections.scs.kaas.plugins.module_utils.providers import catalog as _catalog

# Port of the in-memory backend's debug server in CAPD (fixed in upstream code) and the first
# port it uses for workload clusters (one per cluster, counting up).
INMEMORY_DEBUG_PORT = 19000
INMEMORY_MIN_PORT = 20000
INMEMORY_RESERVED = (INMEMORY_MIN_PORT, INMEMORY_MIN_PORT + 999)

# CAPI feature gates the managers get. ClusterTopology is still alpha (off by default) in
# cluster-api v1.14 (feature/feature.go), and ClusterClass-based Clusters need it.
FEATURE_GATES = "ClusterTopology=true"

# kube-controller-manager controllers: CAPI deletion relies on owner-reference garbage
# collection, namespaces must be finalized, and service accounts get their tokens.
KCM_CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
)

# Milestone in ``requires``: namespaces, CRDs (established), webhook configurations and the
# clusterctl inventory are in place.
OBJECTS = "cluster-objects"


class Probe(object):
    """One health check: ``kind`` is http (plain), https (server verified against ``ca``; with
    the admin client certificate when ``client_cert``) or tls (handshake only)."""

    __slots__ = ("kind", "port_key", "path", "ca", "client_cert")

    def __init__(self, kind, port_key, path=None, ca=None, client_cert=False):
        self.kind, self.port_key, self.path, self.ca, self.client_cert = kind, port_key, path, ca, client_cert


class Binary(object):
    """What the build needs of a binary: ``name`` (also the binary's file name and its key in
    ``binaries``), the wrapper module (a directory under ``go/``), the package and the pin (the
    version of the wrapper's upstream module; the cache directory is named after it)."""

    __slots__ = ("name", "wrapper", "package", "pin")

    def __init__(self, name, wrapper, package, pin):
        self.name, self.wrapper, self.package, self.pin = name, wrapper, package, pin


class WrapperModule(object):
    """A wrapper module's version stamp (the upstream module whose release the binaries report,
    the packages its version variables live in) and the Go modules the build edits for it
    (keys of ``build.EDITS``). A wrapper module without an entry is built unstamped and unedited.

    ``stamp_packages`` get Kubernetes' variable names (gitVersion, ...); ``stamp_vars`` are other
    projects' ``(package.Variable, value)``, value one of ``version``, ``bare_version`` (no
    leading v), ``commit`` and ``short_commit`` (its first 7 hex digits). ``env`` (e.g. CGO_ENABLED), ``tags`` and ``extldflags`` change how
    its binaries are built; ``static_libraries`` are the Debian packages whose static libraries a
    cgo build links in (their versions are part of the cache key and the bill of materials)."""

    __slots__ = ("stamp_module", "stamp_packages", "edits", "stamp_vars", "env", "tags", "extldflags",
                 "static_libraries")

    def __init__(self, stamp_module=None, stamp_packages=(), edits=(), stamp_vars=(), env=None, tags=(),
                 extldflags=None, static_libraries=()):
        self.stamp_module, self.stamp_packages, self.edits = stamp_module, tuple(stamp_packages), tuple(edits)
        self.stamp_vars, self.env, self.tags = tuple(stamp_vars), dict(env or {}), tuple(tags)
        self.extldflags, self.static_libraries = extldflags, tuple(static_libraries)


class Component(Binary):
    """One process of the embedded cluster (see the module docstring)."""

    __slots__ = ("ports", "fixed_ports", "argv", "env", "state_env", "probes", "webhook_port", "provider", "requires",
                 "timeout", "switch")

    def __init__(self, name, wrapper, package, pin, ports, argv, probes, requires, timeout,
                 env=None, fixed_ports=(), webhook_port=None, provider=None, switch=None, state_env=()):
        super(Component, self).__init__(name, wrapper, package, pin)
        self.ports = tuple(ports)  # (purpose, key in ``ports``, default)
        self.fixed_ports = tuple(fixed_ports)  # (purpose, port) set in upstream code
        self.argv, self.env, self.probes = argv, dict(env or {}), tuple(probes)
        # (variable, path relative to the state directory): files a process writes stay in it.
        self.state_env = tuple(state_env)
        self.webhook_port, self.provider = webhook_port, provider
        self.requires, self.timeout = tuple(requires), timeout
        self.switch = switch  # None: always on; else a key of SWITCHES


class Layout(object):
    """What argv builders and probes read: validated ports, PKI file paths, state paths."""

    def __init__(self, ports, pki, paths):
        self.ports, self.pki, self.paths = ports, pki, paths


def _etcd_argv(binary, lay):
    # The wrapper binds 127.0.0.1 only; plain HTTP on loopback (single member).
    return [binary, "--name=embedded", "--data-dir=%s" % lay.paths["etcd"],
            "--client-port=%d" % lay.ports["etcd_client"], "--peer-port=%d" % lay.ports["etcd_peer"],
            "--log-level=warn"]


def _apiserver_argv(binary, lay):
    pk = lay.pki
    return [
        binary,
        "--etcd-servers=http://127.0.0.1:%d" % lay.ports["etcd_client"],
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        "--secure-port=%d" % lay.ports["kube_apiserver"],
        "--tls-cert-file=%s" % pk["apiserver_crt"],
        "--tls-private-key-file=%s" % pk["apiserver_key"],
        "--client-ca-file=%s" % pk["ca_crt"],
        "--anonymous-auth=false",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file=%s" % pk["sa_pub"],
        "--service-account-signing-key-file=%s" % pk["sa_key"],
        "--service-cluster-ip-range=%s" % _pki.SERVICE_CIDR,
        # The apiserver would otherwise publish 127.0.0.1 as the endpoint of the
        # `kubernetes` Service, which endpoint validation rejects (loopback).
        "--endpoint-reconciler-type=none",
        "--audit-policy-file=%s" % lay.paths["audit_policy"],
        "--audit-log-path=%s" % lay.paths["audit_log"],
        "--audit-log-format=json",
        "--audit-log-mode=blocking",
        "--audit-log-maxsize=1000",
        "--audit-log-maxbackup=2",
        "--profiling=false",
        "--event-ttl=1h",
    ]


def _kcm_argv(binary, lay):
    pk, kubeconfig = lay.pki, lay.paths["kubeconfig"]
    return [
        binary,
        "--kubeconfig=%s" % kubeconfig,
        "--authentication-kubeconfig=%s" % kubeconfig,
        "--authorization-kubeconfig=%s" % kubeconfig,
        "--bind-address=127.0.0.1",
        "--secure-port=%d" % lay.ports["kube_controller_manager"],
        "--tls-cert-file=%s" % pk["kcm_crt"],
        "--tls-private-key-file=%s" % pk["kcm_key"],
        "--controllers=%s" % ",".join(KCM_CONTROLLERS),
        "--service-account-private-key-file=%s" % pk["sa_key"],
        "--root-ca-file=%s" % pk["ca_crt"],
        "--use-service-account-credentials=false",
        "--leader-elect=false",
        "--profiling=false",
    ]


def _manager_argv(prefix, feature_gates=FEATURE_GATES):
    """argv of a controller-runtime manager built on cluster-api's ``util/flags`` (the flags of the
    CAPI mains and of CAPO's ``main.go``)."""
    def argv(binary, lay):
        return [
            binary,
            "--kubeconfig=%s" % lay.paths["kubeconfig"],
            "--leader-elect=false",
            "--webhook-port=%d" % lay.ports["%s_webhook" % prefix],
            "--webhook-cert-dir=%s" % lay.pki["webhook_dir"],
            "--health-addr=127.0.0.1:%d" % lay.ports["%s_health" % prefix],
            "--diagnostics-address=127.0.0.1:%d" % lay.ports["%s_diagnostics" % prefix],
            "--insecure-diagnostics",
        ] + (["--feature-gates=%s" % feature_gates] if feature_gates else [])
    return argv


def _manager(name, prefix, package, provider, first_port, env=None, fixed_ports=(), wrapper="cluster-api",
             pin=_pins.CLUSTER_API_VERSION, feature_gates=FEATURE_GATES, switch=None, state_env=()):
    """Record of a manager with CAPI's flags: webhook, health and diagnostics ports, readyz +
    webhook TLS probes."""
    return Component(
        name, wrapper, package, pin,
        ports=[("webhook", "%s_webhook" % prefix, first_port),
               ("health", "%s_health" % prefix, first_port + 10),
               ("diagnostics", "%s_diagnostics" % prefix, first_port + 20)],
        argv=_manager_argv(prefix, feature_gates),
        probes=[Probe("http", "%s_health" % prefix, "/readyz"),
                Probe("tls", "%s_webhook" % prefix, ca="webhook_ca_crt")],
        requires=("kube-apiserver", OBJECTS), timeout=180, env=env, fixed_ports=fixed_ports,
        webhook_port="%s_webhook" % prefix, provider=provider, switch=switch, state_env=state_env)


def _orc_argv(binary, lay):
    # ORC's cmd/manager: no webhooks; metrics stay off (its default "0").
    return [binary, "--kubeconfig=%s" % lay.paths["kubeconfig"], "--leader-elect=false",
            "--health-probe-bind-address=127.0.0.1:%d" % lay.ports["orc_health"],
            "--metrics-bind-address=0"]


# Components that are off unless their switch is given (``components(switches)``): switch ->
# what it turns on, for messages and docs.
SWITCHES = {
    "openstack": "the Cluster API provider OpenStack (CAPO) and the OpenStack Resource Controller (ORC)",
    "addons": "the Cluster API add-on provider Helm (CAAPH), which installs the workload clusters' add-ons",
}

# Helm's cache, configuration and data directories of CAAPH (charts it downloads, repository
# indexes): in the state directory, not in the home directory of whoever started the cluster.
HELM_STATE_ENV = (("HELM_CACHE_HOME", "helm/cache"), ("HELM_CONFIG_HOME", "helm/config"),
                  ("HELM_DATA_HOME", "helm/data"))


# Start order; defaults stay clear of k3s/kubeadm (6443, 2379/2380, 10250-10259),
# controller-runtime (8443, 9440, 9443) and the in-memory backend (19000, 20000+).
# Timeouts: seconds before ``timeout_scale``, about 3x what was seen on 2 cores.
REGISTRY = (
    Component("etcd", "etcd", ".", _pins.ETCD_VERSION,
              ports=[("client", "etcd_client", 16379), ("peer", "etcd_peer", 16380)],
              argv=_etcd_argv, probes=[Probe("http", "etcd_client", "/health")], requires=(), timeout=45),
    Component("kube-apiserver", "kubernetes", "k8s.io/kubernetes/cmd/kube-apiserver",
              _pins.KUBERNETES_MANAGEMENT_VERSION, ports=[("secure", "kube_apiserver", 16443)],
              argv=_apiserver_argv, probes=[Probe("https", "kube_apiserver", "/readyz", "ca_crt", True)],
              # Started together with etcd: it keeps retrying etcd (its readyz has an etcd check)
              # and needs seconds of its own initialisation first.
              requires=(), timeout=150),
    Component("kube-controller-manager", "kubernetes", "k8s.io/kubernetes/cmd/kube-controller-manager",
              _pins.KUBERNETES_MANAGEMENT_VERSION, ports=[("secure", "kube_controller_manager", 16257)],
              argv=_kcm_argv, probes=[Probe("https", "kube_controller_manager", "/healthz", "ca_crt")],
              requires=("kube-apiserver",), timeout=90),
    _manager("capi-manager", "capi", "sigs.k8s.io/cluster-api/core", "core", 16501),
    _manager("kubeadm-bootstrap-manager", "bootstrap", "sigs.k8s.io/cluster-api/bootstrap/kubeadm",
             "bootstrap-kubeadm", 16502),
    _manager("kubeadm-control-plane-manager", "controlplane", "sigs.k8s.io/cluster-api/controlplane/kubeadm",
             "control-plane-kubeadm", 16503),
    # POD_IP: the advertised endpoint of every in-memory workload cluster.
    _manager("capd-manager", "capd", "sigs.k8s.io/cluster-api/test/infrastructure/docker",
             "infrastructure-docker", 16504,
             env={"POD_IP": "127.0.0.1"}, fixed_ports=[("inmemory-debug", INMEMORY_DEBUG_PORT)]),
    # CAPO implements the v1beta1 contract; its feature gates are its own (none needed here).
    _manager("capo-manager", "capo", "sigs.k8s.io/cluster-api-provider-openstack", "infrastructure-openstack",
             16505, wrapper="capo", pin=_pins.CAPO_VERSION, feature_gates=None, switch="openstack"),
    Component("orc-manager", "orc", "github.com/k-orc/openstack-resource-controller/v2/cmd/manager",
              _pins.ORC_VERSION, ports=[("health", "orc_health", 16516)], argv=_orc_argv,
              probes=[Probe("http", "orc_health", "/readyz")], requires=("kube-apiserver", OBJECTS),
              timeout=180, provider="orc", switch="openstack"),
    # CAAPH takes cluster-api's manager flags and has no feature gates of its own.
    _manager("caaph-manager", "caaph", "sigs.k8s.io/cluster-api-addon-provider-helm", "addon-helm", 16507,
             wrapper="caaph", pin=_pins.CAAPH_VERSION, feature_gates=None, switch="addons",
             state_env=HELM_STATE_ENV),
)

# Built with the components, never run as one: the runtime writes the clusterctl inventory for
# clusterctl, and kubectl (its own wrapper module with the kubernetes wrapper's version: its extra
# dependencies would otherwise change the cache keys of kube-apiserver and kube-controller-manager).
TOOLS = (
    Binary("clusterctl", "cluster-api", "sigs.k8s.io/cluster-api/cmd/clusterctl", _pins.CLUSTER_API_VERSION),
    Binary("kubectl", "kubectl", "k8s.io/kubernetes/cmd/kubectl", _pins.KUBERNETES_MANAGEMENT_VERSION),
)

_KUBERNETES_STAMP = WrapperModule("k8s.io/kubernetes", ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"))
WRAPPER_MODULES = {
    "kubernetes": _KUBERNETES_STAMP,
    "kubectl": _KUBERNETES_STAMP,
    "cluster-api": WrapperModule("sigs.k8s.io/cluster-api", ("sigs.k8s.io/cluster-api/version",),
                                 edits=("sigs.k8s.io/controller-runtime", "sigs.k8s.io/cluster-api/test")),
    # CAPO's version package (version/version.go) has cluster-api's variable names.
    "capo": WrapperModule("sigs.k8s.io/cluster-api-provider-openstack", ("sigs.k8s.io/cluster-api-provider-openstack/version",),
                          edits=("sigs.k8s.io/controller-runtime",)),
    # CAAPH's version package has cluster-api's variable names too.
    "caaph": WrapperModule("sigs.k8s.io/cluster-api-addon-provider-helm",
                           ("sigs.k8s.io/cluster-api-addon-provider-helm/version",),
                           edits=("sigs.k8s.io/controller-runtime",)),
}

# Catalog providers whose CRDs the embedded cluster installs although their controller does not
# run here (workload specs for them are validated against the real schema), with the wrapper
# module that pins their Go module. A record serving the provider and switched on replaces the
# entry.
CRD_ONLY_PROVIDERS = {"infrastructure-openstack": "capo"}

BY_NAME = dict((c.name, c) for c in REGISTRY)
BINARIES = REGISTRY + TOOLS
# Every component, in start order (stop and status look at all of them).
COMPONENTS = tuple(c.name for c in REGISTRY)
MANAGERS = tuple(c.name for c in REGISTRY if OBJECTS in c.requires)
DEFAULT_PORTS = dict((key, default) for c in REGISTRY for _purpose, key, default in c.ports)


def wrapper_module(name):
    return WRAPPER_MODULES.get(name) or WrapperModule()


def validate_switches(switches, var_name="switches"):
    """The sorted, distinct switches of ``switches`` (a list); EmbeddedError names a bad one."""
    if switches is None:
        return []
    if isinstance(switches, str) or not isinstance(switches, (list, tuple)):
        raise EmbeddedError("%s: %r is not a list; valid items: %s" % (var_name, switches, ", ".join(sorted(SWITCHES))))
    for item in switches:
        if item not in SWITCHES:
            raise EmbeddedError("%s: unknown item %r; valid items: %s (%s)" % (
                var_name, item, ", ".join(sorted(SWITCHES)),
                "; ".join("%s: %s" % (k, v) for k, v in sorted(SWITCHES.items()))))
    return sorted(set(switches))


def components(switches=()):
    """Names of the components that run with ``switches`` on, in start order."""
    return tuple(c.name for c in REGISTRY if c.switch is None or c.switch in switches)


def _selected(names):
    """``names`` in start order; None: the components that run by default (no switch on)."""
    return components() if names is None else tuple(c.name for c in REGISTRY if c.name in names)


def embedded_providers(names=None):
    """``[(catalog key, manager component or None, wrapper module)]``: the providers whose CRDs
    the embedded cluster installs when the components ``names`` (default: the default ones) run, served ones
    in start order first."""
    served = [(c.provider, c.name, c.wrapper) for c in REGISTRY if c.provider and c.name in _selected(names)]
    taken = set(key for key, _manager, _wrapper in served)
    return served + [(key, None, wrapper) for key, wrapper in sorted(CRD_ONLY_PROVIDERS.items()) if key not in taken]


def module_dirs(names=None):
    """``{name: (wrapper module, Go module)}``: the module directories the embedded cluster reads
    its providers' ``config/`` from (``module_dirs`` of the build) when the components ``names``
    (default: the default ones) run, named by the catalog."""
    out = {}
    for key, _manager, wrapper in embedded_providers(names):
        entry = _catalog.CATALOG[key]
        out[entry["module_dir"]] = (wrapper, entry["module"])
    # clusterctl's inventory CRD comes with the core module.
    core = _catalog.CATALOG["core"]
    out.setdefault(core["module_dir"], (BY_NAME["capi-manager"].wrapper, core["module"]))
    return out


def component_ports(name, ports):
    """Ports of one component: list of (purpose, port)."""
    record = BY_NAME[name]
    return [(purpose, ports[key]) for purpose, key, _default in record.ports] + list(record.fixed_ports)


def webhook_ports(ports):
    """Manager component -> the port its webhook server listens on."""
    return dict((c.name, ports[c.webhook_port]) for c in REGISTRY if c.webhook_port)


# Components that drive a Docker engine: the development provider's docker backend.
DOCKER_HOST_COMPONENTS = ("capd-manager",)


def validate_docker_host(value, var_name="docker_host"):
    """``value`` (a DOCKER_HOST: ``unix:///path`` or ``tcp://host:port``), "" or None; else an error."""
    if value in (None, ""):
        return value
    if not isinstance(value, str) or not (
            (value.startswith("unix:///") and len(value) > len("unix:///")) or
            (value.startswith("tcp://") and len(value) > len("tcp://"))):
        raise EmbeddedError("%s: %r is not a Docker engine address; valid: unix:///path/to/docker.sock or "
                            "tcp://host:port" % (var_name, value))
    return value


def environment(name, kubeconfig, state_dir=None):
    """The environment of component ``name``: a minimal one, its ``env`` and, with ``state_dir``, its
    ``state_env`` paths."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "KUBECONFIG": kubeconfig,
        "NO_PROXY": "127.0.0.1,localhost,::1",
        "no_proxy": "127.0.0.1,localhost,::1",
    }
    env.update(BY_NAME[name].env)
    if state_dir:
        env.update((variable, os.path.join(state_dir, relative)) for variable, relative in BY_NAME[name].state_env)
    return env


def start_levels(names=None):
    """Components ``names`` (default: the default ones) and the ``OBJECTS`` milestone grouped by
    dependency depth, in start order."""
    depth = {}

    def level(name):
        if name not in depth:
            requires = BY_NAME[name].requires if name in BY_NAME else ("kube-apiserver",)
            depth[name] = 1 + max([level(r) for r in requires] or [-1])
        return depth[name]

    names = list(_selected(names)) + [OBJECTS]
    levels = [[] for _dummy in range(max(level(n) for n in names) + 1)]
    for name in names:
        levels[depth[name]].append(name)
    return levels


def validate_ports(ports, var_name="ports"):
    """Merge ``ports`` over the defaults and validate; raise EmbeddedError naming the bad key."""
    merged = dict(DEFAULT_PORTS)
    for key, value in (ports or {}).items():
        if key not in DEFAULT_PORTS:
            raise EmbeddedError(
                "%s: unknown key %r; valid keys: %s" % (var_name, key, ", ".join(sorted(DEFAULT_PORTS)))
            )
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise EmbeddedError("%s.%s: %r is not a port number (1-65535)" % (var_name, key, value))
        if isinstance(value, bool) or not 1 <= number <= 65535:
            raise EmbeddedError("%s.%s: %r is not a port number (1-65535)" % (var_name, key, value))
        merged[key] = number
    seen = {}
    given = set((ports or {}).keys())
    # Defaults first, so a collision is reported on the key the caller set.
    for key in sorted(merged, key=lambda k: (k in given, k)):
        port = merged[key]
        if port == INMEMORY_DEBUG_PORT or INMEMORY_RESERVED[0] <= port <= INMEMORY_RESERVED[1]:
            raise EmbeddedError(
                "%s.%s: %d is reserved for the in-memory backend of CAPD (%d and %d-%d); choose another port"
                % (var_name, key, port, INMEMORY_DEBUG_PORT, INMEMORY_RESERVED[0], INMEMORY_RESERVED[1])
            )
        if port in seen:
            raise EmbeddedError(
                "%s.%s: port %d is also used for %s.%s; every port must be distinct"
                % (var_name, key, port, var_name, seen[port])
            )
        seen[port] = key
    return merged
