# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""scs.kaas.docker_engine and scs.kaas.node_image through Ansible: start, a second start that changes
nothing, check mode, stop, a second stop, an image import and its second run; each result compared
with what the engine and /proc show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import helpers
import real_nodes

from ansible_collections.scs.kaas.plugins.module_utils.nodes import docker_engine, unix_http

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

        # The development provider's network comes with the engine.
        assert first["created_networks"] == ["kind"]
        assert unix_http.get(first["docker_host"], "/networks/kind")[0] == 200

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
