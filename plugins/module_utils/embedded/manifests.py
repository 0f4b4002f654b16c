# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Objects the embedded management cluster installs: CRDs, webhook configurations, inventory.

Pure functions: module directories (the Go module cache copies of cluster-api, its test module
and cluster-api-provider-openstack), ports and the webhook CA in, lists of dicts out.

Everything ``kustomize build config/default`` would add to the raw ``config/`` files is derived
from the module's own kustomization files, not hard-coded:

* the provider label (``cluster.x-k8s.io/provider``), namespace and name prefix come from
  ``config/default/kustomization.yaml`` (``labels``/``commonLabels``, ``namespace``,
  ``namePrefix``) and are cross-checked against :data:`PROVIDERS`;
* the contract labels come from ``config/crd/kustomization.yaml`` (``labels[].pairs``);
* the CRDs listed in ``resources`` of that file are installed; those named by a ``patches`` entry
  that adds ``spec.conversion`` get a conversion webhook by URL on the owning manager's port --
  if the CRD serves more than one version and a manager of that provider runs here. A CRD
  that serves several versions without a running webhook is installed without conversion
  and reported in ``warnings``.
* webhook configurations from ``config/webhook/manifests.yaml`` get the kustomize name prefix and
  every ``clientConfig.service`` is replaced by ``url: https://127.0.0.1:<port><path>`` plus
  ``caBundle``.

The clusterctl inventory (``Provider`` objects) is written in the shape ``clusterctl init``
writes it (see cluster-api ``cmd/clusterctl/client/repository/components.go``
``InventoryObject``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import hashlib
import json
import os
import re

from ansible_collections.scs.kaas.plugins.module_utils.embedded import registry as _registry
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.providers import catalog as _catalog

try:
    import yaml
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
    # The CRDs are several MB of YAML: the libyaml loader parses them ~10x faster.
    _Loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
except ImportError as exc:  # pragma: no cover
    HAS_YAML = False
    YAML_IMPORT_ERROR = exc
    _Loader = None

PROVIDER_LABEL = "cluster.x-k8s.io/provider"
CLUSTERCTL_LABEL = "clusterctl.cluster.x-k8s.io"
CLUSTERCTL_CORE_LABEL = "clusterctl.cluster.x-k8s.io/core"
CLUSTERCTL_CORE_INVENTORY = "inventory"
CLUSTERCTL_API_VERSION = "clusterctl.cluster.x-k8s.io/v1alpha3"


def embedded_providers(components=None):
    """The providers the embedded cluster installs when ``components`` (default: those that run
    with no optional provider switched on) run, from the catalog (``providers/catalog.py``) and the registry (which manager serves which
    catalog key): ``key`` (catalog key), ``module`` (name in ``module_dirs``), ``source``
    (provider directory inside it), ``label``, ``prefix``, ``namespace``, ``provider_name``,
    ``type`` and ``manager`` (the component serving the provider; None: its controller does not
    run here, so CRDs only, no webhooks and no inventory entry). A catalog entry without a
    clusterctl type (ORC) has no provider label and no inventory entry."""
    out = []
    for key, manager, _wrapper in _registry.embedded_providers(components):
        entry = _catalog.provider(key)
        out.append({
            "key": key, "module": entry["module_dir"], "source": _catalog.source_dir(entry),
            "label": _catalog.label(entry) if entry["type"] else None,
            "prefix": entry["name_prefix"], "namespace": entry["namespace"],
            "manager": manager, "provider_name": entry["name"], "type": entry["type"],
        })
        if entry.get("upstream_label"):
            out[-1]["upstream_label"] = entry["upstream_label"]
    return tuple(out)


# As the catalog and the registry are at import time; the functions below read them at call time.
PROVIDERS = embedded_providers()

CLUSTERCTL_CRD = "cmd/clusterctl/config/manifest/clusterctl-api.yaml"


class ManifestError(KaasError):
    pass


def _require_yaml():
    if not HAS_YAML:
        raise ManifestError("the python 'PyYAML' package is required: %s" % YAML_IMPORT_ERROR)


_PARSE_CACHE = {"dir": None}


def set_parse_cache(directory):
    """Keep parsed YAML files as JSON in ``directory`` (None: no cache).

    The module cache's files never change for a version, and JSON loads far faster than the
    several MB of CRD YAML; the cache key still includes path, size and modification time.
    """
    _PARSE_CACHE["dir"] = directory


def _load_all(path):
    _require_yaml()
    cache_file = None
    if _PARSE_CACHE["dir"]:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise ManifestError("cannot read %s: %s" % (path, exc))
        key = hashlib.sha256(("%s\0%d\0%d" % (os.path.abspath(path), st.st_size, st.st_mtime_ns)).encode("utf-8"))
        cache_file = os.path.join(_PARSE_CACHE["dir"], key.hexdigest()[:32] + ".json")
        try:
            with open(cache_file, "r") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            pass
    try:
        with open(path, "r") as handle:
            docs = [d for d in yaml.load_all(handle, Loader=_Loader) if d]
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError("cannot read %s: %s" % (path, exc))
    if cache_file:
        try:
            if not os.path.isdir(_PARSE_CACHE["dir"]):
                os.makedirs(_PARSE_CACHE["dir"], 0o700)
            tmp = cache_file + ".tmp%d" % os.getpid()
            with open(tmp, "w") as handle:
                json.dump(docs, handle)
            os.replace(tmp, cache_file)
        except (OSError, TypeError, ValueError):
            pass  # a cache only
    return docs


def _load_one(path):
    docs = _load_all(path)
    if len(docs) != 1:
        raise ManifestError("%s: expected one YAML document, found %d" % (path, len(docs)))
    return docs[0]


def module_version(module_dir):
    """``v1.14.2`` from a module cache directory such as ``.../cluster-api@v1.14.2``."""
    match = re.search(r"@(v[0-9][^/]*)$", os.path.normpath(module_dir))
    if not match:
        raise ManifestError("cannot read a module version from directory name %s" % module_dir)
    return match.group(1)


def provider_dir(provider, module_dirs):
    base = module_dirs.get(provider["module"])
    if not base:
        raise ManifestError("module_dirs lacks %r (needed for provider %s)" % (provider["module"], provider["key"]))
    candidate = os.path.normpath(os.path.join(base, provider["source"]))
    if os.path.isfile(os.path.join(candidate, "config", "crd", "kustomization.yaml")):
        return candidate
    raise ManifestError("no config/crd/kustomization.yaml for provider %s under %s (the catalog's source %s)"
                        % (provider["key"], base, provider["source"]))


def _kustomize_labels(kustomization):
    labels = {}
    labels.update(kustomization.get("commonLabels") or {})
    for entry in kustomization.get("labels") or []:
        labels.update(entry.get("pairs") or {})
    return dict((str(k), str(v)) for k, v in labels.items())


def provider_defaults(provider, pdir):
    """Namespace, name prefix and provider label from ``config/default/kustomization.yaml``."""
    path = os.path.join(pdir, "config", "default", "kustomization.yaml")
    kust = _load_one(path)
    labels = _kustomize_labels(kust)
    found = {
        "namespace": kust.get("namespace"),
        "prefix": kust.get("namePrefix"),
        "label": labels.get(PROVIDER_LABEL),
    }
    # clusterctl replaces the kustomization's provider label with its own (CAAPH's says "helm", its
    # clusterctl label is "addon-helm"); the catalog's ``upstream_label`` names such a label.
    expected = dict(provider, label=provider.get("upstream_label") or provider["label"])
    for key, value in found.items():
        if value != expected[key]:
            raise ManifestError(
                "%s: %s is %r, expected %r for provider %s"
                % (path, key, value, expected[key], provider["key"])
            )
    return found


def _crd_plan(pdir):
    """(crd files, contract labels, names of CRDs the kustomization patches with conversion)."""
    crd_dir = os.path.join(pdir, "config", "crd")
    kust = _load_one(os.path.join(crd_dir, "kustomization.yaml"))
    files = [os.path.join(crd_dir, r) for r in kust.get("resources") or []]
    contract = _kustomize_labels(kust)
    conversion = set()
    patch_paths = []
    for entry in kust.get("patches") or []:
        if isinstance(entry, dict) and entry.get("path"):
            patch_paths.append(entry["path"])
    patch_paths.extend(kust.get("patchesStrategicMerge") or [])
    for rel in patch_paths:
        for doc in _load_all(os.path.join(crd_dir, rel)):
            if doc.get("kind") == "CustomResourceDefinition" and ((doc.get("spec") or {}).get("conversion") or {}).get("strategy") == "Webhook":
                conversion.add(doc["metadata"]["name"])
    return files, contract, conversion


def webhook_url(port, path):
    return "https://127.0.0.1:%d%s" % (int(port), path)


def ca_bundle(ca_pem):
    if isinstance(ca_pem, str):
        ca_pem = ca_pem.encode("ascii")
    return base64.b64encode(ca_pem).decode("ascii")


def crds(module_dirs, webhook_ports, webhook_ca_pem, components=None):
    """All CRDs to install when ``components`` run, ready to apply, plus warnings.

    ``webhook_ports`` maps manager component name -> webhook port.
    """
    bundle = ca_bundle(webhook_ca_pem)
    out = []
    warnings = []
    for provider in embedded_providers(components):
        pdir = provider_dir(provider, module_dirs)
        provider_defaults(provider, pdir)
        files, contract, conversion = _crd_plan(pdir)
        manager = provider["manager"]
        for path in files:
            for crd in _load_all(path):
                if crd.get("kind") != "CustomResourceDefinition":
                    continue
                crd = copy.deepcopy(crd)
                crd.pop("status", None)
                meta = crd.setdefault("metadata", {})
                meta.pop("creationTimestamp", None)
                labels = meta.setdefault("labels", {})
                labels.update(contract)
                if provider["label"]:
                    labels[PROVIDER_LABEL] = provider["label"]
                if manager and provider["type"]:
                    # clusterctl init labels every component of a provider it installs.
                    labels[CLUSTERCTL_LABEL] = ""
                served = [v["name"] for v in crd["spec"].get("versions", []) if v.get("served")]
                name = meta["name"]
                if name in conversion and len(served) > 1:
                    if manager and manager in webhook_ports:
                        crd["spec"]["conversion"] = {
                            "strategy": "Webhook",
                            "webhook": {
                                "conversionReviewVersions": ["v1"],
                                "clientConfig": {
                                    "url": webhook_url(webhook_ports[manager], "/convert"),
                                    "caBundle": bundle,
                                },
                            },
                        }
                    else:
                        warnings.append(
                            "CRD %s serves %s but no %s controller runs in the embedded cluster: "
                            "installed without a conversion webhook" % (name, ", ".join(served), provider["key"])
                        )
                out.append(crd)
    return out, warnings


def clusterctl_crd(module_dirs):
    path = os.path.join(module_dirs["cluster-api"], CLUSTERCTL_CRD)
    crd = copy.deepcopy(_load_one(path))
    meta = crd.setdefault("metadata", {})
    meta.pop("creationTimestamp", None)
    crd.pop("status", None)
    # clusterctl's inventoryClient.createObj adds this label to the inventory CRD.
    meta.setdefault("labels", {})[CLUSTERCTL_CORE_LABEL] = CLUSTERCTL_CORE_INVENTORY
    return crd


def webhook_configurations(module_dirs, webhook_ports, webhook_ca_pem, components=None):
    """Mutating/validating webhook configurations of every provider whose manager runs here (a
    provider without ``config/webhook/manifests.yaml``, such as ORC, has none)."""
    bundle = ca_bundle(webhook_ca_pem)
    out = []
    for provider in embedded_providers(components):
        manager = provider["manager"]
        if not manager:
            continue
        pdir = provider_dir(provider, module_dirs)
        path = os.path.join(pdir, "config", "webhook", "manifests.yaml")
        if not os.path.exists(path):
            continue
        if manager not in webhook_ports:
            raise ManifestError("no webhook port for %s, whose provider has webhooks in %s" % (manager, path))
        for doc in _load_all(path):
            if doc.get("kind") not in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
                continue
            doc = copy.deepcopy(doc)
            meta = doc.setdefault("metadata", {})
            meta["name"] = provider["prefix"] + meta["name"]
            meta.setdefault("labels", {}).update({PROVIDER_LABEL: provider["label"], CLUSTERCTL_LABEL: ""})
            for hook in doc.get("webhooks") or []:
                client = hook.get("clientConfig") or {}
                service = client.pop("service", None)
                if service is not None:
                    client["url"] = webhook_url(webhook_ports[manager], service.get("path") or "/")
                client["caBundle"] = bundle
                hook["clientConfig"] = client
            out.append(doc)
    return out


def namespaces(components=None):
    out = []
    for provider in embedded_providers(components):
        if not provider["manager"]:
            continue
        labels = {CLUSTERCTL_LABEL: "", PROVIDER_LABEL: provider["label"]} if provider["label"] else {}
        out.append({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": provider["namespace"], "labels": labels},
        })
    return out


def inventory(module_dirs, components=None):
    """clusterctl ``Provider`` objects for the clusterctl providers whose controllers run here."""
    out = []
    for provider in embedded_providers(components):
        if not provider["manager"] or not provider["type"]:
            continue
        version = module_version(module_dirs[provider["module"]])
        out.append({
            "apiVersion": CLUSTERCTL_API_VERSION,
            "kind": "Provider",
            "metadata": {
                "name": provider["label"],
                "namespace": provider["namespace"],
                "labels": {
                    CLUSTERCTL_LABEL: "",
                    PROVIDER_LABEL: provider["label"],
                    CLUSTERCTL_CORE_LABEL: CLUSTERCTL_CORE_INVENTORY,
                },
            },
            "providerName": provider["provider_name"],
            "type": provider["type"],
            "version": version,
        })
    return out


def audit_policy():
    """kube-apiserver audit policy, Metadata level: every mutating request, and every read and watch
    except the controllers' lease renewals and the health probes, so a client's requests of every
    kind can be counted (a request budget needs the reads too)."""
    return {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "Metadata", "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
            # leader election reads its lease every few seconds per controller: noise, not work
            {"level": "None", "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]}]},
            {"level": "None", "nonResourceURLs": ["/healthz*", "/readyz*", "/livez*", "/metrics"]},
            {"level": "Metadata", "verbs": ["get", "list", "watch"]},
            {"level": "None"},
        ],
    }


def dump_yaml(obj):
    _require_yaml()
    return yaml.safe_dump(obj, default_flow_style=False, sort_keys=True)
