# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re

import pytest
import yaml

from ansible_collections.scs.kaas.plugins.module_utils import artifacts as a
from ansible_collections.scs.kaas.plugins.module_utils import pins

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *([os.pardir] * 5)))


def role_defaults():
    with open(os.path.join(ROOT, "roles", "management_cluster", "defaults", "main.yml")) as handle:
        return yaml.safe_load(handle)


def required_by_defaults(defaults):
    """Every (name, version, arch, filename) the management_cluster defaults name."""
    out = []
    k3s = defaults["management_cluster_k3s_version"]
    for arch in defaults["management_cluster_k3s_architectures"]:
        out.append(("k3s", k3s, arch, "k3s" if arch == "amd64" else "k3s-%s" % arch))
        out.append(("k3s", k3s, arch, "k3s-airgap-images-%s.tar.zst" % arch))
    kind = defaults["management_cluster_kind_version"]
    for arch in defaults["management_cluster_kind_architectures"]:
        out.append(("kind", kind, arch, "kind-linux-%s" % arch))
    return out


def test_every_entry_cites_a_source_and_verified_ones_have_a_sha256():
    for entry in a.ARTIFACTS + a.IMAGES:
        assert entry["source"].startswith(("https://", "sigs.k8s.io/", "cert-manager")), entry
        assert entry["status"] in (a.VERIFIED, a.UNVERIFIED)
    for entry in a.ARTIFACTS:
        if entry["status"] == a.VERIFIED:
            assert re.match(r"^[0-9a-f]{64}$", entry["sha256"]), entry
        else:
            assert entry["sha256"] is None, "an unverified entry must not carry a checksum: %r" % entry
    for key, mod in a.GO_MODULES.items():
        assert mod["h1"].startswith("h1:") and mod["source"].startswith("https://sum.golang.org/lookup/"), key


def test_table_covers_every_version_and_architecture_the_defaults_name():
    defaults = role_defaults()
    missing = a.missing_entries(required_by_defaults(defaults))
    assert not missing, "checksum table lacks %s" % missing


def test_coverage_check_fails_for_an_unknown_architecture_or_version():
    defaults = role_defaults()
    defaults["management_cluster_k3s_architectures"] = list(defaults["management_cluster_k3s_architectures"]) + ["s390x"]
    assert ("k3s", defaults["management_cluster_k3s_version"], "s390x", "k3s-s390x") in a.missing_entries(
        required_by_defaults(defaults))
    defaults = role_defaults()
    defaults["management_cluster_kind_version"] = "v0.99.0"
    assert len(a.missing_entries(required_by_defaults(defaults))) == len(defaults["management_cluster_kind_architectures"])


def test_defaults_follow_the_pins():
    defaults = role_defaults()
    assert defaults["management_cluster_k3s_version"] == pins.K3S_VERSION
    assert defaults["management_cluster_kind_version"] == pins.KIND_VERSION
    assert defaults["management_cluster_kind_node_image"] == pins.KIND_NODE_IMAGE


def test_unverified_artifact_is_refused_without_override():
    with pytest.raises(a.ArtifactError) as err:
        a.expected_sha256("k3s", pins.K3S_VERSION, "amd64", "k3s", var_name="management_cluster_k3s_version")
    assert "management_cluster_k3s_version" in str(err.value) and "sha256sum-amd64.txt" in str(err.value)


def test_override_and_allow_unverified(tmp_path):
    path = tmp_path / "k3s"
    path.write_bytes(b"fixture")
    good = hashlib.sha256(b"fixture").hexdigest()
    key = a.override_key("k3s", pins.K3S_VERSION, "amd64", "k3s")
    exp = a.expected_sha256("k3s", pins.K3S_VERSION, "amd64", "k3s", overrides={key: good.upper()})
    assert exp["origin"] == "override" and a.verify_file(str(path), exp) == good
    bad = a.expected_sha256("k3s", pins.K3S_VERSION, "amd64", "k3s", overrides={key: "0" * 64})
    with pytest.raises(a.ArtifactError) as err:
        a.verify_file(str(path), bad, "fixture")
    assert "checksum mismatch" in str(err.value)
    with pytest.raises(a.ArtifactError):
        a.expected_sha256("k3s", pins.K3S_VERSION, "amd64", "k3s", overrides={key: "not-a-sha"})
    allowed = a.expected_sha256("k3s", pins.K3S_VERSION, "amd64", "k3s", allow_unverified=True)
    assert allowed["origin"] == "unverified-allowed"


def test_unknown_artifact_lists_what_is_known():
    with pytest.raises(a.ArtifactError) as err:
        a.expected_sha256("k3s", "v1.0.0+k3s1", "amd64", "k3s", var_name="v")
    assert pins.K3S_VERSION in str(err.value)


def test_kind_node_image_is_pinned_by_digest():
    assert a.kind_node_image(pins.KIND_VERSION) == pins.KIND_NODE_IMAGE


def test_go_dirhash_matches_the_go_algorithm(tmp_path):
    # dirhash.Hash1: sha256 over "<sha256 hex>  <module@version/file>\n" lines sorted by name.
    (tmp_path / "b").mkdir()
    (tmp_path / "a.txt").write_bytes(b"A")
    (tmp_path / "b" / "c.txt").write_bytes(b"C")
    lines = "".join("%s  %s\n" % (hashlib.sha256(data).hexdigest(), name) for name, data in
                    sorted([("m@v1.0.0/a.txt", b"A"), ("m@v1.0.0/b/c.txt", b"C")]))
    import base64
    want = "h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode()
    assert a.go_dirhash(str(tmp_path), "m", "v1.0.0") == want
