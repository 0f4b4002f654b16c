# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Identity Secret builders and credential naming (pure)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import configparser
import datetime
import types

import pytest
import yaml
from openstack import exceptions as os_exceptions

from ansible_collections.scs.kaas.plugins.module_utils.openstack import cloud, credentials

ENDPOINT = {"auth_url": "https://10.0.0.1:5000/v3", "region_name": "RegionOne", "interface": "public"}
NOW = datetime.datetime(2026, 11, 30, 15, 4, 5)


def _decode(secret, key):
    return base64.b64decode(secret["data"][key]).decode("utf-8")


def test_credential_names_belong_only_to_their_cluster():
    uid_a = cloud.cluster_uid("m", "ns", "a")
    uid_b = cloud.cluster_uid("m", "ns", "a-" + uid_a.split("-")[-1])
    name = credentials.credential_name(uid_a, NOW)
    assert name == uid_a + "-20261130T150405Z"
    assert credentials.belongs_to(uid_a, name)
    assert not credentials.belongs_to(uid_b, name)
    assert not credentials.belongs_to(uid_a, credentials.credential_name(uid_b, NOW))
    assert not credentials.belongs_to(uid_a, uid_a)


def test_identity_secret_carries_clouds_yaml_cacert_and_cloud_conf():
    secret = credentials.identity_secret("prod-1-cloud", "team-a", "uid-1", "openstack", ENDPOINT,
                                         "cred-id", "s3cr3t", "-----BEGIN CERTIFICATE-----\nX\n")
    entry = yaml.safe_load(_decode(secret, "clouds.yaml"))["clouds"]["openstack"]
    assert entry["auth_type"] == "v3applicationcredential"
    assert entry["auth"] == {"auth_url": ENDPOINT["auth_url"], "application_credential_id": "cred-id",
                             "application_credential_secret": "s3cr3t"}
    assert entry["region_name"] == "RegionOne" and "verify" not in entry and "insecure" not in entry
    assert _decode(secret, "cacert").startswith("-----BEGIN CERTIFICATE-----")
    conf = configparser.ConfigParser()
    conf.read_string(_decode(secret, "cloud.conf"))
    assert conf["Global"]["application-credential-id"] == "cred-id"
    assert conf["Global"]["ca-file"] == credentials.CA_MOUNT_PATH
    assert secret["metadata"]["labels"][credentials.UID_LABEL] == "uid-1"
    assert credentials.secret_credential(secret, "openstack") == ("cred-id", "s3cr3t")
    assert credentials.secret_credential(secret, "other") == (None, None)


def test_identity_secret_without_ca_has_no_ca_file():
    secret = credentials.identity_secret("s", "ns", "u", "openstack", ENDPOINT, "i", "s", None)
    assert "cacert" not in secret["data"] and "ca-file" not in _decode(secret, "cloud.conf")


def test_same_inputs_build_the_same_secret():
    # What makes a second run write nothing: the Secret rebuilt from its own credential compares equal.
    args = ("s", "ns", "u", "openstack", ENDPOINT, "i", "s", "ca")
    assert credentials.identity_secret(*args) == credentials.identity_secret(*args)


def test_secret_credential_of_foreign_secret():
    assert credentials.secret_credential({"data": {"clouds.yaml": base64.b64encode(b"- a").decode()}},
                                         "openstack") == (None, None)
    assert credentials.secret_credential({}, "openstack") == (None, None)


def test_expiry():
    assert credentials.expires_soon("2026-12-20T00:00:00.000000", NOW, 30)
    assert not credentials.expires_soon("2027-11-30T00:00:00", NOW, 30)
    assert not credentials.expires_soon(None, NOW, 30)
    assert credentials.parse_expiry("2027-01-02T03:04:05Z") == datetime.datetime(2027, 1, 2, 3, 4, 5)


def test_public_view_has_no_secret():
    view = credentials.public_view({"id": "i", "name": "n", "expires_at": None, "secret": "s3cr3t"})
    assert "s3cr3t" not in repr(view)


class _Identity:
    """openstacksdk's identity proxy as far as ``credentials.create`` uses it: answers in turn."""

    def __init__(self, answers):
        self.answers, self.calls = list(answers), 0

    def create_application_credential(self, **_kwargs):
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _unassigned():
    return os_exceptions.BadRequestException(
        message="Invalid application credential: Cannot create an application credential with unassigned role")


def test_create_asks_again_while_keystone_does_not_show_the_role_yet():
    created = types.SimpleNamespace(id="c1", name="n", expires_at=None, secret="s3cr3t")
    conn = types.SimpleNamespace(identity=_Identity([_unassigned(), _unassigned(), created]))
    waits = []
    view, secret = credentials.create(conn, "u", "n", ["member"], None, "d", sleep=waits.append)
    assert (view["id"], secret, conn.identity.calls) == ("c1", "s3cr3t", 3)
    assert waits == list(credentials.UNASSIGNED_ROLE_RETRIES[:2])


def test_create_gives_up_naming_the_roles_and_raises_other_errors_at_once():
    conn = types.SimpleNamespace(identity=_Identity([_unassigned()] * 4))
    with pytest.raises(cloud.OpenStackError, match="roles: .*member, load-balancer_member.*after 4 attempts"):
        credentials.create(conn, "u", "n", ["member", "load-balancer_member"], None, "d", sleep=lambda _s: None)
    conn = types.SimpleNamespace(identity=_Identity([os_exceptions.ForbiddenException(message="no")]))
    with pytest.raises(os_exceptions.ForbiddenException):
        credentials.create(conn, "u", "n", ["member"], None, "d", sleep=lambda _s: pytest.fail("no wait for a 403"))
    assert conn.identity.calls == 1
