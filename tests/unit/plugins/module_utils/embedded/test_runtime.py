# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Pure parts of runtime.py (no cluster): argument checks before anything is written."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.embedded import runtime
from ansible_collections.scs.kaas.roles.management_cluster.files.embedded import local_command


def test_state_dir_is_required():
    with pytest.raises(runtime.EmbeddedError, match="state_dir"):
        runtime.EmbeddedCluster("")


def test_validate_names_the_missing_binary(tmp_path):
    cluster = runtime.EmbeddedCluster(str(tmp_path), binaries={"etcd": "/nonexistent/etcd"}, module_dirs={})
    with pytest.raises(runtime.EmbeddedError, match=r"binaries\['etcd'\]: /nonexistent/etcd is not an executable file"):
        cluster.validate()
    with pytest.raises(runtime.EmbeddedError, match="binaries: no path for 'kube-apiserver'"):
        cluster.validate(files=False)


def test_user_agent_and_field_manager_are_the_embedded_ones():
    assert runtime.USER_AGENT.startswith("scs.kaas-embedded/")
    assert runtime.FIELD_MANAGER == "scs.kaas-embedded"


def test_a_component_that_dies_fails_the_wait_at_once_with_its_name(tmp_path):
    # Real processes, no cluster: "etcd" exits after half a second while "kube-apiserver" (which would keep
    # waiting for it) is waited for.
    import os
    import time

    waiter = tmp_path / "waiter"
    waiter.write_text("#!/bin/sh\nexec sleep 60\n")
    waiter.chmod(0o755)
    dies = tmp_path / "dies"
    dies.write_text("#!/bin/sh\nsleep 0.5\nexit 1\n")
    dies.chmod(0o755)
    binaries = dict((name, str(waiter)) for name in runtime.REQUIRED_BINARIES)
    binaries["etcd"] = str(dies)
    cluster = runtime.EmbeddedCluster(str(tmp_path / "state"), binaries=binaries,
                                      ports=dict((k, v + 1000) for k, v in runtime.validate_ports({}).items()),
                                      runner=local_command.runner())
    for sub in ("logs", "pids"):
        os.makedirs(os.path.join(cluster.state_dir, sub))
    cluster._start_process("etcd")
    cluster._start_process("kube-apiserver")
    start = time.time()
    try:
        with pytest.raises(runtime.EmbeddedError) as err:
            cluster._wait_healthy({"kube-apiserver"}, set(), start, alive=["etcd", "kube-apiserver"])
        assert "etcd exited while waiting for kube-apiserver healthy" in str(err.value)
        assert time.time() - start < 60  # not the apiserver's limit of 150 s
    finally:
        cluster.stop()
    assert not cluster.running("kube-apiserver")


def test_the_engine_of_the_last_start_is_kept_unless_given(tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"docker_host": "unix:///e/docker.sock"}))
    kept = runtime.EmbeddedCluster(str(tmp_path))
    kept._fill_from_state()
    assert kept.docker_host == "unix:///e/docker.sock"
    cleared = runtime.EmbeddedCluster(str(tmp_path), docker_host="")
    cleared._fill_from_state()
    assert cleared.docker_host is None
    assert cleared._docker_host_of("capd-manager") is None
    other = runtime.EmbeddedCluster(str(tmp_path), docker_host="tcp://10.0.0.5:2376")
    other._fill_from_state()
    assert other._docker_host_of("capd-manager") == "tcp://10.0.0.5:2376"
    assert other._docker_host_of("kube-apiserver") is None
