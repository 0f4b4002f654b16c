# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The facts preflight compares with (GET requests only): flavors, images, external networks,
availability zones and the project's quotas with their usage, as plain data for
``preflight.check``. A service missing from the catalog leaves its quotas out."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Quota names of each API -> the names preflight uses.
COMPUTE_QUOTAS = {"instances": "instances", "cores": "cores", "ram": "ram", "server_groups": "server_groups"}
NETWORK_QUOTAS = {"floating_ips": "floating_ips", "security_groups": "security_groups",
                  "networks": "networks", "routers": "routers"}
VOLUME_QUOTAS = {"volumes": "volumes", "gigabytes": "gigabytes"}


def quota_entry(limit, used):
    return {"limit": None if limit is None else int(limit), "used": int(used or 0)}


def has_service(conn, service_type):
    """Whether the catalog has the service (e.g. ``load-balancer``, ``block-storage``)."""
    try:
        return bool(conn.endpoint_for(service_type))
    except Exception:  # pylint: disable=broad-except  # no such service in the catalog
        return False


def _quota_set(quota_set, names):
    usage = getattr(quota_set, "usage", None) or {}
    values = quota_set.to_dict(computed=False)
    return dict((ours, quota_entry(values.get(theirs), usage.get(theirs))) for ours, theirs in names.items()
                if values.get(theirs) is not None)


def fetch(conn, image_refs):
    """Facts of the cloud for the images named in ``image_refs`` ({id|name} dicts)."""
    project_id = conn.current_project_id
    facts = {
        "flavors": [{"id": f.id, "name": f.name, "vcpus": f.vcpus, "ram": f.ram, "disk": f.disk or 0}
                    for f in conn.compute.flavors(details=True)],
        "external_networks": [{"id": n.id, "name": n.name} for n in conn.network.networks(is_router_external=True)],
        "availability_zones": sorted(set(z.name for z in conn.compute.availability_zones()
                                         if (z.state or {}).get("available", True))),
        "images": [],
        "quotas": {},
    }
    names = sorted(set(r["name"] for r in image_refs if r.get("name")))
    ids = sorted(set(r["id"] for r in image_refs if r.get("id")))
    seen = set()
    for image in [i for name in names for i in conn.image.images(name=name)] + \
            [i for i in (conn.image.find_image(image_id) for image_id in ids) if i is not None]:
        if image.id not in seen:
            seen.add(image.id)
            facts["images"].append({"id": image.id, "name": image.name, "status": image.status,
                                    "min_disk": image.min_disk or 0})
    facts["quotas"].update(_quota_set(conn.compute.get_quota_set(project_id, usage=True), COMPUTE_QUOTAS))
    details = conn.network.get_quota(project_id, details=True).to_dict(computed=False)
    for ours, theirs in NETWORK_QUOTAS.items():
        if isinstance(details.get(theirs), dict):
            facts["quotas"][ours] = quota_entry(details[theirs].get("limit"), details[theirs].get("used"))
    if has_service(conn, "block-storage") or has_service(conn, "volumev3"):
        facts["quotas"].update(_quota_set(conn.block_storage.get_quota_set(project_id, usage=True), VOLUME_QUOTAS))
    facts["has_load_balancer"] = has_service(conn, "load-balancer")
    if facts["has_load_balancer"]:
        limit = conn.load_balancer.get_quota(project_id).load_balancers
        used = len(list(conn.load_balancer.load_balancers(project_id=project_id)))
        facts["quotas"]["load_balancers"] = quota_entry(limit, used)
    return facts
