# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.scs.kaas.plugins.filter.k8s_version import FilterModule
from ansible_collections.scs.kaas.plugins.module_utils import pins

FILTERS = FilterModule().filters()


def test_all_documented_filters_are_exported():
    assert sorted(FILTERS) == [
        "k8s_version_check_upgrade",
        "k8s_version_compare",
        "k8s_version_minor",
        "k8s_version_next_minor",
        "k8s_version_normalize",
        "k8s_version_steps",
    ]


def test_normalize():
    assert FILTERS["k8s_version_normalize"]("1.34.2") == "v1.34.2"
    assert FILTERS["k8s_version_normalize"]("v1.34.x", prefix=False) == "1.34"


def test_errors_become_filter_errors_naming_the_variable():
    with pytest.raises(AnsibleFilterError, match=r"^cluster_version: '1\.34' names a minor only"):
        FILTERS["k8s_version_normalize"]("1.34", exact=True, var_name="cluster_version")
    with pytest.raises(AnsibleFilterError, match=r"^other: 'x'"):
        FILTERS["k8s_version_compare"]("1.34.1", "x")


def test_compare_minor_next_minor():
    assert FILTERS["k8s_version_compare"]("v1.34.2", "1.35.0") == -1
    assert FILTERS["k8s_version_minor"]("v1.34.2") == "1.34"
    assert FILTERS["k8s_version_next_minor"]("v1.34.2") == "v1.35"


def test_steps_default_to_pinned_versions():
    first, last = pins.WORKLOAD_KUBERNETES_VERSIONS[0], pins.WORKLOAD_KUBERNETES_VERSIONS[-1]
    assert FILTERS["k8s_version_steps"](first, last) == list(pins.WORKLOAD_KUBERNETES_VERSIONS[1:])
    assert FILTERS["k8s_version_steps"]("v1.34.0", "v1.36.1", []) == ["v1.35", "v1.36.1"]


def test_check_upgrade():
    assert FILTERS["k8s_version_check_upgrade"]("v1.35.0", "v1.34.2", "cv") == "minor"
    assert FILTERS["k8s_version_check_upgrade"]("v1.35.0") == "create"
    with pytest.raises(AnsibleFilterError, match=r"^cv: 'v1\.35\.0' -> 'v1\.34\.0' is a downgrade"):
        FILTERS["k8s_version_check_upgrade"]("v1.34.0", "v1.35.0", "cv")
    with pytest.raises(AnsibleFilterError, match="outside the supported"):
        FILTERS["k8s_version_check_upgrade"]("v1.35.0", None, "cv", ["1.20", "1.30"])
