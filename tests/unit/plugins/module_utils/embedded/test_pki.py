# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import ssl

from cryptography import x509

from ansible_collections.scs.kaas.plugins.module_utils.embedded import pki


def _sans(path):
    with open(path, "rb") as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(ext.get_values_for_type(x509.DNSName)), set(str(i) for i in ext.get_values_for_type(x509.IPAddress))


def test_generates_everything_private_and_is_idempotent(tmp_path):
    paths, written = pki.ensure_pki(str(tmp_path / "pki"))
    assert len(written) == 14
    for key in ("ca_key", "apiserver_key", "kcm_key", "admin_key", "sa_key", "webhook_ca_key", "webhook_key"):
        assert os.stat(paths[key]).st_mode & 0o777 == 0o600, key
    assert os.stat(paths["dir"]).st_mode & 0o777 == 0o700
    assert os.stat(paths["webhook_dir"]).st_mode & 0o777 == 0o700
    assert pki.ensure_pki(str(tmp_path / "pki"))[1] == []


def test_webhook_serving_certificate(tmp_path):
    paths, _written = pki.ensure_pki(str(tmp_path / "pki"))
    assert _sans(paths["webhook_crt"]) == ({"localhost"}, {"127.0.0.1"})
    dns, ips = _sans(paths["apiserver_crt"])
    assert "127.0.0.1" in ips and "kubernetes.default.svc" in dns
    # The chain verifies with the standard library (what kube-apiserver's client does is stricter
    # only in the hostname check, which the SAN covers).
    ctx = ssl.create_default_context(cafile=paths["webhook_ca_crt"])
    ctx.load_cert_chain(paths["webhook_crt"], paths["webhook_key"])


def test_admin_is_a_cluster_admin_client(tmp_path):
    paths, _written = pki.ensure_pki(str(tmp_path / "pki"))
    with open(paths["admin_crt"], "rb") as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    assert cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.ExtendedKeyUsageOID.CLIENT_AUTH in usages


def test_missing_or_foreign_leaf_is_regenerated(tmp_path):
    paths, _written = pki.ensure_pki(str(tmp_path / "pki"))
    os.unlink(paths["webhook_key"])
    written = pki.ensure_pki(str(tmp_path / "pki"))[1]
    assert sorted(written) == sorted([paths["webhook_crt"], paths["webhook_key"]])
    # A new cluster CA invalidates every leaf it signed.
    os.unlink(paths["ca_key"])
    written = pki.ensure_pki(str(tmp_path / "pki"))[1]
    for key in ("ca_crt", "apiserver_crt", "kcm_crt", "admin_crt"):
        assert paths[key] in written
    assert paths["webhook_crt"] not in written


def test_check_mode_writes_nothing(tmp_path):
    _paths, would = pki.ensure_pki(str(tmp_path / "pki"), check_mode=True)
    assert would and not os.path.exists(str(tmp_path / "pki"))


def test_admin_kubeconfig_carries_the_admin_certificate(tmp_path):
    import base64

    paths, _written = pki.ensure_pki(str(tmp_path / "pki"))
    config = pki.admin_kubeconfig(paths, "https://127.0.0.1:16443")
    assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:16443"
    user = config["users"][0]
    assert user["name"] == pki.ADMIN_COMMON_NAME
    with open(paths["admin_crt"], "rb") as handle:
        assert base64.b64decode(user["user"]["client-certificate-data"]) == handle.read()
    with open(paths["ca_crt"], "rb") as handle:
        assert base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]) == handle.read()
    assert config["current-context"] == config["contexts"][0]["name"]
