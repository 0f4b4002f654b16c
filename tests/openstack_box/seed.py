# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""What the box creates through the APIs (openstacksdk of the tests' venv): service users and the
catalog, availability zones, flavors, an image, the public network, Octavia's management resources,
and a project with a user per test module."""

from __future__ import annotations

import openstack

from . import config

FLAVORS = {  # name -> (vcpus, ram MiB, disk GiB)
    "SCS-2V-4-20": (2, 4096, 20),
    "SCS-2V-4": (2, 4096, 0),
    "SCS-4V-8-50": (4, 8192, 50),
}
IMAGE_NAME = "box-image"
PUBLIC_NETWORK = "public"
PUBLIC_CIDR = "192.0.2.0/24"  # TEST-NET-1: database records only, nothing routes it
MANAGEMENT_CIDR = "198.51.100.0/24"  # TEST-NET-2, Octavia's amphora network
USER_ROLES = ("member", "load-balancer_member")
SERVICE_ROLES = ("admin", "service")
EXTRA_ROLES = ("service", "load-balancer_member", "load-balancer_admin", "load-balancer_observer",
               "load-balancer_global_observer")


def cloud_entry(layout, username, password, project_name):
    """A clouds.yaml entry (keys as openstack.cloud and openstacksdk take them)."""
    return {
        "auth": {"auth_url": layout.url("keystone") + "/v3", "username": username, "password": password,
                 "project_name": project_name, "user_domain_name": "Default",
                 "project_domain_name": "Default"},
        "region_name": config.REGION, "interface": "public", "identity_api_version": 3,
        "cacert": layout.ca_file,
    }


def connect(entry):
    return openstack.connect(load_yaml_config=False, load_envvars=False, **entry)


def _role(conn, name):
    return conn.identity.find_role(name) or conn.identity.create_role(name=name)


def services_and_catalog(conn, layout):
    identity = conn.identity
    service_project = (identity.find_project("service", domain_id="default")
                       or identity.create_project(name="service", domain_id="default"))
    for role in EXTRA_ROLES:
        _role(conn, role)
    for name, (kind, path) in config.CATALOG.items():
        user = identity.find_user(name, domain_id="default") or identity.create_user(
            name=name, password=layout.secrets["service"], domain_id="default")
        for role in SERVICE_ROLES:
            identity.assign_project_role_to_user(service_project, user, _role(conn, role))
        if not list(identity.services(type=kind)):
            service = identity.create_service(name=name, type=kind, is_enabled=True)
            for interface in ("public", "internal", "admin"):
                identity.create_endpoint(service_id=service.id, interface=interface, region_id=config.REGION,
                                         url=layout.url(name) + path)
    return service_project


def compute_layout(conn):
    """Availability zones as host aggregates (hosts are discovered before this runs)."""
    existing = {agg.name: agg for agg in conn.compute.aggregates()}
    for host, zone in config.COMPUTE_HOSTS.items():
        agg = existing.get(zone)
        if agg is None:
            agg = existing[zone] = conn.compute.create_aggregate(name=zone, availability_zone=zone)
        agg = conn.compute.get_aggregate(agg.id)
        if host not in (agg.hosts or []):
            conn.compute.add_host_to_aggregate(agg, host)
    for name, (vcpus, ram, disk) in FLAVORS.items():
        if not conn.compute.find_flavor(name):
            conn.compute.create_flavor(name=name, vcpus=vcpus, ram=ram, disk=disk, is_public=True)


def image(conn):
    return _ensure_image(conn, b"\0" * 1024 * 1024, name=IMAGE_NAME, disk_format="raw", container_format="bare",
                         visibility="public")


def _ensure_image(conn, data, **attrs):
    found = conn.image.find_image(attrs["name"])
    if found is not None and found.status == "active":
        return found
    if found is not None:  # an upload interrupted by a stop
        conn.image.delete_image(found)
    created = conn.image.create_image(**attrs)
    response = conn.image.put("/images/%s/file" % created.id, data=data,
                              headers={"Content-Type": "application/octet-stream"})
    if response.status_code != 204:
        raise RuntimeError("image upload answered %s: %s" % (response.status_code, response.text[:500]))
    return conn.image.wait_for_status(created, status="active", failures=["killed"], wait=120)


def public_network(conn):
    net = conn.network.find_network(PUBLIC_NETWORK)
    if net is None:
        net = conn.network.create_network(name=PUBLIC_NETWORK, is_router_external=True, is_shared=False,
                                          provider_network_type="flat", provider_physical_network="public")
        conn.network.create_subnet(network_id=net.id, name=PUBLIC_NETWORK + "-subnet", ip_version=4,
                                   cidr=PUBLIC_CIDR, gateway_ip="192.0.2.1", is_dhcp_enabled=False,
                                   allocation_pools=[{"start": "192.0.2.10", "end": "192.0.2.250"}])
    return net


def octavia_management(conn, service_project):
    """The amphora flavor, network, security group and image tagged ``amphora``; returns their ids."""
    flavor = conn.compute.find_flavor("amphora") or conn.compute.create_flavor(
        name="amphora", vcpus=1, ram=1024, disk=2, is_public=False)
    try:
        conn.compute.flavor_add_tenant_access(flavor, service_project.id)
    except openstack.exceptions.ConflictException:
        pass
    net = conn.network.find_network("lb-mgmt")
    if net is None:
        net = conn.network.create_network(name="lb-mgmt", project_id=service_project.id,
                                          provider_network_type="flat", provider_physical_network="management")
        conn.network.create_subnet(network_id=net.id, project_id=service_project.id, name="lb-mgmt-subnet",
                                   ip_version=4, cidr=MANAGEMENT_CIDR, is_dhcp_enabled=False)
    group = conn.network.find_security_group("lb-mgmt-sec-grp", project_id=service_project.id)
    if group is None:
        group = conn.network.create_security_group(name="lb-mgmt-sec-grp", project_id=service_project.id)
    # Glance checks the format of what it stores: raw, as the fake virt driver boots nothing anyway.
    _ensure_image(conn, b"\0" * 4096, name="amphora", disk_format="raw", container_format="bare",
                  visibility="public", tags=["amphora"])
    return {"flavor": flavor.id, "network": net.id, "security_group": group.id}


def new_project(conn, layout, name, password):
    """A project with a user holding USER_ROLES in it; returns (clouds entry, project, user)."""
    identity = conn.identity
    project = identity.create_project(name=name, domain_id="default", description="scs.kaas e2e test")
    user = identity.create_user(name=name, password=password, domain_id="default",
                                default_project_id=project.id)
    for role in USER_ROLES:
        identity.assign_project_role_to_user(project, user, _role(conn, role))
    return cloud_entry(layout, name, password, name), project, user
