# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The OpenStack box itself (``tests/openstack_box``): what other tests rely on.

The catalog publishes the box's address over HTTPS and every endpoint answers there; TLS is verified
with the box's CA (and fails without it); as the module's project user, a server in each availability
zone goes ACTIVE on a host of that zone, an Octavia load balancer goes ACTIVE with a real Neutron VIP
port that a floating IP attaches to, a Cinder volume becomes available; the access logs count
mutating requests per service.
"""

from __future__ import annotations

import socket
import ssl
import urllib.parse

import keystoneauth1.exceptions
import openstack
import pytest

from openstack_box import seed

MUTATING = ("POST", "PUT", "PATCH", "DELETE")


def connect(entry):
    return openstack.connect(load_yaml_config=False, load_envvars=False, **entry)


@pytest.fixture(scope="module")
def project(openstack_project):
    return connect(openstack_project)


@pytest.fixture(scope="module")
def tenant_network(project):
    net = project.network.create_network(name="box-net")
    subnet = project.network.create_subnet(network_id=net.id, name="box-subnet", ip_version=4,
                                           cidr="10.20.0.0/24")
    return net, subnet


def test_catalog_publishes_the_box_address_over_https(openstack_box, project):
    catalog = project.session.auth.get_access(project.session).service_catalog.catalog
    urls = [endpoint["url"] for service in catalog for endpoint in service["endpoints"]]
    types = {service["type"] for service in catalog}
    assert {"identity", "compute", "network", "image", "placement", "load-balancer", "volumev3"} <= types
    for url in urls:
        parsed = urllib.parse.urlsplit(url)
        assert (parsed.scheme, parsed.hostname) == ("https", openstack_box.endpoint_address), url
    # Every endpoint answers on that address, verified with the box's CA.
    context = ssl.create_default_context(cafile=openstack_box.ca_file)
    for parsed in {urllib.parse.urlsplit(url)._replace(path="/") for url in urls}:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=parsed.hostname) as tls_socket:
                assert tls_socket.version() in ("TLSv1.2", "TLSv1.3")


def test_tls_needs_the_box_ca(openstack_box, openstack_project):
    host, port = openstack_box.endpoint_address, 5000
    with socket.create_connection((host, port), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context().wrap_socket(raw, server_hostname=host)
    unverified = dict(openstack_project, cacert=None)
    with pytest.raises((keystoneauth1.exceptions.SSLError, openstack.exceptions.SDKException),
                       match="CERTIFICATE_VERIFY_FAILED"):
        connect(unverified).identity.get_token()
    assert connect(openstack_project).identity.get_token()


def test_a_server_in_each_availability_zone_goes_active(openstack_box, project, tenant_network):
    admin = openstack_box.admin_connection()
    zone_hosts = {}
    for aggregate in admin.compute.aggregates():
        zone_hosts.setdefault(aggregate.availability_zone, set()).update(aggregate.hosts or [])
    assert len(zone_hosts) >= 2 and all(zone_hosts.values()), zone_hosts
    flavor = project.compute.find_flavor("SCS-2V-4-20", ignore_missing=False)
    image = project.image.find_image(seed.IMAGE_NAME, ignore_missing=False)
    servers = {zone: project.compute.create_server(name="box-%s" % zone, flavor_id=flavor.id, image_id=image.id,
                                                   networks=[{"uuid": tenant_network[0].id}],
                                                   availability_zone=zone)
               for zone in sorted(zone_hosts)}
    for zone, server in servers.items():
        server = project.compute.wait_for_server(server, status="ACTIVE", wait=180)
        assert server.availability_zone == zone
        host = admin.compute.get_server(server.id).compute_host
        assert host in zone_hosts[zone]
        ports = list(admin.network.ports(device_id=server.id))  # binding details are admin-only
        assert [(p.status, p.binding_vif_type) for p in ports] == [("ACTIVE", "ovs")]
    for server in servers.values():
        project.compute.delete_server(server)
    for server in servers.values():
        project.compute.wait_for_delete(server, wait=120)


def test_load_balancer_goes_active_with_a_vip_port_and_floating_ip(openstack_box, project, tenant_network):
    public = project.network.find_network(seed.PUBLIC_NETWORK, ignore_missing=False)
    router = project.network.create_router(name="box-router", external_gateway_info={"network_id": public.id})
    project.network.add_interface_to_router(router, subnet_id=tenant_network[1].id)
    lb = project.load_balancer.create_load_balancer(name="box-lb", vip_subnet_id=tenant_network[1].id)
    lb = project.load_balancer.wait_for_load_balancer(lb.id, status="ACTIVE", failures=["ERROR"],
                                                      interval=2, wait=300)
    vip_port = project.network.get_port(lb.vip_port_id)
    assert vip_port.fixed_ips[0]["ip_address"] == lb.vip_address
    fip = project.network.create_ip(floating_network_id=public.id, port_id=vip_port.id)
    assert fip.fixed_ip_address == lb.vip_address
    project.network.delete_ip(fip)
    project.load_balancer.delete_load_balancer(lb, cascade=True)
    project.load_balancer.wait_for_delete(lb, wait=300)
    project.network.remove_interface_from_router(router, subnet_id=tenant_network[1].id)
    project.network.delete_router(router)


def test_volume_becomes_available(project):
    volume = project.block_storage.create_volume(name="box-volume", size=1)
    volume = project.block_storage.wait_for_status(volume, status="available", failures=["error"], wait=120)
    assert volume.size == 1
    project.block_storage.delete_volume(volume)
    project.block_storage.wait_for_delete(volume, wait=120)


def test_access_logs_count_mutating_requests_per_service(openstack_box, project):
    project.identity.get_token()  # authenticate before the marker
    marker = openstack_box.mark()
    group = project.network.create_security_group(name="box-count")
    project.network.delete_security_group(group)
    writes = openstack_box.requests(since=marker)
    assert [(w["service"], w["method"], w["path"], w["status"]) for w in writes] == [
        ("neutron", "POST", "/v2.0/security-groups", "201"),
        ("neutron", "DELETE", "/v2.0/security-groups/%s" % group.id, "204"),
    ]
    assert openstack_box.requests(since=openstack_box.mark()) == []
