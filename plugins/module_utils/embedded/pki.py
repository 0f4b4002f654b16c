# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Certificates and keys of the embedded management cluster.

Everything lives under ``<state_dir>/pki`` (directories 0700, keys 0600):

==========================  ===================================================================
``ca.crt`` / ``ca.key``     cluster CA: signs the serving certificates of kube-apiserver and
                            kube-controller-manager and the admin client certificate; it is the
                            apiserver's ``--client-ca-file``
``apiserver.crt/.key``      kube-apiserver serving certificate (127.0.0.1, ::1, localhost,
                            kubernetes.default.svc..., the first service IP)
``controller-manager.*``    kube-controller-manager serving certificate (127.0.0.1, localhost)
``admin.crt/.key``          client certificate ``CN=scs-kaas-admin, O=system:masters``; used by
                            the kubeconfig, by kube-controller-manager and by the CAPI managers
``sa.key`` / ``sa.pub``     service-account token signing key pair
``webhook-ca.crt/.key``     CA of the webhook serving certificate (the ``caBundle`` of webhook
                            configurations and CRD conversion webhooks)
``webhook/tls.crt/.key``    webhook serving certificate (IP 127.0.0.1, DNS localhost) shared by
                            all managers through ``--webhook-cert-dir``
==========================  ===================================================================

No front-proxy CA is generated: no aggregated API server runs in the embedded cluster.

:func:`ensure_pki` is idempotent: it keeps existing material that is still valid for at least
``RENEW_BEFORE`` and matches the wanted names, and reports which files it (re)wrote.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import ipaddress
import os

from ansible_collections.scs.kaas.plugins.module_utils.files import write_atomic
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test import sanity
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc

CA_DAYS = 3650
LEAF_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)

ADMIN_COMMON_NAME = "scs-kaas-admin"
ADMIN_ORGANIZATION = "system:masters"
# First address of the (virtual) service CIDR given to kube-apiserver.
SERVICE_CIDR = "10.96.0.0/24"


class PKIError(KaasError):
    pass


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def ensure_dir(path, mode=0o700):
    if not os.path.isdir(path):
        os.makedirs(path, mode)
    os.chmod(path, mode)


def _new_key():
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _load_key(path):
    with open(path, "rb") as handle:
        return serialization.load_pem_private_key(handle.read(), password=None)


def _load_cert(path):
    with open(path, "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


def _not_after(cert):
    value = getattr(cert, "not_valid_after_utc", None)
    if value is None:  # cryptography < 42
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def _builder(subject, issuer, public_key, days, is_ca):
    """Certificate builder with what CA and leaf certificates share: validity, constraints, usage."""
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=is_ca, crl_sign=is_ca,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    )


def _make_ca(common_name):
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        _builder(name, name, key.public_key(), CA_DAYS, is_ca=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_leaf(ca_key, ca_cert, common_name, organization=None, dns=(), ips=(), server=True, client=False):
    key = _new_key()
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        _builder(x509.Name(attributes), ca_cert.subject, key.public_key(), LEAF_DAYS, is_ca=False)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _sans(cert):
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    return (
        set(ext.get_values_for_type(x509.DNSName)),
        set(str(i) for i in ext.get_values_for_type(x509.IPAddress)),
    )


def _leaf_ok(cert_path, key_path, ca_cert, common_name, dns, ips):
    if not (os.path.isfile(cert_path) and os.path.isfile(key_path)):
        return False
    try:
        cert = _load_cert(cert_path)
        key = _load_key(key_path)
    except (ValueError, TypeError, OSError):
        return False
    if cert.issuer != ca_cert.subject:
        return False
    if _not_after(cert) - _now() < RENEW_BEFORE:
        return False
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        return False
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not cn or cn[0].value != common_name:
        return False
    have_dns, have_ips = _sans(cert)
    want_ips = set(str(ipaddress.ip_address(i)) for i in ips)
    return have_dns == set(dns) and have_ips == want_ips


def _ensure_ca(directory, stem, common_name, written):
    cert_path = os.path.join(directory, stem + ".crt")
    key_path = os.path.join(directory, stem + ".key")
    if os.path.isfile(cert_path) and os.path.isfile(key_path):
        try:
            cert = _load_cert(cert_path)
            key = _load_key(key_path)
            if (_not_after(cert) - _now() >= RENEW_BEFORE
                    and cert.public_key().public_numbers() == key.public_key().public_numbers()):
                return key, cert, False
        except (ValueError, TypeError, OSError):
            pass
    key, cert = _make_ca(common_name)
    write_atomic(key_path, _key_pem(key), 0o600)
    write_atomic(cert_path, _cert_pem(cert), 0o644)
    written.extend([cert_path, key_path])
    return key, cert, True


def _ensure_leaf(directory, stem, ca_key, ca_cert, ca_renewed, written, common_name, **kwargs):
    cert_path = os.path.join(directory, stem + ".crt")
    key_path = os.path.join(directory, stem + ".key")
    dns = kwargs.get("dns", ())
    ips = kwargs.get("ips", ())
    if not ca_renewed and _leaf_ok(cert_path, key_path, ca_cert, common_name, dns, ips):
        return
    key, cert = _make_leaf(ca_key, ca_cert, common_name, **kwargs)
    write_atomic(key_path, _key_pem(key), 0o600)
    write_atomic(cert_path, _cert_pem(cert), 0o644)
    written.extend([cert_path, key_path])


def _ensure_sa_keys(directory, written):
    key_path = os.path.join(directory, "sa.key")
    pub_path = os.path.join(directory, "sa.pub")
    if os.path.isfile(key_path) and os.path.isfile(pub_path):
        try:
            _load_key(key_path)
            return
        except (ValueError, TypeError, OSError):
            pass
    key = _new_key()
    write_atomic(key_path, _key_pem(key), 0o600)
    write_atomic(
        pub_path,
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        0o644,
    )
    written.extend([key_path, pub_path])


def service_ip(cidr=SERVICE_CIDR):
    return str(next(ipaddress.ip_network(cidr).hosts()))


def pki_paths(pki_dir):
    """Paths of every file :func:`ensure_pki` maintains."""
    j = os.path.join
    return {
        "dir": pki_dir,
        "ca_crt": j(pki_dir, "ca.crt"),
        "ca_key": j(pki_dir, "ca.key"),
        "apiserver_crt": j(pki_dir, "apiserver.crt"),
        "apiserver_key": j(pki_dir, "apiserver.key"),
        "kcm_crt": j(pki_dir, "controller-manager.crt"),
        "kcm_key": j(pki_dir, "controller-manager.key"),
        "admin_crt": j(pki_dir, "admin.crt"),
        "admin_key": j(pki_dir, "admin.key"),
        "sa_key": j(pki_dir, "sa.key"),
        "sa_pub": j(pki_dir, "sa.pub"),
        "webhook_ca_crt": j(pki_dir, "webhook-ca.crt"),
        "webhook_ca_key": j(pki_dir, "webhook-ca.key"),
        "webhook_dir": j(pki_dir, "webhook"),
        "webhook_crt": j(pki_dir, "webhook", "tls.crt"),
        "webhook_key": j(pki_dir, "webhook", "tls.key"),
    }


def ensure_pki(pki_dir, check_mode=False):
    """Create or refresh the embedded cluster's PKI under ``pki_dir``.

    Returns ``(paths, written)``: the dict of :func:`pki_paths` and the list of files written.
    In check mode nothing is written and ``written`` lists what would be (re)generated.
    """
    if not HAS_CRYPTOGRAPHY:
        raise PKIError("the python 'cryptography' package is required: %s" % CRYPTOGRAPHY_IMPORT_ERROR)
    paths = pki_paths(pki_dir)
    if check_mode:
        return paths, [p for k, p in sorted(paths.items()) if k not in ("dir", "webhook_dir") and not os.path.exists(p)]
    ensure_dir(pki_dir)
    ensure_dir(paths["webhook_dir"])
    written = []

    ca_key, ca_cert, ca_new = _ensure_ca(pki_dir, "ca", "scs-kaas-embedded-ca", written)
    apiserver_dns = [
        "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ]
    _ensure_leaf(pki_dir, "apiserver", ca_key, ca_cert, ca_new, written, "kube-apiserver",
                 dns=apiserver_dns, ips=["127.0.0.1", "::1", service_ip()], server=True)
    _ensure_leaf(pki_dir, "controller-manager", ca_key, ca_cert, ca_new, written,
                 "kube-controller-manager", dns=["localhost"], ips=["127.0.0.1"], server=True)
    _ensure_leaf(pki_dir, "admin", ca_key, ca_cert, ca_new, written, ADMIN_COMMON_NAME,
                 organization=ADMIN_ORGANIZATION, server=False, client=True)
    _ensure_sa_keys(pki_dir, written)

    wh_key, wh_cert, wh_new = _ensure_ca(pki_dir, "webhook-ca", "scs-kaas-embedded-webhook-ca", written)
    _ensure_leaf(paths["webhook_dir"], "tls", wh_key, wh_cert, wh_new, written, "localhost",
                 dns=["localhost"], ips=["127.0.0.1"], server=True)
    return paths, written


def read_text(path):
    with open(path, "r") as handle:
        return handle.read()


def admin_kubeconfig(paths, server):
    """Kubeconfig (a dict) of the admin client certificate for ``server``; ``paths`` from pki_paths."""
    def b64(path):
        with open(path, "rb") as handle:
            return base64.b64encode(handle.read()).decode("ascii")

    name = "scs-kaas-embedded"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": b64(paths["ca_crt"])}}],
        "users": [{"name": ADMIN_COMMON_NAME, "user": {"client-certificate-data": b64(paths["admin_crt"]),
                                                       "client-key-data": b64(paths["admin_key"])}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": ADMIN_COMMON_NAME}}],
        "current-context": name,
    }
