# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The bill of materials builder: build information in, CycloneDX 1.6 out, valid against the
official schema (shipped offline by cyclonedx-python-lib)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ansible_collections.scs.kaas.plugins.module_utils.nodes import sbom

# Shortened real `go version -m` output of two binaries (one with a replaced module, one static
# cgo build).
KUBELET = (
    "/cache/embedded/kubelet/v1.36.5-0123456789abcdef/kubelet: go1.26.8\n"
    "\tpath\tk8s.io/kubernetes/cmd/kubelet\n"
    "\tmod\tk8s.io/kubernetes\tv1.36.5\th1:bLFTShnoNlRCkuYqoSIwgU7Ozf47DsOAiwOekTHpZJw=\n"
    "\tdep\tgithub.com/cenkalti/backoff/v5\tv5.0.3\th1:ZN+IMa753KfX5hd8vVaMixjnqRZ3y8CuJKRKj1xcsSM=\n"
    "\tdep\tgithub.com/docker/go-units\tv0.5.0+incompatible\th1:69rxXcBk27SvSaaxTtLh/8llcHD8vYHT7WSdRZ/jvr4=\n"
    "\tdep\tk8s.io/api\tv0.0.0\t\n"
    "\t=>\tk8s.io/api\tv0.36.5\th1:vtL/ByHmw7suLt+SGVMPZnuj8QdfZ0kN1vvMvHRCY9c=\n"
    "\tbuild\t-buildmode=exe\n"
    "\tbuild\t-trimpath=true\n"
    "\tbuild\tCGO_ENABLED=1\n"
    "\tbuild\tGOARCH=amd64\n"
    "\tbuild\tGOOS=linux\n"
)
RUNC = (
    "/cache/embedded/runc/v1.5.3-fedcba9876543210/runc: go1.26.8\n"
    "\tpath\tgithub.com/opencontainers/runc\n"
    "\tmod\tgithub.com/opencontainers/runc\tv1.5.3\th1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    "\tdep\tgithub.com/cenkalti/backoff/v5\tv5.0.3\th1:ZN+IMa753KfX5hd8vVaMixjnqRZ3y8CuJKRKj1xcsSM=\n"
    "\tdep\tgithub.com/seccomp/libseccomp-golang\tv0.11.1\th1:wuk4ZjSx6kyQII4rj6G6fvVzRHQaSiPvccJazDagu4g=\n"
    "\tbuild\t-tags=seccomp,urfave_cli_no_docs,netgo,osusergo\n"
    "\tbuild\tCGO_ENABLED=1\n"
    "\tbuild\tGOARCH=amd64\n"
)
SHA_KUBELET = "a" * 64
SHA_RUNC = "b" * 64


def _entries():
    return [
        {"name": "runc", "sha256": SHA_RUNC, "build_info": RUNC,
         "static_libraries": {"libseccomp-dev": "2.5.4-1+b3", "libc6-dev": "2.36-9+deb12u14"}},
        {"name": "kubelet", "sha256": SHA_KUBELET, "build_info": KUBELET},
    ]


def _validate(document):
    """None when ``document`` is valid CycloneDX 1.6 JSON (strict: no unknown properties)."""
    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(document))


def test_parse_build_info_reads_main_module_dependencies_replacements_and_settings():
    info = sbom.parse_build_info(KUBELET)
    assert info["go"] == "go1.26.8"
    assert info["path"] == "k8s.io/kubernetes/cmd/kubelet"
    assert info["main"]["path"] == "k8s.io/kubernetes" and info["main"]["version"] == "v1.36.5"
    paths = [d["path"] for d in info["deps"]]
    assert paths == ["github.com/cenkalti/backoff/v5", "github.com/docker/go-units", "k8s.io/api"]
    api = info["deps"][2]
    assert api["version"] == "v0.0.0" and api["sum"] is None
    assert api["replaced_by"] == {"path": "k8s.io/api", "version": "v0.36.5", "replaced_by": None,
                                  "sum": "h1:vtL/ByHmw7suLt+SGVMPZnuj8QdfZ0kN1vvMvHRCY9c="}
    assert info["settings"]["CGO_ENABLED"] == "1" and info["settings"]["-trimpath"] == "true"


@pytest.mark.parametrize("text", ["", "hello world\n", "/x: go1.26.8\n\tdep\ta\tv1\n",
                                  "/x: go1.26.8\n\tpath\tp\n\tmod\tm\tv1\n\tweird\tline\n",
                                  "/x: go1.26.8\n\tpath\tp\n\t=>\tr\tv2\n\tmod\tm\tv1\n"])
def test_parse_build_info_refuses_other_text(text):
    with pytest.raises(sbom.BuildInfoError):
        sbom.parse_build_info(text)


def test_go_sum_hash_becomes_the_hex_of_its_sha256():
    # base64 "ZN+I..." is the bytes 0x64 0xdf 0x88 ...
    assert sbom.go_sum_to_sha256("h1:ZN+IMa753KfX5hd8vVaMixjnqRZ3y8CuJKRKj1xcsSM=") == \
        "64df8831aef9dca7d7e6177cbd568c8b18e7a91677cbc0ae24a44a8f5c5cb123"
    assert sbom.go_sum_to_sha256(None) is None
    assert sbom.go_sum_to_sha256("h2:ZN+IMa753KfX5hd8vVaMixjnqRZ3y8CuJKRKj1xcsSM=") is None
    assert sbom.go_sum_to_sha256("h1:not base64!") is None
    assert sbom.go_sum_to_sha256("h1:AAAA") is None  # not 32 bytes


def test_purls_encode_what_a_purl_must_encode():
    assert sbom.golang_purl("github.com/docker/go-units", "v0.5.0+incompatible") == \
        "pkg:golang/github.com/docker/go-units@v0.5.0%2Bincompatible"
    assert sbom.golang_purl("k8s.io/kubernetes", "v1.36.5", "cmd/kubelet") == \
        "pkg:golang/k8s.io/kubernetes@v1.36.5#cmd/kubelet"
    assert sbom.golang_purl("scs.kaas/embedded/etcd", "(devel)") == "pkg:golang/scs.kaas/embedded/etcd"
    assert sbom.deb_purl("libc6-dev", "2.36-9+deb12u14", "amd64") == \
        "pkg:deb/debian/libc6-dev@2.36-9%2Bdeb12u14?arch=amd64"


def test_bom_is_valid_cyclonedx_1_6():
    document = sbom.bom("node-binaries", "v1.36.5", _entries())
    assert _validate(document) is None
    assert document["specVersion"] == "1.6"


def test_the_validator_rejects_a_broken_document():
    # The schema check can fail: a hash that is not hex, an unknown top-level field.
    document = sbom.bom("node-binaries", "v1.36.5", _entries())
    broken = copy.deepcopy(document)
    broken["components"][0]["hashes"][0]["content"] = "h1:not-hex"
    assert _validate(broken) is not None
    broken = copy.deepcopy(document)
    broken["binaries"] = []
    assert _validate(broken) is not None


def test_each_binary_is_an_application_with_its_sha256_and_module_version():
    document = sbom.bom("node-binaries", "v1.36.5", _entries())
    apps = dict((c["name"], c) for c in document["components"] if c["type"] == "application")
    assert sorted(apps) == ["kubelet", "runc"]
    assert apps["kubelet"]["hashes"] == [{"alg": "SHA-256", "content": SHA_KUBELET}]
    assert apps["kubelet"]["version"] == "v1.36.5"
    assert apps["kubelet"]["purl"] == "pkg:golang/k8s.io/kubernetes@v1.36.5#cmd/kubelet"
    assert apps["runc"]["purl"] == "pkg:golang/github.com/opencontainers/runc@v1.5.3"
    properties = dict((p["name"], p["value"]) for p in apps["runc"]["properties"])
    assert properties["scs.kaas:go:build:-tags"] == "seccomp,urfave_cli_no_docs,netgo,osusergo"
    assert properties["scs.kaas:go:toolchain"] == "go1.26.8"


def test_every_module_is_listed_once_and_each_binary_depends_on_what_it_contains():
    document = sbom.bom("node-binaries", "v1.36.5", _entries())
    refs = [c["bom-ref"] for c in document["components"]]
    assert len(refs) == len(set(refs))
    libraries = dict((c["name"], c) for c in document["components"] if c["type"] == "library")
    # Shared by both binaries, listed once.
    backoff = "pkg:golang/github.com/cenkalti/backoff/v5@v5.0.3"
    assert refs.count(backoff) == 1
    depends = dict((d["ref"], set(d.get("dependsOn", ()))) for d in document["dependencies"])
    assert backoff in depends["binary:kubelet"] and backoff in depends["binary:runc"]
    assert "pkg:golang/k8s.io/kubernetes@v1.36.5" in depends["binary:kubelet"]
    assert "pkg:golang/k8s.io/kubernetes@v1.36.5" not in depends["binary:runc"]
    assert depends["set:node-binaries@v1.36.5"] == {"binary:kubelet", "binary:runc"}
    # Every dependsOn names a component of the document.
    assert set().union(*depends.values()) <= set(refs)
    # The replacement is what was compiled in; the original is recorded.
    api = libraries["k8s.io/api"]
    assert api["version"] == "v0.36.5"
    assert {"name": "scs.kaas:go:replaces", "value": "k8s.io/api v0.0.0"} in api["properties"]
    assert {"name": "scs.kaas:go.sum", "value": "h1:vtL/ByHmw7suLt+SGVMPZnuj8QdfZ0kN1vvMvHRCY9c="} in api["properties"]
    assert libraries["std"]["version"] == "go1.26.8"


def test_static_libraries_of_a_cgo_build_are_listed_as_debian_packages():
    document = sbom.bom("node-binaries", "v1.36.5", _entries())
    debs = dict((c["name"], c) for c in document["components"] if c["purl"].startswith("pkg:deb/"))
    assert sorted(debs) == ["libc6-dev", "libseccomp-dev"]
    assert debs["libseccomp-dev"]["version"] == "2.5.4-1+b3"
    depends = dict((d["ref"], set(d.get("dependsOn", ()))) for d in document["dependencies"])
    assert debs["libseccomp-dev"]["bom-ref"] in depends["binary:runc"]
    assert debs["libseccomp-dev"]["bom-ref"] not in depends["binary:kubelet"]


def test_the_document_depends_only_on_its_content():
    first = sbom.bom("node-binaries", "v1.36.5", _entries())
    assert sbom.bom("node-binaries", "v1.36.5", list(reversed(_entries()))) == first
    changed = _entries()
    changed[1]["sha256"] = "c" * 64
    assert sbom.bom("node-binaries", "v1.36.5", changed)["serialNumber"] != first["serialNumber"]


PAUSE = {"name": "pause", "sha256": "c" * 64, "static_libraries": {"libc6-dev": "2.36-9+deb12u14"},
         "c_build": {"language": "c", "module": "k8s.io/kubernetes", "module_version": "v1.36.5",
                     "module_sum": "h1:bLFTShnoNlRCkuYqoSIwgU7Ozf47DsOAiwOekTHpZJw=",
                     "source": "build/pause/linux/pause.c", "source_sha256": "d" * 64, "arch": "amd64",
                     "cflags": ["-Os", "-Wall", "-Werror", "-static", "-DVERSION=v3.10.2-v1.36.5"],
                     "compiler": "gcc (Debian 12.2.0-14+deb12u1) 12.2.0",
                     "build_tools": {"gcc-12": "12.2.0-14+deb12u1", "binutils": "2.40-2"}}}


def test_a_binary_compiled_from_c_names_its_source_module_compiler_and_static_libc():
    document = sbom.bom("node-binaries", "v1.36.5", _entries() + [PAUSE])
    assert _validate(document) is None
    by_ref = dict((c["bom-ref"], c) for c in document["components"])
    pause = by_ref["binary:pause"]
    assert pause["purl"] == "pkg:golang/k8s.io/kubernetes@v1.36.5#build/pause/linux"
    assert pause["hashes"] == [{"alg": "SHA-256", "content": "c" * 64}]
    properties = dict((p["name"], p["value"]) for p in pause["properties"])
    assert properties["scs.kaas:c:source:sha256"] == "d" * 64
    assert properties["scs.kaas:c:flags"] == "-Os -Wall -Werror -static -DVERSION=v3.10.2-v1.36.5"
    assert properties["scs.kaas:c:build-tool:gcc-12"] == "12.2.0-14+deb12u1"
    depends = dict((d["ref"], d.get("dependsOn", [])) for d in document["dependencies"])
    libc = "pkg:deb/debian/libc6-dev@2.36-9%2Bdeb12u14?arch=amd64"
    kubernetes = "pkg:golang/k8s.io/kubernetes@v1.36.5"
    assert depends["binary:pause"] == sorted([libc, kubernetes])
    # The module is the one kubelet is built from (listed once, with the go.sum hash of both).
    assert kubernetes in depends["binary:kubelet"]
    assert [c["bom-ref"] for c in document["components"]].count(kubernetes) == 1
    assert dict((p["name"], p["value"]) for p in by_ref[libc]["properties"])["scs.kaas:linked"] == "statically"
    assert "binary:pause" in depends["set:node-binaries@v1.36.5"]


FLANNELD = (
    "/cache/embedded/flanneld/v0.28.10-0123456789abcdef/flanneld: go1.26.8\n"
    "\tpath\tgithub.com/flannel-io/flannel\n"
    "\tmod\tgithub.com/flannel-io/flannel\tv0.28.10\n"
    "\t=>\t/cache/embedded/src/github.com_flannel-io_flannel@v0.28.10-e59e172b30855c71\t(devel)\t\n"
    "\tdep\tgithub.com/vishvananda/netns\tv0.0.5\th1:DfiHV+j8bA32MFM7bfEunvT8IAqQ/NzSJHtcmW5zdEY=\n"
    "\tbuild\tCGO_ENABLED=1\n"
)


def test_a_release_compiled_from_its_edited_copy_is_named_as_the_release_without_the_cache_path():
    document = sbom.bom("node-binaries", "v1.36.5", [{"name": "flanneld", "sha256": "e" * 64, "build_info": FLANNELD}])
    assert _validate(document) is None
    assert "/cache/" not in json.dumps(document)
    by_ref = dict((c["bom-ref"], c) for c in document["components"])
    assert by_ref["binary:flanneld"]["purl"] == "pkg:golang/github.com/flannel-io/flannel@v0.28.10"
    flannel = by_ref["pkg:golang/github.com/flannel-io/flannel@v0.28.10"]
    assert [p["name"] for p in flannel["properties"]] == ["scs.kaas:go:edited"] and "hashes" not in flannel
