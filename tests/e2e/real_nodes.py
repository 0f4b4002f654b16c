# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Test wiring for real nodes: an engine and a registry of the collection's own, in the test's
private network namespace, and the images built here imported into it."""

from __future__ import annotations

import json
import os
import re
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


# The test application: a static HTTP answer naming the pod that served it.
WEB_SERVER = ("import http.server, os\n"
              "class H(http.server.BaseHTTPRequestHandler):\n"
              "    def do_GET(self):\n"
              "        body = os.environ['POD_NAME'].encode()\n"
              "        self.send_response(200); self.send_header('Content-Length', str(len(body)))\n"
              "        self.end_headers(); self.wfile.write(body)\n"
              "http.server.HTTPServer(('', 8080), H).serve_forever()\n")
WEB_RECIPE = {"name": "scs-kaas/test-web", "tag": "1", "registry": "docker.io", "base": image_recipes.NODE_BASE,
              "files": {"/srv/web.py": {"content": WEB_SERVER, "mode": 0o644}},
              "run": [], "changes": ['ENTRYPOINT ["python3", "/srv/web.py"]', "CMD []"]}


# The product's HEAD of a manifest (what `layered_build.served_digest` asks with).
registry_head = oci_registry.registry_head


def web_objects(worker, control_plane):
    """The test Deployment on ``worker`` with its Service, and a client pod on ``control_plane``.
    Placed by node selector, not ``nodeName``: the scheduler then honours a cordon, so a drain
    (every Machine replacement drains its node) leaves the replacement pod Pending instead of
    binding it to the draining node again and again."""
    web = "docker.io/scs-kaas/test-web:1"
    labels = {"app": "test-web"}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "test-web", "namespace": "default"},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
             "metadata": {"labels": labels},
             "spec": {"nodeSelector": {"kubernetes.io/hostname": worker}, "containers": [{
                 "name": "web", "image": web, "ports": [{"containerPort": 8080}],
                 "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                 "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "test-web", "namespace": "default"},
         "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}},
        # The client: on the control plane node, asking the Service by its DNS name (CoreDNS).
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "test-client", "namespace": "default"},
         "spec": {"nodeSelector": {"kubernetes.io/hostname": control_plane}, "restartPolicy": "Never",
                  "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
                  "containers": [{"name": "client", "image": web, "command": ["python3", "-c", (
                      "import time, urllib.request\n"
                      "for attempt in range(120):\n"
                      "    try:\n"
                      "        print(urllib.request.urlopen('http://test-web.default.svc.cluster.local',"
                      " timeout=2).read().decode()); break\n"
                      "    except OSError as exc:\n"
                      "        print('retry', exc, flush=True); time.sleep(1)\n"
                      "else:\n"
                      "    raise SystemExit(1)\n")]}]}},
    ]


def manifest_pulls(access_log):
    """``{client address: {repository path}}`` of manifest fetches by containerd."""
    pulls = {}
    with open(access_log, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split('"')
            if len(parts) < 6 or "containerd/" not in parts[5] or "/manifests/" not in parts[1]:
                continue
            path = parts[1].split()[1].split("?")[0]
            repository_path = path[len("/v2/"):path.index("/manifests/")]
            pulls.setdefault(line.split()[0], set()).add(repository_path)
    return pulls


def engine_fixture(tmp_path_factory):
    """Body of a module fixture: an engine of the collection's own for the module's tests."""
    state_dir = str(tmp_path_factory.mktemp("engine"))
    eng = Engine(state_dir)
    eng.start()
    yield eng
    eng.stop()
    remove_tree(state_dir)


def node_registry_fixture(tmp_path_factory, port):
    """Body of a module fixture: a registry on every address of the namespace, so the nodes
    reach it through their network's gateway."""
    reg = oci_registry.OciRegistry(str(tmp_path_factory.mktemp("registry")), "0.0.0.0:%d" % port,
                                   helpers.runner(), log=print)
    reg.start()
    yield reg
    reg.stop()


def cluster_images(engine, version, mirror, log=print):
    """``layered_build.ensure_cluster_images`` with the cached node binaries of ``version`` and
    kind's node files (``make binaries`` provides both; the tests' namespace cannot fetch them)."""
    from ansible_collections.scs.kaas.plugins.module_utils import pins
    from ansible_collections.scs.kaas.plugins.module_utils.nodes import layered_build, node_binaries
    from ansible_collections.scs.kaas.plugins.module_utils.providers import repository

    binaries = node_binaries.ensure_node_binaries(helpers.EMBEDDED_SOURCE_DIR, helpers.runner(), version,
                                                  check_mode=True, log=log)
    assert not binaries["built"], "node binaries missing from the cache (`make binaries` builds them): %s" % (
        binaries["built"])
    kind_dir = repository.module_dir(helpers.runner(), "sigs.k8s.io/kind", pins.KIND_VERSION, download=False)
    return layered_build.ensure_cluster_images(version, binaries["binaries"], kind_dir, mirror, DOCKER_CLI,
                                               engine.docker_host, helpers.runner(), registry_head, log=log)


def engine_objects(engine):
    """The engine's containers, volumes and networks by name."""
    listed = {}
    for kind, args in (("containers", ("ps", "-a", "--format", "{{.Names}}")),
                       ("volumes", ("volume", "ls", "--format", "{{.Name}}")),
                       ("networks", ("network", "ls", "--format", "{{.Name}}"))):
        listed[kind] = sorted(engine.docker(*args).stdout.split())
    return listed


# The development provider (test module v1.14.0, internal/docker/types/node.go, Node.Delete) loses the
# error of a failed container delete: the debug-info call that follows assigns its own (nil) error to
# the same variable, so the delete reports success, the machine's finalizer goes and the container
# stays. Such a delete shows in its log as "Got logs from the machine container" (or the failed
# variant) for the machine, whose container has the machine's name.
_LOST_DELETE = re.compile(r'(?:Got|Failed to get) logs from the machine container".*? DevMachine="[^"/]*/([^"]+)"')


def capd_lost_deletes(log_path):
    """Names of the containers whose delete the development provider's log shows failing."""
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        return {match.group(1) for match in map(_LOST_DELETE.search, handle) if match}


def node_memory(engine):
    """MiB of memory (proportional set size) of each container's processes: the engine's own
    statistics read 0 on this cgroup v1 host, so the processes' smaps count instead."""
    used = {}
    for name in engine.docker("ps", "--format", "{{.Names}}").stdout.split():
        total = 0
        for pid in engine.docker("top", name, "-eo", "pid").stdout.split()[1:]:
            try:
                with open("/proc/%s/smaps_rollup" % pid) as handle:
                    total += sum(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
            except OSError:
                continue  # the process ended meanwhile
        used[name] = round(total / 1024.0)
    return used


def serve_on_worker_and_ask_from_control_plane(workload, worker, control_plane):
    """The test Deployment on ``worker`` answers, through its Service's DNS name, a client pod on
    ``control_plane``: pod network, kube-proxy and CoreDNS all work across nodes. ``workload`` runs
    kubectl against the workload cluster."""
    workload("delete", "pod", "test-client", "--ignore-not-found", "--wait=true")
    workload("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                   "items": web_objects(worker, control_plane)}))

    def client_done():
        phase = workload("get", "pod", "test-client", "-o", "jsonpath={.status.phase}").stdout
        return phase if phase in ("Succeeded", "Failed") else None
    phase = helpers.wait_for("the client pod to finish", client_done, 300, 2)
    answer = workload("logs", "test-client").stdout.strip().splitlines()
    print("client %s; last lines %s" % (phase, answer[-3:]))
    assert phase == "Succeeded"
    server = [p for p in json.loads(workload("get", "pods", "-l", "app=test-web", "-o", "json").stdout)["items"]
              if not p["metadata"].get("deletionTimestamp")]
    assert [p["spec"]["nodeName"] for p in server] == [worker]
    assert answer[-1] == server[0]["metadata"]["name"]


def devmachine_snapshot(mc, engine, namespace):
    """The containers, the control plane's conditions and each DevMachine's, to print as they change."""
    containers = engine.docker("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout.strip().splitlines()
    kcp = mc.kubectl_json("get", "kubeadmcontrolplane", "-n", namespace)
    machines = mc.kubectl_json("get", "devmachines", "-n", namespace)["items"]
    state = {"containers": containers,
             "kcp": [{c["type"]: c["status"] for c in k.get("status", {}).get("conditions", [])}
                     for k in kcp["items"]],
             "devmachines": {m["metadata"]["name"]: {c["type"]: "%s/%s" % (c["status"], c.get("reason"))
                                                     for c in m.get("status", {}).get("conditions", [])}
                             for m in machines}}
    return state


def machine_writes(events, what, namespace):
    """The Machine creations or deletions among audit events. Controllers create Machines by
    server-side apply: a patch answered 201 Created is a creation."""
    out = []
    for event in events:
        ref, code = event.get("objectRef") or {}, (event.get("responseStatus") or {}).get("code", 500)
        if ref.get("resource") != "machines" or ref.get("namespace") != namespace or ref.get("subresource"):
            continue
        created = event.get("verb") == "create" or (event.get("verb") == "patch" and code == 201)
        if (what == "created" and created and code < 300) or (
                what == "deleted" and event.get("verb") == "delete" and code < 300):
            out.append(event)
    return out
