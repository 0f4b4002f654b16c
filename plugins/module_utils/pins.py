# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Every external version the collection uses, in one place.

Roles read these through the ``scs.kaas.pins`` lookup, modules import them, and
tests check that the Go wrapper modules (go.mod files) agree with them.
Never put ``latest`` here.
"""

from __future__ import annotations

# Cluster API: core, kubeadm bootstrap and control plane managers and clusterctl. v1.14.2 is the
# newest v1.14 patch whose source the Go module proxy reachable here serves (v1.14.3 is listed
# but its source is refused with 403).
CLUSTER_API_VERSION = "v1.14.2"
# The development provider CAPD (in-memory and docker backends) lives in the separate module
# `sigs.k8s.io/cluster-api/test`, whose v1.14.1 and v1.14.2 sources are not served by the module
# proxy reachable here; v1.14.0 is. CAPD is therefore v1.14.0 code (and CRDs) compiled against the
# v1.14.2 root module (API types, controller-runtime, version stamp).
CLUSTER_API_TEST_VERSION = "v1.14.0"

# Management cluster components of the embedded type (built from the Go modules).
KUBERNETES_MANAGEMENT_VERSION = "v1.36.5"
ETCD_VERSION = "v3.6.16"

# Cluster API provider for OpenStack. v0.15.x is not published on the Go module proxy that this
# project can reach; v0.14.7 implements the CAPI v1beta1 contract with v1beta1 templates.
CAPO_VERSION = "v0.14.7"

# Workload cluster Kubernetes versions the shipped cluster classes cover: three consecutive
# minors inside the workload range of CAPI v1.14 (v1.31 .. v1.37).
WORKLOAD_KUBERNETES_VERSIONS = ("v1.34.4", "v1.35.4", "v1.36.5")

# Workload versions real nodes are built for (node image binaries, kubeadm's images): the two
# minors a one-minor upgrade needs, one of them the management pin so that builds are shared.
NODE_KUBERNETES_VERSIONS = ("v1.35.4", "v1.36.5")
# The node's container runtime and tools, built from their Go modules (docs/real-nodes.md).
# containerd 2.3 is the supported LTS line; its RELEASES.md recommends 2.3.0+ for Kubernetes 1.36
# and 1.37 (the 1.35 row names 2.2 and 2.1, both end of life by now; CRI v1 throughout).
CONTAINERD_VERSION = "v2.3.7"
# runc: the patch after v1.5.2, which containerd v2.3.7 tests with (script/setup/runc-version).
RUNC_VERSION = "v1.5.3"
# crictl: the minor of the management pin (v1.35.0 is refused by the module proxy).
CRI_TOOLS_VERSION = "v1.36.0"
# CNI plugins: the version containerd v2.3.7's go.mod requires.
CNI_PLUGINS_VERSION = "v1.9.1"
# What kubeadm of each node version deploys besides its own binaries: CoreDNS and the pause image
# are the versions its cmd/kubeadm/app/constants names (CoreDNSVersion, PauseVersion), so that
# kubeadm's image list and an upgrade's CoreDNS step find exactly these tags (the build checks
# the pins against constants.go). pause is built from build/pause/linux/pause.c of the same
# k8s.io/kubernetes module.
COREDNS_VERSIONS = {"v1.35.4": "v1.13.1", "v1.36.5": "v1.14.2"}
PAUSE_VERSIONS = {"v1.35.4": "3.10.1", "v1.36.5": "3.10.2"}
# The baseline CNI of real nodes (flanneld, the daemon; the CNI plugin that calls it is the
# reference bridge plugin, flannel's own cni-plugin is not served by the module proxy): the
# newest release the module proxy serves, the same for every node version.
FLANNEL_VERSION = "v0.28.10"

# Kubernetes versions the pinned Cluster API supports for workload clusters (inclusive minors).
CAPI_WORKLOAD_MINOR_RANGE = ("1.31", "1.37")
# ... and for the management cluster.
CAPI_MANAGEMENT_MINOR_RANGE = ("1.33", "1.37")

# Go toolchain floor for building the embedded components and the node binaries (cluster-api
# v1.14 needs Go 1.26; containerd v2.3.7 and the CNI plugins v1.9.1 need Go 1.26.8).
GO_MIN_VERSION = "1.26.8"

# Providers installed into a management cluster (role scs.kaas.capi_providers). Each is built into
# a local clusterctl repository from the pinned Go module's own config/ (see docs/providers.md).
# cert-manager: the default of clusterctl v1.14.2 (cmd/clusterctl/client/config/cert_manager_client.go).
CERT_MANAGER_VERSION = "v1.21.1"
# OpenStack Resource Controller: the version CAPO v0.14.7's go.mod requires.
ORC_VERSION = "v2.4.0"
# Cluster API add-on provider Helm (CAAPH): v0.5.x implements the v1beta2 contract.
CAAPH_VERSION = "v0.5.3"
# SCS cluster-stack operator (optional; applied as plain manifests, not through clusterctl).
CSO_VERSION = "v0.1.0-alpha.7"

# Management cluster types k3s and kind (checksums: plugins/module_utils/artifacts.py).
K3S_VERSION = "v1.34.4+k3s1"
KIND_VERSION = "v0.33.0"
# The default node image of kind v0.33.0 (sigs.k8s.io/kind pkg/apis/config/defaults/image.go).
KIND_NODE_IMAGE = "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"

# Workload cluster add-ons (plugins/module_utils/addons/catalog.py). Their Helm charts are packaged
# from the source trees of these Go modules, the only chart source the module proxy makes reachable;
# each module's h1 is in artifacts.GO_MODULES, checked against sum.golang.org.
# Cilium (the CNI): v1.20.2 is the newest patch of the newest line the module proxy serves (v1.20.3 and
# v1.21.0 are refused with 403); its Documentation/network/kubernetes/requirements.rst supports
# Kubernetes 1.34, 1.35 and 1.36, exactly WORKLOAD_KUBERNETES_VERSIONS. install/kubernetes/cilium at
# this tag is a complete, released chart (Chart.yaml 1.20.2/1.20.2, values.yaml generated, images v1.20.2).
CILIUM_VERSION = "v1.20.2"
CILIUM_CHART_VERSION = "1.20.2"
# cert-manager in workload clusters (opt-in add-on, not the management cluster's CERT_MANAGER_VERSION,
# which follows clusterctl): v1.21.2 is the newest v1.x patch the module proxy serves (v1.21.3 and
# v1.22.0: 403). Its chart is a release template (Chart.yaml v0.0.0): chart version and appVersion are
# the tag, as cert-manager's make/manifests.mk passes to `helm package`; the image tags follow appVersion.
CERT_MANAGER_ADDON_VERSION = "v1.21.2"
# metrics-server: the chart in the module lags the module by one release. v0.9.0 carries chart
# 3.13.1 (appVersion 0.8.1), but v0.8.1 is refused by the module proxy (403), so its image could not
# be built here; v0.8.0 carries chart 3.12.2 (appVersion 0.7.2) and v0.7.2 is served, so the chart's
# image (registry.k8s.io/metrics-server/metrics-server:v0.7.2) can be built from its own source.
METRICS_SERVER_VERSION = "v0.8.0"
METRICS_SERVER_CHART_VERSION = "3.12.2"
METRICS_SERVER_IMAGE_VERSION = "v0.7.2"

PINS = {
    "cluster_api": {"version": CLUSTER_API_VERSION},
    "cluster_api_test": {"version": CLUSTER_API_TEST_VERSION},
    "kubernetes_management": {"version": KUBERNETES_MANAGEMENT_VERSION},
    "etcd": {"version": ETCD_VERSION},
    "capo": {"version": CAPO_VERSION},
    "workload_kubernetes": {"versions": list(WORKLOAD_KUBERNETES_VERSIONS)},
    "node_kubernetes": {"versions": list(NODE_KUBERNETES_VERSIONS)},
    "containerd": {"version": CONTAINERD_VERSION},
    "runc": {"version": RUNC_VERSION},
    "cri_tools": {"version": CRI_TOOLS_VERSION},
    "cni_plugins": {"version": CNI_PLUGINS_VERSION},
    # Per node Kubernetes version as lists: dotted lookup keys cannot hold a version's dots.
    "coredns": {"versions": [{"kubernetes": k, "version": v} for k, v in sorted(COREDNS_VERSIONS.items())]},
    "pause": {"versions": [{"kubernetes": k, "version": v} for k, v in sorted(PAUSE_VERSIONS.items())]},
    "flannel": {"version": FLANNEL_VERSION},
    "capi_workload_minor_range": list(CAPI_WORKLOAD_MINOR_RANGE),
    "capi_management_minor_range": list(CAPI_MANAGEMENT_MINOR_RANGE),
    "go": {"min_version": GO_MIN_VERSION},
    "cert_manager": {"version": CERT_MANAGER_VERSION},
    "orc": {"version": ORC_VERSION},
    "caaph": {"version": CAAPH_VERSION},
    "cso": {"version": CSO_VERSION},
    "k3s": {"version": K3S_VERSION},
    "kind": {"version": KIND_VERSION, "node_image": KIND_NODE_IMAGE},
    "cilium": {"version": CILIUM_VERSION, "chart_version": CILIUM_CHART_VERSION},
    "cert_manager_addon": {"version": CERT_MANAGER_ADDON_VERSION},
    "metrics_server": {"version": METRICS_SERVER_VERSION, "chart_version": METRICS_SERVER_CHART_VERSION,
                       "image_version": METRICS_SERVER_IMAGE_VERSION},
}
