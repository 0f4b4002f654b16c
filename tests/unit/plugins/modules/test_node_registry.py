# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""scs.kaas.node_registry in-process: its inputs are checked before anything is written, and the
result says where clients reach the registry (starting one is for tests/e2e)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.scs.kaas.plugins.modules import node_registry


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exit_info:
            node_registry.main()
    result = json.loads(capsys.readouterr().out)
    result["_rc"] = exit_info.value.code
    return result


@pytest.mark.parametrize("address", ["http://0.0.0.0:5000", "0.0.0.0", ":5000", "0.0.0.0:0", "0.0.0.0:65536",
                                     "0.0.0.0:5000/v2", "::1:5000", "registry host:5000"])
def test_a_bad_address_fails_naming_it_before_anything_is_written(capsys, tmp_path, address):
    state_dir = str(tmp_path / "registry")
    result = run_module(capsys, state_dir=state_dir, address=address)
    assert result["failed"] is True
    assert result["msg"].startswith("address: %r is not a listen address" % address), result["msg"]
    assert "e.g. 0.0.0.0:5000" in result["msg"]
    assert not os.path.exists(state_dir)


def test_a_start_timeout_below_one_second_fails_naming_it(capsys, tmp_path):
    state_dir = str(tmp_path / "registry")
    result = run_module(capsys, state_dir=state_dir, start_timeout=0)
    assert result["failed"] is True
    assert result["msg"] == "start_timeout: 0 is too short; use a number of seconds of at least 1"
    assert not os.path.exists(state_dir)


def test_check_mode_predicts_a_start_and_writes_nothing(capsys, tmp_path):
    state_dir = str(tmp_path / "registry")
    result = run_module(capsys, state_dir=state_dir, _ansible_check_mode=True)
    assert result["_rc"] == 0
    assert (result["changed"], result["running"]) == (True, False)
    # Listening on every address: clients here (and the engine's pushes) go to loopback.
    assert result["address"] == "0.0.0.0:5000"
    assert result["url"] == "http://127.0.0.1:5000"
    assert result["access_log"] == os.path.join(state_dir, "registry.log")
    assert not os.path.exists(state_dir)


@pytest.mark.parametrize("address, url", [
    ("[::]:5001", "http://[::1]:5001"), ("127.0.0.1:5050", "http://127.0.0.1:5050"),
    ("10.1.2.3:5000", "http://10.1.2.3:5000"), ("localhost:5000", "http://localhost:5000")])
def test_the_url_is_where_a_client_on_this_machine_reaches_the_listen_address(capsys, tmp_path, address, url):
    result = run_module(capsys, state_dir=str(tmp_path / "registry"), address=address, _ansible_check_mode=True)
    assert (result["address"], result["url"]) == (address, url)


def test_stopping_what_does_not_run_changes_nothing(capsys, tmp_path):
    state_dir = tmp_path / "registry"
    state_dir.mkdir()
    # A record whose process is gone (a reboot): not running; check mode leaves it, a stop removes it.
    stale = state_dir / "registry.pid"
    stale.write_text(json.dumps({"pid": 2 ** 22 + 1, "starttime": 1, "binary": "/usr/bin/docker-registry"}))
    predicted = run_module(capsys, state="stopped", state_dir=str(state_dir), _ansible_check_mode=True)
    assert (predicted["changed"], predicted["running"]) == (False, False)
    assert stale.exists()
    stopped = run_module(capsys, state="stopped", state_dir=str(state_dir))
    assert (stopped["_rc"], stopped["changed"], stopped["running"]) == (0, False, False)
    assert not stale.exists()
