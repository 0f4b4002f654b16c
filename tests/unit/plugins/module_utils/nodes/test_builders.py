# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Pure builders of the engine, the registry and the image build."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.nodes import docker_engine, image_build, image_recipes
from ansible_collections.scs.kaas.plugins.module_utils.nodes import oci_registry


def test_daemon_config_registers_the_wrapper_only_when_something_is_dropped():
    assert docker_engine.daemon_config("/s/bin/scs-kaas-runc", []) == {}
    config = docker_engine.daemon_config("/s/bin/scs-kaas-runc", ["CAP_SYS_RESOURCE"])
    assert config["default-runtime"] == "scs-kaas-runc"
    assert config["runtimes"] == {"scs-kaas-runc": {"path": "/s/bin/scs-kaas-runc"}}


def test_dockerd_argv_names_every_path_of_its_own():
    layout = docker_engine.EngineLayout("/state")
    argv = docker_engine.dockerd_argv("/usr/sbin/dockerd", layout)
    options = dict(zip(argv[1::2], argv[2::2]))
    assert options == {"--config-file": "/state/daemon.json", "--data-root": "/state/data",
                       "--exec-root": "/state/exec", "--pidfile": "/state/dockerd.pid",
                       "-H": "unix:///state/docker.sock"}


def test_a_state_dir_too_long_for_containerd_sockets_is_refused():
    docker_engine.EngineLayout("/" + "d" * 65).check()
    with pytest.raises(docker_engine.EngineError) as err:
        docker_engine.EngineLayout("/" + "d" * 66).check()
    assert "at most 66 characters" in str(err.value)


def test_default_routes_of_a_private_and_a_host_namespace(tmp_path):
    (tmp_path / "route").write_text("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n")
    (tmp_path / "ipv6_route").write_text(
        "%s 00 %s 00 %s ffffffff 00000001 00000000 00200200 lo\n" % ("0" * 32, "0" * 32, "0" * 32))
    assert docker_engine.default_routes(str(tmp_path)) == []
    (tmp_path / "route").write_text("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
                                    "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n")
    assert docker_engine.default_routes(str(tmp_path)) == ["ipv4 via eth0"]


def test_registry_config_keeps_the_access_log_and_needs_no_auth():
    config = oci_registry.registry_config("/r/storage", "127.0.0.1:5000")
    assert config["log"]["accesslog"] == {"disabled": False}
    assert config["http"]["addr"] == "127.0.0.1:5000"
    assert config["storage"]["filesystem"] == {"rootdirectory": "/r/storage"}
    assert "auth" not in config


def test_content_key_follows_every_part_of_a_recipe():
    base = image_recipes.content_key(image_recipes.LOAD_BALANCER)
    assert base == image_recipes.content_key(copy.deepcopy(image_recipes.LOAD_BALANCER))
    for change in (lambda r: r["packages"].append("curl"),
                   lambda r: r["files"][image_recipes.HAPROXY_CONFIG_PATH].update(content="x"),
                   lambda r: r["changes"].append("ENV A=1")):
        recipe = copy.deepcopy(image_recipes.LOAD_BALANCER)
        change(recipe)
        assert image_recipes.content_key(recipe) != base
    assert image_recipes.content_key(image_recipes.LOAD_BALANCER, suite="trixie") != base


def test_load_balancer_reference_has_the_shape_capd_composes():
    # CAPD builds "<imageRepository>/haproxy:<imageTag>" from the DockerCluster's load balancer fields.
    ref = image_recipes.image_reference("127.0.0.1:5000/scs-kaas", image_recipes.LOAD_BALANCER, "abc")
    repository, _sep, tag = ref.rpartition(":")
    assert repository == "127.0.0.1:5000/scs-kaas/haproxy"
    assert tag == "bookworm-abc"


def test_debootstrap_and_import_command_lines():
    argv = image_build.debootstrap_argv(image_recipes.LOAD_BALANCER, "/t/rootfs")
    assert argv == ["debootstrap", "--variant=minbase", "--include=haproxy", "bookworm", "/t/rootfs",
                    "http://deb.debian.org/debian"]
    argv = image_build.import_argv("docker", "/c/x.tar", "r/haproxy:t", image_recipes.LOAD_BALANCER, "k1")
    assert argv[:2] == ["docker", "import"] and argv[-2:] == ["/c/x.tar", "r/haproxy:t"]
    changes = argv[3:-2:2]
    assert "LABEL org.scs-kaas.content-key=k1" in changes
    assert any(c.startswith("ENTRYPOINT") and image_recipes.HAPROXY_CONFIG_PATH in c for c in changes)


def test_mounts_below_lists_deepest_first(tmp_path):
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 0:21 / /proc rw - proc proc rw\n"
        "90 1 0:50 / %(r)s/rootfs/proc rw - proc proc rw\n"
        "91 90 0:51 / %(r)s/rootfs/proc/sys/fs/binfmt_misc rw - binfmt_misc b rw\n"
        "92 1 0:52 / %(r)s/rootfs2 rw - tmpfs t rw\n" % {"r": str(tmp_path)})
    assert image_build.mounts_below(str(tmp_path / "rootfs"), str(mountinfo)) == [
        str(tmp_path / "rootfs/proc/sys/fs/binfmt_misc"), str(tmp_path / "rootfs/proc")]
