# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""openstack-class clusters through ``clusters.yml`` and ``delete.yml``, reconciled by the real CAPO
against the real OpenStack services of the test's box.

The management cluster runs CAPO and ORC as local processes (``optional_providers=[openstack]``) in
the same network namespace as the box. The role runs the preflight, makes the server groups and the
application credential with its identity Secret; CAPO builds network, subnet, router, security
groups, the API load balancer with its floating IP, and the first control plane server.

What the tests wait for, and what can never come: no VM boots (Nova's fake driver), so the first
control plane Machine gets an ACTIVE server (OpenStackMachine ready) but never a Node; the control
plane is therefore never initialized, KubeadmControlPlane never Available, and the workers'
bootstrap data (kubeadm join needs an initialized control plane) never exists, so CAPO never
creates worker servers. The tests wait for: OpenStackCluster ready, the control plane
OpenStackMachine ready with its server ACTIVE. Nothing here marks an OpenStack object ready.

Two clusters of the same name live in two namespaces of one project; deleting one leaves the
other untouched. The tests run in order and share the clusters.

Faults of the job on this path: the first create is killed (SIGKILL, every process of the run) as
soon as Keystone has created the first application credential, and the second delete is
interrupted (Ctrl-C) while it waits for CAPO; each rerun converges, and what is left in the cloud is
listed with openstacksdk: no duplicate image, server group or credential, nothing orphaned.

Node images: the inventory lists one image per Kubernetes version (``workload_cluster_openstack_images``);
the role uploads them (sha256 verified, scs-0102 metadata) after a preflight that lets the images about
to be uploaded pass, and gives each cluster ``image.nameByVersion``. twin-a runs v1.34.4, twin-b v1.35.4,
and each control plane server boots the image of its own version. The class picks the image per machine
role from that role's own version (control plane, each MachineDeployment), which is what moves nodes to
the new image in an upgrade; the rollout itself cannot run in this cloud: the control plane never
initializes, so the topology controller holds the upgrade.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import os
import signal
import ssl
import time
import urllib.error
import urllib.request

import keystoneauth1.exceptions
import openstack.exceptions
import pytest
import yaml
from ansible_collections.scs.kaas.plugins.module_utils.openstack import images as image_rules

import helpers
import proc_helpers
import workload_helpers as wh
from openstack_box import services
from openstack_modules import AccessLogTail, credential_requests

CLASS_NAMESPACE = "os-classes"
TWIN = "twin"
HOSTS = {"twin-a": "os-team-a", "twin-b": "os-team-b"}
VERSION = "v1.34.4"
VERSIONS = {"twin-a": VERSION, "twin-b": "v1.35.4"}
IMAGES = {version: "scs-node-" + version for version in VERSIONS.values()}
# scs-0102's mandatory properties; no hypervisor_type (optional): Nova's ImagePropertiesFilter would
# match it against the fake driver's hypervisor type and find no host.
SCS_0102 = {"architecture": "x86_64", "hw_disk_bus": "scsi", "os_distro": "ubuntu",
            "os_version": "24.04", "image_build_date": "2026-11-01", "image_original_user": "ubuntu",
            "image_description": "https://images.example.com/README.html", "replace_frequency": "never",
            "provided_until": "none", "uuid_validity": "none", "image_source": "private"}
FLAVOR = "SCS-2V-4-20"
ZONES = ["az-1", "az-2"]
INFRA = "infrastructure.cluster.x-k8s.io"


@pytest.fixture(scope="module")
def lab(openstack_management_cluster, openstack_box, openstack_project, tmp_path_factory):
    from openstack_box import seed

    directory = tmp_path_factory.mktemp("os-clusters")
    uploads = []
    for version, name in sorted(IMAGES.items()):
        path = directory / (name + ".img")
        path.write_bytes(os.urandom(1024 * 1024))
        uploads.append({"kubernetes_version": version, "name": name, "path": str(path), "disk_format": "raw",
                        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "min_disk": 20, "min_ram": 2048,
                        "properties": SCS_0102})
    env = helpers.ansible_environment(helpers.ensure_collection_path(),
                                      kubectl=openstack_management_cluster.binaries["kubectl"])
    # No Node ever joins in the test cloud (its servers boot no OS): Cluster API's health check would
    # replace every Machine once its node startup timeout (10 min) passed, so a slow run would find
    # new servers in place of the ones it checked. Off here, as for any cluster that cannot join.
    defaults = {
        "infrastructure": "openstack", "kubernetes_version": VERSION,
        "control_plane": {"replicas": 1, "machine_health_check": False},
        "node_groups": [{"name": "md-0", "replicas": 1, "machine_health_check": False}],
        "variables": {"controlPlaneFlavor": FLAVOR, "workerFlavor": FLAVOR, "controlPlaneAvailabilityZones": ZONES},
    }
    hosts = {host: {"name": TWIN, "namespace": namespace, "kubernetes_version": VERSIONS[host]}
             for host, namespace in HOSTS.items()}
    inventory = wh.write_inventory(str(directory / "hosts.yml"), openstack_management_cluster.kubeconfig, hosts, defaults,
                                   group="openstack", extra_vars={
                                       "cluster_classes_namespace": CLASS_NAMESPACE,
                                       "workload_cluster_openstack_cloud": openstack_project,
                                       "workload_cluster_openstack_ca_cert": openstack_box.ca_file,
                                       "workload_cluster_openstack_images": uploads,
                                       "workload_cluster_wait": False})
    os.chmod(inventory, 0o600)  # it holds the project user's password
    classes_playbook = os.path.join(str(directory), "classes.yml")
    with open(classes_playbook, "w") as handle:
        handle.write("- hosts: localhost\n  gather_facts: false\n  roles:\n    - role: scs.kaas.cluster_classes\n"
                     "      vars: {cluster_classes_infrastructures: [openstack], cluster_classes_kubernetes_minors: ['1.34', '1.35']}\n")
    proc, _recap = wh.run_playbook(env, inventory, classes_playbook)
    assert proc.returncode == 0, proc.stdout[-5000:]
    return {"mc": openstack_management_cluster, "env": env, "inventory": inventory, "box": openstack_box,
            "conn": seed.connect(openstack_project), "dir": directory, "uploads": uploads}


def _objects(mc, kind, namespace):
    return mc.kubectl_json("get", kind, "-n", namespace, "-o", "json")["items"]


def _ready_openstack_cluster(mc, namespace):
    items = _objects(mc, "openstackcluster." + INFRA, namespace)
    return items[0] if items and (items[0].get("status") or {}).get("ready") else None


def _ready_control_plane_machine(mc, namespace):
    for item in _objects(mc, "openstackmachine." + INFRA, namespace):
        labels = item["metadata"].get("labels") or {}
        if "cluster.x-k8s.io/control-plane" in labels and (item.get("status") or {}).get("ready"):
            return item
    return None


def _server_id(openstack_machine):
    return openstack_machine["spec"]["providerID"].rsplit("/", 1)[-1]


def _our_mutations(box, since):
    """Mutating requests to the cloud since ``since``, except Keystone's token issue and CAPO's refused ones.

    Every request of the collection counts. Of CAPO's, a refused one (4xx) changed nothing: a slow run
    saw CAPO's floating IP update answered 409 while Octavia was still busy with the API load balancer.
    """
    return [r for r in box.requests(since=since)
            if not (r["service"] == "keystone" and r["method"] == "POST" and r["path"].startswith("/v3/auth/tokens"))
            and not ((r.get("agent") or "").startswith("cluster-api-provider-openstack/")
                     and str(r.get("status", "")).startswith("4"))]


def _still_running(proc, what):
    assert proc.poll() is None, "the run ended before %s: %s" % (what, proc.communicate()[0][-6000:])
    return False


def _killed_at_the_first_credential(lab):
    """SIGKILL of the whole create (the modules too) as soon as Keystone has created the first
    application credential: the images and server groups are made, a credential may have no Secret."""
    tail = AccessLogTail(services.access_log(lab["box"].layout, "keystone"))
    proc = wh.start_playbook(lab["env"], lab["inventory"], "clusters.yml")
    try:
        helpers.wait_for("Keystone creating the first application credential", lambda: credential_requests(
            tail, "POST", "201") or _still_running(proc, "a credential was created"), 900, 0.01)
    finally:
        proc_helpers.kill_tree(proc.pid)
        proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL


def _settled_load_balancer(conn, lb_id):
    lb = conn.load_balancer.get_load_balancer(lb_id)
    return lb if not lb.provisioning_status.startswith("PENDING_") else None


def test_clusters_yml_preflights_then_capo_builds_the_infrastructure(lab):
    mc, box, conn = lab["mc"], lab["box"], lab["conn"]
    cloud_mark, started = box.mark(), time.monotonic()
    _killed_at_the_first_credential(lab)
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml")
    assert proc.returncode == 0, proc.stdout[-8000:]
    assert "Preflight every cluster of the play against the cloud" in proc.stdout
    print("clusters.yml for %d clusters: %.1fs" % (len(HOSTS), time.monotonic() - started))
    for host in HOSTS:
        assert recap[host]["failed"] == 0 and recap[host]["changed"] > 0, recap
    # the node images: uploaded by the role with the sha256 and scs-0102's mandatory properties
    image_ids = {}
    for upload in lab["uploads"]:
        (image,) = list(conn.image.images(name=upload["name"]))
        assert image.status == "active" and image.min_disk == 20 and image.min_ram == 2048, image
        props = dict(image.properties or {})
        for key in image_rules.MANDATORY:
            assert props.get(key) or getattr(image, key, None), key
        assert props[image_rules.SHA256_KEY] == upload["sha256"]
        image_ids[upload["kubernetes_version"]] = image.id
    # The run killed at its first credential left no duplicate: two server groups and one credential a cluster.
    assert len(list(conn.compute.server_groups())) == 2 * len(HOSTS)
    assert len(list(conn.identity.application_credentials(conn.current_user_id))) == len(HOSTS)

    for host, namespace in HOSTS.items():
        cluster = mc.kubectl_json("get", "cluster.cluster.x-k8s.io", TWIN, "-n", namespace, "-o", "json")
        assert cluster["spec"]["topology"]["version"] == VERSIONS[host]
        assert cluster["spec"]["topology"]["classRef"]["name"] == "scs-openstack-%s-v2" % \
            "-".join(VERSIONS[host].lstrip("v").split(".")[:2])
        helpers.wait_for("OpenStackCluster of %s ready" % namespace,
                         lambda ns=namespace: _ready_openstack_cluster(mc, ns), 900, 2.0, mc.diagnostics)
        osc = _ready_openstack_cluster(mc, namespace)
        print("OpenStackCluster of %s ready %.1fs after clusters.yml started" % (namespace, time.monotonic() - started))
        status = osc["status"]
        # the API load balancer: ACTIVE in Octavia, its floating IP on the VIP port, the endpoint CAPO set
        # PENDING_UPDATE meanwhile is CAPO adding the control-plane server as a pool member, which a slow
        # run sees after the OpenStackCluster turned ready.
        lb_id = status["apiServerLoadBalancer"]["id"]
        lb = helpers.wait_for("the API load balancer of %s ACTIVE" % namespace,
                              lambda lb_id=lb_id: _settled_load_balancer(conn, lb_id), 300, 2.0)
        assert lb.provisioning_status == "ACTIVE" and lb.operating_status in ("ONLINE", "OFFLINE"), lb
        fips = list(conn.network.ips(floating_ip_address=status["apiServerLoadBalancer"]["ip"]))
        assert len(fips) == 1 and fips[0].port_id == lb.vip_port_id, fips
        assert osc["spec"]["controlPlaneEndpoint"]["host"] == status["apiServerLoadBalancer"]["ip"]
        # network, subnet and router as the class renders them
        network = conn.network.get_network(status["network"]["id"])
        subnets = [conn.network.get_subnet(s) for s in network.subnet_ids]
        assert [s.cidr for s in subnets] == ["10.8.0.0/20"], subnets
        router = conn.network.get_router(status["router"]["id"])
        assert router.external_gateway_info and router.external_gateway_info["network_id"] == \
            status["externalNetwork"]["id"]
        # security groups with the rules the class renders (Cilium's between all nodes)
        for role in ("controlPlaneSecurityGroup", "workerSecurityGroup"):
            group = conn.network.get_security_group(status[role]["id"])
            described = {r["description"] for r in group.security_group_rules}
            assert {"Cilium VXLAN overlay", "Cilium health checks", "Hubble peer service"} <= described, described

        helpers.wait_for("control plane OpenStackMachine of %s ready" % namespace,
                         lambda ns=namespace: _ready_control_plane_machine(mc, ns), 900, 2.0, mc.diagnostics)
        machine = _ready_control_plane_machine(mc, namespace)
        server = conn.compute.get_server(_server_id(machine))
        assert server.status == "ACTIVE", server
        assert server.flavor["original_name"] == FLAVOR
        # the control plane boots the image of its cluster's own version
        assert server.image["id"] == image_ids[VERSIONS[host]], (host, server.image, image_ids)
        assert server.availability_zone in ZONES
        capi_machine = [m for m in _objects(mc, "machine.cluster.x-k8s.io", namespace)
                        if m["metadata"]["name"] == machine["metadata"]["name"]][0]
        assert capi_machine["spec"].get("failureDomain") == server.availability_zone
        assert {g["name"] for g in server.security_groups} == {status["controlPlaneSecurityGroup"]["name"]}
        control_plane_group = [g for g in conn.compute.server_groups() if server.id in (g.member_ids or [])]
        assert len(control_plane_group) == 1 and control_plane_group[0].policy == "anti-affinity", \
            control_plane_group
        lab.setdefault("servers", {})[namespace] = server.id
        assert _objects(mc, "machinehealthcheck.cluster.x-k8s.io", namespace) == []  # off, see the inventory
        # The identity Secret the role wrote holds an application credential, not the user's password.
        secret = mc.kubectl_json("get", "secret", TWIN + "-cloud", "-n", namespace, "-o", "json")
        assert set(secret["data"]) >= {"clouds.yaml", "cacert", "cloud.conf"}
    _print_api_calls("create (collection and CAPO, until both control plane servers are ACTIVE)", box, cloud_mark)


def _print_api_calls(what, box, since):
    calls = box.requests(since=since, methods=None)
    per_service = collections.Counter(r["service"] for r in calls)
    mutating = sum(1 for r in calls if r["method"] in ("POST", "PUT", "PATCH", "DELETE"))
    print("cloud API calls per cluster, %s: %.0f (%.0f mutating); all clusters per service: %s"
          % (what, len(calls) / len(HOSTS), mutating / len(HOSTS), dict(sorted(per_service.items()))))


def test_second_run_writes_nothing_to_the_management_cluster_or_the_cloud(lab):
    mc, box = lab["mc"], lab["box"]
    audit_mark, cloud_mark = mc.mark(), box.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml")
    assert proc.returncode == 0, proc.stdout[-8000:]
    assert all(counts["changed"] == 0 for counts in recap.values()), recap
    _print_api_calls("no-op run (the collection's and CAPO's meanwhile)", box, cloud_mark)
    assert mc.count_writes(wh.OUR_AGENT, since=audit_mark) == 0, mc.writes(wh.OUR_AGENT, since=audit_mark)
    # CAPO keeps reconciling meanwhile; in steady state it only reads, so every mutating request counts.
    assert _our_mutations(box, cloud_mark) == []


def test_preflight_refusal_writes_nothing(lab):
    mc, box = lab["mc"], lab["box"]
    audit_mark, cloud_mark = mc.mark(), box.mark()
    proc, _recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml",
                                   {"workload_cluster_overrides": {"variables": {"workerFlavor": "SCS-404"}}})
    assert proc.returncode != 0
    assert "workerFlavor" in proc.stdout and "SCS-404" in proc.stdout, proc.stdout[-5000:]
    assert mc.count_writes(wh.OUR_AGENT, since=audit_mark) == 0
    assert _our_mutations(box, cloud_mark) == []


def _identity_credential(mc, namespace):
    """(application credential id, secret) of the identity Secret of the cluster in ``namespace``."""
    secret = mc.kubectl_json("get", "secret", TWIN + "-cloud", "-n", namespace, "-o", "json")
    auth = yaml.safe_load(base64.b64decode(secret["data"]["clouds.yaml"]))["clouds"]["openstack"]["auth"]
    return auth["application_credential_id"], auth["application_credential_secret"]


def _capo_tokens(events, credential_id):
    """Indexes of the successful token requests CAPO (gophercloud) made with ``credential_id``."""
    return [i for i, e in enumerate(events) if e["event"] == "token" and e["application_credential"] == credential_id
            and e["status"] == "201" and "gophercloud" in e["user_agent"]]


def _status_with_token(url, token, ca_file):
    request = urllib.request.Request(url, headers={"X-Auth-Token": token})
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=ca_file), timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_rotation_capo_moves_to_the_new_credential_before_the_old_one_is_deleted(lab, openstack_project):
    mc, box = lab["mc"], lab["box"]
    namespace = HOSTS["twin-a"]
    old_id, old_secret = _identity_credential(mc, namespace)
    _events, since = box.keystone_audit()
    rotate, _recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml",
                                     {"workload_cluster_openstack_rotate_credential": True},
                                     args=("--limit", "twin-a", "-vvv", "--diff"))
    assert rotate.returncode == 0, rotate.stdout[-8000:]
    rotated_at = time.time()
    new_id, new_secret = _identity_credential(mc, namespace)
    assert new_id != old_id
    osc = _objects(mc, "openstackcluster." + INFRA, namespace)[0]
    assert osc["metadata"]["annotations"]["kaas.scs.community/application-credential-id"] == new_id
    # The uid is recorded with the cluster (it moves with a clusterctl move), the same on the Cluster,
    # the identity Secret and the credential's name.
    uid = mc.kubectl_json("get", "cluster.cluster.x-k8s.io", TWIN, "-n", namespace, "-o", "json")[
        "metadata"]["annotations"]["kaas.scs.community/cluster-uid"]
    secret_labels = mc.kubectl_json("get", "secret", TWIN + "-cloud", "-n", namespace, "-o", "json")["metadata"]["labels"]
    assert secret_labels["kaas.scs.community/cluster-uid"] == uid
    assert lab["conn"].identity.get_application_credential(lab["conn"].current_user_id, new_id).name.startswith(uid + "-")

    # The annotation is an event CAPO reconciles at once; the Secret's new content is a new entry of
    # its client cache, so it authenticates with the new credential (the old one still works meanwhile).
    helpers.wait_for("CAPO's token request with the new credential",
                     lambda: _capo_tokens(box.keystone_audit(since)[0], new_id), 300, 1.0, mc.diagnostics)
    from openstack_box import seed

    old_entry = {"auth_type": "v3applicationcredential", "cacert": box.ca_file,
                 "auth": {"auth_url": openstack_project["auth"]["auth_url"],
                          "application_credential_id": old_id, "application_credential_secret": old_secret}}
    old_token = seed.connect(old_entry).auth_token
    projects = openstack_project["auth"]["auth_url"] + "/auth/projects"
    assert _status_with_token(projects, old_token, box.ca_file) == 200

    cleanup, _recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml",
                                      args=("--limit", "twin-a", "-vvv", "--diff"))
    assert cleanup.returncode == 0, cleanup.stdout[-8000:]
    events, _end = box.keystone_audit(since)
    deletions = [i for i, e in enumerate(events) if e["event"] == "delete_application_credential"]
    assert [(events[i]["application_credential"], events[i]["status"]) for i in deletions] == [(old_id, "204")]
    assert _capo_tokens(events, new_id)[0] < deletions[0], events
    assert not [i for i in _capo_tokens(events, old_id) if i > deletions[0]], events

    # Deleting the credential revoked its tokens: a request with the old one gets 401 from a service
    # (Nova, through keystonemiddleware, had not seen the token before). Keystone itself, asked for a
    # token of the deleted credential or about one, answers 404 "Could not find Application Credential".
    assert _status_with_token(box.url("nova") + "/v2.1/servers", old_token, box.ca_file) == 401
    assert _status_with_token(projects, old_token, box.ca_file) == 404
    with pytest.raises((keystoneauth1.exceptions.http.NotFound, openstack.exceptions.SDKException),
                       match="Could not find Application Credential"):
        seed.connect(old_entry).authorize()
    assert _ready_openstack_cluster(mc, namespace) is not None

    # Neither run showed a secret: not with -vvv, not in --diff, not in a result.
    for proc in (rotate, cleanup):
        for secret in (old_secret, new_secret, openstack_project["auth"]["password"]):
            assert secret not in proc.stdout
    first = events[_capo_tokens(events, new_id)[0]]
    print("rotation: CAPO's first token with the new credential at %+.1fs from the end of the rotating run (audit event %d), "
          "the old one deleted at audit event %d" % (first["time"] - rotated_at, _capo_tokens(events, new_id)[0],
                                                     deletions[0]))


def _being_deleted(mc, namespace):
    found = mc.kubectl("get", "cluster.cluster.x-k8s.io", TWIN, "-n", namespace, "-o", "json", check=False)
    return found.returncode != 0 or bool(json.loads(found.stdout)["metadata"].get("deletionTimestamp"))


def _cluster_things(conn, namespace):
    """What the cloud holds of the cluster in ``namespace``: names/IDs per kind."""
    prefix = "k8s-clusterapi-cluster-%s-%s" % (namespace, TWIN)
    project = conn.current_project_id
    return {
        "networks": [n.name for n in conn.network.networks(project_id=project) if n.name.startswith(prefix)],
        "routers": [r.name for r in conn.network.routers(project_id=project) if r.name.startswith(prefix)],
        "security_groups": [g.name for g in conn.network.security_groups(project_id=project)
                            if g.name.startswith("k8s-cluster-%s-%s-" % (namespace, TWIN))],
        "load_balancers": [lb.name for lb in conn.load_balancer.load_balancers() if lb.name.startswith(prefix)],
    }


def test_delete_removes_everything_of_one_cluster_and_nothing_of_its_twin(lab):
    mc, conn = lab["mc"], lab["conn"]
    before_b = _cluster_things(conn, HOSTS["twin-b"])
    assert all(before_b[k] for k in ("networks", "routers", "security_groups", "load_balancers")), before_b
    fips_before = {ip.floating_ip_address for ip in conn.network.ips(project_id=conn.current_project_id)}
    groups_before = {g.id for g in conn.compute.server_groups()}
    credentials_before = {c.id for c in conn.identity.application_credentials(conn.current_user_id)}

    cloud_mark, started = lab["box"].mark(), time.monotonic()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "delete.yml", {"workload_cluster_wait": True},
                                  args=("--limit", "twin-a"))
    assert proc.returncode == 0, proc.stdout[-8000:]
    print("delete.yml of one cluster: %.1fs" % (time.monotonic() - started))
    calls = lab["box"].requests(since=cloud_mark, methods=None)
    print("cloud API calls, delete of one cluster (collection and CAPO): %d (%d mutating)"
          % (len(calls), sum(1 for r in calls if r["method"] in ("POST", "PUT", "PATCH", "DELETE"))))

    left_a = _cluster_things(conn, HOSTS["twin-a"])
    assert not any(left_a.values()), left_a
    assert conn.compute.find_server(lab["servers"][HOSTS["twin-a"]]) is None
    assert conn.compute.get_server(lab["servers"][HOSTS["twin-b"]]).status == "ACTIVE"
    assert _cluster_things(conn, HOSTS["twin-b"]) == before_b
    # twin-b's floating IPs, server groups (2) and application credential (1) are all that is left
    osc_b = _ready_openstack_cluster(mc, HOSTS["twin-b"])
    fips_after = {ip.floating_ip_address for ip in conn.network.ips(project_id=conn.current_project_id)}
    assert osc_b["status"]["apiServerLoadBalancer"]["ip"] in fips_after and fips_after < fips_before
    groups_after = {g.id for g in conn.compute.server_groups()}
    assert len(groups_after) == 2 and groups_after < groups_before
    credentials_after = {c.id for c in conn.identity.application_credentials(conn.current_user_id)}
    assert len(credentials_after) == 1 and credentials_after < credentials_before
    assert mc.kubectl("get", "secret", TWIN + "-cloud", "-n", HOSTS["twin-a"], check=False).returncode != 0

    # Ctrl-C while the delete waits for CAPO; the rerun waits for the rest and cleans up.
    proc = wh.start_playbook(lab["env"], lab["inventory"], "delete.yml", {"workload_cluster_wait": True},
                             ("--limit", "twin-b"))
    helpers.wait_for("twin-b being deleted", lambda: _being_deleted(mc, HOSTS["twin-b"])
                     or _still_running(proc, "twin-b was being deleted"), 300, 0.05)
    os.kill(proc.pid, signal.SIGINT)
    out, _err = proc.communicate(timeout=300)
    assert proc.returncode != 0, out[-4000:]
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "delete.yml", {"workload_cluster_wait": True},
                                  args=("--limit", "twin-b"))
    assert proc.returncode == 0, proc.stdout[-8000:]
    assert not any(_cluster_things(conn, HOSTS["twin-b"]).values())
    assert list(conn.compute.servers()) == []
    assert list(conn.compute.server_groups()) == []
    assert list(conn.identity.application_credentials(conn.current_user_id)) == []
    assert list(conn.network.ips(project_id=conn.current_project_id)) == []
    assert [p.id for p in conn.network.ports(project_id=conn.current_project_id)] == []
    assert list(conn.block_storage.volumes()) == []
