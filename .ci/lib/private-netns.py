# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Run a command in a private network namespace (only ``lo``, up), so that the embedded management
clusters the tests start never meet one that runs on this machine (e.g. the one `make demo` left
running): they bind the same fixed loopback ports.

    private-netns.py [--require] [--fresh] -- COMMAND [ARG...]

Order of attempts: already inside one (``SCS_KAAS_PRIVATE_NETNS=1``) -> run as is, unless
``--fresh``; as root ``unshare --net``; otherwise a user namespace ``unshare --map-root-user --net``.
Where neither is possible, the command runs in this namespace only while no other process holds one
of the embedded management cluster's ports; otherwise it refuses, naming the holder, and never stops
it. ``SCS_KAAS_NETNS=host`` skips the namespace (the same port check applies). ``--require`` refuses
instead of running in this namespace.

``--fresh`` makes a new namespace also inside one of ours, for a command whose daemons must meet no
other's, not even those of the namespace it was started from: `make demo-real-nodes` run by the
newcomer tests, whose namespace holds their `make demo` cluster on the same ports.
"""

import json
import os
import re
import shutil
import subprocess
import sys

MARKER = "SCS_KAAS_PRIVATE_NETNS"
# The embedded management cluster's default ports and the in-memory backend's fixed ones.
PORTS = {
    16379: "etcd client", 16380: "etcd peer", 16443: "kube-apiserver", 16257: "kube-controller-manager",
    19000: "CAPD in-memory backend",
}
PORTS.update({16500 + offset + index: "Cluster API manager" for offset in (1, 11, 21) for index in range(4)})

_LO_UP_THEN_EXEC = 'ip link set lo up && exec "$0" "$@"'


def _works(prefix):
    """True if ``prefix`` can create a namespace here and bring ``lo`` up in it."""
    try:
        proc = subprocess.run(prefix + ["sh", "-c", "ip link set lo up"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def namespace_prefix():
    """The unshare command line that works here, or None."""
    unshare = shutil.which("unshare")
    if not unshare or not shutil.which("ip"):
        return None
    candidates = [[unshare, "--net"]] if os.geteuid() == 0 else []
    candidates.append([unshare, "--map-root-user", "--net"])
    for prefix in candidates:
        if _works(prefix):
            return prefix
    return None


def port_holders():
    """Processes listening on one of PORTS: list of (port, what, holder text)."""
    ss = shutil.which("ss")
    if not ss:
        return []
    out = subprocess.run([ss, "-ltnpH"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         check=False).stdout
    held = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        port = fields[3].rpartition(":")[2]
        if port.isdigit() and int(port) in PORTS:
            users = fields[-1] if "users:" in fields[-1] else "an unknown process"
            held.append((int(port), PORTS[int(port)], users + _state_dir_of(users)))
    return held


def _state_dir_of(users):
    """' (embedded management cluster, state dir X)' for a component named in ss's users field."""
    for pid in re.findall(r"pid=(\d+)", users):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                argv = handle.read().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        for arg in argv:
            value = arg.partition("=")[2] or arg
            if "/pki/" in value:
                return " (embedded management cluster, state dir %s)" % value.split("/pki/")[0]
    return ""


def main(argv):
    require = fresh = False
    while argv and argv[0] != "--":
        if argv[0] == "--require":
            require = True
        elif argv[0] == "--fresh":
            fresh = True
        else:
            sys.exit("private-netns.py: unknown option %s" % argv[0])
        argv = argv[1:]
    command = argv[1:]
    if not command:
        sys.exit("usage: private-netns.py [--require] [--fresh] -- COMMAND [ARG...]")
    env = dict(os.environ)
    if env.get(MARKER) == "1" and not fresh:
        os.execvpe(command[0], command, env)
    prefix = None if env.get("SCS_KAAS_NETNS") == "host" else namespace_prefix()
    if prefix:
        env[MARKER] = "1"
        os.execvpe(prefix[0], prefix + ["sh", "-c", _LO_UP_THEN_EXEC] + command, env)
    if require:
        sys.exit("private-netns.py: no private network namespace can be made here (unshare --net as root, "
                 "or unshare --map-root-user --net), and this command needs one")
    held = port_holders()
    if held:
        lines = ["  port %d (%s): %s" % item for item in held]
        sys.exit("private-netns.py: running in this network namespace (no private one could be made, or "
                 "SCS_KAAS_NETNS=host), and another management cluster holds ports this command "
                 "needs:\n%s\nIt is left running. Stop it first (e.g. `ansible-playbook playbooks/management.yml "
                 "-e management_cluster_action=stop`) or run where namespaces are allowed."
                 % "\n".join(lines))
    reason = "SCS_KAAS_NETNS=host" if env.get("SCS_KAAS_NETNS") == "host" else "no private network namespace here"
    print("private-netns.py: %s; running in this one (its ports are free): %s" % (reason, json.dumps(command)),
          file=sys.stderr)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv[1:])
