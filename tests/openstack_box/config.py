# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The services' configuration files, as dicts of ini sections (pure functions of a :class:`Layout`)."""

from __future__ import annotations

import os

# The address every API binds (besides 127.0.0.1) and the catalog publishes: on a dummy interface in
# the tests' network namespace, so containers on the tests' network can reach it through the host side.
ENDPOINT_ADDRESS = "10.251.0.1"
DUMMY_INTERFACE = "kaasos0"
REGION = "RegionOne"
PORTS = {"keystone": 5000, "placement": 8778, "glance": 9292, "neutron": 9696, "nova": 8774,
         "octavia": 9876, "cinder": 8776}
# service name -> (catalog type, path under the port)
CATALOG = {"placement": ("placement", ""), "glance": ("image", ""), "neutron": ("network", ""),
           "nova": ("compute", "/v2.1"), "octavia": ("load-balancer", ""), "cinder": ("volumev3", "/v3")}
DATABASES = ("keystone", "placement", "glance", "neutron", "nova_api", "nova", "nova_cell0", "octavia",
             "cinder")
COMPUTE_HOSTS = {"compute-1": "az-1", "compute-2": "az-1", "compute-3": "az-2"}
RABBIT_URL = "rabbit://guest:guest@127.0.0.1:5672/"


class Layout:
    """Paths and secrets of one box's state directory."""

    def __init__(self, state_dir, venv, secrets):
        self.state = state_dir
        self.venv = venv
        self.secrets = secrets
        self.etc = os.path.join(state_dir, "etc")
        self.logs = os.path.join(state_dir, "logs")
        self.tls = os.path.join(state_dir, "tls")
        self.data = os.path.join(state_dir, "data")
        self.ca_file = os.path.join(self.tls, "ca.crt")
        self.mysql_socket = os.path.join(state_dir, "run", "mysqld.sock")

    def url(self, service, address=ENDPOINT_ADDRESS):
        return "https://%s:%d" % (address, PORTS[service])

    def db(self, name):
        return "mysql+pymysql://root@localhost/%s?unix_socket=%s&charset=utf8" % (name, self.mysql_socket)

    def etc_dir(self, service):
        return os.path.join(self.etc, service)

    def conf_path(self, service, name=None):
        return os.path.join(self.etc_dir(service), name or service + ".conf")


def render(sections):
    lines = []
    for section, values in sections.items():
        lines.append("[%s]" % section)
        lines += ["%s = %s" % (key, value) for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


def _auth(layout, username):
    """keystoneauth password options for a service user (auth plugins and session cafile)."""
    return {"auth_type": "password", "auth_url": layout.url("keystone"), "username": username,
            "password": layout.secrets["service"], "project_name": "service", "user_domain_name": "Default",
            "project_domain_name": "Default", "cafile": layout.ca_file, "region_name": REGION}


def _common(layout, service, database=None):
    sections = {
        "DEFAULT": {"debug": "false", "transport_url": RABBIT_URL,
                    "state_path": os.path.join(layout.data, service)},
        "keystone_authtoken": dict(_auth(layout, service), www_authenticate_uri=layout.url("keystone"),
                                   service_token_roles_required="true"),
        "oslo_concurrency": {"lock_path": os.path.join(layout.data, service, "lock")},
        "oslo_messaging_notifications": {"driver": "noop"},
        "oslo_policy": {"enforce_new_defaults": "true", "enforce_scope": "false"},
    }
    if database:
        sections["database"] = {"connection": layout.db(database), "max_pool_size": "5", "max_overflow": "10"}
    return sections


def keystone(layout):
    data = os.path.join(layout.data, "keystone")
    return {
        "DEFAULT": {"debug": "false"},
        "database": {"connection": layout.db("keystone")},
        "token": {"provider": "fernet"},
        "fernet_tokens": {"key_repository": os.path.join(data, "fernet-keys")},
        "credential": {"key_repository": os.path.join(data, "credential-keys")},
        # One worker process: an in-process cache is coherent, and it spares rebuilding every token's
        # roles and catalog from the database per request (about a second each on a loaded machine).
        "cache": {"enabled": "true", "backend": "dogpile.cache.memory"},
        # Role assignments stay uncached: tests assign roles and at once create application
        # credentials with them, and a stale cached assignment once refused that ("Cannot create an
        # application credential with unassigned role").
        "assignment": {"caching": "false"},
        "role": {"caching": "false"},
        # bcrypt's minimum cost: the default (12) makes every user creation and password login
        # take about a second of CPU on a loaded machine.
        "identity": {"password_hash_rounds": "4"},
    }


def placement(layout):
    sections = _common(layout, "placement")
    sections["placement_database"] = {"connection": layout.db("placement")}
    sections["api"] = {"auth_strategy": "keystone"}
    return sections


def glance(layout):
    data = os.path.join(layout.data, "glance")
    sections = _common(layout, "glance", "glance")
    sections["DEFAULT"].update({"enabled_backends": "file:file", "worker_self_reference_url": layout.url("glance")})
    sections["glance_store"] = {"default_backend": "file"}
    sections["file"] = {"filesystem_store_datadir": os.path.join(data, "images")}
    sections["os_glance_staging_store"] = {"filesystem_store_datadir": os.path.join(data, "staging")}
    sections["os_glance_tasks_store"] = {"filesystem_store_datadir": os.path.join(data, "tasks")}
    sections["paste_deploy"] = {"flavor": "keystone",
                                "config_file": os.path.join(layout.venv, "etc", "glance", "glance-api-paste.ini")}
    return sections


def neutron(layout):
    sections = _common(layout, "neutron", "neutron")
    sections["DEFAULT"].update({
        "core_plugin": "ml2", "service_plugins": "kaas_box_ml2.KaasBoxL3RouterPlugin", "auth_strategy": "keystone",
        "api_paste_config": os.path.join(layout.venv, "etc", "neutron", "api-paste.ini"),
        "notify_nova_on_port_status_changes": "false", "notify_nova_on_port_data_changes": "false",
        "dhcp_agent_notification": "false", "allow_overlapping_ips": "true",
    })
    sections["ml2"] = {"type_drivers": "flat,vxlan", "tenant_network_types": "vxlan",
                       "mechanism_drivers": "kaas_box", "extension_drivers": "port_security"}
    sections["ml2_type_flat"] = {"flat_networks": "public,management"}
    sections["ml2_type_vxlan"] = {"vni_ranges": "1:10000"}
    return sections


def nova(layout):
    sections = _common(layout, "nova", "nova")
    sections["DEFAULT"].update({
        "compute_driver": "fake.FakeDriverWithoutFakeNodes", "my_ip": ENDPOINT_ADDRESS,
        "vif_plugging_is_fatal": "false", "vif_plugging_timeout": "0", "host": "controller",
        "instances_path": os.path.join(layout.data, "nova", "instances"),
    })
    sections["wsgi"] = {"api_paste_config": os.path.join(layout.venv, "etc", "nova", "api-paste.ini")}
    sections["api"] = {"auth_strategy": "keystone"}
    sections["api_database"] = {"connection": layout.db("nova_api")}
    sections["placement"] = _auth(layout, "nova")
    sections["neutron"] = dict(_auth(layout, "nova"), service_metadata_proxy="false")
    sections["cinder"] = dict(_auth(layout, "nova"), os_region_name=REGION)
    sections["glance"] = {"cafile": layout.ca_file, "region_name": REGION}
    sections["service_user"] = dict(_auth(layout, "nova"), send_service_user_token="true")
    sections["scheduler"] = {"discover_hosts_in_cells_interval": "-1", "workers": "1"}
    sections["conductor"] = {"workers": "1"}
    sections["vnc"] = {"enabled": "false"}
    sections["os_vif_ovs"] = {"isolate_vif": "false"}
    return sections


def nova_compute(layout, host):
    return {"DEFAULT": {"host": host, "state_path": os.path.join(layout.data, "nova", host)}}


def cinder(layout):
    sections = _common(layout, "cinder", "cinder")
    sections["DEFAULT"].update({
        "auth_strategy": "keystone", "enabled_backends": "fake", "host": "box", "my_ip": "127.0.0.1",
        "api_paste_config": os.path.join(layout.venv, "etc", "cinder", "api-paste.ini"),
        "glance_ca_certificates_file": layout.ca_file,
    })
    sections["fake"] = {"volume_driver": "cinder.tests.fake_driver.FakeLoggingVolumeDriver",
                        "volume_backend_name": "fake"}
    sections["nova"] = _auth(layout, "cinder")
    sections["service_user"] = dict(_auth(layout, "cinder"), send_service_user_token="true")
    return sections


def octavia(layout, management):
    """``management``: ids of the amphora flavor, network, security group (made by the seed)."""
    tls = layout.tls
    sections = _common(layout, "octavia", "octavia")
    sections["api_settings"] = {"auth_strategy": "keystone", "default_provider_driver": "amphora",
                                "enabled_provider_drivers": "amphora:The Octavia Amphora driver."}
    sections["service_auth"] = _auth(layout, "octavia")
    for client in ("nova", "neutron", "glance", "cinder"):
        sections[client] = {"region_name": REGION, "endpoint_type": "public", "cafile": layout.ca_file,
                            "ca_certificates_file": layout.ca_file}
    sections["certificates"] = {
        "cert_generator": "local_cert_generator",
        "ca_certificate": os.path.join(tls, "octavia-server-ca.crt"),
        "ca_private_key": os.path.join(tls, "octavia-server-ca.key"),
        "ca_private_key_passphrase": layout.secrets["octavia_ca"],
        "server_certs_key_passphrase": layout.secrets["octavia_certs"],
    }
    sections["haproxy_amphora"] = {"client_cert": os.path.join(tls, "octavia-client.pem"),
                                   "server_ca": os.path.join(tls, "octavia-server-ca.crt")}
    sections["controller_worker"] = {
        "amphora_driver": "amphora_noop_driver", "compute_driver": "compute_nova_driver",
        "network_driver": "allowed_address_pairs_driver", "image_driver": "image_glance_driver",
        "amp_image_tag": "amphora", "amp_flavor_id": management["flavor"],
        "amp_boot_network_list": management["network"], "amp_secgroup_list": management["security_group"],
        "loadbalancer_topology": "SINGLE", "client_ca": os.path.join(tls, "octavia-client-ca.crt"),
        "workers": "1",
    }
    sections["task_flow"] = {"jobboard_enabled": "false"}
    sections["oslo_messaging"] = {"topic": "octavia_prov"}
    return sections
