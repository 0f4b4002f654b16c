# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Application credentials of workload clusters and the identity Secret that carries one.

A cluster's credentials are named ``<cluster uid>-<UTC time of creation>`` (``cloud.cluster_uid``),
so the credentials of one cluster are found by name without touching another cluster's. The
Secret (in the Cluster's namespace, named by the class variable ``identityRef``) is the record
of which credential is current; its keys:

- ``clouds.yaml``: one cloud entry (``v3applicationcredential``) for CAPO and openstacksdk;
- ``cacert``: the PEM of the cloud's CA (CAPO reads this key of the identity Secret);
- ``cloud.conf``: the ``[Global]`` section of the OpenStack cloud controller and Cinder CSI, with
  the CA at ``/etc/config/cacert`` (where their charts mount this Secret).

The builders are pure; the functions taking ``conn`` are the only ones that talk to Keystone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import re
import time

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None

from ansible_collections.scs.kaas.plugins.module_utils.openstack import cloud

DEFAULT_ROLES = ("member", "load-balancer_member")
CA_KEY = "cacert"
CA_MOUNT_PATH = "/etc/config/cacert"
UID_LABEL = cloud.UID_KEY
MANAGED_BY_LABEL = "kaas.scs.community/managed-by"
MOVE_LABEL = "clusterctl.cluster.x-k8s.io/move"
_STAMP = "%Y%m%dT%H%M%SZ"


def credential_name(uid, now):
    return "%s-%s" % (uid, now.strftime(_STAMP))


def belongs_to(uid, name):
    """Whether a credential name was made by :func:`credential_name` for this cluster uid."""
    return bool(re.match(r"^%s-\d{8}T\d{6}Z$" % re.escape(uid), name or ""))


def parse_expiry(value):
    """A naive UTC datetime from Keystone's ``expires_at`` (None: never expires)."""
    if not value:
        return None
    text = str(value).rstrip("Z").split("+", 1)[0]
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def expires_soon(expires_at, now, renew_before_days):
    expiry = parse_expiry(expires_at)
    return expiry is not None and expiry - now <= datetime.timedelta(days=renew_before_days)


def clouds_yaml(cloud_name, endpoint, credential_id, credential_secret):
    """The clouds.yaml text with one application-credential entry (``endpoint``: auth_url,
    region_name, interface)."""
    entry = {
        "auth": {"auth_url": endpoint["auth_url"], "application_credential_id": credential_id,
                 "application_credential_secret": credential_secret},
        "auth_type": "v3applicationcredential",
        "identity_api_version": 3,
        "interface": endpoint.get("interface") or "public",
    }
    if endpoint.get("region_name"):
        entry["region_name"] = endpoint["region_name"]
    return yaml.safe_dump({"clouds": {cloud_name: entry}}, default_flow_style=False, sort_keys=True)


def cloud_conf(endpoint, credential_id, credential_secret, with_ca):
    lines = ["[Global]", "auth-url=%s" % endpoint["auth_url"],
             "application-credential-id=%s" % credential_id,
             "application-credential-secret=%s" % credential_secret]
    if endpoint.get("region_name"):
        lines.append("region=%s" % endpoint["region_name"])
    if endpoint.get("interface") and endpoint["interface"] != "public":
        lines.append("interface=%s" % endpoint["interface"])
    if with_ca:
        lines.append("ca-file=%s" % CA_MOUNT_PATH)
    return "\n".join(lines) + "\n"


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def identity_secret(name, namespace, uid, cloud_name, endpoint, credential_id, credential_secret, ca_pem):
    """The identity Secret (``data`` base64, so that the live object compares field by field)."""
    data = {
        "clouds.yaml": _b64(clouds_yaml(cloud_name, endpoint, credential_id, credential_secret)),
        "cloud.conf": _b64(cloud_conf(endpoint, credential_id, credential_secret, bool(ca_pem))),
    }
    if ca_pem:
        data[CA_KEY] = _b64(ca_pem)
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {UID_LABEL: uid, MANAGED_BY_LABEL: "scs.kaas", MOVE_LABEL: ""}},
        "data": data,
    }


def secret_credential(secret, cloud_name):
    """(credential id, credential secret) of an identity Secret's cloud entry, or (None, None)."""
    try:
        text = base64.b64decode((secret.get("data") or {})["clouds.yaml"]).decode("utf-8")
        auth = yaml.safe_load(text)["clouds"][cloud_name]["auth"]
        return auth.get("application_credential_id"), auth.get("application_credential_secret")
    except (KeyError, TypeError, ValueError, AttributeError, yaml.YAMLError):
        return None, None


def public_view(credential):
    """What results may show of a credential: never its secret."""
    return {"id": credential["id"], "name": credential["name"], "expires_at": credential.get("expires_at")}


# -- Keystone -------------------------------------------------------------------------------------

def _as_dict(obj):
    return {"id": obj.id, "name": obj.name, "expires_at": getattr(obj, "expires_at", None)}


def cluster_credentials(conn, user_id, uid):
    """The credentials of this cluster uid owned by the user, oldest first."""
    found = [_as_dict(c) for c in conn.identity.application_credentials(user=user_id) if belongs_to(uid, c.name)]
    return sorted(found, key=lambda c: c["name"])


# Keystone refuses a role its token does not show yet (role assignments are cached per worker);
# nothing is created then, so asking again is safe. Waits between the attempts, in seconds.
UNASSIGNED_ROLE_RETRIES = (2, 4, 8)


def _unassigned_role(exc):
    return (cloud.is_sdk_error(exc, "BadRequestException")
            and "unassigned role" in str(exc))


def create(conn, user_id, name, roles, expires_at, description, sleep=time.sleep):
    """Create; returns (public view, secret). The secret exists only in this answer."""
    for wait in UNASSIGNED_ROLE_RETRIES + (None,):
        try:
            created = conn.identity.create_application_credential(
                user=user_id, name=name, roles=[{"name": role} for role in roles], unrestricted=False,
                expires_at=expires_at.strftime("%Y-%m-%dT%H:%M:%S") if expires_at else None, description=description)
        except Exception as exc:  # pylint: disable=broad-except
            if wait is None or not _unassigned_role(exc):
                if _unassigned_role(exc):
                    raise cloud.OpenStackError(
                        "roles: Keystone refuses an application credential with the roles %s (\"unassigned role\") "
                        "after %d attempts: the user must hold every one of them on the project"
                        % (", ".join(roles), len(UNASSIGNED_ROLE_RETRIES) + 1))
                raise
            sleep(wait)
            continue
        return _as_dict(created), created.secret


def delete(conn, user_id, credential_id):
    """Delete; False when it was already gone."""
    try:
        conn.identity.delete_application_credential(user_id, credential_id, ignore_missing=False)
    except Exception as exc:  # pylint: disable=broad-except
        if cloud.is_not_found(exc):
            return False
        raise
    return True
