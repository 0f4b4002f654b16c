# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The workload cluster add-ons scs.kaas offers: the catalog :mod:`.proxies` turns into HelmChartProxies.

Pure data and helpers, stdlib only. Every version comes from ``pins.py``.

Each :data:`CATALOG` entry has exactly the keys :func:`proxies.check_catalog` reads (chart, version,
namespace, release_name, order, default_values, enabled_by_default) plus ``source``, where the chart
comes from. Helm repositories are not reachable from where the collection builds, the Go module proxy
is; so every chart is packaged (:func:`charts.package_chart`) from the source tree of a pinned Go module
whose h1 hash ``artifacts.GO_MODULES`` records::

    module         Go module holding the chart
    version        its version (tag)
    path           the chart directory inside the module
    chart_version  the chart version to package; equals the entry's ``version``
    app_version    appVersion to write into Chart.yaml (release templates say v0.0.0), None: keep the chart's

:func:`chart_source` returns that mapping, :func:`go_module_key` its ``GO_MODULES`` key and
:func:`module_h1` the hash a downloaded module directory must have (``artifacts.go_dirhash``).

Entries are listed in install order, which ``order`` also encodes (the gaps leave room for the OpenStack
cloud controller and Cinder CSI between the CNI and the rest). :data:`UNAVAILABLE` names add-ons that
could not be sourced, with the reason and the evidence.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.scs.kaas.plugins.module_utils import artifacts, pins
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError

CATALOG = {
    # The CNI first: until it runs, nodes stay NotReady and no other add-on's pods are scheduled.
    "cilium": {
        "chart": "cilium",
        "version": pins.CILIUM_CHART_VERSION,
        "namespace": "kube-system",
        "release_name": "cilium",
        "order": 10,
        "enabled_by_default": True,
        "default_values": {
            # Pod addresses from each node's spec.podCIDR, which kube-controller-manager cuts from the
            # Cluster's spec.clusterNetwork.pods (kubeadm's podSubnet). The chart's default,
            # cluster-pool, hands out 10.0.0.0/8 regardless of the Cluster and may overlap tenant networks.
            "ipam": {"mode": "kubernetes"},
            # VXLAN encapsulation (the chart's implicit default, spelled out): the OpenStack cluster
            # class opens 8472/udp between nodes (capi/class_openstack.py CILIUM_RULES), not Geneve's
            # 6081/udp, and native routing would need routes for pod CIDRs on the tenant router.
            "routingMode": "tunnel",
            "tunnelProtocol": "vxlan",
        },
        "source": {
            "module": "github.com/cilium/cilium",
            "version": pins.CILIUM_VERSION,
            # A released chart at the tag: values.yaml is already generated from values.yaml.tmpl
            # (which .helmignore leaves out, as it does README.md.gotmpl).
            "path": "install/kubernetes/cilium",
            "chart_version": pins.CILIUM_CHART_VERSION,
            "app_version": None,
        },
    },
    # Opt-in: only clusters that issue certificates need it, and its webhook is one more thing that can
    # block API requests.
    "cert_manager": {
        "chart": "cert-manager",
        "version": pins.CERT_MANAGER_ADDON_VERSION,
        "namespace": "cert-manager",
        "release_name": "cert-manager",
        "order": 40,
        "enabled_by_default": False,
        "default_values": {
            # The CRDs are templates of the chart (templates/crd-*.yaml, rendered when crds.enabled or
            # the deprecated installCRDs is true; setting both fails the render), so one release brings
            # everything. keep (the chart default, spelled out) leaves the CRDs, and with them every
            # Certificate and Issuer, in place when the add-on is switched off and the release uninstalled.
            "crds": {"enabled": True, "keep": True},
        },
        "source": {
            "module": "github.com/cert-manager/cert-manager",
            "version": pins.CERT_MANAGER_ADDON_VERSION,
            # A release template: Chart.yaml says v0.0.0/v0.0.0 and make/manifests.mk packages it with
            # --version=--app-version=<tag>; the image tags are ":" + .Chart.AppVersion, so the
            # appVersion must be the tag or the pods pull v0.0.0.
            "path": "deploy/charts/cert-manager",
            "chart_version": pins.CERT_MANAGER_ADDON_VERSION,
            "app_version": pins.CERT_MANAGER_ADDON_VERSION,
        },
    },
    "metrics_server": {
        "chart": "metrics-server",
        "version": pins.METRICS_SERVER_CHART_VERSION,
        "namespace": "kube-system",
        "release_name": "metrics-server",
        "order": 50,
        "enabled_by_default": True,
        "default_values": {
            # The chart's defaultArgs with one change: kubelets are reached at their InternalIP only, an
            # address a CSR-issued kubelet serving certificate names (no ExternalIP/Hostname fallback that
            # would fail verification or leave the tenant network). Replaced as a whole list: the flag is a
            # string slice, so a second one in ``args`` would be appended to the default, not replace it.
            # Not --kubelet-insecure-tls: it sends metrics-server's token to any endpoint answering there.
            # Caveat: kubeadm kubelets serve a self-signed certificate unless the cluster class sets
            # serverTLSBootstrap: true (KubeletConfiguration) and something approves their
            # kubernetes.io/kubelet-serving CSRs (kube-controller-manager does not); until then scrapes
            # fail TLS verification, and metrics-server stays unready (its readyz needs one stored scrape).
            "defaultArgs": [
                "--cert-dir=/tmp",
                "--kubelet-preferred-address-types=InternalIP",
                "--kubelet-use-node-status-port",
                "--metric-resolution=15s",
            ],
        },
        "source": {
            "module": "sigs.k8s.io/metrics-server",
            "version": pins.METRICS_SERVER_VERSION,
            # A released chart (its own version and appVersion 0.7.2, image v0.7.2: pins.py says why).
            "path": "charts/metrics-server",
            "chart_version": pins.METRICS_SERVER_CHART_VERSION,
            "app_version": None,
        },
    },
}

# Add-ons wanted but not sourced: name -> {"reason": ..., "evidence": ...}. Every wanted add-on was
# found on the module proxy (the versions it refuses are recorded in pins.py), so none is listed.
UNAVAILABLE = {}

SOURCE_KEYS = ("module", "version", "path", "chart_version", "app_version")


class CatalogError(KaasError):
    """An add-on the catalog does not hold, or whose source module has no recorded h1 hash."""


def _entry(name):
    if isinstance(name, str) and name in CATALOG:
        return CATALOG[name]
    hint = " (%s)" % UNAVAILABLE[name]["reason"] if isinstance(name, str) and name in UNAVAILABLE else ""
    raise CatalogError("unknown add-on %r%s; known add-ons: %s" % (name, hint, ", ".join(sorted(CATALOG))))


def chart_source(name):
    """Where the chart of add-on ``name`` comes from: a copy of its ``source`` mapping (:data:`SOURCE_KEYS`)."""
    return copy.deepcopy(_entry(name)["source"])


def go_module_key(name):
    """``module@version`` of the Go module holding the chart of ``name``, the key into ``artifacts.GO_MODULES``."""
    source = _entry(name)["source"]
    return "%s@%s" % (source["module"], source["version"])


def module_h1(name):
    """The h1 hash (Go checksum database) the downloaded module of ``name`` must have."""
    key = go_module_key(name)
    if key not in artifacts.GO_MODULES:
        raise CatalogError("%s (the chart source of add-on %s) has no h1 hash in artifacts.GO_MODULES; "
                           "record it from https://sum.golang.org/lookup/%s" % (key, name, key))
    return artifacts.GO_MODULES[key]["h1"]


def install_order(entries=None):
    """Add-on names of ``entries`` (default :data:`CATALOG`), lowest ``order`` first (the order proxies
    are created in)."""
    entries = CATALOG if entries is None else entries
    return sorted(entries, key=lambda name: (entries[name]["order"], name))
