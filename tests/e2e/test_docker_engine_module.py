# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""scs.kaas.docker_engine, scs.kaas.node_image and scs.kaas.node_registry through Ansible: start, a
second start that changes nothing, check mode, stop, a second stop, an image import and its second
run, a registry refusing another address while it runs; each result compared with what the engine,
the registry and /proc show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import helpers
import real_nodes

from ansible_collections.scs.kaas.plugins.module_utils.nodes import docker_engine, oci_registry, unix_http

HERE = os.path.dirname(os.path.abspath(__file__))


def _module(state_dir, state="started", check=False, expect_failure=False):
    return _run_module("scs.kaas.docker_engine", "state=%s state_dir=%s" % (state, state_dir), check, expect_failure)


def _run_module(module, module_args, check=False, expect_failure=False):
    """One ad-hoc run of ``module``; its result as the repository's e2e_results callback records it."""
    fd, results_file = tempfile.mkstemp(prefix="e2e-results-", suffix=".jsonl")
    os.close(fd)
    env = helpers.ansible_environment(helpers.ensure_collection_path(), extra={
        "E2E_RESULTS_FILE": results_file, "ANSIBLE_CALLBACKS_ENABLED": "e2e_results",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback_plugins")})
    args = ["ansible", "localhost", "-i", "localhost,", "-c", "local", "-e",
            "ansible_python_interpreter=%s" % sys.executable, "-m", module, "-a", module_args] + (
        ["--check"] if check else [])
    try:
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
        with open(results_file) as handle:
            records = [json.loads(line) for line in handle if line.strip()]
    finally:
        os.unlink(results_file)
    assert len(records) == 1, "ansible (%d): %s %s" % (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    result = records[0]["result"]
    assert (records[0]["status"] == "failed") is expect_failure, result.get("msg")
    return result


def _pinged(docker_host):
    answer = unix_http.get(docker_host, "/_ping")
    return bool(answer and answer[0] == 200)


def test_module_starts_once_and_stops_what_it_started():
    # pytest's tmp_path is too long for containerd's sockets (the module refuses it, see below).
    state_dir = tempfile.mkdtemp(prefix="scs-kaas-engine-")
    try:
        first = _module(state_dir)
        assert (first["changed"], first["running"]) == (True, True), first
        assert first["docker_host"] == "unix://%s/docker.sock" % state_dir and _pinged(first["docker_host"])
        assert first["info"]["storage_driver"] == "overlay2"
        assert first["info"]["server_version"].startswith("20.10.")
        expected = ["CAP_SYS_RESOURCE"] if real_nodes.host_lacks_sys_resource() else []
        assert first["dropped_capabilities"] == expected
        assert first["default_runtime"] == ("scs-kaas-runc" if expected else "runc")
        record = docker_engine.DockerEngine(state_dir, None).running()
        assert record and os.path.isdir("/proc/%d" % record["pid"])

        # The development provider's network comes with the engine, its gateway named in the result.
        assert first["created_networks"] == ["kind"]
        status, body = unix_http.get(first["docker_host"], "/networks/kind")
        assert status == 200
        ipam = json.loads(body)["IPAM"]["Config"][0]
        assert first["networks"] == {"kind": {"subnet": ipam["Subnet"], "gateway": ipam["Gateway"]}}

        second = _module(state_dir)
        assert second["changed"] is False and second["created_networks"] == []
        assert docker_engine.DockerEngine(state_dir, None).running()["pid"] == record["pid"]

        # Removed out of band: check mode predicts it and writes nothing; a run creates it again.
        assert unix_http.request(first["docker_host"], "DELETE", "/networks/kind")[0] == 204
        predicted = _module(state_dir, check=True)
        assert (predicted["changed"], predicted["created_networks"]) == (True, ["kind"])
        assert unix_http.get(first["docker_host"], "/networks/kind")[0] == 404
        again = _module(state_dir)
        assert (again["changed"], again["created_networks"]) == (True, ["kind"])
        assert unix_http.get(first["docker_host"], "/networks/kind")[0] == 200

        predicted = _module(state_dir, "stopped", check=True)
        assert predicted["changed"] is True and _pinged(first["docker_host"])

        stopped = _module(state_dir, "stopped")
        assert stopped["changed"] is True and stopped["running"] is False
        assert not docker_engine.DockerEngine(state_dir, None).running()
        assert not _pinged(first["docker_host"])
        assert _module(state_dir, "stopped")["changed"] is False
    finally:
        docker_engine.DockerEngine(state_dir, None).stop(timeout=30)
        real_nodes.remove_tree(state_dir)


def test_module_refuses_a_state_dir_too_long_for_sockets_before_writing(tmp_path):
    state_dir = str(tmp_path / ("x" * 80))
    result = _module(state_dir, expect_failure=True)
    assert "state_dir: %s is too long" % state_dir in result["msg"]
    assert not os.path.exists(state_dir)


def test_node_image_module_imports_once(tmp_path):
    state_dir = tempfile.mkdtemp(prefix="scs-kaas-engine-")
    engine = real_nodes.Engine(state_dir)
    try:
        engine.start()
        args = "image=node-base docker_host=%s" % engine.docker_host
        predicted = _run_module("scs.kaas.node_image", args, check=True)
        assert predicted["changed"] is True
        assert engine.docker("image", "inspect", predicted["image"], check=False).returncode != 0
        first = _run_module("scs.kaas.node_image", args)
        assert (first["changed"], first["image"], first["rootfs_cached"]) == (True, predicted["image"], True)
        config = json.loads(engine.docker("image", "inspect", first["image"]).stdout)[0]["Config"]
        assert (config["Cmd"], config["StopSignal"]) == (["/sbin/init"], "SIGRTMIN+3")
        assert config["Labels"]["org.scs-kaas.content-key"] == first["key"]
        # The engine lists images of the same creation second in no fixed order: compare as sets.
        images_before = set(engine.docker("images", "-aq", "--no-trunc").stdout.split())
        assert _run_module("scs.kaas.node_image", args)["changed"] is False
        assert set(engine.docker("images", "-aq", "--no-trunc").stdout.split()) == images_before
    finally:
        engine.stop()
        real_nodes.remove_tree(state_dir)


def test_registry_module_starts_once_refuses_another_address_and_stops(tmp_path):
    state_dir = str(tmp_path / "registry")
    address = "127.0.0.1:5053"
    args = "state_dir=%s address=%s" % (state_dir, address)
    try:
        predicted = _run_module("scs.kaas.node_registry", args, check=True)
        assert (predicted["changed"], predicted["running"]) == (True, False) and not os.path.exists(state_dir)
        first = _run_module("scs.kaas.node_registry", args)
        assert (first["changed"], first["running"], first["url"]) == (True, True, "http://" + address)
        assert real_nodes.http_get(first["url"] + "/v2/")[0] == 200
        record = oci_registry.OciRegistry(state_dir, address, None).running()
        assert record and record["argv"][0] == "/usr/bin/docker-registry"
        # The access log is the file the module names, with the request just sent in it (the
        # registry writes the line once its handler returned, which may be after the answer).

        def logged():
            with open(first["access_log"], encoding="utf-8") as handle:
                return '"GET /v2/ HTTP/1.1" 200' in handle.read()
        helpers.wait_for("the access line of GET /v2/", logged, 10, 0.1)

        again = _run_module("scs.kaas.node_registry", args)
        assert (again["changed"], again["running"]) == (False, True)
        assert oci_registry.OciRegistry(state_dir, address, None).running()["pid"] == record["pid"]

        # Another address for the running registry: refused in check mode and in a run; the
        # configuration it runs with stays as it was.
        with open(os.path.join(state_dir, "config.yml"), encoding="utf-8") as handle:
            config = handle.read()
        other = "state_dir=%s address=127.0.0.1:5054" % state_dir
        for check in (True, False):
            refused = _run_module("scs.kaas.node_registry", other, check=check, expect_failure=True)
            assert "runs with another configuration" in refused["msg"], refused
        with open(os.path.join(state_dir, "config.yml"), encoding="utf-8") as handle:
            assert handle.read() == config

        stop = "state=stopped " + args
        assert _run_module("scs.kaas.node_registry", stop, check=True)["changed"] is True
        assert real_nodes.http_get(first["url"] + "/v2/")[0] == 200
        stopped = _run_module("scs.kaas.node_registry", stop)
        assert (stopped["changed"], stopped["running"]) == (True, False)
        assert real_nodes.http_get(first["url"] + "/v2/") is None
        assert _run_module("scs.kaas.node_registry", stop)["changed"] is False
    finally:
        oci_registry.OciRegistry(state_dir, address, None).stop()
