# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Test wiring for real nodes: an engine and a registry of the collection's own, in the test's
private network namespace, and the images built here imported into it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import helpers

helpers.ensure_collection_path()

from ansible_collections.scs.kaas.plugins.module_utils.nodes import docker_engine  # noqa: E402
from ansible_collections.scs.kaas.plugins.module_utils.nodes import image_build  # noqa: E402
from ansible_collections.scs.kaas.plugins.module_utils.nodes import image_recipes  # noqa: E402
from ansible_collections.scs.kaas.plugins.module_utils.nodes import oci_registry  # noqa: E402

# Debian's docker.io client, the same 20.10 line as the engine (a newer client elsewhere on PATH
# would work through API negotiation, but the figures should name one toolset).
DOCKER_CLI = "/usr/bin/docker"
# Not 5000: Keystone of the OpenStack box (a session fixture) listens there in the same namespace.
REGISTRY_ADDRESS = "127.0.0.1:5050"
REPOSITORY = "scs-kaas"
CAP_SYS_RESOURCE = 24


def host_lacks_sys_resource():
    """Read independently of the product code: is CAP_SYS_RESOURCE missing from CapBnd?"""
    with open("/proc/self/status") as handle:
        mask = int([line for line in handle if line.startswith("CapBnd:")][0].split()[1], 16)
    return not mask & (1 << CAP_SYS_RESOURCE)


class Engine:
    """A started engine with a ``docker(...)`` helper bound to its socket."""

    def __init__(self, state_dir):
        self.product = docker_engine.DockerEngine(state_dir, helpers.runner(), log=print)
        self.docker_host = self.product.layout.docker_host
        self.started = None
        self.start_seconds = None

    def start(self):
        begin = time.monotonic()
        self.started = self.product.start(timeout=120)
        self.start_seconds = round(time.monotonic() - begin, 2)
        return self.started

    def docker(self, *args, check=True, input=None, timeout=300):
        proc = subprocess.run([DOCKER_CLI] + list(args), env=dict(os.environ, DOCKER_HOST=self.docker_host),
                              input=input, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError("docker %s failed (%d): %s" % (" ".join(args), proc.returncode, proc.stderr))
        return proc

    def ensure_image(self, recipe, repository=REPOSITORY):
        key = image_recipes.content_key(recipe)
        assert os.path.isfile(image_build.rootfs_cache_path(None, recipe, key)), (
            "no cached %s root file system: `make binaries` builds it where the Debian mirror is reachable "
            "(the tests' network namespace has no route to it)" % recipe["name"])
        return image_build.ensure_image(recipe, repository, DOCKER_CLI, self.docker_host, helpers.runner(),
                                        log=print)

    def stop(self):
        for cid in self.docker("ps", "-aq").stdout.split():
            self.docker("rm", "-f", "-v", cid, check=False)
        self.product.stop(timeout=60)
        assert not self.product.running(), "dockerd still runs after stop"


def start_registry(state_dir):
    registry = oci_registry.OciRegistry(state_dir, REGISTRY_ADDRESS, helpers.runner(), log=print)
    registry.start()
    return registry


def http_get(url, timeout=2.0):
    """``(status, body)`` or None when nothing answers yet."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, ConnectionError, OSError):
        return None


def remove_tree(path):
    """Remove a state directory, unmounting what an engine may have left below it."""
    if not os.path.isdir(path):
        return
    for point in image_build.mounts_below(path):
        subprocess.run(["umount", "--lazy", point], check=False)
    shutil.rmtree(path, ignore_errors=True)
