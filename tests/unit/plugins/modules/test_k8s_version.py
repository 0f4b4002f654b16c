# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The module in-process, through AnsibleModule argument parsing and exit_json/fail_json."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.modules import k8s_version


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exit_info:
            k8s_version.main()
    result = json.loads(capsys.readouterr().out)
    result["_rc"] = exit_info.value.code
    return result


def test_normalises_and_reports_fields(capsys):
    result = run_module(capsys, version="1.35.4")
    assert result["_rc"] == 0
    assert result["changed"] is False
    assert result["version"] == "v1.35.4"
    assert (result["major"], result["minor"], result["patch"]) == (1, 35, 4)
    assert result["exact"] is True
    assert result["resolved"] == "v1.35.4"
    assert result["upgrade"] == "create"
    assert result["steps"] == []
    # The reported range is the one the module enforces: its ends pass, one minor beyond fails.
    low, high = result["minor_range"]
    for minor, ok in ((low, True), (high, True), ("1.%d" % (int(low.split(".")[1]) - 1), False),
                      ("1.%d" % (int(high.split(".")[1]) + 1), False)):
        probe = run_module(capsys, version="v%s.0" % minor)
        assert (probe["_rc"] == 0) is ok, (minor, probe)


def test_minor_only_resolves_to_newest_pinned(capsys):
    pinned = pins.WORKLOAD_KUBERNETES_VERSIONS[-1]
    minor = pinned.lstrip("v").rsplit(".", 1)[0]
    result = run_module(capsys, version=minor + ".x")
    assert result["version"] == "v" + minor
    assert result["patch"] is None
    assert result["resolved"] == pinned


def test_minor_only_unknown_minor_resolves_to_none(capsys):
    result = run_module(capsys, version="1.31", available=["v1.35.4"])
    assert result["_rc"] == 0
    assert result["resolved"] is None


def test_exact_option(capsys):
    result = run_module(capsys, version="1.35", exact=True, var_name="wc_version")
    assert result["failed"] is True
    assert result["msg"].startswith("wc_version: '1.35' names a minor only")


def test_one_minor_upgrade(capsys):
    result = run_module(capsys, version="v1.35.4", current="v1.34.4")
    assert result["upgrade"] == "minor"
    assert result["steps"] == ["v1.35.4"]


def test_patch_upgrade(capsys):
    result = run_module(capsys, version="v1.35.9", current="v1.35.4")
    assert result["upgrade"] == "patch"
    assert result["steps"] == ["v1.35.9"]


def test_skipping_a_minor_fails_unless_multi_step(capsys):
    result = run_module(capsys, version="v1.36.5", current="v1.34.4", var_name="wc_version")
    assert result["failed"] is True
    assert "wc_version: 'v1.34.4' -> 'v1.36.5' skips 1 minor" in result["msg"]

    result = run_module(capsys, version="v1.36.5", current="v1.34.4", multi_step=True,
                        available=["v1.35.1", "v1.35.4"])
    assert result["_rc"] == 0
    assert result["upgrade"] == "minor"
    assert result["steps"] == ["v1.35.4", "v1.36.5"]


def test_downgrade_fails_even_with_multi_step(capsys):
    result = run_module(capsys, version="v1.34.4", current="v1.35.0", multi_step=True, var_name="wc_version")
    assert result["failed"] is True
    assert "wc_version: 'v1.35.0' -> 'v1.34.4' is a downgrade" in result["msg"]


def test_out_of_range_fails_naming_the_range(capsys):
    result = run_module(capsys, version="v1.30.0", var_name="wc_version")
    assert result["failed"] is True
    low, high = pins.CAPI_WORKLOAD_MINOR_RANGE
    assert result["msg"] == (
        "wc_version: 'v1.30.0' is outside the supported Kubernetes minors %s .. %s (inclusive)" % (low, high)
    )
    result = run_module(capsys, version="v1.30.0", minor_range=["1.29", "1.30"])
    assert result["_rc"] == 0


def test_bad_inputs_are_named(capsys):
    result = run_module(capsys, version="v1.35.0", available=["v1.35.1", "junk"])
    assert result["failed"] is True
    assert result["msg"].startswith("available[1]: 'junk'")
    result = run_module(capsys, version="v1.35.0", minor_range=["1.31"])
    assert result["failed"] is True
    assert result["msg"].startswith("minor_range:")
    result = run_module(capsys, version="v1.35.0", current="1.34.2-rc.0")
    assert result["failed"] is True
    assert result["msg"].startswith("version (current value on the cluster): '1.34.2-rc.0'")


def test_check_mode_gives_the_same_answer(capsys):
    result = run_module(capsys, version="v1.35.4", current="v1.34.4", _ansible_check_mode=True)
    assert result["changed"] is False
    assert result["upgrade"] == "minor"
