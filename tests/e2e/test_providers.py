# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Provider lifecycle against real components.

* The local provider repository is built from the pinned Go modules' own ``config/`` and checked
  against the modules (images at the pinned tags, metadata, ORC's committed release manifest).
* The built clusterctl reads that repository inside a network namespace with only loopback.
* ``scs.kaas.capi_providers`` (through ansible-playbook) reads the real Provider inventory of the
  embedded management cluster and decides for "same versions" (no change, zero writes by our
  user agent), "none installed" and "older installed" (the test writes the older inventory
  itself, and the decision must agree with ``clusterctl upgrade plan`` against the repository).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

import helpers

helpers.ensure_collection_path()

from ansible_collections.scs.kaas.plugins.module_utils import artifacts, pins  # noqa: E402
from ansible_collections.scs.kaas.plugins.module_utils.providers import (  # noqa: E402
    catalog, decision, repository)

CORE3 = ["core", "bootstrap-kubeadm", "control-plane-kubeadm"]
PROVIDERS_API = "providers.clusterctl.cluster.x-k8s.io"


def _docs(path):
    with open(path) as handle:
        return [d for d in yaml.safe_load_all(handle) if d]


@pytest.fixture(scope="module")
def repo(tmp_path_factory, embedded_build):
    """The repository for every provider key, plus (for clusterctl only) the development provider
    the embedded cluster runs, rendered from the cluster-api test module the runtime uses."""
    dest = str(tmp_path_factory.mktemp("provider-repository"))
    # kustomize: the built kubectl's (pinned k8s.io/kubernetes), never whatever the machine has.
    kustomize = [embedded_build["binaries"]["kubectl"], "kustomize"]
    result = repository.build(helpers.runner(), dest, keys=sorted(catalog.PROVIDERS), verify_modules=True, log=print,
                              kustomize=kustomize)
    # CAPD: the embedded cluster's inventory lists it, and clusterctl resolves every installed
    # provider. Render it like the others (its release ships the core's metadata.yaml).
    test_dir = embedded_build["module_dirs"]["cluster-api-test"]
    version = os.path.basename(test_dir).split("@", 1)[1]
    capd = {"key": "infrastructure-docker", "name": "docker", "type": catalog.INFRASTRUCTURE,
            "version": version, "kustomize_dir": "infrastructure/docker/config/default",
            "components": "infrastructure-components.yaml", "pull_policy": "IfNotPresent",
            "images": {"gcr.io/k8s-staging-cluster-api/capd-manager": "registry.k8s.io/cluster-api/capd-manager"}}
    text = repository.render(helpers.runner(), capd, test_dir, kustomize)
    capd_dir = os.path.join(dest, "infrastructure-docker", version)
    os.makedirs(capd_dir)
    with open(os.path.join(capd_dir, "infrastructure-components.yaml"), "w") as handle:
        handle.write(text)
    shutil.copy(os.path.join(embedded_build["module_dirs"]["cluster-api"], "metadata.yaml"), capd_dir)
    config_path = os.path.join(dest, "clusterctl.yaml")
    with open(config_path) as handle:
        config = yaml.safe_load(handle)
    config["providers"].append({"name": "docker", "type": catalog.INFRASTRUCTURE,
                                "url": "file://%s/infrastructure-components.yaml" % capd_dir})
    with open(config_path, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    result["capd_version"] = version
    return result


def test_repository_is_built_from_the_pinned_modules(repo):
    dest = repo["dest"]
    for entry in catalog.clusterctl_providers(sorted(catalog.PROVIDERS)):
        base = os.path.join(dest, catalog.label(entry), entry["version"])
        docs = _docs(os.path.join(base, entry["components"]))
        images = repository.images_in(docs)
        for released in entry["images"].values():
            assert "%s:%s" % (released, entry["version"]) in images, (entry["key"], images)
        assert not [i for i in images if i.endswith((":main", ":dev", ":latest"))], images
        mod = repository.module_dir(helpers.runner(), entry["module"], entry["version"], download=False)
        with open(os.path.join(mod, "metadata.yaml")) as a, open(os.path.join(base, "metadata.yaml")) as b:
            assert a.read() == b.read()
        kinds = {d["kind"] for d in docs}
        assert {"CustomResourceDefinition", "Deployment", "Namespace"} <= kinds, kinds
        namespaces = {d["metadata"]["namespace"] for d in docs if d["kind"] == "Deployment"}
        assert namespaces == {entry["namespace"]}
    with open(os.path.join(dest, "repository.json")) as handle:
        manifest = json.load(handle)
    for key, value in manifest["go_modules"].items():
        assert value["h1"] == artifacts.GO_MODULES[key]["h1"], key


def test_orc_manifest_equals_the_upstream_release_manifest(repo):
    """ORC commits its release install.yaml into the module: our build must reproduce it."""
    entry = catalog.PROVIDERS["orc"]
    ours = _docs(os.path.join(repo["dest"], "orc", entry["version"], "install.yaml"))
    mod = repository.module_dir(helpers.runner(), entry["module"], entry["version"], download=False)
    upstream = _docs(os.path.join(mod, "dist", "install.yaml"))

    def identity(doc):
        return (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])

    assert sorted(ours, key=identity) == sorted(upstream, key=identity)


def test_feature_gates_exist_in_the_pinned_source(repo):
    mod = repository.module_dir(helpers.runner(), "sigs.k8s.io/cluster-api", pins.CLUSTER_API_VERSION, download=False)
    with open(os.path.join(mod, "feature", "feature.go")) as handle:
        source = handle.read()
    for gate, owners in catalog.REQUIRED_FEATURE_GATES.items():
        assert re.search(r'%s\s+featuregate\.Feature\s*=\s*"%s"' % (gate, gate), source), gate
        for key in owners:
            entry = catalog.PROVIDERS[key]
            text = open(os.path.join(repo["dest"], catalog.label(entry), entry["version"], entry["components"])).read()
            variable = catalog.PROVIDERS[key]["feature_gates"][gate]
            assert "%s=${%s:=false}" % (gate, variable) in text, key
            assert catalog.CLUSTERCTL_VARIABLES[variable] == "true"


def test_clusterctl_reads_the_repository_with_loopback_only(repo, embedded_build):
    clusterctl = embedded_build["binaries"]["clusterctl"]
    config = os.path.join(repo["dest"], "clusterctl.yaml")
    home = os.path.join(repo["dest"], ".home")
    os.makedirs(home, exist_ok=True)
    script = [
        "set -e",
        "ip link set lo up",
        "echo \"@@LINKS $(ip -o link show | awk -F': ' '{print $2}' | paste -sd, -)\"",
        "echo @@REPOS",
        "export HOME=%s XDG_CONFIG_HOME=%s/config CLUSTERCTL_DISABLE_VERSIONCHECK=true" % (home, home),
        "%s config repositories --config %s -o yaml" % (clusterctl, config),
    ]
    flags = {catalog.CORE: "--core", catalog.BOOTSTRAP: "--bootstrap", catalog.CONTROL_PLANE: "--control-plane",
             catalog.INFRASTRUCTURE: "--infrastructure", catalog.ADDON: "--addon"}
    for entry in catalog.clusterctl_providers(sorted(catalog.PROVIDERS)):
        script.append("echo '=== %s'" % entry["key"])
        script.append("%s generate provider %s %s:%s --config %s" % (
            clusterctl, flags[entry["type"]], entry["name"], entry["version"], config))
    proc = subprocess.run(["unshare", "--net", "bash", "-c", "\n".join(script)], capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    links = [l for l in proc.stdout.splitlines() if l.startswith("@@LINKS ")][0].split(" ", 1)[1].split(",")
    assert links == ["lo"], links
    repos = yaml.safe_load(proc.stdout.split("@@REPOS\n", 1)[1].split("=== ", 1)[0])
    ours = {(r["Name"], r["ProviderType"]): r["URL"] for r in repos}
    for entry in catalog.clusterctl_providers(sorted(catalog.PROVIDERS)):
        assert ours[(entry["name"], entry["type"])].startswith("file://" + repo["dest"])
    for section in proc.stdout.split("=== ")[1:]:
        key, body = section.split("\n", 1)
        entry = catalog.PROVIDERS[key]
        for released in entry["images"].values():
            assert "image: %s:%s" % (released, entry["version"]) in body, key
        if entry["feature_gates"]:
            assert "ClusterTopology=true" in body, key  # our variables were substituted


# -- decisions against the real inventory -------------------------------------------------------

def run_module(ansible_env, tmp_path, module, args, check=False):
    out = tmp_path / ("result-%s.json" % module)
    playbook = tmp_path / ("play-%s.yml" % module)
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "tasks": [
            {"name": "run", module: args, "register": "r", "check_mode": check},
            {"name": "save", "ansible.builtin.copy": {"content": "{{ r | to_json }}", "dest": str(out)},
             "check_mode": False},
        ]}]))
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-e", "ansible_python_interpreter=%s" % sys.executable,
                           str(playbook)], env=ansible_env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return json.loads(out.read_text())


def inventory(mc):
    return mc.kubectl_json("get", PROVIDERS_API, "-A")["items"]


def actions(result):
    return {d["label"]: d["action"] for d in result["decision"]["providers"]}


def module_args(mc, repo, **extra):
    args = {"kubeconfig": mc.kubeconfig, "providers": CORE3, "repository": repo["dest"],
            "build_repository": False, "clusterctl": mc.binaries["clusterctl"],
            "backup_dir": os.path.join(repo["dest"], ".backups")}
    args.update(extra)
    return args


def test_same_versions_change_nothing_and_send_no_write(management_cluster, repo, ansible_env, tmp_path):
    mc = management_cluster
    versions = {p["metadata"]["name"]: p["version"] for p in inventory(mc)}
    assert versions["cluster-api"] == pins.CLUSTER_API_VERSION
    mark = mc.mark()
    result = run_module(ansible_env, tmp_path, "scs.kaas.capi_providers", module_args(mc, repo))
    assert actions(result) == {"cluster-api": "none", "bootstrap-kubeadm": "none", "control-plane-kubeadm": "none"}
    assert result["changed"] is False
    assert result["commands"] == []
    assert "upgrade_plan" not in result
    assert [u["name"] for u in result["decision"]["unmanaged"]] == ["docker"]
    assert mc.count_writes("scs.kaas/", since=mark) == 0


def _restore(mc, saved):
    for obj in saved:
        body = copy.deepcopy(obj)
        for field in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
            body["metadata"].pop(field, None)
        mc.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=scs-kaas-e2e", "-f", "-",
                   input=json.dumps(body))


def test_none_installed_means_init(management_cluster, repo, ansible_env, tmp_path):
    mc = management_cluster
    saved = inventory(mc)
    # The test removes the inventory itself (and puts it back afterwards).
    mc.kubectl("delete", PROVIDERS_API, "--all", "-A", "--wait=true")
    try:
        assert inventory(mc) == []
        result = run_module(ansible_env, tmp_path, "scs.kaas.capi_providers",
                            module_args(mc, repo, providers=CORE3 + ["infrastructure-openstack", "addon-helm"]),
                            check=True)
        assert set(actions(result).values()) == {"init"}
        assert result["changed"] is True and result["commands"] == []
        assert decision.clusterctl_init_args(result["decision"]) == [
            "--core", "cluster-api:%s" % pins.CLUSTER_API_VERSION,
            "--bootstrap", "kubeadm:%s" % pins.CLUSTER_API_VERSION,
            "--control-plane", "kubeadm:%s" % pins.CLUSTER_API_VERSION,
            "--infrastructure", "openstack:%s" % pins.CAPO_VERSION,
            "--addon", "helm:%s" % pins.CAAPH_VERSION]
    finally:
        _restore(mc, saved)
    assert sorted(p["metadata"]["name"] for p in inventory(mc)) == sorted(p["metadata"]["name"] for p in saved)


def test_older_installed_means_upgrade_and_agrees_with_clusterctl(management_cluster, repo, ansible_env, tmp_path):
    mc = management_cluster
    saved = inventory(mc)
    older = "v1.14.1"
    # The test writes an older inventory: core and kubeadm control plane claim v1.14.1.
    for name, ns in (("cluster-api", "capi-system"), ("control-plane-kubeadm", "capi-kubeadm-control-plane-system")):
        mc.kubectl("patch", PROVIDERS_API, name, "-n", ns, "--type=merge", "-p", json.dumps({"version": older}))
    try:
        mark = mc.mark()
        result = run_module(ansible_env, tmp_path, "scs.kaas.capi_providers", module_args(mc, repo), check=True)
        assert actions(result) == {"cluster-api": "upgrade", "bootstrap-kubeadm": "none",
                                   "control-plane-kubeadm": "upgrade"}
        assert result["plan_disagreements"] == []
        assert decision.clusterctl_upgrade_args(result["decision"]) == [
            "--core", "capi-system/cluster-api:%s" % pins.CLUSTER_API_VERSION,
            "--control-plane", "capi-kubeadm-control-plane-system/kubeadm:%s" % pins.CLUSTER_API_VERSION]
        assert mc.count_writes("scs.kaas/", since=mark) == 0  # check mode

        # clusterctl itself, against the same repository, independently of our parser.
        plan = mc.clusterctl("upgrade", "plan", "--config", os.path.join(repo["dest"], "clusterctl.yaml")).stdout
        rows = {line.split()[0]: line.split() for line in plan.splitlines()
                if line.split() and line.split()[0] in ("cluster-api", "bootstrap-kubeadm", "control-plane-kubeadm")}
        assert rows["cluster-api"][3:5] == [older, pins.CLUSTER_API_VERSION], plan
        assert rows["control-plane-kubeadm"][3:5] == [older, pins.CLUSTER_API_VERSION], plan
        assert rows["bootstrap-kubeadm"][3] == pins.CLUSTER_API_VERSION and "Already up to date" in " ".join(
            rows["bootstrap-kubeadm"]), plan
        assert result["upgrade_plan"].strip() == plan.strip()
    finally:
        _restore(mc, saved)
    assert {p["metadata"]["name"]: p["version"] for p in inventory(mc)} == {
        p["metadata"]["name"]: p["version"] for p in saved}


def test_newer_installed_is_refused(management_cluster, repo, ansible_env, tmp_path):
    mc = management_cluster
    saved = inventory(mc)
    mc.kubectl("patch", PROVIDERS_API, "bootstrap-kubeadm", "-n", "capi-kubeadm-bootstrap-system", "--type=merge",
               "-p", json.dumps({"version": "v1.99.0"}))
    try:
        playbook = tmp_path / "newer.yml"
        playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                             "tasks": [{"scs.kaas.capi_providers": module_args(mc, repo)}]}]))
        proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-e",
                               "ansible_python_interpreter=%s" % sys.executable, str(playbook)],
                              env=ansible_env, capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode != 0
        assert "never go down" in proc.stdout + proc.stderr
    finally:
        _restore(mc, saved)


def test_preflight_of_the_embedded_cluster(management_cluster, repo, ansible_env, tmp_path):
    mc = management_cluster
    result = run_module(ansible_env, tmp_path, "scs.kaas.capi_providers_info",
                        {"kubeconfig": mc.kubeconfig, "providers": CORE3, "preflight": True})
    pre = result["preflight"]
    assert pre["version"]["version"] == pins.KUBERNETES_MANAGEMENT_VERSION
    assert pre["version"]["in_range"] is True
    assert pre["denied"] == [] and len(pre["permissions"]) > 10
    # the embedded cluster runs its controllers as processes: no Deployments to check
    assert all(not g["found"] for g in pre["feature_gates"])
    assert pre["ok"] is True
