# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The component registry (no cluster): port validation, records, start levels."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.embedded import build, manifests, registry
from ansible_collections.scs.kaas.plugins.module_utils.errors import EmbeddedError


# Ports of what may run beside the embedded cluster: k3s/kubeadm (6443, 2379/2380, 10250-10259),
# controller-runtime defaults (8080, 8443, 9440, 9443), kind (6443 on the host).
FOREIGN_PORTS = {6443, 2379, 2380, 8080, 8443, 9440, 9443} | set(range(10250, 10260))


def test_default_ports_are_valid_distinct_and_clear_of_other_clusters():
    ports = registry.validate_ports({})
    assert ports == registry.DEFAULT_PORTS
    assert set(ports) == set(registry.DEFAULT_PORTS)
    assert len(set(ports.values())) == len(ports)
    assert not set(ports.values()) & FOREIGN_PORTS
    assert all(p < registry.INMEMORY_RESERVED[0] and p != registry.INMEMORY_DEBUG_PORT for p in ports.values())


@pytest.mark.parametrize("ports,message", [
    ({"kube_apiserver": 19000}, "ports.kube_apiserver: 19000 is reserved for the in-memory backend"),
    ({"capd_webhook": 20005}, "ports.capd_webhook: 20005 is reserved"),
    ({"etcd_client": 0}, "ports.etcd_client: 0 is not a port number (1-65535)"),
    ({"etcd_client": "x"}, "ports.etcd_client: 'x' is not a port number"),
    ({"etcd_client": True}, "ports.etcd_client: True is not a port number"),
    ({"etcd_peer": 16443}, "port 16443 is also used for ports.kube_apiserver"),
    ({"apiserver": 1}, "ports: unknown key 'apiserver'; valid keys: "),
])
def test_bad_ports_are_refused_with_the_key(ports, message):
    with pytest.raises(EmbeddedError) as err:
        registry.validate_ports(ports)
    assert message in str(err.value)


def test_default_ports_keep_their_inventory_keys_and_numbers():
    # ``ports`` is a user-visible option: keys and defaults must not move with the registry.
    assert registry.DEFAULT_PORTS == {
        "etcd_client": 16379, "etcd_peer": 16380, "kube_apiserver": 16443, "kube_controller_manager": 16257,
        "capi_webhook": 16501, "capi_health": 16511, "capi_diagnostics": 16521,
        "bootstrap_webhook": 16502, "bootstrap_health": 16512, "bootstrap_diagnostics": 16522,
        "controlplane_webhook": 16503, "controlplane_health": 16513, "controlplane_diagnostics": 16523,
        "capd_webhook": 16504, "capd_health": 16514, "capd_diagnostics": 16524,
        "capo_webhook": 16505, "capo_health": 16515, "capo_diagnostics": 16525, "orc_health": 16516,
        "caaph_webhook": 16507, "caaph_health": 16517, "caaph_diagnostics": 16527,
    }


def test_every_record_is_built_by_build_py_from_its_wrapper_module_and_pin():
    for record in registry.REGISTRY:
        assert build.COMPONENTS[record.name] == (record.wrapper, record.package), record.name
        assert build.WRAPPERS[record.wrapper]["version"] == record.pin, record.name
    assert registry.BY_NAME["capi-manager"].pin == pins.CLUSTER_API_VERSION


def test_every_provider_record_names_the_manifest_provider_it_serves():
    everything = manifests.embedded_providers(registry.COMPONENTS)
    by_key = dict((p["key"], p) for p in everything)
    served = [r for r in registry.REGISTRY if r.provider]
    assert sorted(r.name for r in served) == sorted(registry.MANAGERS)
    for record in served:
        assert by_key[record.provider]["manager"] == record.name
        # A manager without webhooks (ORC: no config/webhook upstream) has no webhook port; one with
        # webhooks but no port is refused by manifests.webhook_configurations.
        assert record.webhook_port is None or record.webhook_port in registry.DEFAULT_PORTS
    assert sorted(p["manager"] for p in everything if p["manager"]) == sorted(registry.MANAGERS)
    # By default (no optional provider switched on) the switched records serve nothing.
    assert sorted(p["manager"] for p in manifests.PROVIDERS if p["manager"]) == sorted(
        r.name for r in served if r.switch is None)


def test_component_ports_and_webhook_ports():
    ports = registry.validate_ports({"capd_webhook": 17004})
    assert registry.component_ports("kube-apiserver", ports) == [("secure", 16443)]
    assert registry.component_ports("capd-manager", ports) == [
        ("webhook", 17004), ("health", 16514), ("diagnostics", 16524), ("inmemory-debug", 19000)]
    assert registry.webhook_ports(ports)["capd-manager"] == 17004
    assert sorted(registry.webhook_ports(ports)) == sorted(set(registry.MANAGERS) - {"orc-manager"})


def test_start_levels_follow_requirements():
    levels = registry.start_levels()
    default_managers = [m for m in registry.MANAGERS if m not in ("capo-manager", "orc-manager", "caaph-manager")]
    assert levels == [["etcd", "kube-apiserver"], ["kube-controller-manager", registry.OBJECTS], default_managers]
    # Switched on, CAPO and ORC start with the other managers, after the objects are in place.
    assert registry.start_levels(registry.components(["openstack"])) == levels[:2] + [
        default_managers + ["capo-manager", "orc-manager"]]
    assert registry.start_levels(registry.components(["addons"])) == levels[:2] + [default_managers + ["caaph-manager"]]


@pytest.mark.parametrize("value,message", [
    (["aws"], "optional_providers: unknown item 'aws'; valid items: addons, openstack"),
    ("openstack", "optional_providers: 'openstack' is not a list"),
])
def test_unknown_optional_providers_are_refused_naming_the_valid_ones(value, message):
    with pytest.raises(EmbeddedError) as err:
        registry.validate_switches(value, "optional_providers")
    assert message in str(err.value)
    assert registry.validate_switches(["openstack", "openstack"]) == ["openstack"]


def test_capo_and_orc_run_on_loopback_with_their_own_flags():
    lay = registry.Layout(registry.validate_ports({}), {"webhook_dir": "/s/pki/webhook"}, {"kubeconfig": "/s/kubeconfig"})
    capo = registry.BY_NAME["capo-manager"].argv("/bin/capo", lay)
    assert "--webhook-port=16505" in capo and "--health-addr=127.0.0.1:16515" in capo
    assert "--diagnostics-address=127.0.0.1:16525" in capo
    # CAPO has its own feature gates; CAPI's ClusterTopology is not one of them.
    assert not [a for a in capo if a.startswith("--feature-gates")]
    orc = registry.BY_NAME["orc-manager"].argv("/bin/orc", lay)
    assert "--health-probe-bind-address=127.0.0.1:16516" in orc and "--metrics-bind-address=0" in orc


def test_argv_and_environment_come_from_the_record():
    lay = registry.Layout(registry.validate_ports({}), {"webhook_dir": "/s/pki/webhook"},
                          {"kubeconfig": "/s/kubeconfig", "etcd": "/s/etcd"})
    argv = registry.BY_NAME["kubeadm-bootstrap-manager"].argv("/bin/kb", lay)
    assert argv[0] == "/bin/kb"
    assert "--webhook-port=16502" in argv and "--health-addr=127.0.0.1:16512" in argv
    assert "--feature-gates=ClusterTopology=true" in argv
    assert registry.BY_NAME["etcd"].argv("/bin/etcd", lay)[1:4] == [
        "--name=embedded", "--data-dir=/s/etcd", "--client-port=16379"]
    assert registry.environment("capd-manager", "/s/kubeconfig")["POD_IP"] == "127.0.0.1"
    assert "POD_IP" not in registry.environment("capi-manager", "/s/kubeconfig")


@pytest.mark.parametrize("value", ["/run/docker.sock", "unix://", "http://127.0.0.1:2375", 7, "tcp://"])
def test_a_docker_host_that_is_no_engine_address_is_refused_by_name(value):
    with pytest.raises(EmbeddedError) as exc:
        registry.validate_docker_host(value, "management_cluster_embedded_docker_host")
    assert "management_cluster_embedded_docker_host" in exc.value.message and "unix:///" in exc.value.message


@pytest.mark.parametrize("value", [None, "", "unix:///s/e/docker.sock", "tcp://10.0.0.5:2376"])
def test_engine_addresses_and_none_pass(value):
    assert registry.validate_docker_host(value) == value


def test_only_the_development_provider_drives_an_engine():
    assert registry.DOCKER_HOST_COMPONENTS == ("capd-manager",)
    assert set(registry.DOCKER_HOST_COMPONENTS) <= set(registry.BY_NAME)
