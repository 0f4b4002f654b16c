# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Prove that `make test` leaves a running embedded management cluster alone.

    management-guard.py snapshot FILE     record the status of the machine's embedded clusters
    management-guard.py compare FILE      fail if any of them changed since (stopped, restarted,
                                          unhealthy, or a process with another start time)

The clusters looked at are the ones in the default state directory of the role and the demo
(``~/.local/state/scs-kaas/embedded``) and in ``$SCS_KAAS_DEMO_STATE_DIR``.
"""

import json
import os
import sys

from ansible_collections.scs.kaas.plugins.module_utils.embedded import runtime


def state_dirs():
    dirs = [os.path.expanduser("~/.local/state/scs-kaas/embedded")]
    if os.environ.get("SCS_KAAS_DEMO_STATE_DIR"):
        dirs.append(os.path.abspath(os.path.expanduser(os.environ["SCS_KAAS_DEMO_STATE_DIR"])))
    return sorted(set(d for d in dirs if os.path.isdir(d)))


def observe():
    """state dir -> {component: {running, healthy, pid, starttime}} for each running cluster."""
    seen = {}
    for state_dir in state_dirs():
        cluster = runtime.EmbeddedCluster(state_dir)
        status = cluster.status()
        if not any(c["running"] for c in status["components"].values()):
            continue
        seen[state_dir] = {}
        for name, component in sorted(status["components"].items()):
            record = cluster.running(name) or {}
            seen[state_dir][name] = {
                "running": component["running"],
                "healthy": component["healthy"],
                "pid": component["pid"],
                "starttime": record.get("starttime"),
            }
    return seen


def main(argv):
    if len(argv) != 2 or argv[0] not in ("snapshot", "compare"):
        sys.exit(__doc__)
    action, path = argv
    now = observe()
    if action == "snapshot":
        with open(path, "w") as handle:
            json.dump(now, handle, indent=2, sort_keys=True)
        for state_dir, components in now.items():
            print("management-guard: a management cluster runs beside this run (%s: %s); it must be "
                  "unchanged afterwards" % (state_dir, ", ".join("%s pid %s" % (n, c["pid"]) for n, c in components.items())))
        return 0
    with open(path) as handle:
        before = json.load(handle)
    changed = []
    for state_dir, components in sorted(before.items()):
        after = now.get(state_dir, {})
        for name, was in sorted(components.items()):
            if after.get(name) != was:
                changed.append("%s %s: before %s, after %s" % (state_dir, name, was, after.get(name)))
    if changed:
        print("management-guard: the management cluster that ran beside this run changed:\n  "
              + "\n  ".join(changed))
        return 1
    for state_dir in sorted(before):
        print("management-guard: %s unchanged (same processes, start times and health)" % state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
