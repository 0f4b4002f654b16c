# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The Cluster API providers scs.kaas installs, with their pinned versions and sources.

Pure data and helpers, stdlib only. Every version comes from ``pins.py``.

A provider entry (``PROVIDERS``, keyed by our short key) holds:

``name``          clusterctl provider name (``cluster-api``, ``kubeadm``, ``openstack``, ``helm``)
``type``          clusterctl provider type (``CoreProvider`` ...), or ``None`` for manifests that
                  clusterctl does not manage (ORC, the cluster-stack operator)
``namespace``     namespace the upstream components install into
``module``        Go module whose ``config/`` the components are built from
``version``       pinned version (a tag of that module)
``kustomize_dir`` directory inside the module that ``kustomize build`` renders; the directory
                  above its ``config/`` is the provider's source (:func:`source_dir`), where the
                  embedded cluster reads the raw ``config/crd`` and ``config/webhook`` files
``name_prefix``   kustomize ``namePrefix`` of ``config/default`` (the embedded cluster cross-checks
                  it and prefixes the webhook configurations with it)
``module_dir``    name of the module's directory in the embedded build's ``module_dirs`` result
                  (read when the embedded cluster installs the provider)
``repository``    whether the local clusterctl repository ships the provider (``PROVIDERS``);
                  the development provider (CAPD) runs only in the embedded cluster
``components``    file name of the components in the repository (upstream release name)
``images``        kustomize image overrides ``{placeholder: released image name}``; the tag is the
                  version
``pull_policy``   imagePullPolicy the upstream release sets on the manager (None: unchanged)
``feature_gates`` gates our inventory needs switched on, as clusterctl variables
                  (``{"ClusterTopology": "CLUSTER_TOPOLOGY"}``), checked against v1.14.2 source

The embedded management cluster (``embedded/manifests.py``: CRDs, webhooks, clusterctl inventory)
and the local repository (``repository.py``) both read their providers from :data:`CATALOG`; the
embedded component registry names the catalog key of the provider each manager serves.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.scs.kaas.plugins.module_utils import pins

CORE = "CoreProvider"
BOOTSTRAP = "BootstrapProvider"
CONTROL_PLANE = "ControlPlaneProvider"
INFRASTRUCTURE = "InfrastructureProvider"
ADDON = "AddonProvider"

# clusterctl's type -> label prefix and command line flag (cmd/clusterctl/api/v1alpha3/provider_type.go
# and cmd/clusterctl/cmd/init.go).
TYPE_PREFIX = {
    CORE: "",
    BOOTSTRAP: "bootstrap-",
    CONTROL_PLANE: "control-plane-",
    INFRASTRUCTURE: "infrastructure-",
    ADDON: "addon-",
}
TYPE_FLAG = {
    CORE: "--core",
    BOOTSTRAP: "--bootstrap",
    CONTROL_PLANE: "--control-plane",
    INFRASTRUCTURE: "--infrastructure",
    ADDON: "--addon",
}
# clusterctl's ordering when it installs or upgrades providers.
TYPE_ORDER = [CORE, BOOTSTRAP, CONTROL_PLANE, INFRASTRUCTURE, ADDON]

CATALOG = {
    "core": {
        "name": "cluster-api",
        "type": CORE,
        "namespace": "capi-system",
        "module": "sigs.k8s.io/cluster-api",
        "version": pins.CLUSTER_API_VERSION,
        "kustomize_dir": "core/config/default",
        "components": "core-components.yaml",
        "images": {"gcr.io/k8s-staging-cluster-api/cluster-api-controller":
                   "registry.k8s.io/cluster-api/cluster-api-controller"},
        "feature_gates": {"ClusterTopology": "CLUSTER_TOPOLOGY"},
        "deployment": "capi-controller-manager",
        "pull_policy": "IfNotPresent",
        "name_prefix": "capi-",
        "module_dir": "cluster-api",
        "repository": True,
    },
    "bootstrap-kubeadm": {
        "name": "kubeadm",
        "type": BOOTSTRAP,
        "namespace": "capi-kubeadm-bootstrap-system",
        "module": "sigs.k8s.io/cluster-api",
        "version": pins.CLUSTER_API_VERSION,
        "kustomize_dir": "bootstrap/kubeadm/config/default",
        "components": "bootstrap-components.yaml",
        "images": {"gcr.io/k8s-staging-cluster-api/kubeadm-bootstrap-controller":
                   "registry.k8s.io/cluster-api/kubeadm-bootstrap-controller"},
        "feature_gates": {},
        "deployment": "capi-kubeadm-bootstrap-controller-manager",
        "pull_policy": "IfNotPresent",
        "name_prefix": "capi-kubeadm-bootstrap-",
        "module_dir": "cluster-api",
        "repository": True,
    },
    "control-plane-kubeadm": {
        "name": "kubeadm",
        "type": CONTROL_PLANE,
        "namespace": "capi-kubeadm-control-plane-system",
        "module": "sigs.k8s.io/cluster-api",
        "version": pins.CLUSTER_API_VERSION,
        "kustomize_dir": "controlplane/kubeadm/config/default",
        "components": "control-plane-components.yaml",
        "images": {"gcr.io/k8s-staging-cluster-api/kubeadm-control-plane-controller":
                   "registry.k8s.io/cluster-api/kubeadm-control-plane-controller"},
        "feature_gates": {"ClusterTopology": "CLUSTER_TOPOLOGY"},
        "deployment": "capi-kubeadm-control-plane-controller-manager",
        "pull_policy": "IfNotPresent",
        "name_prefix": "capi-kubeadm-control-plane-",
        "module_dir": "cluster-api",
        "repository": True,
    },
    "infrastructure-openstack": {
        "name": "openstack",
        "type": INFRASTRUCTURE,
        "namespace": "capo-system",
        "module": "sigs.k8s.io/cluster-api-provider-openstack",
        "version": pins.CAPO_VERSION,
        "kustomize_dir": "config/default",
        "components": "infrastructure-components.yaml",
        "images": {"gcr.io/k8s-staging-capi-openstack/capi-openstack-controller":
                   "registry.k8s.io/capi-openstack/capi-openstack-controller"},
        "feature_gates": {},
        "deployment": "capo-controller-manager",
        "pull_policy": "IfNotPresent",
        "name_prefix": "capo-",
        "module_dir": "cluster-api-provider-openstack",
        "repository": True,
    },
    "addon-helm": {
        "name": "helm",
        "type": ADDON,
        "namespace": "caaph-system",
        "module": "sigs.k8s.io/cluster-api-addon-provider-helm",
        "version": pins.CAAPH_VERSION,
        "kustomize_dir": "config/default",
        "components": "addon-components.yaml",
        "images": {"gcr.io/k8s-staging-cluster-api-helm/cluster-api-helm-controller":
                   "registry.k8s.io/cluster-api-helm/cluster-api-helm-controller"},
        "feature_gates": {},
        "deployment": "caaph-controller-manager",
        "pull_policy": "IfNotPresent",
        "name_prefix": "caaph-",
        "module_dir": "cluster-api-addon-provider-helm",
        # config/default labels the objects cluster.x-k8s.io/provider=helm; clusterctl relabels them.
        "upstream_label": "helm",
        "repository": True,
    },
    # The development provider: its controller (with the in-memory backend) runs in the embedded
    # management cluster only; never shipped in the local repository. Its module is cluster-api's
    # test module, at the version the build takes (pins.CLUSTER_API_TEST_VERSION).
    "infrastructure-docker": {
        "name": "docker",
        "type": INFRASTRUCTURE,
        "namespace": "capd-system",
        "module": "sigs.k8s.io/cluster-api/test",
        "version": pins.CLUSTER_API_TEST_VERSION,
        "kustomize_dir": "infrastructure/docker/config/default",
        "components": "infrastructure-components.yaml",
        "images": {"gcr.io/k8s-staging-cluster-api/capd-manager": "registry.k8s.io/cluster-api/capd-manager"},
        "feature_gates": {},
        "deployment": "capd-controller-manager",
        "pull_policy": "IfNotPresent",
        "name_prefix": "capd-",
        "module_dir": "cluster-api-test",
        "repository": False,
    },
    # Not clusterctl providers: applied as manifests (server-side apply) after clusterctl.
    "orc": {
        "name": "orc",
        "type": None,
        "namespace": "orc-system",
        "module": "github.com/k-orc/openstack-resource-controller/v2",
        "version": pins.ORC_VERSION,
        "kustomize_dir": "config/default",
        "components": "install.yaml",
        "images": {"controller": "quay.io/orc/openstack-resource-controller"},
        "feature_gates": {},
        "deployment": "orc-controller-manager",
        "pull_policy": None,
        "name_prefix": "orc-",
        "module_dir": "openstack-resource-controller",
        "repository": True,
    },
    "cso": {
        "name": "cso",
        "type": None,
        "namespace": "cso-system",
        "module": "github.com/SovereignCloudStack/cluster-stack-operator",
        "version": pins.CSO_VERSION,
        "kustomize_dir": "config/default",
        "components": "cso-infrastructure-components.yaml",
        "images": {"ghcr.io/sovereigncloudstack/cso-staging": "ghcr.io/sovereigncloudstack/cso"},
        "feature_gates": {},
        "deployment": "cso-controller-manager",
        "pull_policy": None,
        "name_prefix": "cso-",
        "module_dir": "cluster-stack-operator",
        "repository": True,
    },
}

# The providers the local clusterctl repository ships (and capi_providers installs).
PROVIDERS = dict((key, entry) for key, entry in CATALOG.items() if entry["repository"])

# Provider keys installed by default (cso is optional).
DEFAULT_KEYS = ["core", "bootstrap-kubeadm", "control-plane-kubeadm", "infrastructure-openstack",
                "addon-helm", "orc"]
OPTIONAL_KEYS = ["cso"]

# cert-manager (installed by clusterctl itself before the providers).
CERT_MANAGER = {
    "version": pins.CERT_MANAGER_VERSION,
    "namespace": "cert-manager",
    "images": ["quay.io/jetstack/cert-manager-cainjector", "quay.io/jetstack/cert-manager-controller",
               "quay.io/jetstack/cert-manager-webhook"],
}

# Variables clusterctl substitutes into the components (our controller flags). Applied at init
# AND at every upgrade, because clusterctl re-renders the components from the repository.
CLUSTERCTL_VARIABLES = {
    "CLUSTER_TOPOLOGY": "true",
    "EXP_RUNTIME_SDK": "false",
    "EXP_MACHINE_POOL": "true",
}
# The Cluster API feature gates our inventory needs and the controller Deployments carrying them.
REQUIRED_FEATURE_GATES = {"ClusterTopology": ["core", "control-plane-kubeadm"]}


def label(provider):
    """clusterctl's provider label / manifest label: ``bootstrap-kubeadm``, ``cluster-api`` ..."""
    return TYPE_PREFIX[provider["type"]] + provider["name"]


def instance_name(provider):
    """``<namespace>/<name>`` as used in clusterctl's upgrade apply flags."""
    return "%s/%s" % (provider["namespace"], provider["name"])


def inventory_name(provider):
    """Name of the clusterctl Provider object (metadata.name) for a provider."""
    return label(provider)


def source_dir(provider):
    """The provider's directory inside its module (``core``, ``.``): ``kustomize_dir`` without
    ``config/default``; its ``config/`` holds the raw CRDs, webhooks and kustomizations."""
    head, tail = os.path.split(os.path.normpath(provider["kustomize_dir"]))
    head, config = os.path.split(head)
    if (config, tail) != ("config", "default"):
        raise ValueError("%s: kustomize_dir %r does not end in config/default" % (provider["name"], provider["kustomize_dir"]))
    return head or "."


def provider(key, version=None, namespace=None):
    """A copy of a catalog entry, optionally with another version/namespace."""
    # PROVIDERS shares CATALOG's entries; read through it first so a caller that substitutes a
    # repository entry there (tests do) is seen here as well.
    entry = PROVIDERS.get(key) or CATALOG.get(key)
    if entry is None:
        raise KeyError(key)
    entry = dict(entry)
    entry["key"] = key
    if version:
        entry["version"] = version
    if namespace:
        entry["namespace"] = namespace
    return entry


def clusterctl_providers(keys=None):
    """The entries clusterctl manages, in clusterctl's order."""
    keys = keys if keys is not None else DEFAULT_KEYS
    entries = [provider(k) for k in keys if PROVIDERS[k]["type"]]
    return sorted(entries, key=lambda p: TYPE_ORDER.index(p["type"]))
