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
from ansible_collections.scs.kaas.plugins.module_utils.nodes import c_binaries, node_binaries

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))
GO_DIR = os.path.join(REPO, "roles", "management_cluster", "files", "embedded", "go")
TOOLCHAIN = {"GOVERSION": "go1.26.8", "GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "1"}

# Upstream module per runtime wrapper (the module whose release each wrapper builds).
RUNTIME_MODULES = {"containerd": "github.com/containerd/containerd/v2", "runc": "github.com/opencontainers/runc",
                   "cri-tools": "sigs.k8s.io/cri-tools", "cni-plugins": "github.com/containernetworking/plugins",
                   "coredns": "github.com/coredns/coredns", "coredns-1.13": "github.com/coredns/coredns",
                   "flannel": "github.com/flannel-io/flannel", "etcd-node": "go.etcd.io/etcd/server/v3",
                   "metrics-server": "sigs.k8s.io/metrics-server"}


def _go_mod(wrapper):
    with open(os.path.join(GO_DIR, wrapper, "go.mod"), "r", encoding="utf-8") as f:
        return f.read()


def _requires(wrapper):
    return build.parse_go_mod_requires(_go_mod(wrapper))


def _all_records():
    """The Go binaries of every set (pause is compiled from C)."""
    return [(version, record) for version in pins.NODE_KUBERNETES_VERSIONS
            for record in node_binaries.records(version).values() if isinstance(record, registry.Binary)]


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
                                      "runc", "crictl", "bridge", "host-local", "loopback", "portmap", "ptp",
                                      "coredns", "pause", "flanneld", "etcd-server", "metrics-server"])
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
                                     "cni-plugins", "coredns", "coredns-1.13", "flannel", "metrics-server"])
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
    records = dict((n, r) for n, r in node_binaries.records(version).items() if isinstance(r, registry.Binary))
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


def test_each_set_builds_the_coredns_its_kubeadm_deploys_from_its_own_wrapper():
    wrappers = set()
    for version in pins.NODE_KUBERNETES_VERSIONS:
        coredns = node_binaries.records(version)["coredns"]
        # go.mod, not the pin, says which CoreDNS a wrapper builds.
        assert _requires(coredns.wrapper)["github.com/coredns/coredns"] == pins.COREDNS_VERSIONS[version]
        wrappers.add(coredns.wrapper)
    assert len(wrappers) == len(pins.NODE_KUBERNETES_VERSIONS)


def test_coredns_and_flanneld_are_stamped_and_built_as_their_makefiles_do():
    version = pins.KUBERNETES_MANAGEMENT_VERSION
    flags, specs = _ldflags(version, "coredns", commit="dd1df4f5db93767a44e37638df44969503b320d2")
    # `git describe --always` at a lightweight tag: the 7-digit commit.
    assert "-X 'github.com/coredns/coredns/coremain.GitCommit=dd1df4f'" in flags
    assert specs["coredns"]["env"] == {"CGO_ENABLED": "0"} and specs["coredns"]["tags"] == ("grpcnotrace",)
    assert node_binaries.NODE_WRAPPER_MODULES["coredns-1.13"].tags == ()
    flags, specs = _ldflags(version, "flanneld")
    flannel = _requires("flannel")[RUNTIME_MODULES["flannel"]]
    assert "-X 'github.com/flannel-io/flannel/pkg/version.Version=%s'" % flannel in flags
    assert "-linkmode external -extldflags '-static'" in flags
    assert specs["flannel"]["env"] == {"CGO_ENABLED": "1"} and specs["flannel"]["static_libraries"] == ("libc6-dev",)


def test_metrics_server_is_stamped_as_its_makefile_does():
    # VERSION_LDFLAGS: client-go's version variables, CGO_ENABLED=0.
    flags, specs = _ldflags(pins.KUBERNETES_MANAGEMENT_VERSION, "metrics-server")
    assert "-X 'k8s.io/client-go/pkg/version.gitVersion=%s'" % pins.METRICS_SERVER_IMAGE_VERSION in flags
    assert specs["metrics-server"]["env"] == {"CGO_ENABLED": "0"}


def test_the_flannel_edit_drops_only_the_tencent_cloud_backend(tmp_path):
    imports = "".join('\t_ "github.com/flannel-io/flannel/pkg/backend/%s"\n' % b
                      for b in ("ipsec", "tencentvpc", "udp", "vxlan"))
    (tmp_path / "main.go").write_text("import (\n" + imports + ")\n")
    assert build.apply_edits(str(tmp_path), build.EDITS["github.com/flannel-io/flannel"]) == ["main.go"]
    text = (tmp_path / "main.go").read_text()
    assert "tencentvpc" not in text and all('backend/%s"' % b in text for b in ("ipsec", "udp", "vxlan"))


# Go source is indented with tabs, as in kubeadm's constants.go.
CONSTANTS_GO = (
    "\nconst (\n"
    "\t// CoreDNSVersion is the version of CoreDNS to be deployed if it is used\n"
    '\tCoreDNSVersion = "v1.14.2"\n'
    ")\nconst (\n"
    "\t// PauseVersion indicates the default pause image version for kubeadm\n"
    '\tPauseVersion = "3.10.2"\n'
    ")\n")


def test_kubeadm_image_versions_are_read_from_its_constants():
    assert node_binaries.kubeadm_image_versions(CONSTANTS_GO) == {"coredns": "v1.14.2", "pause": "3.10.2"}
    with pytest.raises(BuildError) as exc:
        node_binaries.kubeadm_image_versions(CONSTANTS_GO.replace("PauseVersion", "SandboxVersion"))
    assert "pause" in str(exc.value)


def test_pause_is_compiled_with_the_flags_of_kubernetes_build_pause_makefile():
    for version in pins.NODE_KUBERNETES_VERSIONS:
        pause = node_binaries.records(version)["pause"]
        assert (pause.module, pause.pin, pause.source) == ("k8s.io/kubernetes", version, "build/pause/linux/pause.c")
        assert pause.cflags[:4] == ("-Os", "-Wall", "-Werror", "-static")
        assert pause.cflags[4] == "-DVERSION=v%s-%s" % (pause.version, version)


def test_the_c_cache_key_changes_with_every_input():
    base = ("a" * 64, ("-Os", "-static"), "gcc (Debian 12.2.0-14) 12.2.0", {"libc6-dev": "2.36-9", "arch": "amd64"})
    variants = [base, ("b" * 64,) + base[1:], (base[0], ("-O2", "-static")) + base[2:],
                base[:2] + ("gcc (Debian 12.2.0-15) 12.2.0", base[3]),
                base[:3] + ({"libc6-dev": "2.36-10", "arch": "amd64"},)]
    keys = [c_binaries.c_cache_key(*v) for v in variants]
    assert len(set(keys)) == len(keys) and c_binaries.c_cache_key(*base) == keys[0]
