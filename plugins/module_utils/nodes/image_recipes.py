# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""What the images built here contain: Debian packages, files and image settings, as plain data.

A recipe is everything that decides an image, so its digest is the image's cache key.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

# Bump when the build procedure (not a recipe) changes what an image contains or what is cached
# with it. 2: the package list beside the tar (a tar of procedure 1 has none, so it gets a new key
# and is rebuilt, never read without one).
BUILD_PROCEDURE = 2

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"

# The development provider (CAPD) writes this file into the load balancer and sends SIGHUP; it runs
# the image as ``haproxy -W -db -f <this file>`` (master-worker: SIGHUP reloads the config).
HAPROXY_CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg"

# haproxy exits without a config, so the image ships one that only serves the stats page until
# CAPD writes the real one (kind's haproxy image does the same).
HAPROXY_BOOT_CONFIG = """global
  log stdout format raw local0
  maxconn 100000
  stats socket /var/run/haproxy.sock mode 600 level admin expose-fd listeners

defaults
  log global
  mode tcp
  timeout connect 5s
  timeout client 50s
  timeout server 50s

frontend stats
  mode http
  bind *:8404
  http-request return status 200 content-type text/plain string "no control plane configured yet" if { path /healthz }
"""

# CAPD's config asks for maxconn 100000, for which haproxy raises RLIMIT_NOFILE to about 200030 and
# exits when it cannot. Without CAP_SYS_RESOURCE a container cannot go past the hard limit it is
# given (20000 in some sandboxes), so where that limit is lower, this shim (first on PATH, as CAPD
# runs plain "haproxy") passes -n, which takes precedence over the config's maxconn. The master keeps
# its argv across reloads, so the limit holds after every SIGHUP.
HAPROXY_FD_SHIM = """#!/bin/sh
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 200100 ]; then
  exec /usr/sbin/haproxy -n $(( (hard - 100) / 2 )) "$@"
fi
exec /usr/sbin/haproxy "$@"
"""

LOAD_BALANCER = {
    "name": "haproxy",
    "packages": ["haproxy"],
    "files": {HAPROXY_CONFIG_PATH: {"content": HAPROXY_BOOT_CONFIG, "mode": 0o644},
              "/usr/local/sbin/haproxy": {"content": HAPROXY_FD_SHIM, "mode": 0o755}},
    "changes": [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        'ENTRYPOINT ["haproxy", "-W", "-db", "-f", "%s"]' % HAPROXY_CONFIG_PATH,
        "EXPOSE 6443/tcp 8404/tcp",
    ],
}

# Units that wait for hardware or a console a container does not have.
_NODE_MASKED_UNITS = ("getty.target", "systemd-udevd.service", "systemd-udev-trigger.service",
                      "systemd-modules-load.service", "systemd-remount-fs.service", "sys-kernel-debug.mount",
                      "sys-kernel-tracing.mount", "systemd-journald-audit.socket")

NODE_BASE = {
    "name": "node-base",
    "packages": ["systemd", "systemd-sysv", "dbus", "iptables", "conntrack", "socat", "ethtool", "iproute2",
                 "kmod", "ca-certificates", "procps", "mount", "util-linux",
                 # the runtime wrapper of the nodes' containerd (runtime_wrapper.py) needs json
                 "python3",
                 # kind's OCI hook (mount-product-files.sh) edits the container's config.json with jq
                 "jq"],
    "files": dict(("/etc/systemd/system/%s" % unit, {"symlink": "/dev/null"}) for unit in _NODE_MASKED_UNITS),
    # kind's node contract: systemd is PID 1 and stops on SIGRTMIN+3; container=docker tells systemd.
    "changes": ['CMD ["/sbin/init"]', "ENV container=docker"],
    "stop_signal": "SIGRTMIN+3",
}


# Every image built here, in build order.
RECIPES = (LOAD_BALANCER, NODE_BASE)


def content_key(recipe, suite=DEBIAN_SUITE, mirror=DEBIAN_MIRROR):
    """A short hex digest over everything that decides the image."""
    document = {"recipe": recipe, "suite": suite, "mirror": mirror, "procedure": BUILD_PROCEDURE}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def image_reference(repository, recipe, key):
    """``<repository>/<name>:<suite>-<key>``; CAPD composes ``<repository>/haproxy:<tag>`` the same way."""
    return "%s/%s:%s-%s" % (repository.rstrip("/"), recipe["name"], DEBIAN_SUITE, key)
