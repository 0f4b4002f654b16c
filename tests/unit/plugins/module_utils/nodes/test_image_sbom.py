# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The images' bills of materials: dpkg's status and the downloaded .deb files in, a package
list out (a package installed without its .deb fails); package list, binaries and files in,
CycloneDX 1.6 out, valid against the official schema (shipped offline by cyclonedx-python-lib)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ansible_collections.scs.kaas.plugins.module_utils.nodes import image_build, image_sbom

# Shortened real var/lib/dpkg/status of a bookworm minbase: an epoch, a multi-line field, an
# "all" package, and a removed package whose configuration files stay (not installed).
STATUS = """Package: bsdutils
Essential: yes
Status: install ok installed
Priority: required
Architecture: amd64
Source: util-linux (2.38.1-5+deb12u3)
Version: 1:2.38.1-5+deb12u3
Description: basic utilities from 4.4BSD-Lite
 This package contains the bare minimum of BSD utilities.
 .
 Version: 9:9.9 (a continuation line that looks like a field)

Package: adduser
Status: install ok installed
Architecture: all
Version: 3.134

Package: libc6
Status: install ok installed
Multi-Arch: same
Architecture: amd64
Version: 2.36-9+deb12u14

Package: haproxy-old
Status: deinstall ok config-files
Architecture: amd64
Version: 2.4.0-1
"""
SHA = dict((name, "%064x" % index) for index, name in enumerate(
    ("bsdutils", "adduser", "libc6", "extra"), start=1))
DEBS = {"bsdutils_1%3a2.38.1-5+deb12u3_amd64.deb": SHA["bsdutils"], "adduser_3.134_all.deb": SHA["adduser"],
        "libc6_2.36-9+deb12u14_amd64.deb": SHA["libc6"], "extra_1.0_amd64.deb": SHA["extra"]}


def _validate(document):
    """None when ``document`` is valid CycloneDX 1.6 JSON (strict: no unknown properties)."""
    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(document))


def _rootfs():
    return dict(image_build.package_list(STATUS, DEBS), suite="bookworm", mirror="http://deb.debian.org/debian",
                rootfs_sha256="f" * 64)


def test_dpkg_status_gives_the_installed_packages_only():
    assert image_build.installed_packages_of_status(STATUS) == {
        ("bsdutils", "amd64"): "1:2.38.1-5+deb12u3", ("adduser", "all"): "3.134",
        ("libc6", "amd64"): "2.36-9+deb12u14"}


def test_deb_file_names_decode_the_epoch_and_refuse_other_names():
    assert image_build.deb_file_identity("bsdutils_1%3a2.38.1-5+deb12u3_amd64.deb") == \
        ("bsdutils", "1:2.38.1-5+deb12u3", "amd64")
    assert image_build.deb_file_identity("adduser_3.134_all.deb") == ("adduser", "3.134", "all")
    for name in ("lock", "partial", "adduser_3.134.deb", "a_b_c_d.deb", "_1_all.deb", "adduser_3.134_all.udeb"):
        assert image_build.deb_file_identity(name) is None, name


def test_package_list_pairs_each_installed_package_with_its_deb():
    listed = image_build.package_list(STATUS, DEBS)
    assert listed["packages"] == [
        {"package": "adduser", "version": "3.134", "architecture": "all", "sha256": SHA["adduser"],
         "deb": "adduser_3.134_all.deb"},
        {"package": "bsdutils", "version": "1:2.38.1-5+deb12u3", "architecture": "amd64", "sha256": SHA["bsdutils"],
         "deb": "bsdutils_1%3a2.38.1-5+deb12u3_amd64.deb"},
        {"package": "libc6", "version": "2.36-9+deb12u14", "architecture": "amd64", "sha256": SHA["libc6"],
         "deb": "libc6_2.36-9+deb12u14_amd64.deb"}]
    # Downloaded, not installed: recorded, and never listed as content.
    assert listed["not_installed"] == ["extra_1.0_amd64.deb"]


def test_an_installed_package_without_its_deb_fails_naming_it():
    debs = dict(DEBS)
    del debs["adduser_3.134_all.deb"]
    # Another version of the package is no stand-in.
    debs["libc6_2.36-9+deb12u13_amd64.deb"] = debs.pop("libc6_2.36-9+deb12u14_amd64.deb")
    with pytest.raises(image_build.ImageBuildError) as err:
        image_build.package_list(STATUS, debs)
    assert "adduser 3.134 (all)" in str(err.value)
    assert "libc6 2.36-9+deb12u14 (amd64)" in str(err.value)
    assert "bsdutils" not in str(err.value)


def test_a_rootfs_image_lists_its_packages_with_the_deb_hashes_and_its_files():
    files = image_sbom.file_records({"/usr/local/sbin/haproxy": {"content": "#!/bin/sh\n", "mode": 0o755},
                                     "/etc/systemd/system/getty.target": {"symlink": "/dev/null"}}, digest=None)
    document = image_sbom.image_bom("scs-kaas/haproxy:bookworm-0123", "0123", rootfs=_rootfs(), files=files)
    assert _validate(document) is None
    subject = document["metadata"]["component"]
    assert (subject["type"], subject["name"], subject["version"]) == ("container", "scs-kaas/haproxy:bookworm-0123",
                                                                      "0123")
    assert {"name": "scs.kaas:rootfs:sha256", "value": "f" * 64} in subject["properties"]
    by_ref = dict((c["bom-ref"], c) for c in document["components"])
    bsdutils = by_ref["pkg:deb/debian/bsdutils@1%3A2.38.1-5%2Bdeb12u3?arch=amd64"]
    assert bsdutils["version"] == "1:2.38.1-5+deb12u3"
    assert bsdutils["hashes"] == [{"alg": "SHA-256", "content": SHA["bsdutils"]}]
    assert "pkg:deb/debian/adduser@3.134?arch=all" in by_ref
    assert not [c for c in document["components"] if c["name"] == "extra"]
    shim = by_ref["file:/usr/local/sbin/haproxy"]
    # printf '#!/bin/sh\n' | sha256sum
    assert shim["type"] == "file"
    assert shim["hashes"] == [{"alg": "SHA-256",
                               "content": "a8076d3d28d21e02012b20eaf7dbf75409a6277134439025f282e368e3305abf"}]
    assert {"name": "scs.kaas:file:mode", "value": "0755"} in shim["properties"]
    assert {"name": "scs.kaas:file:symlink", "value": "/dev/null"} in by_ref["file:/etc/systemd/system/getty.target"][
        "properties"]
    depends = dict((d["ref"], set(d.get("dependsOn", ()))) for d in document["dependencies"])
    assert depends["image:scs-kaas/haproxy:bookworm-0123"] == set(by_ref)


def test_file_records_hash_contents_and_sources_and_leave_binaries_out():
    digests = {"/src/entrypoint": "e" * 64}
    records = image_sbom.file_records(
        {"/usr/local/bin/entrypoint": {"source": "/src/entrypoint", "mode": 0o755},
         "/usr/bin/kubelet": {"source": "/cache/kubelet", "mode": 0o755},
         "/kind/version": {"content": "v1.36.5\n", "mode": 0o644}},
        digest=digests.__getitem__, binary_sources={"/cache/kubelet": "kubelet"})
    assert records == [
        # printf 'v1.36.5\n' | sha256sum
        {"path": "/kind/version", "sha256": "116ae497fea234678e20e3a75f423fc8ff0b82eff02c08def1ffde43a0005342",
         "mode": 0o644},
        {"path": "/usr/local/bin/entrypoint", "sha256": "e" * 64, "mode": 0o755}]


# Shortened real `go version -m` output: kubelet (cgo, dynamic) and etcd (placed under another
# name than its binary's).
KUBELET = ("/cache/embedded/kubelet/v1.36.5-0123456789abcdef/kubelet: go1.26.8\n"
           "\tpath\tk8s.io/kubernetes/cmd/kubelet\n"
           "\tmod\tk8s.io/kubernetes\tv1.36.5\th1:bLFTShnoNlRCkuYqoSIwgU7Ozf47DsOAiwOekTHpZJw=\n"
           "\tdep\tgithub.com/cenkalti/backoff/v5\tv5.0.3\th1:ZN+IMa753KfX5hd8vVaMixjnqRZ3y8CuJKRKj1xcsSM=\n"
           "\tbuild\tCGO_ENABLED=1\n\tbuild\tGOARCH=amd64\n")
ETCD = ("/cache/embedded/etcd-server/v3.6.8-0123456789abcdef/etcd-server: go1.26.8\n"
        "\tpath\tgo.etcd.io/etcd/server/v3\n"
        "\tmod\tgo.etcd.io/etcd/server/v3\tv3.6.8\th1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
        "\tdep\tgithub.com/cenkalti/backoff/v5\tv5.0.3\th1:ZN+IMa753KfX5hd8vVaMixjnqRZ3y8CuJKRKj1xcsSM=\n"
        "\tbuild\tCGO_ENABLED=0\n")
BINARIES = [{"name": "kubelet", "sha256": "a" * 64, "build_info": KUBELET,
             # linked statically and also installed in the base: one component, the installed one
             "static_libraries": {"libc6": "2.36-9+deb12u14"}},
            {"name": "etcd-server", "sha256": "b" * 64, "build_info": ETCD}]
PATHS = {"kubelet": ["/usr/bin/kubelet"], "etcd-server": ["/usr/local/bin/etcd"]}
FILES = [{"path": "/etc/containerd/config.toml", "sha256": "c" * 64, "mode": 0o644}]
BASE = {"reference": "scs-kaas/node-base:bookworm-0123", "key": "0123"}


def _layered():
    return image_sbom.image_bom("scs-kaas/node:v1.36.5-4567", "4567", base=dict(BASE, rootfs=_rootfs()),
                                binaries=BINARIES, binary_paths=PATHS, files=FILES)


def test_a_layered_image_lists_its_base_binaries_modules_and_files():
    document = _layered()
    assert _validate(document) is None
    by_ref = dict((c["bom-ref"], c) for c in document["components"])
    refs = [c["bom-ref"] for c in document["components"]]
    assert len(refs) == len(set(refs))
    depends = dict((d["ref"], set(d.get("dependsOn", ()))) for d in document["dependencies"])
    assert set().union(*depends.values()) <= set(refs)
    assert depends["image:scs-kaas/node:v1.36.5-4567"] == {
        "image:scs-kaas/node-base:bookworm-0123", "binary:kubelet", "binary:etcd-server",
        "file:/etc/containerd/config.toml"}
    base = by_ref["image:scs-kaas/node-base:bookworm-0123"]
    assert (base["type"], base["version"]) == ("container", "0123")
    libc = "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64"
    assert depends[base["bom-ref"]] == {libc, "pkg:deb/debian/adduser@3.134?arch=all",
                                        "pkg:deb/debian/bsdutils@1%3A2.38.1-5%2Bdeb12u3?arch=amd64"}
    # The binary names its Go modules (shared ones listed once) and where the image holds it.
    assert "pkg:golang/k8s.io/kubernetes@v1.36.5" in depends["binary:kubelet"]
    backoff = "pkg:golang/github.com/cenkalti/backoff/v5@v5.0.3"
    assert backoff in depends["binary:kubelet"] and backoff in depends["binary:etcd-server"]
    assert refs.count(backoff) == 1
    etcd = by_ref["binary:etcd-server"]
    assert {"name": "scs.kaas:image:path", "value": "/usr/local/bin/etcd"} in etcd["properties"]
    assert etcd["hashes"] == [{"alg": "SHA-256", "content": "b" * 64}]
    # kubelet's static libc6 is the installed package's component, with its .deb hash.
    assert libc in depends["binary:kubelet"]
    assert by_ref[libc]["hashes"] == [{"alg": "SHA-256", "content": SHA["libc6"]}]


def test_an_image_from_scratch_has_no_debian_packages():
    document = image_sbom.image_bom("127.0.0.1:5051/registry.k8s.io/coredns/coredns:v1.14.2", "89ab",
                                    binaries=BINARIES[1:], binary_paths={"etcd-server": ["/coredns"]})
    assert _validate(document) is None
    assert not [c for c in document["components"] if c.get("purl", "").startswith("pkg:deb/")]
    assert not [c for c in document["components"] if c["type"] == "container"]
    assert "properties" not in document["metadata"]["component"]


def test_the_validator_rejects_a_broken_image_document():
    broken = copy.deepcopy(_layered())
    broken["components"][0]["type"] = "image"  # not a CycloneDX component type
    assert _validate(broken) is not None
    broken = copy.deepcopy(_layered())
    broken["metadata"]["component"]["hashes"] = [{"alg": "SHA-256", "content": "not hex"}]
    assert _validate(broken) is not None


def test_the_document_depends_only_on_its_content():
    first = _layered()
    assert image_sbom.image_bom("scs-kaas/node:v1.36.5-4567", "4567", base=dict(BASE, rootfs=_rootfs()),
                                binaries=list(reversed(BINARIES)), binary_paths=PATHS, files=FILES) == first
    other = image_sbom.image_bom("scs-kaas/node:v1.36.5-4567", "4567", base=dict(BASE, rootfs=_rootfs()),
                                 binaries=BINARIES, binary_paths=PATHS, files=[dict(FILES[0], sha256="d" * 64)])
    assert other["serialNumber"] != first["serialNumber"]
    # The entries handed in are left as they were (they are shared with the set's document).
    assert "properties" not in BINARIES[0]
