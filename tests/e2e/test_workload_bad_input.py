# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Each bad-input class: a clear error naming the variable, and zero writes in the audit log.

Every test iterates over the options its class holds, taken from the declarations (the spec
in ``capi/spec.py``, the class capabilities in ``capi/classes.py``, the module option rules in
``capi/batch_options.py``, the role's ``meta/argument_specs.yml``), and runs the role against the
embedded management cluster; the kube-apiserver audit log must show no mutating request from
the modules' user agent.
"""

from __future__ import annotations

import base64
import copy
import json
import os

import pytest
import yaml

import helpers
import workload_helpers as wh

from ansible_collections.scs.kaas.plugins.module_utils.capi import batch_options, checks, class_openstack, classes, spec
from ansible_collections.scs.kaas.tests.unit.plugins.module_utils.capi.test_spec_classes import place_at_path

NAMESPACE = "wl-bad-input"
DEFAULTS = {"infrastructure": "inmemory", "namespace": NAMESPACE}
BASE = {"kubernetes_version": "v1.34.4", "control_plane": {"replicas": 1},
        "node_groups": [{"name": "md-0", "replicas": 1}]}
IDENTITY_SECRET = "bad-input-cloud"
# One value per kind that is not what the kind claims (test data).
BAD = {
    "duration": "5 minutes", "count": -1, "count_or_percent": "101%", "unhealthy_range": "1-3", "port": 70000,
    "bool": "yes", "text": "", "dns_subdomain": "Cluster.Local", "cidr": "10.0.0.1/8", "ip": "999.1.1.1",
    "host": "not a host!", "url": "registry.example.com", "https_url": "http://issuer.example.com",
    "certificate": "-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n",
}
ROLE_SPECS = os.path.join(helpers.REPO_ROOT, "roles", "workload_cluster", "meta", "argument_specs.yml")


def _spec(**changes):
    out = copy.deepcopy(BASE)
    out.update(changes)
    return out


def _openstack(**changes):
    variables = changes.pop("variables", {"identityRef": {"name": IDENTITY_SECRET, "cloudName": "prod"}})
    return _spec(infrastructure="openstack", variables=variables, **changes)


def _secret(mc, name, clouds, cacert=None):
    data = {"clouds.yaml": yaml.safe_dump({"clouds": clouds})}
    if cacert:
        data["cacert"] = cacert  # CAPO's key; the server group lookup verifies TLS with it
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NAMESPACE},
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}}
    mc.kubectl("apply", "-f", "-", input=json.dumps(body))


@pytest.fixture(scope="module")
def lab(management_cluster, ansible_env, tmp_path_factory):
    directory = tmp_path_factory.mktemp("wl-bad-input")
    mc = management_cluster
    inventory = wh.write_inventory(str(directory / "hosts.yml"), mc.kubeconfig, {}, DEFAULTS)
    playbook = str(directory / "classes.yml")
    with open(playbook, "w") as handle:
        yaml.safe_dump([{"name": "classes", "hosts": "localhost", "gather_facts": False,
                         "roles": [{"role": "scs.kaas.cluster_classes",
                                    "vars": {"cluster_classes_infrastructures": ["inmemory", "openstack"],
                                             "cluster_classes_namespace": NAMESPACE}}]}], handle)
    proc, _recap = wh.run_playbook(ansible_env, inventory, playbook)
    assert proc.returncode == 0, proc.stdout[-5000:]
    yield {"mc": mc, "env": ansible_env, "dir": directory}
    mc.kubectl("delete", "clusters.cluster.x-k8s.io", "--all", "-n", NAMESPACE, "--wait=true", "--timeout=300s",
               check=False, timeout=330)


def _run_batch(lab, name, hosts, extra_vars=None, check=False):
    """Run the role over ``hosts`` (host -> spec); return (proc, module result, writes)."""
    mc, directory = lab["mc"], lab["dir"]
    inventory = wh.write_inventory(str(directory / ("%s.yml" % name)), mc.kubeconfig, hosts, DEFAULTS)
    capture = str(directory / ("%s.json" % name))
    if os.path.exists(capture):
        os.unlink(capture)
    marker = mc.mark()
    proc, _recap = wh.run_playbook(lab["env"], inventory, wh.capture_playbook(str(directory), also_in_check_mode=True),
                                   dict({"capture_file": capture, "workload_cluster_wait": False}, **(extra_vars or {})),
                                   args=["--check"] if check else [])
    writes = mc.writes(wh.OUR_AGENT, marker)
    result = None
    if os.path.exists(capture):
        with open(capture) as handle:
            result = json.load(handle)
    return proc, result, writes


def _assert_each_fails_naming(result, expected):
    """expected: host -> substrings of its message (the variable first)."""
    for host, needles in expected.items():
        entry = result["clusters"][host]
        assert entry["failed"] is True, (host, entry)
        for needle in needles:
            assert needle in entry["msg"], (host, needle, entry["msg"])


def test_a_batch_is_all_or_nothing_unless_partial(lab):
    mc = lab["mc"]
    hosts = {"whole-a": _spec(), "whole-b": _spec(), "whole-bad": _spec(control_plane={"replicas": 2})}
    proc, result, writes = _run_batch(lab, "all-or-nothing", hosts)
    assert writes == [], writes
    _assert_each_fails_naming(result, {"whole-bad": ["workload_cluster.control_plane.replicas: 2"],
                                       "whole-a": ["not applied", "whole-bad", "workload_cluster_partial"],
                                       "whole-b": ["not applied", "whole-bad"]})
    for name in ("whole-a", "whole-b"):
        assert mc.kubectl("get", "cluster", "-n", NAMESPACE, name, check=False).returncode != 0

    # a rejection only the server's dry run finds holds the batch back too
    hosts = {"whole-a": _spec(), "whole-webhook": _spec(control_plane={"replicas": 1, "variables": {
        "nodeLabels": ["not", "a", "map"]}})}
    proc, result, writes = _run_batch(lab, "all-or-nothing-webhook", hosts)
    assert writes == [], writes
    _assert_each_fails_naming(result, {"whole-webhook": ["server-side dry run, nothing written",
                                                         "workload_cluster.control_plane.variables.nodeLabels"],
                                       "whole-a": ["not applied", "whole-webhook"]})

    # the operator opts into a partial run: the valid clusters are written, the invalid one is not
    hosts = {"whole-a": _spec(), "whole-b": _spec(), "whole-bad": _spec(control_plane={"replicas": 2})}
    proc, result, writes = _run_batch(lab, "partial", hosts, {"workload_cluster_partial": True})
    assert result["clusters"]["whole-bad"]["failed"] is True
    assert {h: result["clusters"][h]["action"] for h in ("whole-a", "whole-b")} == {"whole-a": "create",
                                                                                    "whole-b": "create"}
    written = {(w["objectRef"].get("resource"), w["objectRef"].get("name")) for w in writes}
    assert written == {("clusters", "whole-a"), ("clusters", "whole-b")}, writes


def test_every_module_and_role_option_is_checked_before_any_write(lab):
    with open(ROLE_SPECS) as handle:
        role_options = yaml.safe_load(handle)["argument_specs"]["reconcile"]["options"]
    a_file = str(lab["dir"] / "a-file")
    with open(a_file, "w") as handle:
        handle.write("x")
    # the rules of the module options, each through the role variable that fills it
    bad = {"positive": 0, "directory": a_file, "chart_repository": "ftp://127.0.0.1/charts"}
    cases = {role_var: (bad[check], [role_var, option])
             for option, (check, role_var) in batch_options.RULES.items()}
    # the types of the role's own options (validate_argument_spec)
    wrong_type = {"int": "many", "bool": "perhaps", "dict": "not-a-dict"}
    for name, option in role_options.items():
        if option.get("type") in wrong_type and name not in cases and name != "workload_cluster":
            cases[name] = (wrong_type[option["type"]], [name])
    for role_var, (value, needles) in sorted(cases.items()):
        proc, result, writes = _run_batch(lab, "option-" + role_var.replace("_", "-"),
                                          {"opt-a": _spec()}, {role_var: value})
        assert writes == [], (role_var, writes)
        assert "fatal: [" in proc.stdout, role_var
        for needle in needles:
            assert needle in proc.stdout, (role_var, needle, proc.stdout[-3000:])
    assert lab["mc"].kubectl("get", "cluster", "-n", NAMESPACE, "opt-a", check=False).returncode != 0


def test_every_value_is_parsed_as_what_it_claims_before_any_write(lab):
    hosts, expected = {}, {}
    for path, option in spec.iter_options():
        if not option.kind:
            continue
        raw = _spec()
        if path.startswith("node_groups"):
            raw["node_groups"] = [{"name": "md-0"}]
        place_at_path(raw, path, BAD[option.kind])
        host = "value-%02d" % len(hosts)
        hosts[host] = raw
        expected[host] = ["workload_cluster." + path.replace("[]", "[0]") + ": "]
    for infra, caps in sorted(classes.CAPABILITIES.items()):
        for path, kind in sorted(caps["value_kinds"].items()):
            raw = _openstack() if infra == "openstack" else _spec(infrastructure=infra)
            raw["control_plane"]["variables"] = {}
            place_at_path(raw["control_plane"]["variables"], path, BAD[kind])
            host = "value-%02d" % len(hosts)
            hosts[host] = raw
            expected[host] = ["workload_cluster.control_plane.variables.%s: " % path.replace("[]", "[0]")]
    proc, result, writes = _run_batch(lab, "values", hosts)
    assert writes == [], writes
    _assert_each_fails_naming(result, expected)


def test_specs_the_class_cannot_honour_and_reserved_namespaces_are_refused(lab):
    networks = {"IPv6": {"pods": ["fd00:10:244::/56"], "services": ["fd00:10:96::/112"]},
                "dual-stack": {"pods": ["10.244.0.0/16", "fd00:10:244::/56"],
                               "services": ["10.96.0.0/12", "fd00:10:96::/112"]}}
    hosts, expected = {}, {}
    for infra, caps in sorted(classes.CAPABILITIES.items()):
        for family, network in sorted(networks.items()):
            if family in caps["ip_families"]:
                continue
            host = ("family-%s-%s" % (infra, family)).lower()
            hosts[host] = (_openstack if infra == "openstack" else _spec)(network=network)
            hosts[host]["infrastructure"] = infra
            expected[host] = ["workload_cluster.network.pods: ", "cannot honour"]
    assert expected, "every class honours every IP family: nothing to refuse"
    for namespace in checks.reserved_namespaces():
        host = "ns-" + namespace
        hosts[host] = _spec(namespace=namespace)
        expected[host] = ["workload_cluster.namespace: '%s' is a namespace reserved" % namespace]
    proc, result, writes = _run_batch(lab, "capabilities", hosts)
    assert writes == [], writes
    _assert_each_fails_naming(result, expected)


def test_objects_a_spec_refers_to_must_exist_and_fit_before_any_write(lab):
    mc = lab["mc"]
    _secret(mc, IDENTITY_SECRET, {"stage": {"auth": {"password": "do-not-show-me"}}})
    mc.kubectl("create", "secret", "generic", "bad-input-nokey", "-n", NAMESPACE, "--from-literal=other=x",
               check=False)
    hosts = {
        "ref-missing": _openstack(variables={"identityRef": {"name": "no-such-secret"}}),
        "ref-no-cloud": _openstack(),
        "ref-no-key": _openstack(variables={"identityRef": {"name": "bad-input-nokey"}}),
        "ref-no-class": _spec(**{"class": "scs-inmemory-1-34-v9"}),
    }
    proc, result, writes = _run_batch(lab, "references", hosts)
    assert writes == [], writes
    _assert_each_fails_naming(result, {
        "ref-missing": ["workload_cluster.variables.identityRef.name: 'no-such-secret' names a Secret that does not exist"],
        "ref-no-cloud": ["workload_cluster.variables.identityRef.name: Secret '%s' clouds.yaml has no cloud 'prod'"
                         % IDENTITY_SECRET, "clouds in it: stage"],
        "ref-no-key": ["workload_cluster.variables.identityRef.name: Secret 'bad-input-nokey'", "no key clouds.yaml"],
        "ref-no-class": ["workload_cluster.class: 'scs-inmemory-1-34-v9' does not exist"],
    })
    assert "do-not-show-me" not in proc.stdout


def test_webhook_errors_name_the_inventory_variable(lab):
    hosts = {
        "hook-cp": _spec(control_plane={"replicas": 1, "variables": {"nodeLabels": ["a"]}}),
        "hook-group": _spec(node_groups=[{"name": "md-0", "variables": {"certSANs": "not-a-list"}}]),
        "hook-cluster": _openstack(variables={"identityRef": "just-a-name"}),
    }
    proc, result, writes = _run_batch(lab, "webhook", hosts)
    assert writes == [], writes
    _assert_each_fails_naming(result, {
        "hook-cp": ["workload_cluster.control_plane.variables.nodeLabels"],
        "hook-group": ["workload_cluster.node_groups[0].variables.certSANs"],
        "hook-cluster": ["workload_cluster.variables.identityRef"],
    })


def test_risky_settings_warn_in_the_result_and_the_log(lab):
    _secret(lab["mc"], IDENTITY_SECRET, {"prod": {"auth": {"auth_url": "https://keystone.example.com"}}})
    risky = _openstack()
    risky["variables"].update(apiServerAllowedCIDRs=["0.0.0.0/0"], managementClusterEgressCIDR="198.51.100.0/24")
    risky["node_groups"] = [{"name": "md-0", "replicas": 2, "rollout": {"max_unavailable": "100%", "max_surge": 1}}]
    proc, result, writes = _run_batch(lab, "warnings", {"risky-1": risky}, check=True)
    assert writes == [], writes
    entry = result["clusters"]["risky-1"]
    assert entry["failed"] is False, entry
    assert [w.split(":")[0] for w in entry["warnings"]] == [
        "workload_cluster.variables.apiServerAllowedCIDRs", "workload_cluster.node_groups[0].rollout.max_unavailable"]
    log = " ".join(proc.stdout.split())
    for warning in entry["warnings"]:
        assert "[WARNING]: risky-1: " + " ".join(warning.split())[:60] in log, proc.stdout[-3000:]


def test_server_groups_a_spec_names_must_exist_in_its_cloud_before_any_write(lab, openstack_box, openstack_project):
    """Against the real Nova of the OpenStack box: two server groups exist, one ID does not."""
    from openstack_box import seed

    conn = seed.connect(openstack_project)
    made = [conn.compute.create_server_group(name="sg-%s" % policy, policy=policy)
            for policy in ("anti-affinity", "affinity")]
    known = {group.id: group.policy for group in made}
    missing = "f00dfeed-0000-4000-8000-000000000000"
    with open(openstack_project["cacert"]) as handle:
        ca_pem = handle.read()
    cloud_entry = {key: value for key, value in openstack_project.items() if key != "cacert"}
    try:
        _secret(lab["mc"], "sg-cloud", {"prod": cloud_entry}, cacert=ca_pem)
        identity = {"identityRef": {"name": "sg-cloud", "cloudName": "prod"}}
        affinity, anti = sorted(known, key=known.get)
        hosts = {"sg-ok": _openstack(variables=dict(identity, controlPlaneServerGroupID=affinity,
                                                    workerServerGroupID=anti))}
        expected = {}
        # every declared cloud reference, at every level a spec can set class variables
        for name in sorted(class_openstack.CLOUD_REFERENCES):
            for level in ("variables", "control_plane.variables", "node_groups[0].variables"):
                host = "sg-missing-%02d" % len(expected)
                raw = _openstack(variables=dict(identity))
                if level == "variables":
                    raw["variables"][name] = missing
                elif level == "control_plane.variables":
                    raw["control_plane"]["variables"] = {name: missing}
                else:
                    raw["node_groups"][0]["variables"] = {name: missing}
                hosts[host] = raw
                expected[host] = ["workload_cluster.%s.%s: '%s' is not a %s in cloud 'prod'"
                                  % (level, name, missing, class_openstack.CLOUD_REFERENCES[name].replace("_", " "))]
        mark = openstack_box.mark()
        proc, result, writes = _run_batch(lab, "server-groups", hosts)
        requests = openstack_box.requests(since=mark, methods=None)
    finally:
        for group in made:
            conn.compute.delete_server_group(group, ignore_missing=True)
    assert writes == [], writes
    _assert_each_fails_naming(result, dict(expected, **{"sg-ok": ["not applied"] + sorted(expected)}))
    assert [w.split(":")[0] for w in result["clusters"]["sg-ok"].get("warnings", [])] == [
        "workload_cluster.variables.controlPlaneServerGroupID"]
    looked_up = sorted(r["path"].split("?", 1)[0].rstrip("/").rsplit("/", 1)[1] for r in requests
                       if r["service"] == "nova" and "/os-server-groups/" in r["path"])
    assert looked_up == sorted([affinity, anti] + [missing] * len(expected)), requests
    assert {(r["service"], r["method"], r["path"]) for r in requests if r["method"] != "GET"} <= {
        ("keystone", "POST", "/v3/auth/tokens")}
    assert openstack_project["auth"]["password"] not in proc.stdout
