# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Run clusterctl hermetically: only the given configuration, no update check, no home files.

``Clusterctl(runner, binary, config, kubeconfig, context=None, workdir=None, timeout=900)``
  ``.run(args) -> dict(rc, stdout, stderr, cmd)`` (never raises for a non-zero exit; running out
  of time raises ``CommandError``). ``runner`` runs the commands (``module_utils/command.py``).
  ``.init(args, wait=True)``, ``.upgrade_plan()``, ``.upgrade_apply(args, wait=True)``
  ``.move_to_directory(path)``, ``.move_from_directory(path)``, ``.move_to_kubeconfig(path)``,
  ``.version()`` (the move methods take ``verbosity``: at 1 clusterctl logs each object it moves)

The environment sets ``CLUSTERCTL_DISABLE_VERSIONCHECK=true`` and points ``XDG_CONFIG_HOME`` at a
private directory, so clusterctl reads no ``~/.config/cluster-api`` overrides or configuration and
contacts no release server; with a configuration whose providers are ``file://`` URLs it needs no
network at all. Results hold the command (the kubeconfig appears as a path only).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError


class ClusterctlError(KaasError, RuntimeError):
    def __init__(self, message, result=None):
        super(ClusterctlError, self).__init__(message)
        self.result = result or {}


class Clusterctl(object):
    def __init__(self, runner, binary, config, kubeconfig, context=None, workdir=None, timeout=900):
        if not binary or not os.access(binary, os.X_OK):
            raise ClusterctlError("clusterctl binary %r is missing or not executable" % (binary,))
        if config and not os.path.isfile(config):
            raise ClusterctlError("clusterctl configuration %s does not exist" % config)
        self.runner = runner
        self.binary = binary
        self.config = config
        self.kubeconfig = kubeconfig
        self.context = context
        self.timeout = timeout
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="scs-kaas-clusterctl-")

    def close(self):
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def env(self):
        """Variables set on top of the environment (an empty KUBECONFIG counts as unset)."""
        env = {
            "CLUSTERCTL_DISABLE_VERSIONCHECK": "true",
            "XDG_CONFIG_HOME": os.path.join(self.workdir, "config"),
            "HOME": os.path.join(self.workdir, "home"),
            "KUBECONFIG": "",
        }
        for d in (env["XDG_CONFIG_HOME"], env["HOME"]):
            os.makedirs(d, exist_ok=True)
        return env

    def _common(self, with_kubeconfig=True):
        args = []
        if self.config:
            args += ["--config", self.config]
        if with_kubeconfig and self.kubeconfig:
            args += ["--kubeconfig", self.kubeconfig]
            if self.context:
                args += ["--kubeconfig-context", self.context]
        return args

    def run(self, args, with_kubeconfig=True, timeout=None):
        cmd = [self.binary] + list(args) + self._common(with_kubeconfig)
        proc = self.runner.run(cmd, env=self.env(), timeout=timeout or self.timeout, cwd=self.workdir)
        return {"rc": proc.rc, "stdout": proc.stdout, "stderr": proc.stderr, "cmd": cmd}

    def checked(self, args, what, **kwargs):
        result = self.run(args, **kwargs)
        if result["rc"] != 0:
            raise ClusterctlError("clusterctl %s failed (rc=%s): %s" % (
                what, result["rc"], (result["stderr"] or result["stdout"]).strip()[-3000:]), result)
        return result

    def version(self):
        return self.checked(["version", "-o", "short"], "version", with_kubeconfig=False)["stdout"].strip()

    def init(self, provider_args, wait=True):
        args = ["init"] + list(provider_args)
        if wait:
            args.append("--wait-providers")
        return self.checked(args, "init")

    def upgrade_plan(self):
        return self.checked(["upgrade", "plan"], "upgrade plan")

    def upgrade_apply(self, provider_args, wait=True):
        args = ["upgrade", "apply"] + list(provider_args)
        if wait:
            args.append("--wait-providers")
        return self.checked(args, "upgrade apply")

    def move_to_directory(self, path, namespace=None, verbosity=0):
        args = ["move", "--to-directory", path] + _verbosity(verbosity)
        if namespace:
            args += ["--namespace", namespace]
        return self.checked(args, "move --to-directory")

    def move_from_directory(self, path, namespace=None, verbosity=0):
        # Restoring writes into the cluster named by --to-kubeconfig (clusterctl's MoveOptions).
        args = ["move", "--from-directory", path, "--to-kubeconfig", self.kubeconfig] + _verbosity(verbosity)
        if self.context:
            args += ["--to-kubeconfig-context", self.context]
        if namespace:
            args += ["--namespace", namespace]
        if self.config:
            args += ["--config", self.config]
        return self.checked(args, "move --from-directory", with_kubeconfig=False)

    def move_to_kubeconfig(self, to_kubeconfig, to_context=None, namespace=None, dry_run=False, verbosity=0):
        """Move to another cluster; with ``dry_run`` (where ``to_kubeconfig`` may be None) only list."""
        args = ["move"] + _verbosity(verbosity)
        if to_kubeconfig:
            args += ["--to-kubeconfig", to_kubeconfig]
        if to_context:
            args += ["--to-kubeconfig-context", to_context]
        if namespace:
            args += ["--namespace", namespace]
        if dry_run:
            args.append("--dry-run")
        return self.checked(args, "move --to-kubeconfig")


def _verbosity(level):
    # clusterctl logs every object it saves, restores or creates at -v 1 (read by the move module).
    return ["-v", str(level)] if level else []
