# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Node images: the properties of the SCS image metadata standard (scs-0102 v1) and the file's hashes.

scs-0102 marks these properties mandatory: ``architecture``, ``min_disk``, ``min_ram``,
``os_version``, ``os_distro``, ``hw_disk_bus``, ``replace_frequency``, ``provided_until``,
``uuid_validity``, ``image_source``, ``image_description``, ``image_build_date`` and
``image_original_user``; ``hypervisor_type`` is recommended and ``hotfix_hours`` optional.
:func:`properties` checks them (pure). The file's sha256 is recorded where openstacksdk records
it (``owner_specified.openstack.sha256``), which is what makes a second upload a no-op.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

MANDATORY = ("architecture", "hw_disk_bus", "os_distro", "os_version", "image_build_date",
             "image_original_user", "image_source", "image_description", "replace_frequency",
             "provided_until", "uuid_validity")
# Glance image attributes among the mandatory ones (integers, not free-form properties).
MANDATORY_ATTRIBUTES = ("min_disk", "min_ram")
OPTIONAL = ("hypervisor_type", "hotfix_hours", "hw_scsi_model", "hw_rng_model", "patchlevel", "maintained_until")
REPLACE_FREQUENCIES = ("yearly", "quarterly", "monthly", "weekly", "daily", "critical_bug", "never")
SHA256_KEY = "owner_specified.openstack.sha256"
MD5_KEY = "owner_specified.openstack.md5"
_DATE = r"\d{4}-\d{2}-\d{2}"
_CHECKS = {
    "image_build_date": (r"^%s( \d{2}:\d{2}(:\d{2})?)?$" % _DATE, "YYYY-MM-DD or YYYY-MM-DD hh:mm[:ss] (UTC)"),
    "replace_frequency": (r"^(%s)$" % "|".join(REPLACE_FREQUENCIES), ", ".join(REPLACE_FREQUENCIES)),
    "provided_until": (r"^(%s|none|notice)$" % _DATE, "YYYY-MM-DD, none or notice"),
    "uuid_validity": (r"^(%s|none|notice|forever|last-[1-9]\d*)$" % _DATE,
                      "YYYY-MM-DD, none, notice, forever or last-N"),
    "image_source": (r"^(https?://\S+|private)$", "a URL or private"),
    "hotfix_hours": (r"^\d+$", "a number of hours (0 or more)"),
    "hw_disk_bus": (r"^(scsi|virtio|ide|sata|usb)$", "scsi, virtio, ide, sata or usb"),
}


def properties(var, given, url=None):
    """(properties as strings, errors) from the ``properties`` option; ``image_source`` defaults to
    the download URL. ``var`` names the option in errors."""
    props = dict((k, str(v)) for k, v in (given or {}).items() if v is not None)
    if url and "image_source" not in props:
        props["image_source"] = url
    errors = []
    for key in MANDATORY:
        if not props.get(key, "").strip():
            errors.append("%s.%s: missing; the SCS image metadata standard (scs-0102) makes it mandatory"
                          % (var, key))
    for key, (pattern, valid) in sorted(_CHECKS.items()):
        if key in props and not re.match(pattern, props[key]):
            errors.append("%s.%s: %r is not valid; valid: %s" % (var, key, props[key], valid))
    return props, errors


def hash_stream(chunks):
    """{sha256, sha512, md5, size} of an iterable of byte chunks (sha512 and md5 are what Glance
    computes by default: ``os_hash_value`` and ``checksum``)."""
    hashes = {"sha256": hashlib.sha256(), "sha512": hashlib.sha512(), "md5": hashlib.md5()}  # nosec
    size = 0
    for chunk in chunks:
        for value in hashes.values():
            value.update(chunk)
        size += len(chunk)
    return dict([(name, value.hexdigest()) for name, value in hashes.items()], size=size)


def stored_mismatch(local, glance):
    """Why what Glance stored differs from the local file (``glance``: checksum, os_hash_algo,
    os_hash_value, size), or None."""
    if glance.get("size") is not None and glance["size"] != local["size"]:
        return "size %s, not %s" % (glance["size"], local["size"])
    if glance.get("checksum") and glance["checksum"] != local["md5"]:
        return "checksum %s, not %s" % (glance["checksum"], local["md5"])
    algo = glance.get("os_hash_algo")
    if algo in ("sha256", "sha512") and glance.get("os_hash_value") != local[algo]:
        return "%s %s, not %s" % (algo, glance.get("os_hash_value"), local[algo])
    return None


def property_changes(image_props, wanted):
    """The properties whose value differs from ``wanted`` (what an update sends)."""
    return dict((k, v) for k, v in wanted.items() if str(image_props.get(k)) != v)


def matching(images, name):
    return [i for i in images if i["name"] == name]
