# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Cluster add-ons as CAAPH HelmChartProxies (``addons.cluster.x-k8s.io/v1alpha1``, CAAPH v0.5.3), pure.

A HelmChartProxy installs one chart with one set of values into every Cluster *in its own
namespace* whose labels match ``spec.clusterSelector``. There is one proxy per (cluster, enabled
add-on), ``<cluster>-<addon>`` (:func:`proxy_name`), selecting the label every Cluster with add-ons
carries, ``addons.kaas.scs.community/cluster: <cluster name>`` (:func:`cluster_labels`), which never
changes. A settings change edits the proxy in place and CAAPH upgrades the release (``Continuous``);
switching an add-on off deletes its proxy (:func:`stale`) and CAAPH uninstalls the release. The
annotation ``addons.kaas.scs.community/profile`` hashes the settings (:func:`profile_hash`).

Why not share one proxy among clusters with equal settings: a settings change would move a cluster to
another proxy, CAAPH deletes the HelmReleaseProxy the old one no longer selects, and its finalizer
uninstalls the release (deleteOrphanedHelmReleaseProxies, HelmReleaseProxy reconcileDelete), racing the
new proxy's install of the same release: a CNI, cloud controller or CSI outage per change. The cost:
clusters x add-ons proxies; CAAPH makes one HelmReleaseProxy per selected cluster anyway, so the number
of HelmReleaseProxies and releases does not change.

A catalog maps add-on name to an entry (a real catalog module supplies them)::

    chart               chart name in the repository
    version             chart version (pinned: without it CAAPH follows the latest chart)
    namespace           release namespace in the workload cluster
    release_name        Helm release name
    order               install order, lowest first (CNI before cloud controller before CSI ...)
    default_values      Helm values (mapping)
    enabled_by_default  bool

Extra keys are ignored. Add-on names use ``[a-z0-9_-]``; Kubernetes names cannot hold ``_``, so
labels and proxy names use the name with ``_`` replaced by ``-`` (:func:`addon_slug`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import difflib
import hashlib
import json
import math
import re

from ansible_collections.scs.kaas.plugins.module_utils.capi.values import RFC1123_LABEL, RFC1123_SUBDOMAIN
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError

API_VERSION = "addons.cluster.x-k8s.io/v1alpha1"
KIND = "HelmChartProxy"
LABEL_PREFIX = "addons.kaas.scs.community/"
ADDON_LABEL = LABEL_PREFIX + "addon"
CLUSTER_LABEL = LABEL_PREFIX + "cluster"
PROFILE_ANNOTATION = LABEL_PREFIX + "profile"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "scs.kaas"
PROFILE_LENGTH = 10
# A proxy name must be a DNS-1123 label (CAAPH copies it into a label value of its HelmReleaseProxies).
MAX_NAME_LENGTH = 63
NAME_HASH_LENGTH = 8
# The slug is a label value; the limit keeps it well inside the 63 characters of a proxy name.
MAX_SLUG_LENGTH = 52
OVERRIDE_KEYS = ("enabled", "values")
RECONCILE_STRATEGY = "Continuous"
# Unattended installs: wait so the release status says whether the add-on really runs. The CRD
# defaults createNamespace=true and maxHistory=10 only inside an ``install``/``upgrade`` object that
# is present (CAAPH copies the Go zero value otherwise), so both are spelled out. The timeout is
# CAAPH's default in the form its webhook writes durations back ("10m0s"), so a re-apply finds no diff.
# No ``atomic``: it uninstalls a failed first install and with it what shows why it failed; CAAPH
# retries a failed release by upgrading it anyway.
HELM_OPTIONS = {
    "wait": True,
    "waitForJobs": True,
    "timeout": "10m0s",
    "install": {"createNamespace": True},
    "upgrade": {"maxHistory": 10},
}

_HELM_RELEASE_NAME_MAX = 53
_REPO_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$")
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
# Characters JSON leaves raw that the Go YAML parser behind Helm rejects ("control characters are not
# allowed": DEL, C1) or that YAML 1.1 counts as line breaks or a byte order mark; escaped, they are safe.
_YAML_UNSAFE = re.compile("[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]")
# Go text/template only knows the "{{" delimiter; a string constant action prints it literally.
_TEMPLATE_OPEN = "{{"
_TEMPLATE_OPEN_LITERAL = '{{ "{{" }}'


class AddonSpecError(KaasError):
    """Invalid add-on settings; ``problems`` lists every one, each naming its variable path."""

    def __init__(self, problems):
        self.problems = list(problems)
        super(AddonSpecError, self).__init__(
            "invalid add-on settings (%d problem%s):\n%s" % (
                len(self.problems), "" if len(self.problems) == 1 else "s",
                "\n".join("- " + problem for problem in self.problems)))


def addon_slug(name):
    """The add-on name as used in label keys, label values and proxy names (``_`` becomes ``-``)."""
    return name.replace("_", "-")


def _type_name(value):
    return "null" if value is None else type(value).__name__


def _short(value):
    """A scalar for an error message outside ``values``; long text is cut so a pasted blob stays out of logs."""
    text = repr(value)
    return text if len(text) <= 24 else "%s... (%d characters)" % (text[:12], len(text))


def _child(path, key):
    return "%s.%s" % (path, key) if _PLAIN_KEY.match(key) else "%s[%s]" % (path, json.dumps(key))


def _check_values(node, path, problems, where=""):
    """Problems of Helm values: JSON data only. Never quotes a value (values may hold secrets)."""
    if isinstance(node, dict):
        for key in node:
            if not isinstance(key, str):
                problems.append("%s%s: has a key of type %s; keys must be strings (quote the key in YAML)"
                                % (path, where, _type_name(key)))
                continue
            _check_values(node[key], _child(path, key), problems, where)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _check_values(item, "%s[%d]" % (path, index), problems, where)
    elif isinstance(node, float) and not math.isfinite(node):
        problems.append("%s%s: is a non-finite float; use a finite number or a string" % (path, where))
    elif isinstance(node, str):
        try:
            node.encode("utf-8")
        except UnicodeEncodeError:
            problems.append("%s%s: is a string that is not valid Unicode; use UTF-8 text" % (path, where))
    elif node is not None and not isinstance(node, (bool, int, float)):
        problems.append("%s%s: is of type %s; use a string, number, boolean, null, list or mapping"
                        % (path, where, _type_name(node)))


def _entry_problems(path, entry, problems):
    if not isinstance(entry, dict):
        problems.append("%s: is a %s, not a mapping" % (path, _type_name(entry)))
        return
    for key in ("chart", "version"):
        if not isinstance(entry.get(key), str) or not entry.get(key):
            problems.append("%s.%s: must be a non-empty string" % (path, key))
    if not isinstance(entry.get("namespace"), str) or not RFC1123_LABEL.match(entry["namespace"]) \
            or len(entry["namespace"]) > 63:
        problems.append("%s.namespace: must be a namespace name (DNS-1123 label)" % path)
    release = entry.get("release_name")
    if not isinstance(release, str) or not RFC1123_LABEL.match(release) or len(release) > _HELM_RELEASE_NAME_MAX:
        problems.append("%s.release_name: must be a Helm release name (DNS-1123 label, at most %d characters)"
                        % (path, _HELM_RELEASE_NAME_MAX))
    if not isinstance(entry.get("order"), int) or isinstance(entry.get("order"), bool):
        problems.append("%s.order: must be an integer" % path)
    if not isinstance(entry.get("enabled_by_default"), bool):
        problems.append("%s.enabled_by_default: must be true or false" % path)
    if not isinstance(entry.get("default_values"), dict):
        problems.append("%s.default_values: must be a mapping" % path)
    else:
        _check_values(entry["default_values"], path + ".default_values", problems)


def check_catalog(catalog):
    """Problems of a catalog (programming errors, reported with ``catalog.<name>.<key>`` paths)."""
    if not isinstance(catalog, dict):
        return ["catalog: is a %s, not a mapping of add-on name to entry" % _type_name(catalog)]
    problems = []
    slugs = {}
    for name, entry in catalog.items():
        path = "catalog.%s" % (name,)
        slug = addon_slug(name) if isinstance(name, str) else ""
        if not RFC1123_LABEL.match(slug) or len(slug) > MAX_SLUG_LENGTH or slug == "addon":
            problems.append("%s: is not a usable add-on name; use [a-z0-9_-], at most %d characters, "
                            "starting and ending alphanumeric, not 'addon'" % (path, MAX_SLUG_LENGTH))
            continue
        slugs.setdefault(slug, []).append(name)
        _entry_problems(path, entry, problems)
    for slug, names in sorted(slugs.items()):
        if len(names) > 1:
            problems.append("catalog: %s share the Kubernetes name %s" % (", ".join(sorted(names)), slug))
        # "<cluster>-<slug>" must name one (cluster, add-on): with "csi" and "cinder-csi", "x-cinder-csi" names two
        for other in sorted(slugs):
            if slug.endswith("-" + other):
                problems.append("catalog: the Kubernetes name %s of %s ends in -%s (of %s), so proxy names "
                                "<cluster>-<add-on> would be ambiguous" % (slug, names[0], other, slugs[other][0]))
    return problems


def _check_overrides(catalog, overrides, var, scope, problems):
    """Append the problems of one inventory variable (group or host ``addons``)."""
    where = " (%s var)" % scope if scope else ""
    if overrides is None:
        return
    if not isinstance(overrides, dict):
        problems.append("%s%s: is a %s; use a mapping of add-on name to settings" % (var, where, _type_name(overrides)))
        return
    known = sorted(catalog)
    for name, override in overrides.items():
        path = "%s.%s" % (var, name)
        if name not in catalog:
            close = difflib.get_close_matches(str(name), known, n=1) + difflib.get_close_matches(
                str(name).replace("-", "_"), known, n=1)
            hint = "did you mean %s? " % close[0] if close else ""
            problems.append("%s%s: unknown add-on; %sknown add-ons: %s" % (path, where, hint, ", ".join(known)))
            continue
        if not isinstance(override, dict):
            problems.append("%s%s: is %s (%s); use a mapping with the keys %s, e.g. {enabled: true}"
                            % (path, where, _short(override), _type_name(override), " and/or ".join(OVERRIDE_KEYS)))
            continue
        for key in override:
            if key not in OVERRIDE_KEYS:
                problems.append("%s.%s%s: unknown key; valid keys: %s" % (path, key, where, ", ".join(OVERRIDE_KEYS)))
        if "enabled" in override and not isinstance(override["enabled"], bool):
            problems.append("%s.enabled%s: is %s (%s); use true or false"
                            % (path, where, _short(override["enabled"]), _type_name(override["enabled"])))
        if "values" in override:
            if not isinstance(override["values"], dict):
                problems.append("%s.values%s: is of type %s; use a mapping of Helm values"
                                % (path, where, _type_name(override["values"])))
            else:
                _check_values(override["values"], path + ".values", problems, where)


def combine(base, override):
    """``base`` with ``override`` merged in, as Ansible's ``combine(recursive=True)``: mappings merge
    key by key, anything else (lists, scalars, null) replaces. Returns new objects; inputs stay untouched."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = combine(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _ordered_names(catalog, names):
    return sorted(names, key=lambda name: (catalog[name]["order"], name))


def effective(catalog, group_addons, host_addons, group_var="addons", host_var="addons", scopes=("group", "host")):
    """Every catalog add-on in install order -> ``{"enabled": bool, "values": dict}``.

    The catalog defaults, then the group variable, then the host variable: ``enabled`` replaces,
    ``values`` merge recursively (:func:`combine`). All input is checked first; the one
    :class:`AddonSpecError` lists every problem, naming the variable and, unless ``scopes`` is
    ``(None, None)`` (one variable already combined from both), whether it is the group's or the host's.
    """
    problems = check_catalog(catalog)
    if problems:
        raise AddonSpecError(problems)
    _check_overrides(catalog, group_addons, group_var, scopes[0], problems)
    _check_overrides(catalog, host_addons, host_var, scopes[1], problems)
    if problems:
        raise AddonSpecError(problems)
    result = {}
    for name in _ordered_names(catalog, catalog):
        enabled = catalog[name]["enabled_by_default"]
        values = catalog[name]["default_values"]  # combine() copies, so the result never aliases the catalog
        for overrides in (group_addons or {}, host_addons or {}):
            override = overrides.get(name) or {}
            enabled = override.get("enabled", enabled)
            values = combine(values, override.get("values") or {})
        result[name] = {"enabled": enabled, "values": values}
    return result


def _canonical_json(data):
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def profile_hash(name, entry, values):
    """10 lowercase hex characters naming one release profile (the proxy's ``PROFILE_ANNOTATION``):
    sha256 of the canonical JSON of the add-on name, chart, version, release namespace, release name
    and values. Equal settings give equal profiles, on any cluster."""
    payload = {"addon": name, "chart": entry["chart"], "version": entry["version"],
               "namespace": entry["namespace"], "release_name": entry["release_name"], "values": values}
    return hashlib.sha256(_canonical_json(payload).encode("utf-8")).hexdigest()[:PROFILE_LENGTH]


def _cluster_problem(cluster):
    """Why ``cluster`` cannot be the value of ``CLUSTER_LABEL``, or None. A Cluster name is a DNS-1123
    subdomain; one that is also a label value has at most 63 characters (the syntaxes agree otherwise)."""
    if isinstance(cluster, str) and RFC1123_SUBDOMAIN.match(cluster) and len(cluster) <= 63:
        return None
    return ("cluster %r: the name cannot be the value of the label %s; a Cluster with add-ons needs a name of "
            "at most 63 characters: lowercase letters, digits, '-' and '.', starting and ending alphanumeric"
            % (cluster, CLUSTER_LABEL))


def _check_cluster(cluster):
    if _cluster_problem(cluster):
        raise AddonSpecError([_cluster_problem(cluster)])


def cluster_labels(cluster):
    """The labels the Cluster ``cluster`` carries so that its proxies select it: ``{CLUSTER_LABEL: cluster}``.
    They do not depend on the settings; on a Cluster with every add-on off no proxy selects them."""
    _check_cluster(cluster)
    return {CLUSTER_LABEL: cluster}


def owned_label_keys(labels):
    """The keys of ``labels`` (a live Cluster's) under ``LABEL_PREFIX``, sorted: ours, including the
    per-add-on keys of an older layout; the caller removes those not in :func:`cluster_labels`."""
    return sorted(key for key in (labels or {}) if key.startswith(LABEL_PREFIX))


def proxy_name(cluster, name):
    """``<cluster>-<slug>`` when that is a DNS-1123 label of at most 63 characters; otherwise ('.' in
    the cluster name, or too long) its start with '.' as '-', plus ``-<8 hex of sha256 of the full name>``.
    Deterministic, and :func:`check_catalog` keeps ``<cluster>-<slug>`` unambiguous."""
    _check_cluster(cluster)
    full = "%s-%s" % (cluster, addon_slug(name))
    if RFC1123_LABEL.match(full) and len(full) <= MAX_NAME_LENGTH:
        return full
    digest = hashlib.sha256(full.encode("utf-8")).hexdigest()[:NAME_HASH_LENGTH]
    return "%s-%s" % (full.replace(".", "-")[:MAX_NAME_LENGTH - 1 - NAME_HASH_LENGTH].rstrip("-"), digest)


def values_template(values):
    """``spec.valuesTemplate`` text: the values as indented JSON (which is YAML) with sorted keys.

    CAAPH renders valuesTemplate as a Go text/template against the Cluster, so a literal ``{{`` in
    a value would be read as a template action: the install fails (an execution error copies the
    whole template, secrets included, into the proxy's status) or, worse, Cluster fields are
    silently rendered into the value. Every ``{{`` is therefore written as the action ``{{ "{{" }}``,
    which renders back to ``{{``: the values installed are exactly the values hashed into the
    profile, and the Cluster templating is deliberately not offered.
    """
    text = json.dumps(values, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    text = _YAML_UNSAFE.sub(lambda match: "\\u%04x" % ord(match.group()), text)
    return text.replace(_TEMPLATE_OPEN, _TEMPLATE_OPEN_LITERAL)


def _check_target(namespace, repo_url):
    problems = []
    if not isinstance(namespace, str) or not RFC1123_LABEL.match(namespace) or len(namespace) > 63:
        problems.append("namespace: is %s; use the namespace of the Clusters (DNS-1123 label)" % _short(namespace))
    if not isinstance(repo_url, str) or not _REPO_URL.match(repo_url):
        problems.append("repo_url: is %s; use a chart repository URL such as https://charts.example.com "
                        "or oci://registry.example.com/charts" % _short(repo_url))
    return problems


def helm_chart_proxy(cluster, name, entry, values, namespace, repo_url):
    """The HelmChartProxy :func:`proxy_name` in ``namespace`` (the Cluster's namespace: CAAPH selects
    Clusters only there) that installs add-on ``name`` with ``values`` into the Cluster ``cluster`` only."""
    problems = [problem for problem in [_cluster_problem(cluster)] if problem] + _check_target(namespace, repo_url)
    if problems:
        raise AddonSpecError(problems)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": proxy_name(cluster, name),
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, ADDON_LABEL: addon_slug(name), CLUSTER_LABEL: cluster},
            "annotations": {PROFILE_ANNOTATION: profile_hash(name, entry, values)},
        },
        "spec": {
            "clusterSelector": {"matchLabels": cluster_labels(cluster)},
            "repoURL": repo_url,
            "chartName": entry["chart"],
            "version": entry["version"],
            "releaseName": entry["release_name"],
            "namespace": entry["namespace"],
            "valuesTemplate": values_template(values),
            "reconcileStrategy": RECONCILE_STRATEGY,
            "options": copy.deepcopy(HELM_OPTIONS),
        },
    }


def desired_proxies(catalog, per_cluster_effective, namespace, repo_url):
    """The proxies for ``{cluster name: effective()}``: one per (cluster, enabled add-on), never shared,
    in install order (``order``, then add-on name, then cluster name). The catalog is checked (its rules
    keep proxy names unique), then every other problem is raised at once."""
    problems = check_catalog(catalog)
    if problems:
        raise AddonSpecError(problems)
    problems = _check_target(namespace, repo_url)
    clusters = sorted(per_cluster_effective, key=str)
    problems.extend(problem for problem in map(_cluster_problem, clusters) if problem)
    unknown = sorted({name for addons in per_cluster_effective.values() for name in addons if name not in catalog})
    if unknown:
        problems.append("add-ons not in the catalog: %s; known add-ons: %s"
                        % (", ".join(unknown), ", ".join(sorted(catalog))))
    if problems:
        raise AddonSpecError(problems)
    proxies = {}
    for cluster in clusters:
        for name, state in per_cluster_effective[cluster].items():
            if state["enabled"]:
                key = (catalog[name]["order"], name, cluster)
                proxies[key] = helm_chart_proxy(cluster, name, catalog[name], state["values"], namespace, repo_url)
    return [proxies[key] for key in sorted(proxies)]


def _meta(obj):
    return obj.get("metadata") or {}


def stale(live_proxies, desired, namespace=None, clusters=None):
    """The live proxies to delete: labelled ``managed-by: scs.kaas`` and not among ``desired`` (by
    namespace and name). Proxies without our label are never returned. With ``namespace``, only
    proxies there are considered. With ``clusters`` (the names of the clusters this run covers), only
    proxies whose ``CLUSTER_LABEL`` is one of them: a run for some clusters must pass it, or it deletes
    the proxies of every other cluster (and CAAPH uninstalls their add-ons)."""
    covered = None if clusters is None else set([clusters] if isinstance(clusters, str) else clusters)
    wanted = {(_meta(proxy).get("namespace"), _meta(proxy).get("name")) for proxy in desired}
    result = []
    for proxy in live_proxies:
        meta = _meta(proxy)
        labels = meta.get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) != MANAGED_BY:
            continue
        if namespace is not None and meta.get("namespace") != namespace:
            continue
        if covered is not None and labels.get(CLUSTER_LABEL) not in covered:
            continue
        if (meta.get("namespace"), meta.get("name")) not in wanted:
            result.append(proxy)
    return sorted(result, key=lambda proxy: (_meta(proxy).get("namespace") or "", _meta(proxy).get("name") or ""))
