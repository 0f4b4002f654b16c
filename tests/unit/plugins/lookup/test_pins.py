# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import pytest

from ansible.errors import AnsibleLookupError

from ansible_collections.scs.kaas.plugins.lookup.pins import LookupModule

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
GO_DIR = os.path.join(REPO, "roles", "management_cluster", "files", "embedded", "go")


@pytest.fixture
def lookup():
    return LookupModule()


def _go_mod_requires(wrapper):
    """{module: version} of a committed wrapper go.mod: what the embedded binaries are built from."""
    path = os.path.join(GO_DIR, wrapper, "go.mod")
    with open(path) as handle:
        return dict(re.findall(r"^\s*(?:require\s+)?([a-z0-9.\-/]+)\s+(v[0-9][^\s]*)", handle.read(), re.M))


def test_dotted_keys_give_the_versions_the_go_modules_build(lookup):
    # Compared with the committed go.mod files (an independent source), not with pins.py itself.
    assert lookup.run(["cluster_api.version"], {}) == [_go_mod_requires("cluster-api")["sigs.k8s.io/cluster-api"]]
    assert lookup.run(["capo.version", "etcd.version"], {}) == [
        _go_mod_requires("capo")["sigs.k8s.io/cluster-api-provider-openstack"],
        _go_mod_requires("etcd")["go.etcd.io/etcd/server/v3"]]
    assert lookup.run(["kubernetes_management.version"], {}) == [_go_mod_requires("kubernetes")["k8s.io/kubernetes"]]
    assert lookup.run(["cluster_api_test.version"], {}) == [
        _go_mod_requires("cluster-api")["sigs.k8s.io/cluster-api/test"]]
    go_directives = set()
    for wrapper in os.listdir(GO_DIR):
        with open(os.path.join(GO_DIR, wrapper, "go.mod")) as handle:
            go_directives |= set(re.findall(r"^go (\S+)$", handle.read(), re.M))
    assert lookup.run(["go"], {}) == [{"min_version": max(go_directives, key=lambda v: [int(x) for x in v.split(".")])}]


def test_workload_versions_are_consecutive_minors_inside_the_supported_range(lookup):
    versions, (low, high) = lookup.run(["workload_kubernetes.versions", "capi_workload_minor_range"], {})
    minors = [int(v.lstrip("v").split(".")[1]) for v in versions]
    assert len(minors) == 3 and minors == list(range(minors[0], minors[0] + 3)), versions
    assert int(low.split(".")[1]) <= minors[0] and minors[-1] <= int(high.split(".")[1]), (versions, low, high)


def _leaves(node, prefix=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, prefix + key + ".")
    else:
        yield prefix[:-1], node


def test_empty_key_returns_all_pins_as_a_copy(lookup):
    everything = lookup.run([""], {})[0]
    leaves = dict(_leaves(everything))
    assert len(leaves) >= 15
    # Every leaf of the whole answer is what its dotted key answers.
    for key, value in leaves.items():
        assert lookup.run([key], {}) == [value], key
    # The answer is a copy: changing it changes no later answer.
    before = lookup.run(["cluster_api.version"], {})
    everything["cluster_api"]["version"] = "changed"
    everything["workload_kubernetes"]["versions"].append("v9.9.9")
    assert lookup.run(["cluster_api.version"], {}) == before
    assert "v9.9.9" not in lookup.run(["workload_kubernetes.versions"], {})[0]


@pytest.mark.parametrize("key", ["nope", "cluster_api.nope", "cluster_api.version.deeper", "cluster_api."])
def test_unknown_keys_fail_listing_valid_keys(lookup, key):
    with pytest.raises(AnsibleLookupError) as err:
        lookup.run([key], {})
    message = str(err.value)
    assert "unknown key '%s'" % key in message
    assert "cluster_api.version" in message


def test_options_are_refused(lookup):
    with pytest.raises(AnsibleLookupError, match="takes no options, got wantlist"):
        lookup.run(["cluster_api.version"], {}, wantlist=True)
