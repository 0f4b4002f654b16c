# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The node binary sets: which binary comes from which wrapper module and pin, checked against
the committed go.mod files (an independent source); how the runtime's binaries are built."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import pytest

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.embedded import build, registry
from ansible_collections.scs.kaas.plugins.module_utils.errors import BuildError
from ansible_collections.scs.kaas.plugins.module_utils.nodes import node_binaries

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))
GO_DIR = os.path.join(REPO, "roles", "management_cluster", "files", "embedded", "go")
TOOLCHAIN = {"GOVERSION": "go1.26.8", "GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "1"}

# Upstream module per runtime wrapper (the module whose release each wrapper builds).
RUNTIME_MODULES = {"containerd": "github.com/containerd/containerd/v2", "runc": "github.com/opencontainers/runc",
                   "cri-tools": "sigs.k8s.io/cri-tools", "cni-plugins": "github.com/containernetworking/plugins"}


def _go_mod(wrapper):
    with open(os.path.join(GO_DIR, wrapper, "go.mod"), "r", encoding="utf-8") as f:
        return f.read()


def _requires(wrapper):
    return build.parse_go_mod_requires(_go_mod(wrapper))


def _all_records():
    return [(version, record) for version in pins.NODE_KUBERNETES_VERSIONS
            for record in node_binaries.records(version).values()]


def test_node_versions_are_workload_versions_one_minor_apart_one_of_them_the_management_pin():
    versions = pins.NODE_KUBERNETES_VERSIONS
    assert set(versions) <= set(pins.WORKLOAD_KUBERNETES_VERSIONS)
    assert pins.KUBERNETES_MANAGEMENT_VERSION in versions
    minors = sorted(int(v.split(".")[1]) for v in versions)
    assert minors == list(range(minors[0], minors[0] + len(minors)))


@pytest.mark.parametrize("version", pins.NODE_KUBERNETES_VERSIONS)
def test_a_set_has_the_kubernetes_commands_of_its_version_and_the_runtime(version):
    records = node_binaries.records(version)
    assert sorted(records) == sorted(["kubelet", "kubeadm", "kubectl", "kube-apiserver", "kube-controller-manager",
                                      "kube-scheduler", "kube-proxy", "containerd", "containerd-shim-runc-v2", "ctr",
                                      "runc", "crictl", "bridge", "host-local", "loopback", "portmap", "ptp"])
    for name in ("kubelet", "kubeadm", "kubectl", "kube-proxy"):
        # The code comes from go.mod: the wrapper must build this version's k8s.io/kubernetes.
        assert _requires(records[name].wrapper)["k8s.io/kubernetes"] == version, name


@pytest.mark.parametrize("version, record", _all_records(), ids=lambda x: getattr(x, "name", x))
def test_every_node_binary_is_a_tool_of_its_wrapper_at_the_pinned_version(version, record):
    text = _go_mod(record.wrapper)
    assert re.search(r"^\s*(tool\s+)?%s\s*$" % re.escape(record.package), text, re.M), record.package
    module = "k8s.io/kubernetes" if record.package.startswith("k8s.io/kubernetes/") else RUNTIME_MODULES[record.wrapper]
    assert _requires(record.wrapper)[module] == record.pin


def test_the_management_pin_shares_the_embedded_clusters_binaries():
    # Same wrapper module and package: the same cache key, one build for both.
    records = node_binaries.records(pins.KUBERNETES_MANAGEMENT_VERSION)
    embedded = build.binaries()
    for name in ("kube-apiserver", "kube-controller-manager", "kubectl"):
        assert (records[name].wrapper, records[name].package, records[name].pin) == \
            (embedded[name].wrapper, embedded[name].package, embedded[name].pin)


def test_node_only_commands_of_the_management_pin_use_the_kubernetes_wrappers_dependency_versions():
    # kubernetes-node resolves the same versions as the kubernetes wrapper for every module both
    # require, so both share the Go build cache.
    node, management = _requires("kubernetes-node"), _requires("kubernetes")
    shared = set(node) & set(management)
    assert len(shared) > 100
    assert dict((m, node[m]) for m in shared) == dict((m, management[m]) for m in shared)
    # ... and the kubernetes wrapper (the keys of kube-apiserver and kube-controller-manager) is untouched.
    tools = re.search(r"^tool \(\n(.*?)^\)", _go_mod("kubernetes"), re.M | re.S).group(1).split()
    assert tools == ["k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager"]


def test_the_other_minor_maps_its_staging_modules_to_its_own_release():
    text = _go_mod("kubernetes-1.35")
    replaced = re.findall(r"^\s*(k8s\.io/\S+) => (\S+) (\S+)$", text, re.M)
    assert len(replaced) >= 25
    for old, new, version in replaced:
        assert new == old and version == "v0.35.4", (old, new, version)


@pytest.mark.parametrize("wrapper", ["kubernetes-node", "kubernetes-1.35", "containerd", "runc", "cri-tools",
                                     "cni-plugins"])
def test_wrapper_go_sum_pins_every_required_module(wrapper):
    text = _go_mod(wrapper)
    replaces = dict((old, (new, version)) for old, new, version in
                    re.findall(r"^\s*(\S+) => (\S+) (\S+)$", text, re.M))
    with open(os.path.join(GO_DIR, wrapper, "go.sum"), "r", encoding="utf-8") as f:
        go_sum = f.read()
    for module, version in build.parse_go_mod_requires(text).items():
        module, version = replaces.get(module, (module, version))
        assert "%s %s/go.mod h1:" % (module, version) in go_sum, (module, version)


def test_unknown_versions_and_binaries_are_refused_naming_the_valid_ones():
    with pytest.raises(BuildError) as exc:
        node_binaries.records("v1.34.4")
    assert "v1.34.4" in str(exc.value) and all(v in str(exc.value) for v in pins.NODE_KUBERNETES_VERSIONS)
    with pytest.raises(BuildError) as exc:
        node_binaries.records(pins.KUBERNETES_MANAGEMENT_VERSION, ["crictl", "kubelett"])
    assert "kubelett" in str(exc.value) and "kubelet" in str(exc.value)
    assert list(node_binaries.records(pins.KUBERNETES_MANAGEMENT_VERSION, ["ptp", "crictl"])) == ["crictl", "ptp"]


def _ldflags(version, name, commit="0123abc"):
    records = node_binaries.records(version)
    specs = build.wrappers(records, node_binaries.NODE_WRAPPER_MODULES)
    return build.ldflags_for(records[name].wrapper, {"Origin": {"Hash": commit}}, specs), specs


def test_runtime_binaries_report_the_release_the_go_mod_builds():
    version = pins.KUBERNETES_MANAGEMENT_VERSION
    containerd = _requires("containerd")[RUNTIME_MODULES["containerd"]]
    flags, _specs = _ldflags(version, "containerd")
    assert "-X 'github.com/containerd/containerd/v2/version.Version=%s'" % containerd in flags
    assert "-X 'github.com/containerd/containerd/v2/version.Revision=0123abc'" in flags
    crictl = _requires("cri-tools")[RUNTIME_MODULES["cri-tools"]]
    assert "-X 'sigs.k8s.io/cri-tools/pkg/version.Version=%s'" % crictl.lstrip("v") in _ldflags(version, "crictl")[0]
    plugins = _requires("cni-plugins")[RUNTIME_MODULES["cni-plugins"]]
    assert "buildversion.BuildVersion=%s'" % plugins in _ldflags(version, "bridge")[0]
    # kubelet of the other minor is stamped like the embedded cluster's binaries, with its own version.
    assert "-X 'k8s.io/component-base/version.gitVersion=v1.35.4'" in _ldflags("v1.35.4", "kubelet")[0]


def test_runc_is_a_static_cgo_build_with_seccomp_and_the_rest_pure_go():
    flags, specs = _ldflags(pins.KUBERNETES_MANAGEMENT_VERSION, "runc")
    assert "-linkmode external -extldflags '-static'" in flags
    assert "-X 'main.gitCommit=0123abc'" in flags
    assert specs["runc"]["env"] == {"CGO_ENABLED": "1"} and "seccomp" in specs["runc"]["tags"]
    assert "libseccomp-dev" in specs["runc"]["static_libraries"]
    for wrapper in ("containerd", "cri-tools", "cni-plugins"):
        assert specs[wrapper]["env"] == {"CGO_ENABLED": "0"}, wrapper
    # The embedded cluster's wrappers keep their defaults (and with them their cache keys).
    assert specs["kubernetes"]["env"] == {} and specs["kubernetes"]["tags"] == ()


def test_extra_build_inputs_change_the_cache_key_and_their_absence_keeps_it():
    files = build.wrapper_files(os.path.join(GO_DIR, "runc"))
    base = build.cache_key(files, "github.com/opencontainers/runc", "-s -w", TOOLCHAIN, "d")
    assert build.cache_key(files, "github.com/opencontainers/runc", "-s -w", TOOLCHAIN, "d", ()) == base
    static = build.cache_key(files, "github.com/opencontainers/runc", "-s -w", TOOLCHAIN, "d",
                             ['{"libseccomp-dev": "2.5.4-1+b3"}'])
    newer = build.cache_key(files, "github.com/opencontainers/runc", "-s -w", TOOLCHAIN, "d",
                            ['{"libseccomp-dev": "2.5.4-1+b4"}'])
    assert len({base, static, newer}) == 3


def test_the_bill_of_materials_is_named_after_the_binaries_it_describes():
    one = node_binaries.bom_path("/c", "v1.36.5", {"crictl": "/c/embedded/crictl/v1.36.0-aaaa/crictl"})
    other = node_binaries.bom_path("/c", "v1.36.5", {"crictl": "/c/embedded/crictl/v1.36.0-bbbb/crictl"})
    assert one != other and one.startswith("/c/nodes/binaries/v1.36.5-") and one.endswith("/sbom.cdx.json")


def test_registry_wrapper_modules_are_not_redefined_by_the_node_sets():
    # A node wrapper with the name of an embedded one would silently change that one's binaries.
    assert not set(node_binaries.NODE_WRAPPER_MODULES) & set(registry.WRAPPER_MODULES)
