# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The command runner: the same behaviour over AnsibleModule.run_command and over subprocess."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys
import time

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.scs.kaas.plugins.module_utils import command
from ansible_collections.scs.kaas.plugins.module_utils.embedded import process
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.roles.management_cluster.files.embedded import local_command


def _module_runner():
    with patch_module_args({}):
        module = AnsibleModule(argument_spec={})
    return command.module_runner(module)


@pytest.fixture(params=["run_command", "subprocess"])
def runner(request):
    return _module_runner() if request.param == "run_command" else local_command.runner()


def test_argv_cwd_env_and_stdin_reach_the_command(runner, tmp_path):
    script = "import os, sys; print(os.getcwd(), os.environ['SCS_KAAS_PROBE'], sys.stdin.read().strip(), sys.argv[1])"
    result = runner.run([sys.executable, "-c", script, "$HOME ~"], cwd=str(tmp_path),
                        env={"SCS_KAAS_PROBE": "set"}, data="from stdin")
    assert result.rc == 0 and result.ok
    # No shell, no expansion: the argument arrives as given.
    assert result.stdout.rstrip("\n").split(None, 3) == [str(tmp_path), "set", "from", "stdin $HOME ~"]
    assert "SCS_KAAS_PROBE" not in os.environ  # an update for the command, not for us


def test_a_failure_is_returned_and_check_raises_with_stderr(runner):
    result = runner.run([sys.executable, "-c", "import sys; sys.stderr.write('broken\\n'); sys.exit(3)"])
    assert (result.rc, result.stderr.strip()) == (3, "broken")
    with pytest.raises(command.CommandError, match=r"probe failed \(exit 3\).*\nbroken") as exc:
        result.check("probe")
    assert isinstance(exc.value, KaasError)


def test_a_missing_binary_is_a_command_error(runner, tmp_path):
    with pytest.raises(command.CommandError, match="cannot run %s" % tmp_path):
        runner.run([str(tmp_path / "missing")])


def test_a_timeout_names_the_command_and_the_limit(runner):
    started = time.time()
    with pytest.raises(command.CommandError, match=r"sleep 30 did not finish within its limit of 1 seconds"):
        runner.run(["sleep", "30"], timeout=1)
    assert time.time() - started < 10


def test_a_command_within_its_limit_is_not_affected(runner):
    result = runner.run(["sh", "-c", "echo done; exit 4"], timeout=30)
    assert (result.rc, result.stdout, result.argv) == (4, "done\n", ["sh", "-c", "echo done; exit 4"])


def test_the_detached_spawner_returns_at_once_through_the_runner(runner, tmp_path):
    """The child outlives the call and holds none of the runner's pipes (else the call would hang)."""
    log = str(tmp_path / "child.log")
    started = time.time()
    pid = process.spawn_detached(runner, ["/bin/sh", "-c", "echo up; exec sleep 60"], {"PATH": "/usr/bin:/bin"},
                                 log, str(tmp_path))
    try:
        assert time.time() - started < 10
        assert process.proc_starttime(pid) is not None
        fds = os.listdir("/proc/%d/fd" % pid)
        assert sorted(int(fd) for fd in fds) == [0, 1, 2]
        assert os.readlink("/proc/%d/fd/0" % pid) == "/dev/null"
        assert os.readlink("/proc/%d/fd/1" % pid) == log == os.readlink("/proc/%d/fd/2" % pid)
    finally:
        os.kill(pid, 9)
