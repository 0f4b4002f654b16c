# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Every external version the collection uses, in one place.

Roles read these through the ``scs.kaas.pins`` lookup, modules import them, and
tests check that the Go wrapper modules (go.mod files) agree with them.
Never put ``latest`` here.
"""

from __future__ import annotations

# Cluster API. v1.14.2 is the newest v1.14 patch for which both the root module and the
# `sigs.k8s.io/cluster-api/test` module (home of the development provider, CAPD) are published
# on the Go module proxy; core, kubeadm providers, CAPD and clusterctl must share one version.
CLUSTER_API_VERSION = "v1.14.2"

# Management cluster components of the embedded type (built from the Go modules).
KUBERNETES_MANAGEMENT_VERSION = "v1.36.5"
ETCD_VERSION = "v3.6.16"

# Cluster API provider for OpenStack. v0.15.x is not published on the Go module proxy that this
# project can reach; v0.14.7 implements the CAPI v1beta1 contract with v1beta1 templates.
CAPO_VERSION = "v0.14.7"

# Workload cluster Kubernetes versions the shipped cluster classes cover: three consecutive
# minors inside the workload range of CAPI v1.14 (v1.31 .. v1.37).
WORKLOAD_KUBERNETES_VERSIONS = ("v1.34.4", "v1.35.4", "v1.36.5")

# Kubernetes versions the pinned Cluster API supports for workload clusters (inclusive minors).
CAPI_WORKLOAD_MINOR_RANGE = ("1.31", "1.37")
# ... and for the management cluster.
CAPI_MANAGEMENT_MINOR_RANGE = ("1.33", "1.37")

# Go toolchain floor for building the embedded components (cluster-api v1.14 needs Go 1.26).
GO_MIN_VERSION = "1.26.0"

PINS = {
    "cluster_api": {"version": CLUSTER_API_VERSION},
    "kubernetes_management": {"version": KUBERNETES_MANAGEMENT_VERSION},
    "etcd": {"version": ETCD_VERSION},
    "capo": {"version": CAPO_VERSION},
    "workload_kubernetes": {"versions": list(WORKLOAD_KUBERNETES_VERSIONS)},
    "capi_workload_minor_range": list(CAPI_WORKLOAD_MINOR_RANGE),
    "capi_management_minor_range": list(CAPI_MANAGEMENT_MINOR_RANGE),
    "go": {"min_version": GO_MIN_VERSION},
}
