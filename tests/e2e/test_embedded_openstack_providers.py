# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""CAPO and ORC as components of the embedded management cluster (``optional_providers=[openstack]``).

No OpenStack service is needed: the test proves that both controllers are built from their pinned
wrapper modules, run on loopback, serve their webhooks and CRDs, and appear in the clusterctl
inventory; then that switching them off again stops them and removes their webhooks.

The module starts its own cluster in a new state directory (stopping the session cluster for
that time: CAPD's in-memory backend binds fixed ports) and starts the session cluster again.
"""

from __future__ import annotations

import json
import os
import subprocess

import helpers
import proc_helpers

from ansible_collections.scs.kaas.plugins.module_utils import pins

NAMESPACE = "default"
PROVIDERS_API = "providers.clusterctl.cluster.x-k8s.io"
INFRA = ("infrastructure.cluster.x-k8s.io", "v1beta1")
ORC = ("openstack.k-orc.cloud", "v1alpha1")
IDENTITY = {"type": "Secret", "name": "e2e-cloud", "cloudName": "openstack"}
SSH_RULE = {"name": "ssh", "direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22}


def _dry_run_create(mc, group_version, plural, kind, name, spec):
    """Server-side dry-run create through every webhook; returns the ApiException or None."""
    from kubernetes import client as k8s_client
    from kubernetes.client.rest import ApiException

    group, version = group_version
    body = {"apiVersion": "%s/%s" % (group, version), "kind": kind, "metadata": {"name": name}, "spec": spec}
    try:
        k8s_client.CustomObjectsApi(mc.api_client()).create_namespaced_custom_object(
            group, version, NAMESPACE, plural, body, dry_run="All", _request_timeout=30)
    except ApiException as exc:
        exc.message = json.loads(exc.body).get("message", "") if exc.body else ""
        return exc
    return None


def test_capo_and_orc_run_healthy_on_loopback_from_the_pinned_build(openstack_management_cluster, openstack_build):
    mc = openstack_management_cluster
    assert {"capo-manager", "orc-manager"} <= set(mc.last_start["started"])
    components = mc.status()["components"]
    for name in ("capo-manager", "orc-manager"):
        assert components[name]["running"] and components[name]["healthy"], (name, components[name])
        assert proc_helpers.proc_cmdline(components[name]["pid"])[0] == openstack_build["binaries"][name]
    pids = proc_helpers.descendants([components["capo-manager"]["pid"], components["orc-manager"]["pid"]])
    ours = [e for e in proc_helpers.listeners() if any(pid in pids for _n, pid in e["processes"])]
    assert sorted(e["port"] for e in ours) == sorted(
        p for n in ("capo-manager", "orc-manager") for _purpose, p in mc.cluster.component_ports(n))
    assert all(e["address"] == "127.0.0.1" for e in ours), ours
    # The binary reports the version it was built from (stamped from the wrapper module's pin).
    version = subprocess.run([openstack_build["binaries"]["capo-manager"], "--version"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    assert pins.CAPO_VERSION in version, version


def test_capo_webhooks_admit_valid_objects_and_refuse_invalid_ones(openstack_management_cluster):
    mc = openstack_management_cluster
    cluster = {"identityRef": IDENTITY, "managedSecurityGroups": {
        "allowAllInClusterTraffic": False, "allNodesSecurityGroupRules": [dict(SSH_RULE, remoteIPPrefix="10.0.0.0/8")]}}
    assert _dry_run_create(mc, INFRA, "openstackclusters", "OpenStackCluster", "valid", cluster) is None
    machine = {"flavor": "SCS-2V-4", "image": {"filter": {"name": "ubuntu-capi-image"}}}
    assert _dry_run_create(mc, INFRA, "openstackmachines", "OpenStackMachine", "valid", machine) is None

    # Refusals that only CAPO's validating webhooks make (the CRD schemas allow both objects).
    bad_rule = dict(SSH_RULE, remoteIPPrefix="10.0.0.0/8", remoteGroupID="0d1b5d8e-8f5d-4f5e-9d3c-5e8f1c2b3a4d")
    refused = _dry_run_create(mc, INFRA, "openstackclusters", "OpenStackCluster", "invalid", {
        "identityRef": IDENTITY, "managedSecurityGroups": {"allowAllInClusterTraffic": False,
                                                           "allNodesSecurityGroupRules": [bad_rule]}})
    assert refused is not None and refused.status in (400, 422), refused
    assert 'admission webhook "validation.openstackcluster.infrastructure.cluster.x-k8s.io" denied' in refused.message
    assert "remoteIPPrefix cannot be used with remoteManagedGroups or remoteGroupID" in refused.message
    refused = _dry_run_create(mc, INFRA, "openstackmachines", "OpenStackMachine", "invalid", dict(
        machine, ports=[{"disablePortSecurity": True, "securityGroups": [{"filter": {"name": "default"}}]}]))
    assert refused is not None, "CAPO's webhook admitted a port with security groups and no port security"
    assert 'admission webhook "validation.openstackmachine.infrastructure.cluster.x-k8s.io" denied' in refused.message
    assert "cannot have security groups when DisablePortSecurity is set to true" in refused.message


def test_orc_objects_are_admitted_and_validated_by_orc_crds(openstack_management_cluster):
    mc = openstack_management_cluster
    credentials = {"secretName": "e2e-cloud", "cloudName": "openstack"}
    flavor = {"cloudCredentialsRef": credentials, "resource": {"ram": 4096, "vcpus": 2, "disk": 20}}
    assert _dry_run_create(mc, ORC, "flavors", "Flavor", "valid", flavor) is None
    refused = _dry_run_create(mc, ORC, "flavors", "Flavor", "invalid", {"cloudCredentialsRef": credentials})
    assert refused is not None and "resource must be specified when policy is managed" in refused.message


def test_inventory_lists_capo_with_its_version_and_labels(openstack_management_cluster, openstack_build):
    mc = openstack_management_cluster
    providers = dict((p["metadata"]["name"], p) for p in mc.kubectl_json("get", PROVIDERS_API, "-A")["items"])
    capo = providers["infrastructure-openstack"]
    module_dir = openstack_build["module_dirs"]["cluster-api-provider-openstack"]
    assert (capo["metadata"]["namespace"], capo["providerName"], capo["type"], capo["version"]) == (
        "capo-system", "openstack", "InfrastructureProvider", os.path.basename(module_dir).split("@", 1)[1])
    assert capo["version"] == pins.CAPO_VERSION
    # ORC is no clusterctl provider (the catalog gives it no type): no inventory entry.
    assert not [n for n in providers if "orc" in n]
    crd = mc.kubectl_json("get", "crd", "openstackclusters.infrastructure.cluster.x-k8s.io")
    labels = crd["metadata"]["labels"]
    assert labels["cluster.x-k8s.io/provider"] == "infrastructure-openstack"
    assert labels["cluster.x-k8s.io/v1beta1"] == "v1beta1" and "clusterctl.cluster.x-k8s.io" in labels
    hooks = mc.kubectl_json("get", "validatingwebhookconfigurations", "capo-validating-webhook-configuration")
    port = mc.ports["capo_webhook"]
    assert all(h["clientConfig"]["url"].startswith("https://127.0.0.1:%d/" % port) for h in hooks["webhooks"])


def test_switching_off_stops_capo_and_orc_and_removes_their_webhooks(openstack_management_cluster, openstack_build):
    mc = openstack_management_cluster
    pids = dict((n, mc.status()["components"][n]["pid"]) for n in ("capo-manager", "orc-manager"))
    off = helpers.ManagementCluster(mc.state_dir, openstack_build)
    result = off.start()
    assert sorted(result["stopped"]) == ["capo-manager", "orc-manager"]
    assert "ValidatingWebhookConfiguration//capo-validating-webhook-configuration" in result["pruned"]
    assert "Provider/capo-system/infrastructure-openstack" in result["pruned"]
    assert not [p for p in pids.values() if proc_helpers.proc_cmdline(p)]
    names = [p["metadata"]["name"] for p in mc.kubectl_json("get", PROVIDERS_API, "-A")["items"]]
    assert "infrastructure-openstack" not in names and "cluster-api" in names
    # CAPO's CRDs stay (CRD-only), so openstack objects are still validated against the schema
    # and admitted without CAPO's (now stopped) webhooks.
    assert _dry_run_create(mc, INFRA, "openstackmachines", "OpenStackMachine", "valid", {
        "flavor": "SCS-2V-4", "image": {"filter": {"name": "ubuntu-capi-image"}}}) is None
    # A second start without the switch changes nothing; switching on again starts both.
    assert off.start()["changed"] is False
    again = mc.start()
    assert sorted(again["started"]) == ["capo-manager", "orc-manager"] and not again["stopped"]
    assert {"Provider/infrastructure-openstack", "ValidatingWebhookConfiguration/capo-validating-webhook-configuration"
            } <= set(again["applied"])
