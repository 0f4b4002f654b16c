# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The one layer between the collection and openstacksdk.

Connection options follow openstack.cloud's modules (``cloud``, ``auth``, ``auth_type``,
``ca_cert``, ``interface``, ``region_name``; doc fragment ``scs.kaas.openstack``), so a
``module_defaults`` block written for openstack.cloud works here. TLS is always verified: a
private CA is given with ``ca_cert`` (or ``cacert`` in the clouds.yaml entry), never by turning
verification off.

:func:`cluster_uid` names everything the collection creates in a cloud for one workload cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import atexit
import hashlib
import importlib.util
import os
import re
import sys
import tempfile

from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.openstack import retry

# openstacksdk is imported when a module connects (connect), not with this file: the import costs
# about 1 s, which a batch of clusters without an OpenStack one (and every module that only reads
# the management cluster) must not pay.
HAS_OPENSTACKSDK = importlib.util.find_spec("openstack") is not None
OPENSTACKSDK_IMP_ERR = None if HAS_OPENSTACKSDK else "ImportError: No module named 'openstack'"

USER_AGENT_PRODUCT = "scs.kaas"

CLOUD_ARGS = dict(
    cloud=dict(type="raw"),
    auth=dict(type="dict", no_log=True),
    auth_type=dict(type="str"),
    ca_cert=dict(type="path", aliases=["cacert"]),
    interface=dict(type="str", choices=["admin", "internal", "public"], default="public",
                   aliases=["endpoint_type"]),
    region_name=dict(type="str"),
    api_timeout=dict(type="int"),
)

_UID_NAME = re.compile(r"[^a-z0-9-]+")


# openstacksdk's and keystoneauth's own retries, off (see connect).
NO_SDK_RETRIES = {"connect_retries": 0, "status_code_retries": 0, "image_status_code_retries": 0,
                  "baremetal_status_code_retries": 0, "baremetal_introspection_status_code_retries": 0}


class OpenStackError(KaasError):
    """A cloud request failed or the cloud is not what the inputs expect."""


# The uid is recorded under this key: an annotation of the Cluster, a label of the identity Secret.
UID_KEY = "kaas.scs.community/cluster-uid"
UID_FORM = "<name of [a-z0-9-]>-<10 hex digits>"
_UID_FORM = re.compile(r"^[a-z0-9-]{1,40}-[0-9a-f]{10}$")


def is_cluster_uid(value):
    """Whether ``value`` has the form :func:`cluster_uid` makes."""
    return isinstance(value, str) and bool(_UID_FORM.match(value))


def cluster_uid(management_id, namespace, name):
    """The identifier of one workload cluster in the cloud, unique per management cluster,
    namespace and name: ``<name>-<10 hex digits of sha256(management_id/namespace/name)>``.

    The name (cut to 40 characters) keeps it readable; the hash keeps two clusters of the same
    name in two namespaces or on two management clusters apart. It is made of ``[a-z0-9-]``
    only (no ``_``), so names built from it by ``_``-joining (the cloud controller's
    ``kube_service_<cluster>_<namespace>_<service>``) split unambiguously, and its fixed-length
    hash tail means no identifier is a prefix of another one followed by ``_`` or ``-<hex>``.
    """
    for label, value in (("management_id", management_id), ("namespace", namespace), ("name", name)):
        if not value or not isinstance(value, str):
            raise OpenStackError("cluster_uid: %s must be a non-empty string, got %r" % (label, value))
    digest = hashlib.sha256(("%s/%s/%s" % (management_id, namespace, name)).encode("utf-8")).hexdigest()
    readable = _UID_NAME.sub("-", name.lower()).strip("-")[:40] or "cluster"
    return "%s-%s" % (readable, digest[:10])


def management_id(client):
    """The management cluster's identity: the UID of its ``kube-system`` namespace (set once when
    the cluster is created, kept by backups of etcd, different for every other cluster)."""
    namespace = client.get(client.resource("v1", "Namespace"), "kube-system")
    if not namespace:
        raise OpenStackError("the management cluster has no kube-system namespace to take its identity from")
    return namespace["metadata"]["uid"]


SECRET_KEYS = ("password", "application_credential_secret", "token", "secret", "passcode", "client_secret",
               "key", "totp")


def secret_values(entry):
    """The secret strings of a clouds.yaml entry (its ``auth`` and top level)."""
    found = set()
    if isinstance(entry, dict):
        for scope in (entry, entry.get("auth") if isinstance(entry.get("auth"), dict) else {}):
            for key in SECRET_KEYS:
                if isinstance(scope.get(key), str) and scope[key]:
                    found.add(scope[key])
    return found


def connection_config(params):
    """Keyword arguments of ``openstack.connect`` from the module's connection options.

    ``cloud`` is a clouds.yaml entry name (looked up the usual way: ``OS_CLIENT_CONFIG_FILE``,
    ``./clouds.yaml``, ``~/.config/openstack``, ``/etc/openstack``) or a dict (an entry itself).
    """
    cloud = params.get("cloud")
    kwargs = {}
    if isinstance(cloud, dict):
        kwargs.update(cloud)
        kwargs.update(load_yaml_config=False, load_envvars=False)
    elif cloud is not None:
        kwargs["cloud"] = str(cloud)
    for option in ("auth", "auth_type", "interface", "region_name", "api_timeout"):
        if params.get(option) is not None:
            kwargs[option] = params[option]
    if params.get("ca_cert"):
        kwargs["cacert"] = params["ca_cert"]
    return kwargs


def _check_verified(kwargs):
    for key in ("verify", "insecure"):
        value = kwargs.get(key)
        if (key == "verify" and value is False) or (key == "insecure" and value is True):
            raise OpenStackError("the cloud entry turns TLS verification off (%s: %s); give the cloud's CA "
                                 "with ca_cert (or cacert in the clouds.yaml entry) instead" % (key, value))


def ca_file(ca_pem):
    """A private (0600) file holding ``ca_pem`` for this process's lifetime (requests verifies
    against a path)."""
    handle, path = tempfile.mkstemp(prefix="scs-kaas-ca-", suffix=".pem")
    with os.fdopen(handle, "w") as out:
        out.write(ca_pem)
    atexit.register(lambda: os.path.exists(path) and os.remove(path))
    return path


def connect(params=None, cloud_entry=None, ca_pem=None):
    """An authenticated connection from module parameters or from one clouds.yaml entry (dict,
    no files, no environment, as read from an identity Secret, whose ``cacert`` key is ``ca_pem``)."""
    if not HAS_OPENSTACKSDK:
        raise OpenStackError("the openstacksdk Python package is missing on the host that runs the module")
    if cloud_entry is not None:
        kwargs = dict(cloud_entry, load_yaml_config=False, load_envvars=False)
        if ca_pem and not kwargs.get("cacert"):
            kwargs["cacert"] = ca_file(ca_pem)
    else:
        kwargs = connection_config(params or {})
    _check_verified(kwargs)
    # keystoneauth would send any request again after a timeout, a POST too, and openstacksdk has it
    # send any request to Glance again after a 503 (image_status_code_retries: 5), a POST that
    # creates an image record or a PUT whose file was already read too: retry.install decides by
    # method instead (and sends again what is safe to repeat).
    kwargs.update(NO_SDK_RETRIES)
    try:
        import openstack  # pylint: disable=import-outside-toplevel  # see HAS_OPENSTACKSDK

        conn = openstack.connect(app_name=USER_AGENT_PRODUCT, **kwargs)
        retry.install(conn.session)
        conn.authorize()
    except Exception as exc:  # pylint: disable=broad-except  # every SDK error is reported the same way
        raise OpenStackError("cannot authenticate to the cloud: %s" % short_error(exc))
    return conn


def short_error(exc):
    """One line naming the error type; SDK errors carry multi-line bodies."""
    first = str(exc).split("\n", 1)[0][:300]
    name = type(exc).__name__
    return first if first.startswith(name + ":") else "%s: %s" % (name, first)


def is_sdk_error(exc, name="SDKException"):
    """Whether ``exc`` is openstacksdk's exception class ``name`` (or a subclass). An SDK error
    implies the SDK was imported, so this never imports it."""
    exceptions = sys.modules.get("openstack.exceptions")
    return exceptions is not None and isinstance(exc, getattr(exceptions, name))


def is_not_found(exc):
    return is_sdk_error(exc, "NotFoundException")


def auth_summary(conn):
    """What a clouds.yaml entry for the same cloud needs (auth URL, region, interface, CA file)."""
    config = conn.config
    return {
        "auth_url": config.auth.get("auth_url"),
        "region_name": config.get_region_name() or None,
        "interface": config.get_interface() or "public",
        "cacert": config.config.get("cacert"),
        "identity_api_version": "3",
    }
