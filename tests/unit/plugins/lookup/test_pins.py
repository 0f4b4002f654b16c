# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleLookupError

from ansible_collections.scs.kaas.plugins.lookup.pins import LookupModule
from ansible_collections.scs.kaas.plugins.module_utils import pins


@pytest.fixture
def lookup():
    return LookupModule()


def test_dotted_keys(lookup):
    assert lookup.run(["cluster_api.version"], {}) == [pins.CLUSTER_API_VERSION]
    assert lookup.run(["capo.version", "etcd.version"], {}) == [pins.CAPO_VERSION, pins.ETCD_VERSION]
    assert lookup.run(["workload_kubernetes.versions"], {}) == [list(pins.WORKLOAD_KUBERNETES_VERSIONS)]
    assert lookup.run(["go"], {}) == [{"min_version": pins.GO_MIN_VERSION}]


def test_empty_key_returns_all_pins_as_a_copy(lookup):
    everything = lookup.run([""], {})[0]
    assert everything == pins.PINS
    everything["cluster_api"]["version"] = "changed"
    assert pins.PINS["cluster_api"]["version"] == pins.CLUSTER_API_VERSION


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
