# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The command runner outside Ansible modules: ``plugins/module_utils/command.py`` over subprocess.

Used by build-binaries.py, the tests and the benchmarks; modules use ``command.module_runner``.
``runner()`` returns a ``CommandRunner``; ``command`` is that module (``CommandError`` ...).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

from ansible_collections.scs.kaas.plugins.module_utils import command


def execute(argv, cwd, env, data):
    proc = subprocess.run(argv, cwd=cwd, env=dict(os.environ, **env), check=False,
                          input=data.encode("utf-8") if data is not None else None,
                          stdin=subprocess.DEVNULL if data is None else None,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return (proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def runner():
    return command.CommandRunner(execute)
