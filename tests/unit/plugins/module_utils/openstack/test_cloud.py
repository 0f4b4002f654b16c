# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The connection options and the cluster identifier (pure)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.openstack import cloud


def test_cluster_uid_is_stable_and_separates_namespace_name_and_management():
    uid = cloud.cluster_uid("mgmt-a", "team-a", "prod-1")
    assert uid == cloud.cluster_uid("mgmt-a", "team-a", "prod-1")
    others = {cloud.cluster_uid("mgmt-b", "team-a", "prod-1"), cloud.cluster_uid("mgmt-a", "team-b", "prod-1"),
              cloud.cluster_uid("mgmt-a", "team-a", "prod-2"), cloud.cluster_uid("mgmt-a", "team-a/prod", "1")}
    assert uid not in others and len(others) == 4
    assert re.match(r"^prod-1-[0-9a-f]{10}$", uid)


def test_cluster_uid_has_no_underscore_and_bounded_length():
    uid = cloud.cluster_uid("m", "ns", "A_Very_Long.Cluster_Name" * 5)
    assert "_" not in uid and "." not in uid and uid == uid.lower()
    assert len(uid) <= 51


@pytest.mark.parametrize("name", ["prod-1", "A_Very_Long.Cluster_Name" * 5, "x" * 39 + "-tail", "---"])
def test_every_made_uid_is_recognised_as_one(name):
    assert cloud.is_cluster_uid(cloud.cluster_uid("mgmt", "ns", name))


@pytest.mark.parametrize("value", ["", "prod-1", "prod_1-0123456789", "Prod-1-0123456789", "prod-1-0123456789a",
                                   "prod-1-012345678g", None, 7])
def test_other_values_are_not_uids(value):
    assert not cloud.is_cluster_uid(value)


@pytest.mark.parametrize("args", [("", "ns", "n"), ("m", None, "n"), ("m", "ns", 3)])
def test_cluster_uid_refuses_empty_parts(args):
    with pytest.raises(cloud.OpenStackError):
        cloud.cluster_uid(*args)


def test_connection_config_by_name_and_by_entry():
    assert cloud.connection_config({"cloud": "prod", "ca_cert": "/ca.pem", "interface": "internal"}) == {
        "cloud": "prod", "cacert": "/ca.pem", "interface": "internal"}
    entry = {"auth": {"auth_url": "https://keystone:5000/v3"}, "region_name": "RegionOne"}
    config = cloud.connection_config({"cloud": entry, "region_name": "RegionTwo"})
    assert config["auth"] == entry["auth"] and config["region_name"] == "RegionTwo"
    assert config["load_yaml_config"] is False and config["load_envvars"] is False


@pytest.mark.parametrize("entry", [{"verify": False}, {"insecure": True}])
def test_connect_refuses_unverified_tls(entry):
    with pytest.raises(cloud.OpenStackError, match="ca_cert"):
        cloud.connect(cloud_entry=dict(entry, auth={"auth_url": "https://127.0.0.1:1/v3"}))


def test_connect_reports_unreachable_cloud_as_one_error():
    with pytest.raises(cloud.OpenStackError, match="cannot authenticate"):
        cloud.connect(cloud_entry={"auth": {"auth_url": "https://127.0.0.1:9/v3", "username": "u",
                                            "password": "p", "project_name": "p", "user_domain_name": "Default",
                                            "project_domain_name": "Default"}, "api_timeout": 2})


def test_secret_values_of_a_cloud_entry():
    entry = {"auth": {"auth_url": "https://k:5000/v3", "username": "u", "password": "pw",
                      "application_credential_secret": "acs"}, "region_name": "r"}
    assert cloud.secret_values(entry) == {"pw", "acs"}
    assert cloud.secret_values("my-cloud") == set()
