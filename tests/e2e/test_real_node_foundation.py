# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The foundation of real nodes: an engine of the collection's own inside the test's network namespace,
the runtime wrapper that lets privileged containers run where the host withholds CAP_SYS_RESOURCE,
a local registry with an access log, and the load balancer and node base images built here."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest

import helpers
import real_nodes

from ansible_collections.scs.kaas.plugins.module_utils.nodes import docker_engine, image_recipes, runtime_wrapper

CAPD_LB_ENTRYPOINT = ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
CAP_SYS_ADMIN = 21


def _outer_netns_pid():
    """The nearest ancestor of this test process in another network namespace (the shell that ran
    ``unshare --net``): where the engine must leave no trace."""
    own = os.readlink("/proc/self/ns/net")
    pid = os.getppid()
    while pid > 1:
        if os.readlink("/proc/%d/ns/net" % pid) != own:
            return pid
        with open("/proc/%d/stat" % pid) as handle:
            pid = int(handle.read().rsplit(")", 1)[1].split()[1])
    raise AssertionError("the e2e tests must run in a private network namespace (unshare --net)")


def _host_netns(*argv):
    """Run a read-only ``argv`` in the network namespace the tests were started from."""
    return subprocess.run(["nsenter", "--net=/proc/%d/ns/net" % _outer_netns_pid()] + list(argv),
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    assert docker_engine.default_routes() == [], "the test namespace has a default route"
    state_dir = str(tmp_path_factory.mktemp("engine"))
    host_rules = _host_netns("iptables-save")
    host_links = _host_netns("ip", "-o", "link", "show")
    eng = real_nodes.Engine(state_dir)
    eng.start()
    eng.host_rules_before, eng.host_links_before = host_rules, host_links
    print("engine start: %ss" % eng.start_seconds)
    yield eng
    eng.stop()
    real_nodes.remove_tree(state_dir)


@pytest.fixture(scope="module")
def lb_image(engine):
    result = engine.ensure_image(image_recipes.LOAD_BALANCER)
    print("load balancer image: %s" % json.dumps(result))
    return result


@pytest.fixture(scope="module")
def node_image(engine):
    result = engine.ensure_image(image_recipes.NODE_BASE)
    print("node base image: %s" % json.dumps(result))
    return result


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    state_dir = str(tmp_path_factory.mktemp("registry"))
    reg = real_nodes.start_registry(state_dir)
    yield reg
    reg.stop()
    assert not reg.supervisor.running("registry")


def _caps(text, field):
    line = [entry for entry in text.splitlines() if entry.startswith(field + ":")][0]
    return int(line.split()[1], 16)


def test_engine_uses_its_own_paths_and_the_hosts_drivers(engine):
    info = engine.product.info()
    layout = engine.product.layout
    print("engine facts: %s" % json.dumps({k: info.get(k) for k in (
        "ServerVersion", "Driver", "CgroupVersion", "CgroupDriver", "DefaultRuntime", "Runtimes", "DockerRootDir",
        "KernelVersion")}, default=str))
    assert info["DockerRootDir"] == layout.data_root
    assert info["Driver"] == "overlay2"
    host_cgroup_v2 = subprocess.run(["stat", "-fc", "%T", "/sys/fs/cgroup"], capture_output=True, text=True,
                                    check=True).stdout.strip() == "cgroup2fs"
    assert info["CgroupVersion"] == ("2" if host_cgroup_v2 else "1")
    assert info["CgroupDriver"] == "cgroupfs"
    expected_runtime = "scs-kaas-runc" if real_nodes.host_lacks_sys_resource() else "runc"
    assert info["DefaultRuntime"] == expected_runtime
    assert engine.started["dropped_capabilities"] == (
        ["CAP_SYS_RESOURCE"] if real_nodes.host_lacks_sys_resource() else [])
    assert os.path.exists(os.path.join(layout.exec_root, "containerd")), "containerd state outside the exec root"


def test_engine_leaves_the_host_network_alone(engine):
    ours = subprocess.run(["ip", "-o", "link", "show", "docker0"], capture_output=True, text=True, check=True).stdout
    mac = ours.split("link/ether ")[1].split()[0]
    assert mac not in _host_netns("ip", "-o", "link", "show")
    strip = [line for line in engine.host_rules_before.splitlines() if not line.startswith(("#", ":"))]
    after = [line for line in _host_netns("iptables-save").splitlines() if not line.startswith(("#", ":"))]
    assert after == strip, "the host's iptables rules changed while the engine ran"
    inside = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    assert "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in inside


def test_privileged_containers_run_through_the_wrapper(engine, lb_image):
    image = lb_image["image"]
    out = engine.docker("run", "--rm", "--privileged", "--entrypoint", "cat", image, "/proc/self/status").stdout
    effective = _caps(out, "CapEff")
    assert effective & (1 << CAP_SYS_ADMIN), "a privileged container lacks CAP_SYS_ADMIN"
    lacks = real_nodes.host_lacks_sys_resource()
    assert bool(effective & (1 << real_nodes.CAP_SYS_RESOURCE)) is not lacks
    # docker exec goes through runc exec with a process file: CAPD runs every step that way.
    name = "exec-probe-%s" % uuid.uuid4().hex[:6]
    engine.docker("run", "-d", "--privileged", "--name", name, "--entrypoint", "sleep", image, "600")
    try:
        assert _caps(engine.docker("exec", name, "cat", "/proc/self/status").stdout, "CapEff") == effective
    finally:
        engine.docker("rm", "-f", name)
    plain = engine.docker("run", "--rm", "--runtime", "runc", "--privileged", "--entrypoint", "true", image,
                          check=False)
    if lacks:
        assert plain.returncode != 0
        assert "unable to apply caps: operation not permitted" in plain.stderr
    else:
        assert plain.returncode == 0, plain.stderr


def test_registry_takes_a_push_and_serves_it_back(engine, registry, lb_image):
    source = lb_image["image"]
    target = "%s/%s" % (real_nodes.REGISTRY_ADDRESS, source)
    image_id = engine.docker("image", "inspect", "--format", "{{.Id}}", source).stdout.strip()
    engine.docker("tag", source, target)
    engine.docker("push", target)
    engine.docker("rmi", target, source)
    assert engine.docker("image", "inspect", source, check=False).returncode != 0
    with open(registry.access_log) as handle:
        handle.seek(0, os.SEEK_END)
        mark = handle.tell()
    engine.docker("pull", target)
    assert engine.docker("image", "inspect", "--format", "{{.Id}}", target).stdout.strip() == image_id
    engine.docker("tag", target, source)
    repo_path = "/v2/%s/" % source.rsplit(":", 1)[0]
    with open(registry.access_log) as handle:
        handle.seek(mark)
        pulled = [line for line in handle if '"GET %s' % repo_path in line and '" 200 ' in line]
    assert any("/manifests/" in line for line in pulled), "no manifest GET in the access log"
    assert any("/blobs/sha256:" in line for line in pulled), "no blob GET in the access log"


def test_load_balancer_honours_the_capd_config_path_and_reload(engine, lb_image):
    image = lb_image["image"]
    config = json.loads(engine.docker("image", "inspect", image).stdout)[0]["Config"]
    assert config["Entrypoint"] == CAPD_LB_ENTRYPOINT
    name = "lb-%s" % uuid.uuid4().hex[:6]
    # As CAPD creates it: privileged, its entrypoint, ports published on the host side.
    engine.docker("run", "-d", "--privileged", "--name", name, "-p", "127.0.0.1::6443", "-p", "127.0.0.1::8404",
                  "--entrypoint", CAPD_LB_ENTRYPOINT[0], image, *CAPD_LB_ENTRYPOINT[1:])
    try:
        port = {p: engine.docker("port", name, p).stdout.split(":")[-1].strip() for p in ("6443/tcp", "8404/tcp")}
        helpers.wait_for("the boot config's /healthz", lambda: real_nodes.http_get(
            "http://127.0.0.1:%s/healthz" % port["8404/tcp"]) == (200, "no control plane configured yet"), 60, 0.2)
        assert real_nodes.http_get("http://127.0.0.1:%s/" % port["6443/tcp"]) is None
        before = json.loads(engine.docker("inspect", name).stdout)[0]["State"]
        nonce = uuid.uuid4().hex
        new_config = image_recipes.HAPROXY_BOOT_CONFIG + (
            "\nfrontend control-plane\n  mode http\n  bind *:6443\n"
            '  http-request return status 200 content-type text/plain string "%s"\n' % nonce)
        # CAPD's WriteFile and ReadFile: mkdir -p, cp /dev/stdin, cp ... /dev/stdout, then SIGHUP.
        engine.docker("exec", name, "mkdir", "-p", os.path.dirname(image_recipes.HAPROXY_CONFIG_PATH))
        engine.docker("exec", "-i", name, "cp", "/dev/stdin", image_recipes.HAPROXY_CONFIG_PATH, input=new_config)
        assert engine.docker("exec", name, "cp", image_recipes.HAPROXY_CONFIG_PATH, "/dev/stdout").stdout == new_config
        engine.docker("kill", "--signal", "SIGHUP", name)
        helpers.wait_for("haproxy to serve the reloaded config", lambda: real_nodes.http_get(
            "http://127.0.0.1:%s/" % port["6443/tcp"]) == (200, nonce), 30, 0.2)
        after = json.loads(engine.docker("inspect", name).stdout)[0]["State"]
        assert (after["Pid"], after["StartedAt"], after["Running"]) == (before["Pid"], before["StartedAt"], True)
    finally:
        engine.docker("rm", "-f", name)


def _boot_node(engine, image, cgroupns, privileged=True, extra=()):
    name = "node-%s-%s" % (cgroupns, uuid.uuid4().hex[:6])
    args = ["run", "-d", "--name", name, "--hostname", name, "--tmpfs", "/run", "--tmpfs", "/tmp",
            "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined", "--cgroupns", cgroupns]
    args += ["--privileged"] if privileged else ["--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE"]
    if cgroupns == "host":
        args += ["-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw"]
    engine.docker(*(args + list(extra) + [image]))
    begin = time.monotonic()

    def settled():
        state = engine.docker("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
        return state if state in ("running", "degraded", "maintenance", "stopping") else None
    state = helpers.wait_for("systemd in %s to settle" % name, settled, 120, 0.2)
    failed = engine.docker("exec", name, "systemctl", "--failed", "--no-legend", check=False).stdout
    return name, state, failed, round(time.monotonic() - begin, 2)


@pytest.mark.parametrize("cgroupns", ["host", "private"])
def test_node_base_boots_systemd_to_running(engine, node_image, cgroupns):
    image = node_image["image"]
    config = json.loads(engine.docker("image", "inspect", image).stdout)[0]["Config"]
    assert (config["Cmd"], config["StopSignal"]) == (["/sbin/init"], "SIGRTMIN+3")
    name, state, failed, seconds = _boot_node(engine, image, cgroupns)
    try:
        print("node base (%s cgroup namespace): %s after %ss" % (cgroupns, state, seconds))
        assert state == "running", "systemd is %s; failed units:\n%s" % (state, failed)
        assert engine.docker("exec", name, "cat", "/proc/1/comm").stdout.strip() == "systemd"
        mounts = engine.docker("exec", name, "cat", "/proc/mounts").stdout
        cpuset = [line for line in mounts.splitlines() if line.split()[1] == "/sys/fs/cgroup/cpuset"]
        print("cpuset mount (%s): %s" % (cgroupns, cpuset))
        probe = "/sys/fs/cgroup/cpuset/scs-kaas-probe-%s" % uuid.uuid4().hex[:6]
        made = engine.docker("exec", name, "mkdir", probe, check=False)
        print("mkdir in the cpuset hierarchy (%s): rc=%d %s" % (cgroupns, made.returncode, made.stderr.strip()))
        assert made.returncode == 0, made.stderr
        engine.docker("exec", name, "rmdir", probe)
    finally:
        begin = time.monotonic()
        engine.docker("stop", name)
        stopped = json.loads(engine.docker("inspect", name).stdout)[0]["State"]
        print("node stop: %.2fs, exit code %s" % (time.monotonic() - begin, stopped["ExitCode"]))
        engine.docker("rm", "-f", name)
    # SIGRTMIN+3 halts systemd cleanly; a SIGKILL after docker's timeout would exit with 137.
    assert stopped["ExitCode"] != 137


def test_images_are_cached_by_content_key(engine, lb_image):
    again = engine.ensure_image(image_recipes.LOAD_BALANCER)
    assert (again["changed"], again["image"], again["key"]) == (False, lb_image["image"], lb_image["key"])
    assert os.path.isfile(again["rootfs"])
    engine.docker("rmi", lb_image["image"])
    rebuilt = engine.ensure_image(image_recipes.LOAD_BALANCER)
    assert (rebuilt["changed"], rebuilt["rootfs_cached"], rebuilt["build_seconds"]) == (True, True, 0.0)
    label = engine.docker("image", "inspect", "--format", '{{ index .Config.Labels "org.scs-kaas.content-key" }}',
                          rebuilt["image"]).stdout.strip()
    assert label == lb_image["key"]


# Debian's containerd, shim and runc from the host, bind-mounted: a probe of the cgroup setup only
# (the nodes' own runtime is built from Go modules in a later step).
NESTED_RUNTIME = {"/usr/bin/containerd": "/usr/local/bin/containerd", "/usr/bin/ctr": "/usr/local/bin/ctr",
                  "/usr/bin/containerd-shim-runc-v2": "/usr/local/bin/containerd-shim-runc-v2",
                  "/usr/sbin/runc": "/usr/local/sbin/runc"}


def _nested_privileged_containers(engine, name, probe):
    """A privileged container inside the node (kube-proxy, CNI agents later). containerd's privileged
    option asks only for the capabilities containerd holds (unlike dockerd's fixed list), so plain
    runc runs it; the wrapper file rendered for the node runs it as well."""
    lacks = real_nodes.host_lacks_sys_resource()
    wrapper = runtime_wrapper.render_executable("/usr/bin/python3", NESTED_RUNTIME["/usr/sbin/runc"],
                                                ["CAP_SYS_RESOURCE"] if lacks else [])
    engine.docker("exec", "-i", name, "cp", "/dev/stdin", "/usr/local/bin/scs-kaas-runc", input=wrapper)
    engine.docker("exec", name, "chmod", "0755", "/usr/local/bin/scs-kaas-runc")
    ctr_run = ["exec", name, "ctr", "-n", "k8s.io", "run", "--rm", "--privileged"]
    for runc_args, cid in (([], "p2"), (["--runc-binary", "/usr/local/bin/scs-kaas-runc"], "p3")):
        nested = engine.docker(*(ctr_run + runc_args + [probe, cid, "cat", "/proc/self/status"]), check=False)
        print("nested privileged %s: rc=%d %s" % (runc_args or "plain runc", nested.returncode, nested.stderr.strip()))
        assert nested.returncode == 0, nested.stderr
        effective = _caps(nested.stdout, "CapEff")
        assert effective & (1 << CAP_SYS_ADMIN)
        assert bool(effective & (1 << real_nodes.CAP_SYS_RESOURCE)) is not lacks


@pytest.mark.parametrize("mode", ["privileged-host-cgroupns", "privileged-private-cgroupns",
                                  "unprivileged-private-cgroupns"])
def test_a_node_runs_a_nested_container_when_privileged(engine, node_image, lb_image, tmp_path, mode):
    """CAPD starts nodes privileged with a private cgroup namespace (kind 0.20 mode); with the
    wrapper that works. The unprivileged way around the missing capability mounts cgroups read-only."""
    probe_tar = str(tmp_path / "probe.tar")
    probe = "docker.io/library/scs-kaas-probe:1"
    engine.docker("tag", lb_image["image"], probe)
    engine.docker("save", "-o", probe_tar, probe)
    volumes = ["-v", "%s:/probe.tar:ro" % probe_tar, "--tmpfs", "/var/lib/containerd"]
    for source, target in NESTED_RUNTIME.items():
        volumes += ["-v", "%s:%s:ro" % (source, target)]
    privileged = mode.startswith("privileged")
    cgroupns = "host" if "host" in mode else "private"
    name, state, failed, _seconds = _boot_node(engine, node_image["image"], cgroupns, privileged, volumes)
    try:
        assert state == "running", failed
        engine.docker("exec", "-d", name, "sh", "-c", "exec containerd >/tmp/containerd.log 2>&1")
        helpers.wait_for("containerd in %s" % name,
                         lambda: engine.docker("exec", name, "ctr", "version", check=False).returncode == 0, 60, 0.2)
        engine.docker("exec", name, "ctr", "-n", "k8s.io", "image", "import", "/probe.tar")
        nested = engine.docker("exec", name, "ctr", "-n", "k8s.io", "run", "--rm", probe, "p1",
                               "cat", "/proc/self/cgroup", check=False)
        print("nested container (%s): rc=%d %s" % (mode, nested.returncode, nested.stderr.strip()))
        if privileged:
            assert nested.returncode == 0, nested.stderr
            assert ":/k8s.io/p1" in nested.stdout
            _nested_privileged_containers(engine, name, probe)
        else:
            assert nested.returncode != 0
            assert "read-only file system" in nested.stderr
    finally:
        engine.docker("rm", "-f", name)
        engine.docker("rmi", probe)


def test_containers_reach_the_openstack_services_at_the_address_the_catalog_publishes(
        engine, node_image, openstack_box):
    """What the cloud controller and CSI will do from pods: look up Keystone's catalog at the address it
    publishes, over TLS verified against the box's CA, from a container on the engine's network."""
    keystone = openstack_box.url("keystone")
    assert openstack_box.endpoint_address in keystone
    probe = (
        "import json, ssl, sys, urllib.request\n"
        "ctx = ssl.create_default_context(cafile='/etc/box-ca.pem')\n"
        "for url in sys.argv[1:]:\n"
        "    with urllib.request.urlopen(url, context=ctx, timeout=20) as answer:\n"
        "        print(url, answer.status, json.load(answer)['version']['id'])\n"
    )
    out = engine.docker("run", "--rm", "--entrypoint", "python3",
                        "-v", "%s:/etc/box-ca.pem:ro" % openstack_box.ca_file,
                        node_image["image"], "-c", probe, keystone + "/v3").stdout
    print("from a container: %s" % out.strip())
    url, status, version = out.split()
    assert (url, status) == (keystone + "/v3", "200") and version.startswith("v3."), out
    # Without the box's CA the handshake fails: the container verifies, as CAPO and the add-ons will.
    bare = engine.docker("run", "--rm", "--entrypoint", "python3", node_image["image"], "-c",
                         probe.replace("cafile='/etc/box-ca.pem'", ""), keystone + "/v3", check=False)
    assert bare.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in bare.stderr, (bare.stdout, bare.stderr)
