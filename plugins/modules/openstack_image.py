#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: openstack_image
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Upload a node image with its sha256 verified and the SCS image metadata
description:
  - Uploads a node image to Glance from a URL or a file, after verifying its sha256, with every
    property that the SCS image metadata standard (scs-0102) makes mandatory (checked before
    anything is downloaded).
  - Idempotent - an image of the same name whose recorded sha256 (C(owner_specified.openstack.sha256),
    as openstacksdk records it) matches is not downloaded or uploaded again; differing properties
    are updated in place.
  - An image of the same name with other content is refused (CAPO selects images by name; give each
    build its own name, e.g. with the Kubernetes version).
  - "An interrupted upload is finished on the next run: a record of the same name and sha256 whose
    file never arrived (Glance status C(queued) or C(killed), left by a run that was killed or whose
    upload failed) is deleted and the file uploaded again; one whose upload is under way
    (C(saving), C(uploading), C(importing)) is waited for."
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
  - scs.kaas.openstack
options:
  name:
    description: Image name (the class variable C(image.name) refers to it).
    type: str
    required: true
  url:
    description: HTTP(S) URL to download the image from (mutually exclusive with O(path)).
    type: str
  path:
    description: Local image file (mutually exclusive with O(url)).
    type: path
  url_ca_cert:
    description: CA bundle to verify the download server with (default - the system's).
    type: path
  sha256:
    description: Expected sha256 of the file; a mismatch uploads nothing.
    type: str
  disk_format:
    description: Disk format.
    type: str
    default: qcow2
  container_format:
    description: Container format.
    type: str
    default: bare
  min_disk:
    description: Minimum disk in GiB (scs-0102, mandatory).
    type: int
  min_ram:
    description: Minimum RAM in MiB (scs-0102, mandatory).
    type: int
  visibility:
    description: Glance visibility.
    type: str
    choices: [private, shared, community, public]
    default: private
  properties:
    description:
      - Image properties. Mandatory (scs-0102) - C(architecture), C(hw_disk_bus), C(os_distro),
        C(os_version), C(image_build_date), C(image_original_user), C(image_source) (default - O(url)),
        C(image_description), C(replace_frequency), C(provided_until), C(uuid_validity).
      - Recommended or optional - C(hypervisor_type), C(hotfix_hours), C(hw_scsi_model), ...
    type: dict
    default: {}
  tags:
    description: Image tags.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for the image to become active.
    type: int
    default: 1800
  state:
    description: V(present) uploads; V(absent) deletes every image of that name.
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
- name: Node image for Kubernetes v1.34.4
  scs.kaas.openstack_image:
    cloud: my-cloud
    name: ubuntu-capi-image-v1.34.4
    url: https://images.example.com/ubuntu-2404-kube-v1.34.4.qcow2
    sha256: "{{ image_sha256 }}"
    min_disk: 20
    min_ram: 2048
    properties:
      architecture: x86_64
      hypervisor_type: qemu
      hw_disk_bus: scsi
      hw_scsi_model: virtio-scsi
      os_distro: ubuntu
      os_version: "24.04"
      image_build_date: "2026-11-01"
      image_original_user: ubuntu
      image_description: https://images.example.com/README.html
      replace_frequency: never
      provided_until: none
      uuid_validity: none
"""

RETURN = r"""
image:
  description: The image - id, name, status, sha256, min_disk, min_ram, properties (null after V(absent)).
  returned: always
  type: dict
uploaded:
  description: The file was uploaded in this run.
  returned: always
  type: bool
updated:
  description: Properties updated in place.
  returned: always
  type: dict
deleted:
  description: IDs of images deleted (with O(state=absent), or the record of an interrupted upload).
  returned: always
  type: list
  elements: str
"""

import os
import shutil
import tempfile

from ansible.module_utils.urls import open_url

from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.openstack import images
from ansible_collections.scs.kaas.plugins.module_utils.openstack.cloud import short_error
from ansible_collections.scs.kaas.plugins.module_utils.openstack.module import OpenStackModule

_CHUNK = 1024 * 1024
# Glance statuses of a record whose file never arrived, and of one whose upload is under way.
INTERRUPTED = ("queued", "killed")
UPLOADING = ("saving", "uploading", "importing")


def _properties(image):
    """Every property of an image; openstacksdk keeps the ones it knows (os_distro, architecture,
    hw_disk_bus, ...) as attributes and only the others in ``properties``."""
    props = dict(getattr(image, "properties", None) or {})
    for key in images.MANDATORY + images.OPTIONAL:
        value = getattr(image, key, None)
        if key not in props and value is not None:
            props[key] = value
    return props


def _view(image):
    props = _properties(image)
    return {"id": image.id, "name": image.name, "status": image.status, "sha256": props.get(images.SHA256_KEY),
            "min_disk": image.min_disk, "min_ram": image.min_ram, "visibility": image.visibility,
            "properties": props}


class ImageModule(OpenStackModule):
    argument_spec = dict(
        name=dict(type="str", required=True),
        url=dict(type="str"),
        path=dict(type="path"),
        url_ca_cert=dict(type="path"),
        sha256=dict(type="str"),
        disk_format=dict(type="str", default="qcow2"),
        container_format=dict(type="str", default="bare"),
        min_disk=dict(type="int"),
        min_ram=dict(type="int"),
        visibility=dict(type="str", choices=["private", "shared", "community", "public"], default="private"),
        properties=dict(type="dict", default={}),
        tags=dict(type="list", elements="str", default=[]),
        timeout=dict(type="int", default=1800),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module_kwargs = dict(mutually_exclusive=[("url", "path")],
                         required_if=[("state", "present", ("sha256", "min_disk", "min_ram")),
                                      ("state", "present", ("url", "path"), True)])

    def run_cloud(self):
        p = self.params
        result = {"image": None, "uploaded": False, "updated": {}, "deleted": []}
        if p["state"] == "absent":
            for image in self.conn.image.images(name=p["name"]):
                if not self.module.check_mode:
                    self.conn.image.delete_image(image, ignore_missing=True)
                result["deleted"].append(image.id)
            result["changed"] = bool(result["deleted"])
            return result
        wanted, errors = self._wanted()
        if errors:
            raise KaasError("; ".join(errors))
        existing = list(self.conn.image.images(name=p["name"]))
        if len(existing) > 1:
            raise KaasError("name: %d images are named %s; delete all but one" % (len(existing), p["name"]))
        if existing and self._interrupted(existing[0]):
            # An earlier run made the record and never got the file in (it was killed, or the upload
            # failed and so did the delete of the record): such a record can never become active.
            if not self.module.check_mode:
                self.conn.image.delete_image(existing[0], ignore_missing=True)
            result["deleted"].append(existing[0].id)
            existing = []
        elif existing and existing[0].status in UPLOADING:
            existing = [self._wait_active(existing[0])]
        if existing:
            return self._existing(result, existing[0], wanted)
        result.update(changed=True, uploaded=True)
        if self.module.check_mode:
            return result
        local, temporary = self._local_file()
        try:
            hashes = images.hash_stream(self._chunks(local))
            if hashes["sha256"] != p["sha256"].lower():
                raise KaasError("sha256: the file from %s has sha256 %s, not %s; nothing uploaded"
                                % (p["url"] or p["path"], hashes["sha256"], p["sha256"]))
            image = self._upload(local, hashes, wanted)
        finally:
            if temporary:
                shutil.rmtree(os.path.dirname(local), ignore_errors=True)
        result["image"] = _view(self.conn.image.get_image(image.id))
        return result

    def _upload(self, local, hashes, wanted):
        """Create the image record, then PUT the file as a plain octet stream and wait until it is
        active; an image that does not become active or whose stored hashes differ is deleted."""
        p, image_api = self.params, self.conn.image
        attributes = dict((k, v) for k, v in wanted.items() if k not in ("min_disk", "min_ram", "visibility"))
        image = image_api.create_image(
            p["name"], disk_format=p["disk_format"], container_format=p["container_format"],
            md5=hashes["md5"], sha256=hashes["sha256"], allow_duplicates=True, tags=p["tags"] or None,
            min_disk=p["min_disk"], min_ram=p["min_ram"], visibility=p["visibility"], **attributes)
        try:
            with open(local, "rb") as handle:
                response = image_api.put("/images/%s/file" % image.id, data=handle,
                                         headers={"Content-Type": "application/octet-stream"})
            if response.status_code != 204:
                raise KaasError("the upload of %s answered %s: %s"
                                % (p["name"], response.status_code, response.text[:300]))
            image = image_api.wait_for_status(image, status="active", failures=["killed"], wait=p["timeout"])
            stored = dict((k, getattr(image, k, None)) for k in ("checksum", "os_hash_algo", "os_hash_value", "size"))
            mismatch = images.stored_mismatch(hashes, stored)
            if mismatch:
                raise KaasError("Glance stored %s with %s; deleted it" % (p["name"], mismatch))
        except Exception as exc:
            try:
                image_api.delete_image(image.id, ignore_missing=True)
            except Exception as delete_exc:  # pylint: disable=broad-except  # reported with the first failure
                raise KaasError("%s; the image record %s could not be deleted either (%s): the next run replaces it"
                                % (exc if isinstance(exc, KaasError) else short_error(exc), image.id,
                                   short_error(delete_exc)))
            raise
        return image

    def _wanted(self):
        p = self.params
        props, errors = images.properties("properties", p["properties"], p["url"])
        for attribute in images.MANDATORY_ATTRIBUTES:
            if (p[attribute] or 0) < 1:
                errors.append("%s: %r; the SCS image metadata standard (scs-0102) needs a positive value"
                              % (attribute, p[attribute]))
        if p["sha256"] and len(p["sha256"]) != 64:
            errors.append("sha256: %r is not a sha256 (64 hex digits)" % p["sha256"])
        return props, errors

    def _interrupted(self, image):
        return image.status in INTERRUPTED and _view(image)["sha256"] == self.params["sha256"].lower()

    def _wait_active(self, image):
        try:
            return self.conn.image.wait_for_status(image, status="active", failures=["killed"],
                                                   wait=self.params["timeout"])
        except Exception as exc:  # pylint: disable=broad-except  # reported with the image's name
            raise KaasError("name: image %s (%s) was %s and did not become active within %d s (%s); delete it "
                            "or wait for its upload" % (image.name, image.id, image.status, self.params["timeout"],
                                                        str(exc).split("\n", 1)[0][:200]))

    def _existing(self, result, image, wanted):
        p = self.params
        view = _view(image)
        if view["sha256"] != p["sha256"].lower():
            raise KaasError("name: image %s (%s) exists with other content (sha256 %s, wanted %s); give the new "
                            "image a new name" % (p["name"], image.id, view["sha256"] or "not recorded", p["sha256"]))
        current = dict(view["properties"], min_disk=str(view["min_disk"]), min_ram=str(view["min_ram"]),
                       visibility=view["visibility"])
        desired = dict(wanted, min_disk=str(p["min_disk"]), min_ram=str(p["min_ram"]), visibility=p["visibility"])
        changes = images.property_changes(current, desired)
        result["image"] = view
        if changes:
            result.update(changed=True, updated=changes)
            if not self.module.check_mode:
                typed = dict(changes)
                for attribute in ("min_disk", "min_ram"):
                    if attribute in typed:
                        typed[attribute] = int(typed[attribute])
                result["image"] = _view(self.conn.image.update_image(image, **typed))
        return result

    def _local_file(self):
        """(path, temporary) of the image file; a download goes to a private temporary directory."""
        p = self.params
        if p["path"]:
            return p["path"], False
        directory = tempfile.mkdtemp(prefix="scs-kaas-image-")
        target = os.path.join(directory, "image")
        try:
            response = open_url(p["url"], ca_path=p["url_ca_cert"], validate_certs=True, timeout=60)
            with open(target, "wb") as out:
                shutil.copyfileobj(response, out, _CHUNK)
        except Exception as exc:  # pylint: disable=broad-except  # any download failure refuses the upload
            shutil.rmtree(directory, ignore_errors=True)
            raise KaasError("url: cannot download %s: %s" % (p["url"], exc))
        return target, True

    @staticmethod
    def _chunks(path):
        with open(path, "rb") as handle:
            yield from iter(lambda: handle.read(_CHUNK), b"")


def main():
    ImageModule()()


if __name__ == "__main__":
    main()
