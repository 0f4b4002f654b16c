# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""An OCI runtime in front of runc that removes capabilities the host cannot grant.

Where the capability bounding set of the host (or of the sandbox the engine runs in) lacks a
capability, runc refuses every container that asks for it ("unable to apply caps: operation not
permitted"), and ``--privileged`` asks for all of them. Registered as the engine's default runtime,
this wrapper drops those capabilities from the bundle's ``config.json`` before it hands the call
to the real runc, so privileged containers (Cluster API's docker nodes and load balancer) run.

The file is self-contained (standard library only, no collection import) on purpose: the same
file is installed as an executable for the engine the collection starts and, later, for the
nodes' containerd (which runs privileged pods such as kube-proxy), with
``render_executable(interpreter, runc, drop)``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

CAPABILITY_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")
# Capability numbers from linux/capability.h; only the ones this wrapper may be asked to drop.
CAPABILITY_NUMBERS = {"CAP_SYS_RESOURCE": 24, "CAP_SYS_ADMIN": 21, "CAP_SYS_MODULE": 16,
                      "CAP_SYS_TIME": 25, "CAP_NET_ADMIN": 12, "CAP_BPF": 39, "CAP_PERFMON": 38}

# The values render_executable substitutes; the defaults make an imported copy harmless.
REAL_RUNC = "runc"
DROP = ()


def bounding_set(status_path="/proc/self/status"):
    """The CapBnd mask of this process (an int)."""
    with open(status_path, "r") as handle:
        for line in handle:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    raise ValueError("%s has no CapBnd line" % status_path)


def missing_capabilities(mask, wanted=("CAP_SYS_RESOURCE",)):
    """The names in ``wanted`` whose bit is not set in ``mask``, sorted."""
    return sorted(name for name in wanted if not mask & (1 << CAPABILITY_NUMBERS[name]))


def drop_capabilities(process, drop):
    """Remove the capabilities in ``drop`` from an OCI ``process`` dict in place; True if it changed."""
    capabilities = (process or {}).get("capabilities") or {}
    changed = False
    for name in CAPABILITY_SETS:
        current = capabilities.get(name)
        if not current:
            continue
        kept = [cap for cap in current if cap not in drop]
        if len(kept) != len(current):
            capabilities[name] = kept
            changed = True
    return changed


def _option_value(argv, names):
    for index, arg in enumerate(argv):
        if arg in names and index + 1 < len(argv):
            return argv[index + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def spec_files(argv):
    """``[(path, is_bundle_config)]`` this runc call reads capabilities from.

    ``create``/``run`` read ``<bundle>/config.json`` (containerd's shim always passes ``--bundle``;
    runc falls back to the working directory); ``exec`` reads the process file given with
    ``--process`` (the shim writes one per ``docker exec``), which holds a bare process object.
    """
    process = _option_value(argv, ("--process", "-p"))
    if "exec" in argv and process:
        return [(process, False)]
    bundle = _option_value(argv, ("--bundle", "-b"))
    if bundle is None and ("create" in argv or "run" in argv) and os.path.isfile("config.json"):
        bundle = os.getcwd()
    if bundle is not None:
        return [(os.path.join(bundle, "config.json"), True)]
    return []


def rewrite(path, is_bundle_config, drop):
    """Drop ``drop`` from the spec file at ``path`` in place (atomically); True if it changed."""
    with open(path, "r") as handle:
        document = json.load(handle)
    process = document.get("process") if is_bundle_config else document
    if not drop_capabilities(process, drop):
        return False
    temp = path + ".scs-kaas"
    with open(temp, "w") as handle:
        json.dump(document, handle)
    os.chmod(temp, os.stat(path).st_mode & 0o7777)
    os.rename(temp, path)
    return True


def main(argv):
    if DROP:
        for path, is_bundle_config in spec_files(argv[1:]):
            rewrite(path, is_bundle_config, DROP)
    os.execv(REAL_RUNC, [REAL_RUNC] + argv[1:])


def render_executable(interpreter, runc, drop):
    """Text of an executable copy of this file that drops ``drop`` and execs ``runc``."""
    # getsource also works where this module is imported from a zip (a module's payload); imported
    # here so that each runc call of the installed wrapper does not pay for it.
    import inspect
    source = inspect.getsource(sys.modules[__name__])
    source = source.replace('REAL_RUNC = "runc"', "REAL_RUNC = %r" % runc, 1)
    source = source.replace("DROP = ()", "DROP = %r" % (tuple(drop),), 1)
    return "#!%s\n%s" % (interpreter, source)


if __name__ == "__main__":
    main(sys.argv)
