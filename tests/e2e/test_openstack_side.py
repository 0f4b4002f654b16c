# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The collection's OpenStack modules against the real OpenStack services and the embedded
management cluster: application credential (create, no-op, rotation, delete, no secret in -vvv),
preflight refusals without a mutating request, server groups, node image upload (scs-0102), and the
thorough delete scoped by the cluster uid."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid

import openstack
import pytest
import yaml

from ansible_collections.scs.kaas.plugins.module_utils.openstack import cleanup, cloud, images
from openstack_modules import SCS_0102, cloud_writes, kube_secret, run_module

FAKE_SECRET_MARK = "application_credential_secret"


def _kube_args(mc):
    return {"kubeconfig": mc.kubeconfig}


def _assert_not_shown(value, output):
    where = output.find(value)
    assert where < 0, "a secret value is in the output: ...%s..." % output[max(0, where - 600):where + 100]


def _decoded(secret, key):
    return base64.b64decode(secret["data"][key]).decode()


def _connect_with_secret(secret, cloud_name="openstack"):
    """A connection that authenticates with what the identity Secret holds, verifying TLS with its cacert."""
    entry = yaml.safe_load(_decoded(secret, "clouds.yaml"))["clouds"][cloud_name]
    return cloud.connect(cloud_entry=entry, ca_pem=_decoded(secret, "cacert"))


def test_app_credential_lifecycle(management_cluster, openstack_box, openstack_project, ansible_env, namespace):
    mc = management_cluster
    args = dict(_kube_args(mc), cloud=openstack_project, namespace=namespace, cluster_name="prod",
                secret_name="prod-cloud")
    first, _output = run_module(ansible_env, "openstack_app_credential", args)
    assert first["changed"] and first["created"] and first["secret"]["written"]
    secret = kube_secret(mc, namespace, "prod-cloud")
    assert set(secret["data"]) == {"clouds.yaml", "cacert", "cloud.conf"}
    entry = yaml.safe_load(_decoded(secret, "clouds.yaml"))["clouds"]["openstack"]
    assert entry["auth"]["application_credential_id"] == first["credential"]["id"]
    assert "verify" not in entry and "insecure" not in entry
    with open(openstack_project["cacert"]) as handle:
        assert _decoded(secret, "cacert") == handle.read()
    # The credential works, through the CA the Secret carries; its roles are the restricted ones.
    conn = _connect_with_secret(secret)
    # Keystone adds the roles that these imply (member implies reader), nothing more.
    roles = set(conn.session.auth.get_access(conn.session).role_names)
    assert roles - {"reader"} == {"load-balancer_member", "member"}
    conn.close()
    credential_secret = entry["auth"]["application_credential_secret"]
    assert credential_secret not in repr(first)

    # Second run: no write to the cloud or the management cluster; the secret is not in -vvv output.
    cloud_marker, kube_marker = openstack_box.mark(), mc.mark()
    second, raw = run_module(ansible_env, "openstack_app_credential", args, verbosity=3)
    assert not second["changed"] and second["credential"]["id"] == first["credential"]["id"]
    assert cloud_writes(openstack_box, cloud_marker) == []
    assert mc.count_writes("scs.kaas/", since=kube_marker) == 0
    _assert_not_shown(credential_secret, raw)
    _assert_not_shown(openstack_project["auth"]["password"], raw)

    # Rotation: new credential, Secret updated, the old one kept until the next present run.
    rotated, raw = run_module(ansible_env, "openstack_app_credential", dict(args, state="rotated"), verbosity=3)
    new_secret = kube_secret(mc, namespace, "prod-cloud")
    new_entry = yaml.safe_load(_decoded(new_secret, "clouds.yaml"))["clouds"]["openstack"]
    assert rotated["changed"] and rotated["credential"]["id"] != first["credential"]["id"]
    assert new_entry["auth"]["application_credential_id"] == rotated["credential"]["id"]
    assert rotated["kept"] == [first["credential"]["id"]]
    _assert_not_shown(new_entry["auth"]["application_credential_secret"], raw)
    _assert_not_shown(openstack_project["auth"]["password"], raw)
    _connect_with_secret(secret).close()  # the old one still works until the next present run
    _connect_with_secret(new_secret).close()

    pruned, _output = run_module(ansible_env, "openstack_app_credential", args)
    assert pruned["changed"] and pruned["deleted"] == [first["credential"]["id"]]
    with pytest.raises(cloud.OpenStackError, match="401|Unauthorized|not find|NotFound"):
        _connect_with_secret(secret)

    # Check mode of absent changes nothing; absent deletes credential and Secret.
    marker = openstack_box.mark()
    planned, _output = run_module(ansible_env, "openstack_app_credential", dict(args, state="absent"), check_mode=True)
    assert planned["changed"] and planned["deleted"] == [rotated["credential"]["id"]]
    assert cloud_writes(openstack_box, marker) == [] and kube_secret(mc, namespace, "prod-cloud") is not None
    gone, _output = run_module(ansible_env, "openstack_app_credential", dict(args, state="absent"))
    assert gone["changed"] and kube_secret(mc, namespace, "prod-cloud") is None
    with pytest.raises(cloud.OpenStackError):
        _connect_with_secret(new_secret)


def _spec(name, **variables):
    base = {"identityRef": {"name": name + "-cloud"}, "controlPlaneFlavor": "SCS-2V-4-20",
            "workerFlavor": "SCS-4V-8-50", "image": {"name": "box-image"},
            "controlPlaneAvailabilityZones": ["az-1", "az-2"]}
    base.update(variables)
    return {"name": name, "infrastructure": "openstack", "kubernetes_version": "v1.34.4",
            "control_plane": {"replicas": 1}, "node_groups": [{"name": "md-0", "replicas": 1}],
            "variables": base}


def _admin_project_id(box, project_entry):
    admin = box.admin_connection()
    try:
        return admin.identity.find_project(project_entry["auth"]["project_name"], domain_id="default").id
    finally:
        admin.close()


def test_preflight_passes_and_each_refusal_sends_no_mutating_request(openstack_box, openstack_project,
                                                                     ansible_env):
    box = openstack_box
    batch = {"cloud": openstack_project, "clusters": [_spec("a"), _spec("b")]}
    passed, _output = run_module(ansible_env, "openstack_preflight", batch)
    assert not passed["changed"]
    public = box.admin_connection().network.find_network("public")
    assert passed["clusters"]["clusters[0]"]["external_network_id"] == public.id
    assert passed["need"]["instances"] == 4 and passed["need"]["load_balancers"] == 2

    user = openstack.connect(load_yaml_config=False, load_envvars=False, **openstack_project)
    queued = user.image.create_image(name="never-uploaded", disk_format="raw", container_format="bare")
    user.close()
    bad_auth = dict(openstack_project, auth=dict(openstack_project["auth"], password="wrong"))
    refusals = [
        ({}, {"controlPlaneFlavor": "no-such-flavor"}, "clusters[0].variables.controlPlaneFlavor: flavor "
                                                       "'no-such-flavor' does not exist"),
        ({}, {"workerFlavor": "SCS-2V-4"}, "clusters[0].variables.workerFlavor: flavor 'SCS-2V-4' has no disk"),
        ({}, {"image": {"name": queued.name}}, "clusters[0].variables.image: image 'never-uploaded' is queued"),
        ({}, {"externalNetworkName": "internet"}, "clusters[0].variables.externalNetworkName: 'internet' is not"),
        ({}, {"controlPlaneAvailabilityZones": ["az-1", "az-9"]},
         "clusters[0].variables.controlPlaneAvailabilityZones[1]: availability zone 'az-9' does not exist"),
        ({"cloud": bad_auth}, {}, "cannot authenticate to the cloud"),
    ]
    for extra_args, variables, expected in refusals:
        marker = box.mark()
        args = dict({"cloud": openstack_project, "clusters": [_spec("a", **variables)]}, **extra_args)
        result, raw = run_module(ansible_env, "openstack_preflight", args, expect_failure=True)
        assert expected in result["msg"], result["msg"]
        assert cloud_writes(box, marker) == [], (expected, cloud_writes(box, marker))
        assert "wrong" not in raw

    # Exhausted quota: the project may run 3 instances, the batch needs 4.
    admin = box.admin_connection()
    project_id = _admin_project_id(box, openstack_project)
    admin.set_compute_quotas(project_id, instances=3)
    try:
        marker = box.mark()
        result, _output = run_module(ansible_env, "openstack_preflight", batch, expect_failure=True)
        assert "clusters[0], clusters[1]: the batch needs 4 instances" in result["msg"]
        assert "leaves 3 (limit 3, used 0)" in result["msg"]
        assert cloud_writes(box, marker) == []
    finally:
        admin.set_compute_quotas(project_id, instances=10)
        admin.close()


def test_server_groups(management_cluster, openstack_box, openstack_project, ansible_env, namespace):
    args = dict(_kube_args(management_cluster), cloud=openstack_project, namespace=namespace, cluster_name="sg")
    created, _output = run_module(ansible_env, "openstack_server_groups", args)
    assert created["changed"]
    conn = openstack.connect(load_yaml_config=False, load_envvars=False, **openstack_project)
    by_id = dict((g.id, g) for g in conn.compute.server_groups())
    cp = by_id[created["variables"]["controlPlaneServerGroupID"]]
    workers = by_id[created["variables"]["workerServerGroupID"]]
    assert (cp.name, cp.policy) == (created["cluster_uid"] + "-control-plane", "anti-affinity")
    assert (workers.name, workers.policy) == (created["cluster_uid"] + "-workers", "soft-anti-affinity")

    marker = openstack_box.mark()
    again, _output = run_module(ansible_env, "openstack_server_groups", args)
    assert not again["changed"] and again["variables"] == created["variables"]
    assert cloud_writes(openstack_box, marker) == []

    gone, _output = run_module(ansible_env, "openstack_server_groups", dict(args, state="absent"))
    assert sorted(gone["deleted"]) == sorted(created["variables"].values())
    assert not [g for g in conn.compute.server_groups() if g.id in created["variables"].values()]
    conn.close()


def test_node_image_upload_is_verified_complete_and_idempotent(openstack_box, openstack_project, ansible_env,
                                                               tmp_path):
    path = tmp_path / "node.img"
    path.write_bytes(os.urandom(2 * 1024 * 1024))
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    args = {"cloud": openstack_project, "name": "node-image-e2e", "path": str(path), "sha256": sha256,
            "disk_format": "raw", "min_disk": 20, "min_ram": 2048, "properties": SCS_0102}

    marker = openstack_box.mark()
    wrong, _output = run_module(ansible_env, "openstack_image", dict(args, sha256="0" * 64), expect_failure=True)
    assert "has sha256 %s, not %s; nothing uploaded" % (sha256, "0" * 64) in wrong["msg"]
    incomplete = dict(SCS_0102)
    del incomplete["uuid_validity"]
    missing, _output = run_module(ansible_env, "openstack_image", dict(args, properties=incomplete), expect_failure=True)
    assert "properties.uuid_validity: missing" in missing["msg"]
    assert cloud_writes(openstack_box, marker) == []

    uploaded, _output = run_module(ansible_env, "openstack_image", args)
    assert uploaded["changed"] and uploaded["uploaded"]
    conn = openstack.connect(load_yaml_config=False, load_envvars=False, **openstack_project)
    image = conn.image.get_image(uploaded["image"]["id"])
    assert image.status == "active" and image.min_disk == 20 and image.min_ram == 2048
    props = dict(image.properties or {})
    for key in images.MANDATORY:  # the SCS standard's mandatory list, checked on what Glance returns
        assert props.get(key) or getattr(image, key, None), key
    assert props[images.SHA256_KEY] == sha256
    assert image.checksum == hashlib.md5(path.read_bytes()).hexdigest()  # nosec - Glance's checksum

    marker = openstack_box.mark()
    again, _output = run_module(ansible_env, "openstack_image", args)
    assert not again["changed"] and not again["uploaded"] and again["image"]["id"] == image.id
    assert cloud_writes(openstack_box, marker) == []

    relabelled, _output = run_module(ansible_env, "openstack_image", dict(args, properties=dict(SCS_0102, os_version="24.04.1")))
    assert relabelled["changed"] and relabelled["updated"] == {"os_version": "24.04.1"} and not relabelled["uploaded"]
    assert conn.image.get_image(image.id).os_version == "24.04.1"
    conn.close()


def _seed_service_objects(conn, uid, subnet_id, public_id):
    """What the cloud controller and CSI of cluster ``uid`` would have made, named as
    cloud-provider-openstack names them; returns (kind, id) pairs."""
    lb = conn.load_balancer.create_load_balancer(name="kube_service_%s_default_web" % uid, vip_subnet_id=subnet_id)
    ip = conn.network.create_ip(floating_network_id=public_id,
                                description="Floating IP for Kubernetes external service default/web from "
                                            "cluster %s" % uid)
    group = conn.network.create_security_group(
        name="lb-sg-%s" % uid, description=cleanup.SG_DESCRIPTION % uid)
    volume = conn.block_storage.create_volume(size=1, name="pvc-%s" % uuid.uuid4(),
                                              metadata={cleanup.CSI_CLUSTER_KEY: uid})
    return [("load_balancer", lb.id), ("floating_ip", ip.id), ("security_group", group.id), ("volume", volume.id)]


def _exists(conn, kind, object_id):
    getter = {"load_balancer": conn.load_balancer.get_load_balancer, "floating_ip": conn.network.get_ip,
              "security_group": conn.network.get_security_group, "volume": conn.block_storage.get_volume,
              "server_group": conn.compute.get_server_group}[kind]
    try:
        found = getter(object_id)
    except openstack.exceptions.NotFoundException:
        return False
    # A volume or load balancer being deleted is still listed for a moment: gone is what counts.
    return (getattr(found, "status", None) or getattr(found, "provisioning_status", None) or "").lower() not in (
        "deleted", "deleting", "pending_delete")


def test_cleanup_deletes_this_cluster_only(management_cluster, openstack_box, openstack_project, ansible_env,
                                           namespace):
    mc = management_cluster
    other_namespace = namespace + "-b"
    mc.kubectl("create", "namespace", other_namespace)
    conn = openstack.connect(load_yaml_config=False, load_envvars=False, connect_retries=5, **openstack_project)
    try:
        seeded, uids = {}, {}
        net = conn.network.create_network(name="services-e2e")
        subnet = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.77.0.0/24")
        public = conn.network.find_network("public")
        for ns in (namespace, other_namespace):
            args = dict(_kube_args(mc), cloud=openstack_project, namespace=ns, cluster_name="same-name")
            groups, _output = run_module(ansible_env, "openstack_server_groups", args)
            credential, _output = run_module(ansible_env, "openstack_app_credential", dict(args, secret_name="same-name-cloud"))
            uids[ns] = groups["cluster_uid"]
            seeded[ns] = _seed_service_objects(conn, uids[ns], subnet.id, public.id) + [
                ("server_group", i) for i in groups["variables"].values()]
            seeded[ns].append(("application_credential", credential["credential"]["id"]))
        assert uids[namespace] != uids[other_namespace]
        # As a cloud controller's would be by the time its cluster is deleted (on a loaded machine the
        # amphora driver takes minutes).
        for ns in seeded:
            for kind, object_id in seeded[ns]:
                if kind == "load_balancer":
                    conn.load_balancer.wait_for_load_balancer(object_id, status="ACTIVE", failures=["ERROR"],
                                                              wait=900)

        args = dict(_kube_args(mc), cloud=openstack_project, namespace=namespace, cluster_name="same-name",
                    secret_name="same-name-cloud")
        marker = openstack_box.mark()
        planned, _output = run_module(ansible_env, "openstack_cluster_cleanup", args, check_mode=True)
        assert cloud_writes(openstack_box, marker) == []
        done, _output = run_module(ansible_env, "openstack_cluster_cleanup", args)
        expected = sorted(seeded[namespace] + [("secret", None)], key=str)
        assert sorted(((i["kind"], i["id"] if i["kind"] != "secret" else None) for i in done["deleted"]), key=str) \
            == expected
        assert planned["deleted"] == done["deleted"] and done["left"] == []
        user_id = conn.current_user_id
        credentials_left = set(c.id for c in conn.identity.application_credentials(user=user_id))
        for kind, object_id in seeded[namespace]:
            if kind == "application_credential":
                assert object_id not in credentials_left
            else:
                assert not _exists(conn, kind, object_id), (kind, object_id)
        assert kube_secret(mc, namespace, "same-name-cloud") is None
        # The cluster of the same name in the other namespace is untouched.
        for kind, object_id in seeded[other_namespace]:
            if kind == "application_credential":
                assert object_id in credentials_left
            else:
                assert _exists(conn, kind, object_id), (kind, object_id)
        assert kube_secret(mc, other_namespace, "same-name-cloud") is not None

        again, _output = run_module(ansible_env, "openstack_cluster_cleanup", args)
        assert not again["changed"] and again["deleted"] == []

        other = dict(args, namespace=other_namespace)
        run_module(ansible_env, "openstack_cluster_cleanup", other)
        conn.network.delete_subnet(subnet.id)
        conn.network.delete_network(net.id)
    finally:
        conn.close()
        mc.kubectl("delete", "namespace", other_namespace, "--wait=false")
