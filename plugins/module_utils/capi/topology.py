# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Pure builders for topology-managed Clusters (``cluster.x-k8s.io/v1beta2``).

Input is a spec normalised by :func:`validation.normalize_spec`; output is plain dicts ready
for server-side apply. No cluster access, no randomness: the same spec always builds the same
object, which is what makes a converged second run free of writes.

Also home of the status helpers that read a live Cluster (conditions, summaries), so the
modules and the wait logic agree on what "converged" means.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils.addons import proxies as addon_proxies

API_VERSION = "cluster.x-k8s.io/v1beta2"
KIND = "Cluster"
GROUP = "cluster.x-k8s.io"

PROTECTED_ANNOTATION = "kaas.scs.community/protected"
MANAGED_BY_LABEL = "kaas.scs.community/managed-by"
AUTOSCALER_MIN = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"
AUTOSCALER_MAX = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"
CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"


def _deletion(deletion):
    out = {}
    for key, target in (("node_drain_timeout", "nodeDrainTimeoutSeconds"),
                        ("node_volume_detach_timeout", "nodeVolumeDetachTimeoutSeconds"),
                        ("node_deletion_timeout", "nodeDeletionTimeoutSeconds")):
        if deletion.get(key) is not None:
            out[target] = deletion[key]
    if deletion.get("order"):
        out["order"] = deletion["order"]
    return out


def _conditions(items):
    return [{"type": c["type"], "status": c["status"], "timeoutSeconds": c["timeout"]} for c in items]


def _health_check(hc):
    if hc is None:
        return None
    out = {"enabled": hc.get("enabled", True)}
    checks = {}
    if hc.get("node_startup_timeout") is not None:
        checks["nodeStartupTimeoutSeconds"] = hc["node_startup_timeout"]
    if hc.get("unhealthy_node_conditions"):
        checks["unhealthyNodeConditions"] = _conditions(hc["unhealthy_node_conditions"])
    if hc.get("unhealthy_machine_conditions"):
        checks["unhealthyMachineConditions"] = _conditions(hc["unhealthy_machine_conditions"])
    if checks:
        out["checks"] = checks
    remediation = {}
    if hc.get("max_in_flight") is not None:
        remediation["maxInFlight"] = hc["max_in_flight"]
    if hc.get("max_unhealthy") is not None:
        remediation["triggerIf"] = {"unhealthyLessThanOrEqualTo": hc["max_unhealthy"]}
    elif hc.get("unhealthy_range"):
        remediation["triggerIf"] = {"unhealthyInRange": hc["unhealthy_range"]}
    if remediation:
        out["remediation"] = remediation
    return out


def _metadata(labels, annotations):
    meta = {}
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def _overrides(variables):
    return [{"name": name, "value": variables[name]} for name in sorted(variables)]


def build_machine_deployment(group):
    """One ``spec.topology.workers.machineDeployments[]`` entry from a normalised node group."""
    md = {"class": group["class"], "name": group["name"]}
    annotations = dict(group.get("annotations") or {})
    if group.get("autoscaler"):
        annotations[AUTOSCALER_MIN] = str(group["autoscaler"]["min"])
        annotations[AUTOSCALER_MAX] = str(group["autoscaler"]["max"])
    elif group.get("replicas") is not None:
        md["replicas"] = group["replicas"]
    meta = _metadata(group.get("labels"), annotations)
    if meta:
        md["metadata"] = meta
    if group.get("failure_domain"):
        md["failureDomain"] = group["failure_domain"]
    if group.get("min_ready_seconds") is not None:
        md["minReadySeconds"] = group["min_ready_seconds"]
    rollout = group.get("rollout") or {}
    if rollout.get("strategy"):
        strategy = {"type": rollout["strategy"]}
        rolling = {}
        if rollout.get("max_surge") is not None:
            rolling["maxSurge"] = rollout["max_surge"]
        if rollout.get("max_unavailable") is not None:
            rolling["maxUnavailable"] = rollout["max_unavailable"]
        if rolling:
            strategy["rollingUpdate"] = rolling
        md["rollout"] = {"strategy": strategy}
    deletion = _deletion(group.get("deletion") or {})
    if deletion:
        md["deletion"] = deletion
    hc = _health_check(group.get("health_check"))
    if hc:
        md["healthCheck"] = hc
    variables = dict(group.get("variables") or {})
    if group.get("labels"):
        variables["nodeLabels"] = dict(group["labels"])
    if group.get("taints"):
        variables["nodeTaints"] = [dict(t) for t in group["taints"]]
    if variables:
        md["variables"] = {"overrides": _overrides(variables)}
    return md


def cluster_variables(spec):
    """Cluster-level class variables: extra ``variables`` plus the mapped API/network options."""
    variables = dict(spec.get("variables") or {})
    api = spec.get("api") or {}
    if api.get("cert_sans"):
        variables["certSANs"] = list(api["cert_sans"])
    if api.get("oidc"):
        variables["oidc"] = dict(api["oidc"])
    if (spec.get("network") or {}).get("nodes"):
        variables["nodeCIDR"] = spec["network"]["nodes"]
    return variables


def build_cluster(spec):
    """The topology Cluster for a normalised spec (pure)."""
    labels = dict(spec.get("labels") or {})
    labels[MANAGED_BY_LABEL] = "scs.kaas"
    if spec.get("addons") is not None:
        # What the cluster's HelmChartProxies select it by (addons/proxies.py).
        labels.update(addon_proxies.cluster_labels(spec["name"]))
    annotations = dict(spec.get("annotations") or {})
    if spec.get("protected"):
        annotations[PROTECTED_ANNOTATION] = "true"
    metadata = {"name": spec["name"], "namespace": spec["namespace"], "labels": labels}
    if annotations:
        metadata["annotations"] = annotations

    cp_spec = spec.get("control_plane") or {}
    control_plane = {"replicas": cp_spec["replicas"]}
    meta = _metadata(cp_spec.get("labels"), cp_spec.get("annotations"))
    if meta:
        control_plane["metadata"] = meta
    deletion = _deletion(cp_spec.get("deletion") or {})
    if deletion:
        control_plane["deletion"] = deletion
    hc = _health_check(cp_spec.get("health_check"))
    if hc:
        control_plane["healthCheck"] = hc
    if cp_spec.get("variables"):
        control_plane["variables"] = {"overrides": _overrides(cp_spec["variables"])}

    class_ref = {"name": spec["class"]}
    # CAPI looks a class up in the Cluster's namespace when classRef.namespace is empty: setting it
    # only when it differs keeps Clusters created without it unchanged.
    if spec.get("class_namespace") and spec["class_namespace"] != spec["namespace"]:
        class_ref["namespace"] = spec["class_namespace"]
    topology = {
        "classRef": class_ref,
        "version": spec["kubernetes_version"],
        "controlPlane": control_plane,
    }
    mds = [build_machine_deployment(g) for g in spec.get("node_groups") or []]
    if mds:
        topology["workers"] = {"machineDeployments": mds}
    variables = cluster_variables(spec)
    if variables:
        topology["variables"] = _overrides(variables)

    network = spec.get("network") or {}
    cluster_network = {
        "pods": {"cidrBlocks": list(network.get("pods") or [])},
        "services": {"cidrBlocks": list(network.get("services") or [])},
        "serviceDomain": network.get("service_domain") or "cluster.local",
    }
    if network.get("api_server_port"):
        cluster_network["apiServerPort"] = network["api_server_port"]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": {
            "paused": bool(spec.get("paused")),
            "clusterNetwork": cluster_network,
            "topology": topology,
        },
    }


# ---------------------------------------------------------------------------------------------
# Reading live Clusters

# Conditions that decide "converged" and the status each must have.
CONVERGED_CONDITIONS = (
    ("Available", "True"),
    ("TopologyReconciled", "True"),
    ("ControlPlaneAvailable", "True"),
    ("WorkersAvailable", "True"),
    ("ControlPlaneMachinesUpToDate", "True"),
    ("WorkerMachinesUpToDate", "True"),
    ("RollingOut", "False"),
    ("ScalingUp", "False"),
    ("ScalingDown", "False"),
)
# Reasons that satisfy a condition although its status differs (nothing to report on).
_NO_REPLICAS_REASONS = ("NoReplicas", "NoWorkers")


def conditions_of(obj):
    return {c.get("type"): c for c in ((obj.get("status") or {}).get("conditions") or [])}


def is_protected(obj):
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(PROTECTED_ANNOTATION) == "true"


def desired_worker_replicas(cluster):
    """Sum of fixed worker replicas, or None when an autoscaler owns any group."""
    total = 0
    mds = (((cluster.get("spec") or {}).get("topology") or {}).get("workers") or {}).get("machineDeployments") or []
    for md in mds:
        if md.get("replicas") is None:
            return None
        total += md["replicas"]
    return total


def convergence_problems(cluster):
    """List of why a live Cluster is not converged yet ([] when it is).

    Converged: the controllers observed the current generation, the cluster-wide conditions
    (each also observed at this generation) are as in ``CONVERGED_CONDITIONS``, and replica
    counts and versions in ``status.controlPlane``/``status.workers`` match the topology.
    """
    problems = []
    meta = cluster.get("metadata") or {}
    status = cluster.get("status") or {}
    generation = meta.get("generation") or 0
    observed = status.get("observedGeneration") or 0
    if observed < generation:
        problems.append({"type": "ObservedGeneration", "status": "False", "reason": "NotObserved",
                         "message": "status.observedGeneration %s < metadata.generation %s" % (observed, generation)})
        return problems
    conds = conditions_of(cluster)
    for ctype, want in CONVERGED_CONDITIONS:
        cond = conds.get(ctype)
        if cond is None:
            problems.append({"type": ctype, "status": "Unknown", "reason": "NotReported",
                             "message": "condition %s not reported yet" % ctype})
            continue
        if (cond.get("observedGeneration") or generation) < generation:
            problems.append({"type": ctype, "status": cond.get("status"), "reason": cond.get("reason"),
                             "message": "condition observed generation %s < %s" % (cond.get("observedGeneration"), generation)})
            continue
        if cond.get("status") != want and cond.get("reason") not in _NO_REPLICAS_REASONS:
            problems.append({"type": ctype, "status": cond.get("status"), "reason": cond.get("reason"),
                             "message": cond.get("message") or ""})
    topology = (cluster.get("spec") or {}).get("topology") or {}
    version = topology.get("version")
    for part, want_replicas in (("controlPlane", (topology.get("controlPlane") or {}).get("replicas")),
                                ("workers", desired_worker_replicas(cluster))):
        st = status.get(part) or {}
        keys = ("desiredReplicas", "replicas", "upToDateReplicas", "availableReplicas")
        counts = {k: st.get(k) or 0 for k in keys}
        if want_replicas is not None and counts["desiredReplicas"] != want_replicas:
            problems.append({"type": part + "Replicas", "status": "False", "reason": "Pending",
                             "message": "desired %s replicas %s, topology asks for %s" % (part, counts["desiredReplicas"], want_replicas)})
        elif len(set(counts.values())) != 1:
            problems.append({"type": part + "Replicas", "status": "False", "reason": "Pending",
                             "message": ", ".join("%s=%s" % kv for kv in sorted(counts.items()))})
        stale = [v for v in st.get("versions") or [] if v.get("version") != version]
        if stale:
            problems.append({"type": part + "Versions", "status": "False", "reason": "Pending",
                             "message": "%s still run %s (topology version %s)" % (
                                 part, ", ".join("%s x%s" % (v.get("version"), v.get("replicas")) for v in stale), version)})
    return problems


def summarize(cluster):
    """Small status summary of a live Cluster for module results and reports."""
    meta = cluster.get("metadata") or {}
    spec = cluster.get("spec") or {}
    topology = spec.get("topology") or {}
    status = cluster.get("status") or {}
    conds = conditions_of(cluster)

    def _counts(part):
        st = status.get(part) or {}
        return {
            "desired": st.get("desiredReplicas") or 0,
            "current": st.get("replicas") or 0,
            "ready": st.get("readyReplicas") or 0,
            "available": st.get("availableReplicas") or 0,
            "up_to_date": st.get("upToDateReplicas") or 0,
            "versions": {v.get("version"): v.get("replicas") for v in st.get("versions") or []},
        }

    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "class": (topology.get("classRef") or {}).get("name"),
        "class_namespace": (topology.get("classRef") or {}).get("namespace") or meta.get("namespace"),
        "kubernetes_version": topology.get("version"),
        "phase": status.get("phase"),
        "paused": bool(spec.get("paused")),
        "protected": is_protected(cluster),
        "deleting": bool(meta.get("deletionTimestamp")),
        "generation": meta.get("generation"),
        "observed_generation": status.get("observedGeneration"),
        "control_plane": _counts("controlPlane"),
        "workers": _counts("workers"),
        "node_groups": [
            {"name": md.get("name"), "class": md.get("class"), "replicas": md.get("replicas"),
             "failure_domain": md.get("failureDomain")}
            for md in (topology.get("workers") or {}).get("machineDeployments") or []
        ],
        "conditions": {
            t: {"status": c.get("status"), "reason": c.get("reason"), "message": c.get("message") or ""}
            for t, c in sorted(conds.items())
        },
        "available": (conds.get("Available") or {}).get("status") == "True",
    }
