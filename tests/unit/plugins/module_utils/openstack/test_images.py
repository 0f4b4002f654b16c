# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""scs-0102 properties and hashes (pure)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.openstack import images

GOOD = {"architecture": "x86_64", "hypervisor_type": "qemu", "hw_disk_bus": "scsi", "os_distro": "ubuntu",
        "os_version": "24.04", "image_build_date": "2026-11-01 12:00", "image_original_user": "ubuntu",
        "image_description": "https://images.example.com/", "replace_frequency": "never",
        "provided_until": "none", "uuid_validity": "last-3", "hotfix_hours": 0}


def test_complete_properties_pass_and_source_defaults_to_url():
    props, errors = images.properties("properties", GOOD, "https://images.example.com/a.qcow2")
    assert errors == []
    assert props["image_source"] == "https://images.example.com/a.qcow2" and props["hotfix_hours"] == "0"


@pytest.mark.parametrize("key", images.MANDATORY)
def test_each_mandatory_property_is_required(key):
    given = dict(GOOD, image_source="private")
    given.pop(key)
    _props, errors = images.properties("properties", given)
    assert errors == ["properties.%s: missing; the SCS image metadata standard (scs-0102) makes it mandatory" % key]


@pytest.mark.parametrize("key, value", [
    ("image_build_date", "01.11.2026"), ("replace_frequency", "sometimes"), ("provided_until", "soon"),
    ("uuid_validity", "last-0"), ("image_source", "ftp://x"), ("hotfix_hours", "-1"), ("hw_disk_bus", "nvme0"),
])
def test_invalid_values_name_what_is_valid(key, value):
    given = dict(GOOD, image_source="private")
    given[key] = value
    _props, errors = images.properties("properties", given)
    assert len(errors) == 1 and errors[0].startswith("properties.%s: %r is not valid; valid: " % (key, value))


def test_hash_stream_and_changes():
    local = images.hash_stream([b"abc", b"def"])
    assert local == {"sha256": hashlib.sha256(b"abcdef").hexdigest(), "sha512": hashlib.sha512(b"abcdef").hexdigest(),
                     "md5": hashlib.md5(b"abcdef").hexdigest(), "size": 6}  # nosec
    same = {"checksum": local["md5"], "os_hash_algo": "sha512", "os_hash_value": local["sha512"], "size": 6}
    assert images.stored_mismatch(local, same) is None
    assert images.stored_mismatch(local, dict(same, os_hash_value="0")) == "sha512 0, not %s" % local["sha512"]
    assert images.stored_mismatch(local, dict(same, size=5)) == "size 5, not 6"
    assert images.property_changes({"a": "1", "min_disk": 20}, {"a": "1", "min_disk": "20", "b": "x"}) == {"b": "x"}
