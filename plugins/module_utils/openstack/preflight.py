# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Read-only checks of a batch of openstack-class clusters against what a cloud offers.

:func:`demands` turns a normalised spec into what it asks of the cloud (each item with the
inventory variable that asks for it); :func:`check` compares the demands of the whole batch with
the cloud's facts (plain data: see :mod:`cloud_facts`; ``planned_images``: names of images the
run uploads after the preflight, which pass when they do not exist yet) and returns every error at
once. Both are pure. Quotas are checked for the sum of the batch, since the clusters are created together.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils.capi import class_openstack

# kubeadm's preflight refuses a control plane below 2 CPUs and 1700 MiB; a worker needs room for
# kubelet, the CNI and one pod.
MINIMUM = {"control plane": {"vcpus": 2, "ram": 2048}, "worker": {"vcpus": 1, "ram": 1024}}
# Per cluster, besides servers: CAPO's network, subnet, router, control plane and worker
# security groups, the API load balancer with its floating IP; the collection's two server groups.
PER_CLUSTER = {"networks": 1, "routers": 1, "security_groups": 2, "server_groups": 2}
QUOTA_VARIABLE = {
    "instances": "control_plane.replicas / node_groups[].replicas",
    "cores": "the flavors' vCPUs times the replicas",
    "ram": "the flavors' RAM times the replicas",
    "volumes": "controlPlaneRootVolume / workerRootVolume",
    "gigabytes": "controlPlaneRootVolume.sizeGiB / workerRootVolume.sizeGiB",
    "load_balancers": "variables.apiServerLoadBalancer",
    "floating_ips": "variables.apiServerLoadBalancer",
    "security_groups": "one control plane and one worker group per cluster",
    "networks": "one node network per cluster",
    "routers": "one router per cluster",
    "server_groups": "one control plane and one worker server group per cluster",
}


def _lookup(spec, name, level, level_path):
    """(value, variable path): a level's own variable, else the cluster's; the path is where it is set
    (the cluster's when unset)."""
    own = (level or {}).get("variables") or {}
    if name in own:
        return own[name], "%s.variables.%s" % (level_path, name)
    variables = spec.get("variables") or {}
    return variables.get(name), "%s.variables.%s" % (spec["var_name"], name)


def demands(spec):
    """What one normalised openstack-class spec asks of the cloud."""
    var = spec["var_name"]
    version = spec.get("kubernetes_version") or ""
    roles = [("control plane", spec.get("control_plane") or {}, var + ".control_plane",
              "controlPlaneFlavor", "controlPlaneRootVolume", class_openstack.DEFAULT_CONTROL_PLANE_FLAVOR)]
    for index, group in enumerate(spec.get("node_groups") or []):
        roles.append(("worker", group, "%s.node_groups[%d]" % (var, index), "workerFlavor", "workerRootVolume",
                      class_openstack.DEFAULT_WORKER_FLAVOR))
    servers = []
    for role, level, level_path, flavor_var, volume_var, default_flavor in roles:
        flavor, flavor_path = _lookup(spec, flavor_var, level, level_path)
        volume, volume_path = _lookup(spec, volume_var, level, level_path)
        image, image_path = _lookup(spec, "image", level, level_path)
        servers.append({
            "role": role, "replicas": int(level.get("replicas") or 0), "replicas_path": level_path + ".replicas",
            "flavor": flavor or default_flavor, "flavor_path": flavor_path,
            "root_volume": volume, "root_volume_path": volume_path,
            "image": class_openstack.image_reference(image, version),
            "image_path": image_path + (".nameByVersion[%s]" % version if "nameByVersion" in (image or {}) else ""),
            "zone": level.get("failure_domain"), "zone_path": level_path + ".failure_domain",
        })
    variables = spec.get("variables") or {}
    zones = [(z, "%s.variables.controlPlaneAvailabilityZones[%d]" % (var, i))
             for i, z in enumerate(variables.get("controlPlaneAvailabilityZones") or [])]
    zones += [(s["zone"], s["zone_path"]) for s in servers if s["zone"]]
    load_balancer = (variables.get("apiServerLoadBalancer") or class_openstack.DEFAULT_API_LOAD_BALANCER) != "none"
    network = None
    if variables.get("externalNetworkID"):
        network = ("id", variables["externalNetworkID"], var + ".variables.externalNetworkID")
    elif variables.get("externalNetworkName"):
        network = ("name", variables["externalNetworkName"], var + ".variables.externalNetworkName")
    return {"var_name": var, "servers": servers, "zones": zones, "load_balancer": load_balancer,
            "external_network": network}


def _find(items, ref):
    """Items matching an ``{id|name}`` reference."""
    if ref.get("id"):
        return [i for i in items if i["id"] == ref["id"]]
    return [i for i in items if i["name"] == ref.get("name")]


def _check_server(errors, server, facts):
    flavors = _find(facts["flavors"], {"name": server["flavor"]}) or _find(facts["flavors"], {"id": server["flavor"]})
    names = ", ".join(sorted(f["name"] for f in facts["flavors"])) or "none"
    if not flavors:
        errors.append("%s: flavor '%s' does not exist in the cloud; flavors: %s"
                      % (server["flavor_path"], server["flavor"], names))
        return None
    flavor = flavors[0]
    minimum = MINIMUM[server["role"]]
    if flavor["vcpus"] < minimum["vcpus"] or flavor["ram"] < minimum["ram"]:
        errors.append("%s: flavor '%s' has %d vCPUs and %d MiB RAM; a %s server needs at least %d vCPUs and %d MiB"
                      % (server["flavor_path"], flavor["name"], flavor["vcpus"], flavor["ram"], server["role"],
                         minimum["vcpus"], minimum["ram"]))
    if not flavor["disk"] and not server["root_volume"]:
        errors.append("%s: flavor '%s' has no disk; set %s (e.g. {sizeGiB: 50}) to boot from a volume"
                      % (server["flavor_path"], flavor["name"], server["root_volume_path"]))
    if "orcImageName" in server["image"]:
        return flavor  # an ORC Image object in the management cluster, not a Glance name
    images = _find(facts["images"], server["image"])
    ref = server["image"].get("id") or server["image"].get("name")
    if not images and ref in facts.get("planned_images", ()):
        return flavor  # uploaded by this run after the preflight
    if not images:
        errors.append("%s: image '%s' does not exist in the cloud; upload it (scs.kaas.openstack_image) or name "
                      "an existing one" % (server["image_path"], ref))
    elif len(images) > 1:
        errors.append("%s: %d images are named '%s'; give the image by id" % (server["image_path"], len(images), ref))
    elif images[0]["status"] != "active":
        errors.append("%s: image '%s' is %s, not active" % (server["image_path"], ref, images[0]["status"]))
    else:
        disk = (server["root_volume"] or {}).get("sizeGiB") or flavor["disk"]
        if disk and images[0].get("min_disk") and disk < images[0]["min_disk"]:
            errors.append("%s: image '%s' needs %d GB of disk; the server gets %d GB"
                          % (server["image_path"], ref, images[0]["min_disk"], disk))
    return flavor


def _check_network(errors, demand, facts):
    networks = facts["external_networks"]
    if demand["external_network"]:
        kind, value, path = demand["external_network"]
        if not _find(networks, {kind: value}):
            errors.append("%s: '%s' is not an external network of the cloud; external networks: %s"
                          % (path, value, ", ".join("%s (%s)" % (n["name"], n["id"]) for n in networks) or "none"))
        return None
    if len(networks) != 1:
        errors.append("%s.variables.externalNetworkID: not set and the cloud has %d external networks (%s); "
                      "name one" % (demand["var_name"], len(networks),
                                    ", ".join(n["name"] for n in networks) or "none"))
        return None
    return networks[0]["id"]


def check(batch, facts):
    """(errors, report) for the demands of a batch; ``report`` has the per-cluster findings (the
    external network found automatically) and the batch's total need per quota."""
    errors, report, need = [], {"clusters": {}, "need": {}}, {}

    def add(resource, amount):
        need[resource] = need.get(resource, 0) + amount

    for demand in batch:
        for server in demand["servers"]:
            flavor = _check_server(errors, server, facts)
            add("instances", server["replicas"])
            if flavor:
                add("cores", server["replicas"] * flavor["vcpus"])
                add("ram", server["replicas"] * flavor["ram"])
            if server["root_volume"]:
                add("volumes", server["replicas"])
                add("gigabytes", server["replicas"] * server["root_volume"]["sizeGiB"])
        for zone, path in demand["zones"]:
            if zone not in facts["availability_zones"]:
                errors.append("%s: availability zone '%s' does not exist (or is not available); zones: %s"
                              % (path, zone, ", ".join(sorted(facts["availability_zones"])) or "none"))
        network = _check_network(errors, demand, facts)
        report["clusters"][demand["var_name"]] = {"external_network_id": network}
        for resource, amount in PER_CLUSTER.items():
            add(resource, amount)
        if demand["load_balancer"]:
            add("load_balancers", 1)
            add("floating_ips", 1)
            if "load_balancers" not in facts["quotas"] and not facts.get("has_load_balancer", True):
                errors.append("%s.variables.apiServerLoadBalancer: the cloud has no load-balancer service "
                              "(Octavia); set it to none" % demand["var_name"])
    for resource, amount in sorted(need.items()):
        quota = facts["quotas"].get(resource)
        if quota is None or quota["limit"] is None or quota["limit"] < 0:
            continue
        free = quota["limit"] - (quota.get("used") or 0)
        if amount > free:
            errors.append("%s: the batch needs %d %s (%s); the project's quota leaves %d (limit %d, used %d)"
                          % (", ".join(d["var_name"] for d in batch), amount, resource, QUOTA_VARIABLE[resource],
                             free, quota["limit"], quota.get("used") or 0))
    report["need"] = need
    # The control plane and the workers share cluster-level variables: one error per variable and value.
    return list(dict.fromkeys(errors)), report
