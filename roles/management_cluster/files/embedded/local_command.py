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
import sys

try:
    from ansible_collections.scs.kaas.plugins.module_utils import command
except ImportError:  # run without the collection tree: the file itself, once (build.py shares it)
    import importlib.util as _ilu

    if "scs_kaas_command" not in sys.modules:
        _spec = _ilu.spec_from_file_location("scs_kaas_command", os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "plugins", "module_utils", "command.py"))
        sys.modules["scs_kaas_command"] = _ilu.module_from_spec(_spec)
        _spec.loader.exec_module(sys.modules["scs_kaas_command"])
    command = sys.modules["scs_kaas_command"]


def execute(argv, cwd, env, data):
    proc = subprocess.run(argv, cwd=cwd, env=dict(os.environ, **env), check=False,
                          input=data.encode("utf-8") if data is not None else None,
                          stdin=subprocess.DEVNULL if data is None else None,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return (proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def runner():
    return command.CommandRunner(execute)
