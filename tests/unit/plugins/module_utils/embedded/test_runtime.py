# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Pure parts of runtime.py (no cluster): port validation, object paths, subset compare, spawning."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys
import time

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.embedded import runtime


# Ports of what may run beside the embedded cluster: k3s/kubeadm (6443, 2379/2380, 10250-10259),
# controller-runtime defaults (8080, 8443, 9440, 9443), kind (6443 on the host).
FOREIGN_PORTS = {6443, 2379, 2380, 8080, 8443, 9440, 9443} | set(range(10250, 10260))


def test_default_ports_are_valid_distinct_and_clear_of_other_clusters():
    ports = runtime.validate_ports({})
    assert set(ports) == set(runtime.DEFAULT_PORTS)
    assert len(set(ports.values())) == len(ports)
    assert not set(ports.values()) & FOREIGN_PORTS
    assert all(p < runtime.INMEMORY_RESERVED[0] and p != runtime.INMEMORY_DEBUG_PORT for p in ports.values())


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
    with pytest.raises(runtime.EmbeddedError) as err:
        runtime.validate_ports(ports)
    assert message in str(err.value)


def test_object_paths():
    assert runtime.object_path({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}) == "/api/v1/namespaces/a"
    assert runtime.object_path({
        "apiVersion": "clusterctl.cluster.x-k8s.io/v1alpha3", "kind": "Provider",
        "metadata": {"name": "cluster-api", "namespace": "capi-system"}},
    ) == "/apis/clusterctl.cluster.x-k8s.io/v1alpha3/namespaces/capi-system/providers/cluster-api"
    assert runtime.object_path({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "x.y"}},
    ) == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.y"


def test_is_subset():
    live = {"a": 1, "b": {"c": [1, {"d": 2, "e": 3}], "f": "g"}, "h": True}
    assert runtime.is_subset({"b": {"c": [1, {"d": 2}]}}, live)
    assert runtime.is_subset({}, live)
    assert not runtime.is_subset({"b": {"c": [1]}}, live)
    assert not runtime.is_subset({"b": {"f": "x"}}, live)
    assert not runtime.is_subset({"z": None}, live)
    assert not runtime.is_subset({"h": 1}, live)
    assert runtime.is_subset({"a": 1.0}, live)


def test_state_dir_is_required():
    with pytest.raises(runtime.EmbeddedError, match="state_dir"):
        runtime.EmbeddedCluster("")


def test_validate_names_the_missing_binary(tmp_path):
    cluster = runtime.EmbeddedCluster(str(tmp_path), binaries={"etcd": "/nonexistent/etcd"}, module_dirs={})
    with pytest.raises(runtime.EmbeddedError, match=r"binaries\['etcd'\]: /nonexistent/etcd is not an executable file"):
        cluster.validate()
    with pytest.raises(runtime.EmbeddedError, match="binaries: no path for 'kube-apiserver'"):
        cluster.validate(files=False)


def test_spawn_detached_survives_and_is_not_our_child(tmp_path):
    log = str(tmp_path / "sleep.log")
    pid = runtime.spawn_detached(["/bin/sh", "-c", "echo hello; exec sleep 30"], {"PATH": "/usr/bin:/bin"}, log, str(tmp_path))
    try:
        start = runtime.proc_starttime(pid)
        assert start is not None
        with open("/proc/%d/stat" % pid) as handle:
            stat = handle.read()
        fields = stat[stat.rfind(")") + 2:].split()
        assert int(fields[1]) != os.getpid()  # reparented, not our child
        assert int(fields[3]) == pid  # own session
        deadline = time.time() + 5
        while time.time() < deadline and "hello" not in open(log).read():
            time.sleep(0.05)
        assert "hello" in open(log).read()
        assert os.stat(log).st_mode & 0o777 == 0o600
    finally:
        os.kill(pid, 9)
    deadline = time.time() + 5
    while time.time() < deadline and runtime.proc_starttime(pid) is not None:
        time.sleep(0.05)
    assert runtime.proc_starttime(pid) is None


def test_spawn_failure_is_reported(tmp_path):
    with pytest.raises(runtime.EmbeddedError, match="cannot start /nonexistent/binary"):
        runtime.spawn_detached(["/nonexistent/binary"], {}, str(tmp_path / "x.log"), str(tmp_path))


def test_listeners_parses_ss(tmp_path):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        port = sock.getsockname()[1]
        mine = [e for e in runtime.listeners() if e["port"] == port]
        assert mine and mine[0]["address"] == "127.0.0.1"
        assert (os.path.basename(sys.executable).split(".")[0][:6] in mine[0]["processes"][0][0]
                or mine[0]["processes"][0][1] == os.getpid())
    finally:
        sock.close()


def test_collection_paths():
    assert runtime.collection_path({"apiVersion": "clusterctl.cluster.x-k8s.io/v1alpha3", "kind": "Provider",
                                    "metadata": {"name": "x", "namespace": "y"}}) == \
        "/apis/clusterctl.cluster.x-k8s.io/v1alpha3/providers"
    assert runtime.collection_path({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}) == "/api/v1/namespaces"


def test_ensure_link_replaces_a_stale_link_atomically(tmp_path):
    link = str(tmp_path / "kubectl")
    assert runtime._ensure_link(link, "/opt/a/kubectl") is True
    assert runtime._ensure_link(link, "/opt/a/kubectl") is False
    assert runtime._ensure_link(link, "/opt/b/kubectl") is True
    assert os.readlink(link) == "/opt/b/kubectl"
    assert sorted(os.listdir(str(tmp_path))) == ["kubectl"]
