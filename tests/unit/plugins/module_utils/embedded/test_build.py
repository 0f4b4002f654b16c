# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Unit tests of the embedded build helper: no Go toolchain needed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil

import pytest

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.embedded import build
from ansible_collections.scs.kaas.roles.management_cluster.files.embedded import local_command
from ansible_collections.scs.kaas.plugins.module_utils.errors import EmbeddedError

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))
GO_DIR = os.path.join(REPO, "roles", "management_cluster", "files", "embedded", "go")

TOOLCHAIN = {"GOVERSION": "go1.26.8", "GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "1"}


def _read(path):
    with open(path, "r", encoding="utf-8") as f:
        return f.read()


def _go_mod(module):
    return _read(os.path.join(GO_DIR, module, "go.mod"))


def _replaces(text):
    """{old: (new, version)} of a go.mod's replace directives (single-line and block form)."""
    out = {}
    in_block = False
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if in_block:
            if line == ")":
                in_block = False
                continue
        elif line.startswith("replace ("):
            in_block = True
            continue
        elif line.startswith("replace "):
            line = line[len("replace "):]
        else:
            continue
        if "=>" in line:
            old, new = [s.split() for s in line.split("=>")]
            out[old[0]] = (new[0], new[1] if len(new) > 1 else None)
    return out


# ---------------------------------------------------------------- go.mod agrees with pins.py


@pytest.mark.parametrize("wrapper", ["kubernetes", "kubectl"])
def test_kubernetes_wrapper_requires_pinned_kubernetes(wrapper):
    assert build.parse_go_mod_requires(_go_mod(wrapper))["k8s.io/kubernetes"] == pins.KUBERNETES_MANAGEMENT_VERSION


@pytest.mark.parametrize("wrapper", ["kubernetes", "kubectl"])
def test_kubernetes_staging_modules_map_to_the_matching_release(wrapper):
    text = _go_mod(wrapper)
    staging_version = "v0." + pins.KUBERNETES_MANAGEMENT_VERSION.split(".", 1)[1]
    replaces = _replaces(text)
    assert len(replaces) >= 25, "expected every k8s.io staging module to be replaced"
    for old, (new, version) in replaces.items():
        assert old.startswith("k8s.io/"), old
        assert new == old and version == staging_version, (old, new, version)
    requires = build.parse_go_mod_requires(text)
    for module, version in requires.items():
        if module in replaces:
            continue
        # A staging module required but not replaced would resolve to an unrelated version.
        assert not (module.startswith("k8s.io/") and version == "v0.0.0"), module


def test_etcd_wrapper_requires_pinned_etcd():
    requires = build.parse_go_mod_requires(_go_mod("etcd"))
    assert requires["go.etcd.io/etcd/server/v3"] == pins.ETCD_VERSION
    assert requires["go.etcd.io/etcd/api/v3"] == pins.ETCD_VERSION


def test_cluster_api_wrapper_requires_pinned_cluster_api():
    requires = build.parse_go_mod_requires(_go_mod("cluster-api"))
    assert requires["sigs.k8s.io/cluster-api"] == pins.CLUSTER_API_VERSION
    assert requires["sigs.k8s.io/cluster-api/api"] == pins.CLUSTER_API_VERSION
    assert requires["sigs.k8s.io/cluster-api/test"] == build.CLUSTER_API_TEST_MODULE_VERSION
    # The test module (CAPD) must come from the same minor release as the root module.
    assert build.CLUSTER_API_TEST_MODULE_VERSION.split(".")[:2] == pins.CLUSTER_API_VERSION.split(".")[:2]
    assert not _replaces(_go_mod("cluster-api")), "committed go.mod must not replace modules (the build does)"


def test_capo_wrapper_requires_pinned_capo():
    requires = build.parse_go_mod_requires(_go_mod("capo"))
    assert requires["sigs.k8s.io/cluster-api-provider-openstack"] == pins.CAPO_VERSION
    # CAPO is built with its own dependency versions (CAPI v1.12 API packages, controller-runtime
    # v0.22), not those of the cluster-api wrapper.
    assert requires["sigs.k8s.io/cluster-api"].split(".")[:2] != pins.CLUSTER_API_VERSION.split(".")[:2]
    assert not _replaces(_go_mod("capo")), "committed go.mod must not replace modules (the build does)"


def test_orc_wrapper_builds_the_orc_that_capo_requires():
    orc = "github.com/k-orc/openstack-resource-controller/v2"
    assert build.parse_go_mod_requires(_go_mod("orc"))[orc] == pins.ORC_VERSION
    assert build.parse_go_mod_requires(_go_mod("capo"))[orc] == pins.ORC_VERSION
    assert not _replaces(_go_mod("orc"))


@pytest.mark.parametrize("module", ["kubernetes", "kubectl", "etcd", "cluster-api", "capo", "orc"])
def test_wrapper_go_sum_pins_every_required_module(module):
    text = _go_mod(module)
    requires = build.parse_go_mod_requires(text)
    replaces = _replaces(text)
    go_sum = _read(os.path.join(GO_DIR, module, "go.sum"))
    for mod, version in requires.items():
        if mod in replaces:
            mod, version = replaces[mod]
        assert "%s %s/go.mod h1:" % (mod, version) in go_sum, (mod, version)


@pytest.mark.parametrize("wrapper", sorted(w for w, spec in build.WRAPPERS.items() if spec["stamp_module"]))
def test_version_stamp_is_the_version_the_wrapper_builds(wrapper):
    # The stamp comes from pins.py, the code from go.mod: a pin bump without go.mod (or the
    # reverse) would ship binaries that report a version they are not.
    spec = build.WRAPPERS[wrapper]
    built = build.parse_go_mod_requires(_go_mod(wrapper))[spec["stamp_module"]]
    flags = build.ldflags_for(wrapper, {})
    for package in spec["stamp_packages"]:
        assert "-X '%s.gitVersion=%s'" % (package, built) in flags, (wrapper, built, flags)


def test_kubectl_is_built_without_touching_the_kubernetes_wrapper():
    # Adding kubectl must not change the cache keys of kube-apiserver/kube-controller-manager:
    # their wrapper module (hashed into the keys) names only their two mains.
    assert build.COMPONENTS["kubectl"][0] != build.COMPONENTS["kube-apiserver"][0]
    tools = re.search(r"^tool \(\n(.*?)^\)", _go_mod("kubernetes"), re.M | re.S).group(1).split()
    assert tools == ["k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager"]
    assert "kubectl" not in _go_mod("kubernetes").split("module ", 1)[1].split("require", 1)[0]


def test_every_component_package_is_a_tool_of_its_wrapper():
    for name, (wrapper, package) in build.COMPONENTS.items():
        if package == ".":
            assert os.path.isfile(os.path.join(GO_DIR, wrapper, "main.go")), name
            continue
        assert re.search(r"^\s*(tool\s+)?%s\s*$" % re.escape(package), _go_mod(wrapper), re.M), (name, package)


def test_parse_go_mod_requires_handles_both_forms():
    text = "module x\n\nrequire a.io/b v1.2.3\n\nrequire (\n\tc.io/d v0.1.0 // indirect\n\te.io/f v2.0.0+incompatible\n)\n"
    assert build.parse_go_mod_requires(text) == {"a.io/b": "v1.2.3", "c.io/d": "v0.1.0", "e.io/f": "v2.0.0+incompatible"}


# ---------------------------------------------------------------- cache key


@pytest.fixture
def wrapper_copy(tmp_path):
    dst = tmp_path / "kubernetes"
    shutil.copytree(os.path.join(GO_DIR, "kubernetes"), str(dst))
    return str(dst)


def _key(wdir, package="k8s.io/kubernetes/cmd/kube-apiserver", ldflags="-s -w", toolchain=None, digest=None):
    if digest is None:
        digest = build.edit_step_digest(build.WRAPPERS["cluster-api"]["edits"])
    return build.cache_key(build.wrapper_files(wdir), package, ldflags, toolchain or TOOLCHAIN, digest)


def test_cache_key_is_stable(wrapper_copy):
    assert _key(wrapper_copy) == _key(wrapper_copy)
    assert re.match(r"^[0-9a-f]{16}$", _key(wrapper_copy))


def test_cache_key_changes_with_go_mod(wrapper_copy):
    before = _key(wrapper_copy)
    path = os.path.join(wrapper_copy, "go.mod")
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n// changed\n")
    assert _key(wrapper_copy) != before


def test_cache_key_changes_with_go_sum_and_main_files(wrapper_copy):
    before = _key(wrapper_copy)
    with open(os.path.join(wrapper_copy, "go.sum"), "a", encoding="utf-8") as f:
        f.write("example.org/x v1.0.0 h1:AAAA=\n")
    after_sum = _key(wrapper_copy)
    assert after_sum != before
    with open(os.path.join(wrapper_copy, "main.go"), "w", encoding="utf-8") as f:
        f.write("package main\n")
    assert _key(wrapper_copy) != after_sum


def test_cache_key_changes_with_ldflags_package_and_toolchain(wrapper_copy):
    base = _key(wrapper_copy)
    assert _key(wrapper_copy, ldflags="-s -w -X a.b=c") != base
    assert _key(wrapper_copy, package="k8s.io/kubernetes/cmd/kube-controller-manager") != base
    assert _key(wrapper_copy, toolchain=dict(TOOLCHAIN, GOVERSION="go1.26.9")) != base


def test_cache_key_changes_with_the_edit_step(wrapper_copy, monkeypatch):
    modules = build.WRAPPERS["cluster-api"]["edits"]
    before_digest = build.edit_step_digest(modules)
    before = _key(wrapper_copy, digest=before_digest)
    edits = dict(build.EDITS)
    rel, old, new, count = edits["sigs.k8s.io/cluster-api/test"][0]
    edits["sigs.k8s.io/cluster-api/test"] = ((rel, old, new.replace("127.0.0.1", "::1"), count),) + \
        edits["sigs.k8s.io/cluster-api/test"][1:]
    monkeypatch.setattr(build, "EDITS", edits)
    after_digest = build.edit_step_digest(modules)
    assert after_digest != before_digest
    assert _key(wrapper_copy, digest=after_digest) != before


def test_edit_step_digest_covers_the_edit_function_source(monkeypatch):
    modules = build.WRAPPERS["cluster-api"]["edits"]
    before = build.edit_step_digest(modules)

    def apply_edits(root, edits):  # a different implementation
        return []

    monkeypatch.setattr(build, "apply_edits", apply_edits)
    assert build.edit_step_digest(modules) != before


def test_modules_without_edits_have_a_fixed_digest():
    assert build.edit_step_digest(()) == build.edit_step_digest([])
    assert build.edit_step_digest(()) != build.edit_step_digest(("sigs.k8s.io/controller-runtime",))


# ---------------------------------------------------------------- edit step


def _write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def test_apply_edits_replaces_expected_text(tmp_path):
    path = _write(str(tmp_path), "pkg/a.go", 'l, err := net.Listen("tcp", ":80")\n')
    changed = build.apply_edits(str(tmp_path), (("pkg/a.go", '":80"', '"127.0.0.1:80"', 1),))
    assert changed == ["pkg/a.go"]
    assert _read(path) == 'l, err := net.Listen("tcp", "127.0.0.1:80")\n'


def test_apply_edits_fails_loudly_when_text_missing(tmp_path):
    original = 'l, err := net.Listen("tcp", "0.0.0.0:80")\n'
    path = _write(str(tmp_path), "pkg/a.go", original)
    with pytest.raises(build.BuildError) as exc:
        build.apply_edits(str(tmp_path), (("pkg/a.go", '":80"', '"127.0.0.1:80"', 1),))
    assert "found 0" in str(exc.value) and "pkg/a.go" in str(exc.value)
    assert _read(path) == original


def test_apply_edits_fails_on_unexpected_count(tmp_path):
    original = 'a(":80")\nb(":80")\n'
    path = _write(str(tmp_path), "a.go", original)
    with pytest.raises(build.BuildError, match="expected 1 occurrence.*found 2"):
        build.apply_edits(str(tmp_path), (("a.go", '":80"', '"127.0.0.1:80"', 1),))
    assert _read(path) == original


def test_apply_edits_fails_on_missing_file(tmp_path):
    with pytest.raises(build.BuildError, match="not found"):
        build.apply_edits(str(tmp_path), (("nope.go", "a", "b", 1),))


def test_apply_edits_keeps_read_only_mode(tmp_path):
    path = _write(str(tmp_path), "a.go", 'x(":1")\n')
    os.chmod(path, 0o444)
    build.apply_edits(str(tmp_path), (("a.go", '":1"', '"127.0.0.1:1"', 1),))
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o444)
    assert "127.0.0.1" in _read(path)


# Synthetic files shaped like the upstream code the real EDITS table targets.
SERVER_GO = """package webhook

func (o *Options) setDefaults() {
\tif o.WebhookMux == nil {
\t\to.WebhookMux = http.NewServeMux()
\t}
}

func (s *DefaultServer) Start(ctx context.Context) error {
\tlistener, err := tls.Listen("tcp", net.JoinHostPort(s.Options.Host, strconv.Itoa(s.Options.Port)), cfg)
}
"""

MUX_GO = """package server

func NewWorkloadClustersMux() {
\tl, err := net.Listen("tcp", fmt.Sprintf(":%d", options.DebugPort)) //nolint:noctx
}

func (m *WorkloadClustersMux) AddAPIServer() {
\t\tl, err := net.Listen("tcp", fmt.Sprintf(":%d", wcl.Port())) //nolint:noctx
}

func (m *WorkloadClustersMux) AddEtcdMember() {
\tl, err := net.Listen("tcp", fmt.Sprintf(":%d", wcl.Port())) //nolint:noctx
}
"""


def test_real_edit_table_binds_loopback_on_upstream_shaped_code(tmp_path):
    cr = str(tmp_path / "cr")
    server = _write(cr, "pkg/webhook/server.go", SERVER_GO)
    build.apply_edits(cr, build.EDITS["sigs.k8s.io/controller-runtime"])
    text = _read(server)
    assert 'if o.Host == "" {\n\t\to.Host = "127.0.0.1"' in text

    test_mod = str(tmp_path / "test")
    mux = _write(test_mod, "infrastructure/inmemory/pkg/server/mux.go", MUX_GO)
    build.apply_edits(test_mod, build.EDITS["sigs.k8s.io/cluster-api/test"])
    text = _read(mux)
    assert '":%d"' not in text
    assert text.count('"127.0.0.1:%d"') == 3


def test_real_edit_table_fails_when_upstream_changed(tmp_path):
    test_mod = str(tmp_path / "test")
    _write(test_mod, "infrastructure/inmemory/pkg/server/mux.go",
           MUX_GO.replace('fmt.Sprintf(":%d", options.DebugPort)', 'net.JoinHostPort(host, port)'))
    with pytest.raises(build.BuildError, match="DebugPort"):
        build.apply_edits(test_mod, build.EDITS["sigs.k8s.io/cluster-api/test"])


# ---------------------------------------------------------------- version stamps


def test_ldflags_stamp_kubernetes_version():
    info = {"Version": "v1.36.5", "Time": "2026-09-23T18:59:36Z"}
    flags = build.ldflags_for("kubernetes", info)
    version = build.parse_go_mod_requires(_go_mod("kubernetes"))["k8s.io/kubernetes"]  # what is compiled
    major, minor = version.lstrip("v").split(".")[:2]
    assert "-X 'k8s.io/component-base/version.gitVersion=%s'" % version in flags
    assert "-X 'k8s.io/component-base/version.gitMajor=%s'" % major in flags
    assert "-X 'k8s.io/component-base/version.gitMinor=%s'" % minor in flags
    assert "-X 'k8s.io/component-base/version.gitTreeState=clean'" in flags
    assert "-X 'k8s.io/component-base/version.buildDate=2026-09-23T18:59:36Z'" in flags
    assert "gitCommit" not in flags


def test_ldflags_stamp_cluster_api_version_and_commit():
    info = {"Version": "v1.14.2", "Time": "2026-09-08T12:36:30Z", "Origin": {"Hash": "abc123"}}
    flags = build.ldflags_for("cluster-api", info)
    version = build.parse_go_mod_requires(_go_mod("cluster-api"))["sigs.k8s.io/cluster-api"]
    assert "-X 'sigs.k8s.io/cluster-api/version.gitVersion=%s'" % version in flags
    assert "-X 'sigs.k8s.io/cluster-api/version.gitCommit=abc123'" in flags


def test_ldflags_without_stamp_for_etcd():
    assert build.ldflags_for("etcd", {}) == "-s -w"


# ---------------------------------------------------------------- input validation


def test_unknown_component_is_rejected_before_anything_runs(tmp_path):
    with pytest.raises(build.BuildError, match="unknown component.*kube-scheduler.*valid: etcd"):
        build.ensure_binaries(str(tmp_path), local_command.runner(), cache_dir=str(tmp_path / "cache"), components=["kube-scheduler"])
    assert not os.path.exists(str(tmp_path / "cache"))


def test_missing_wrapper_module_is_named(tmp_path):
    with pytest.raises(build.BuildError, match="wrapper module 'etcd' not found"):
        build.wrapper_dir(str(tmp_path), "etcd")


def test_component_names_are_the_interface():
    assert set(build.COMPONENT_NAMES) == {
        "kube-apiserver", "kube-controller-manager", "etcd", "capi-manager", "kubeadm-bootstrap-manager",
        "kubeadm-control-plane-manager", "capd-manager", "capo-manager", "orc-manager", "caaph-manager",
        "clusterctl", "kubectl"}
    assert set(build.COMPONENTS) == set(build.COMPONENT_NAMES)
    assert set(build.MODULE_DIRS) == {"cluster-api", "cluster-api-test", "cluster-api-provider-openstack"}


def test_a_build_without_a_component_list_makes_what_runs_by_default():
    default = build.default_components()
    assert "capo-manager" not in default and "orc-manager" not in default
    assert default[-2:] == ["clusterctl", "kubectl"]
    openstack = build.default_components(["openstack"])
    assert [c for c in openstack if c not in default] == ["capo-manager", "orc-manager"]
    assert build.modules_to_resolve(openstack)["orc"] == ["github.com/k-orc/openstack-resource-controller/v2"]
    assert "orc" not in build.modules_to_resolve(default)


def test_an_unknown_optional_provider_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(EmbeddedError, match="unknown item 'aws'; valid items: addons, openstack"):
        build.ensure_binaries(str(tmp_path), local_command.runner(), cache_dir=str(tmp_path / "cache"), switches=["aws"])
    assert not os.path.exists(str(tmp_path / "cache"))


def test_stale_temp_dirs_of_interrupted_builds_are_removed(tmp_path):
    stale = tmp_path / ".tmp-old"
    fresh = tmp_path / ".tmp-new"
    keep = tmp_path / "v1.0.0-abc"
    for d in (stale, fresh, keep):
        d.mkdir()
    old = os.stat(str(stale)).st_mtime - 7 * 3600
    os.utime(str(stale), (old, old))
    os.utime(str(keep), (old, old))
    build._remove_stale_temp_dirs(str(tmp_path))
    assert not stale.exists() and fresh.exists() and keep.exists()
