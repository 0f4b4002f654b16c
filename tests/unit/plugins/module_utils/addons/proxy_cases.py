# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""A test catalog and checks shared by the add-on builder tests (CRD field names as in CAAPH v0.5.3)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.addons import proxies

CATALOG = {
    # Listed out of install order on purpose: the output order must come from ``order``.
    "metrics_server": {
        "chart": "metrics-server", "version": "3.12.2", "namespace": "kube-system",
        "release_name": "metrics-server", "order": 40, "enabled_by_default": False,
        "default_values": {"args": ["--kubelet-insecure-tls"], "replicas": 1},
    },
    "cilium": {
        "chart": "cilium", "version": "1.16.5", "namespace": "kube-system", "release_name": "cilium",
        "order": 10, "enabled_by_default": True,
        "default_values": {"ipam": {"mode": "kubernetes"},
                           "hubble": {"enabled": False, "relay": {"enabled": False, "replicas": 1}},
                           "tolerations": [{"operator": "Exists"}]},
    },
    "cinder_csi": {
        "chart": "openstack-cinder-csi", "version": "2.31.0", "namespace": "kube-system",
        "release_name": "cinder-csi", "order": 30, "enabled_by_default": True, "default_values": {},
    },
    "openstack_cloud_controller_manager": {
        "chart": "openstack-cloud-controller-manager", "version": "2.31.1", "namespace": "kube-system",
        "release_name": "occm", "order": 20, "enabled_by_default": True,
        "default_values": {"cloudConfig": {"global": {"auth-url": "https://keystone.example.com/v3"}}},
    },
}
INSTALL_ORDER = ["cilium", "openstack_cloud_controller_manager", "cinder_csi", "metrics_server"]
NAMESPACE = "tenant-a"
REPO = "oci://registry.example.com/charts"

# Field names verified against config/crd/bases/addons.cluster.x-k8s.io_helmchartproxies.yaml of CAAPH v0.5.3.
CRD_SPEC_FIELDS = {"clusterSelector", "chartName", "repoURL", "releaseName", "namespace", "version",
                   "valuesTemplate", "reconcileStrategy", "options", "credentials", "tlsConfig"}
CRD_REQUIRED = {"chartName", "clusterSelector", "repoURL"}
CRD_OPTIONS = {"disableHooks", "wait", "waitForJobs", "dependencyUpdate", "timeout", "skipCRDs", "options",
               "disableOpenAPIValidation", "atomic", "install", "upgrade", "uninstall", "enableClientCache"}
CRD_INSTALL_OPTIONS = {"createNamespace", "includeCRDs"}
CRD_UPGRADE_OPTIONS = {"force", "resetValues", "reuseValues", "resetThenReuseValues", "recreate", "maxHistory",
                       "cleanupOnFail"}
CRD_RECONCILE_STRATEGIES = {"", "InstallOnce", "Continuous"}

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
GO_DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+s)?$")


def valid_label(key, value):
    prefix, _slash, name = key.rpartition("/")
    assert DNS1123_SUBDOMAIN.match(prefix) and len(prefix) <= 253, key
    assert LABEL_NAME.match(name) and len(name) <= 63, key
    assert value == "" or (LABEL_NAME.match(value) and len(value) <= 63), value
    return True


def problems_of(group, host, catalog=None):
    with pytest.raises(proxies.AddonSpecError) as err:
        proxies.effective(catalog or CATALOG, group, host)
    return err.value


def rendered_by_caaph(template):
    """What CAAPH's Go text/template makes of our valuesTemplate: our only action is the literal one."""
    assert "{{" not in template.replace('{{ "{{" }}', ""), "a template action other than the {{ literal"
    return template.replace('{{ "{{" }}', "{{")


# --- effective(): defaults, overrides, recursive combine -------------------------------------------
