# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Shared logic of the modules ``capi_providers`` and ``capi_providers_info``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule
from ansible_collections.scs.kaas.plugins.module_utils.providers import (
    catalog, clusterctl, decision, live, repository)

PROVIDER_ARGS = dict(
    providers=dict(type="list", elements="str", default=list(catalog.DEFAULT_KEYS)),
    repository=dict(type="path"),
    clusterctl=dict(type="path"),
)


class ProvidersModuleBase(KaasModule):
    """Validation and the read-only part shared by both modules."""

    def validate_providers(self):
        keys = self.params["providers"]
        bad = [k for k in keys if k not in catalog.PROVIDERS]
        if bad:
            self.module.fail_json(msg="providers: unknown provider(s) %s; valid: %s"
                                  % (", ".join(bad), ", ".join(sorted(catalog.PROVIDERS))))
        if len(set(keys)) != len(keys):
            self.module.fail_json(msg="providers: %s lists a provider twice" % keys)
        return keys

    def desired(self, keys):
        return [catalog.provider(k) for k in keys]

    def read_decision(self, keys):
        objects = live.read_inventory(self.client)
        installed = decision.inventory_entries(objects)
        try:
            result = decision.decide(self.desired(keys), installed)
        except decision.DecisionError as err:
            self.module.fail_json(msg=to_native(err))
        return installed, result

    def clusterctl_client(self, workdir=None):
        config = None
        if self.params.get("repository"):
            config = os.path.join(self.params["repository"], "clusterctl.yaml")
        try:
            return clusterctl.Clusterctl(self.runner, self.params.get("clusterctl"), config, self.params.get("kubeconfig"),
                                         self.params.get("context"), workdir=workdir,
                                         timeout=self.params.get("timeout") or 900)
        except clusterctl.ClusterctlError as err:
            self.module.fail_json(msg="clusterctl: %s" % to_native(err))

    def upgrade_plan(self, result):
        ctl = self.clusterctl_client()
        try:
            out = ctl.upgrade_plan()
        except clusterctl.ClusterctlError as err:
            self.module.fail_json(msg=to_native(err), **result)
        finally:
            ctl.close()
        rows = decision.parse_upgrade_plan(out["stdout"])
        return out["stdout"], rows


class ProvidersModule(ProvidersModuleBase):
    argument_spec = dict(
        PROVIDER_ARGS,
        build_repository=dict(type="bool", default=True),
        mirror=dict(type="str"),
        cert_manager_manifest=dict(type="path"),
        cert_manager_sha256=dict(type="str", no_log=False),
        allow_unverified_artifacts=dict(type="bool", default=False),
        backup=dict(type="bool", default=True),
        backup_dir=dict(type="path"),
        wait_providers=dict(type="bool", default=True),
        manage_feature_gates=dict(type="bool", default=True),
        timeout=dict(type="int", default=900),
    )

    def run(self):
        p = self.params
        keys = self.validate_providers()
        result = {"changed": False, "commands": [], "versions": {k: catalog.PROVIDERS[k]["version"] for k in keys}}
        # Validate every input before anything is written.
        if p["mirror"] is not None and (not p["mirror"].strip() or "://" in p["mirror"] or " " in p["mirror"]):
            self.module.fail_json(msg="mirror: %r is not a registry repository like registry.example.com/capi"
                                  % p["mirror"])
        if p["cert_manager_sha256"] is not None and not (
                len(p["cert_manager_sha256"]) == 64 and all(c in "0123456789abcdef" for c in p["cert_manager_sha256"])):
            self.module.fail_json(msg="cert_manager_sha256: %r is not a sha256 (64 lowercase hex digits)"
                                  % p["cert_manager_sha256"])
        if p["timeout"] <= 0:
            self.module.fail_json(msg="timeout: %s must be positive" % p["timeout"])

        installed, plan = self.read_decision(keys)
        result.update(decision=plan, installed=installed)
        if plan["errors"]:
            self.module.fail_json(msg="; ".join(plan["errors"]), **result)
        extras = [k for k in keys if not catalog.PROVIDERS[k]["type"]]
        needs_repo = plan["changed"] or bool(extras)
        if needs_repo and not p["repository"]:
            self.module.fail_json(msg="repository: a local provider repository directory is required to "
                                  "install or upgrade providers (%s)" % ", ".join(
                                      d["label"] for d in plan["providers"] if d["action"] != decision.NONE)
                                  or "extras", **result)
        if plan["changed"] and not p["clusterctl"]:
            self.module.fail_json(msg="clusterctl: path of the clusterctl %s binary is required to install "
                                  "or upgrade providers" % pins.CLUSTER_API_VERSION, **result)
        if plan["upgrade"] and p["backup"] and not p["backup_dir"]:
            self.module.fail_json(msg="backup_dir: providers will be upgraded and backup=true, so a backup "
                                  "directory for 'clusterctl move --to-directory' is required", **result)

        # The repository (local files only).
        if p["repository"] and p["build_repository"]:
            try:
                repo = repository.build(
                    self.runner, p["repository"], keys=keys, mirror=p["mirror"],
                    cert_manager_manifest=p["cert_manager_manifest"],
                    cert_manager_sha256=p["cert_manager_sha256"],
                    allow_unverified=p["allow_unverified_artifacts"], dry_run=self.module.check_mode)
            except Exception as err:  # RepositoryError, ArtifactError, OSError
                self.module.fail_json(msg="building the provider repository failed: %s" % to_native(err), **result)
            result["repository"] = {"dest": repo["dest"], "changed": repo["changed"],
                                    "images": repo["images"], "mirror_list": repo["mirror_list"],
                                    "clusterctl_config": repo["clusterctl_config"]}
            result["changed"] |= repo["changed"]
        elif p["repository"] and needs_repo and not os.path.isfile(os.path.join(p["repository"], "clusterctl.yaml")):
            self.module.fail_json(msg="repository: %s has no clusterctl.yaml (build it with build_repository=true)"
                                  % p["repository"], **result)

        # Surface clusterctl's own plan before upgrading.
        if plan["upgrade"] and not (self.module.check_mode and result.get("repository", {}).get("changed")):
            text, rows = self.upgrade_plan(result)
            result.update(upgrade_plan=text, upgrade_plan_rows=rows,
                          plan_disagreements=decision.plan_disagreements(plan, rows))
            if result["plan_disagreements"]:
                self.module.fail_json(msg="clusterctl upgrade plan disagrees with the inventory decision: %s"
                                      % "; ".join(result["plan_disagreements"]), **result)

        if plan["changed"]:
            result["changed"] = True
            if not self.module.check_mode:
                self.act(plan, result)
        if extras:
            result["extras"] = self.apply_extras(extras, result)
            result["changed"] |= result["extras"]["changed"]
        if p["manage_feature_gates"]:
            findings = live.controller_gates(self.client, keys)
            patched = live.apply_gate_patches(self.client, findings, self.module.check_mode)
            result["feature_gates"] = findings
            result["patched_deployments"] = patched
            result["changed"] |= bool(patched)
        self.module.exit_json(**result)

    def act(self, plan, result):
        p = self.params
        ctl = self.clusterctl_client()
        try:
            if plan["upgrade"]:
                if p["backup"]:
                    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
                    target = os.path.join(p["backup_dir"], "before-upgrade-%s" % stamp)
                    os.makedirs(target, mode=0o700, exist_ok=False)
                    out = ctl.move_to_directory(target)
                    result["backup"] = target
                    result["commands"].append(" ".join(out["cmd"]))
                out = ctl.upgrade_apply(decision.clusterctl_upgrade_args(plan), wait=p["wait_providers"])
                result["commands"].append(" ".join(out["cmd"]))
                result["upgrade_output"] = out["stdout"]
            if plan["init"]:
                out = ctl.init(decision.clusterctl_init_args(plan), wait=p["wait_providers"])
                result["commands"].append(" ".join(out["cmd"]))
                result["init_output"] = out["stdout"]
        except clusterctl.ClusterctlError as err:
            result["commands"].append(" ".join(err.result.get("cmd", [])))
            self.module.fail_json(msg=to_native(err), **result)
        except OSError as err:
            self.module.fail_json(msg="backup_dir: %s" % to_native(err), **result)
        finally:
            ctl.close()

    def apply_extras(self, extras, result):
        import yaml  # PyYAML: a runtime requirement of the collection
        changed, objects = False, []
        for key in extras:
            entry = catalog.PROVIDERS[key]
            path = os.path.join(self.params["repository"], key, entry["version"], entry["components"])
            if not os.path.isfile(path):
                if self.module.check_mode:
                    changed = True
                    objects.append("%s (repository not built yet)" % key)
                    continue
                self.module.fail_json(msg="repository: %s is missing" % path, **result)
            with open(path) as handle:
                docs = [d for d in yaml.safe_load_all(handle) if d]
            if self.params["mirror"]:
                for doc in docs:
                    spec = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
                    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                        c["image"] = repository.mirror_image(c["image"], self.params["mirror"])
            out = live.apply_manifests(self.client, docs, self.module.check_mode)
            changed |= out["changed"]
            objects += ["%s: %s" % (key, o) for o in out["objects"]]
        return {"changed": changed, "objects": objects}


class ProvidersInfoModule(ProvidersModuleBase):
    argument_spec = dict(
        PROVIDER_ARGS,
        plan=dict(type="bool", default=False),
        preflight=dict(type="bool", default=False),
        reference_inventory=dict(type="list", elements="dict"),
        timeout=dict(type="int", default=300),
    )

    def run(self):
        p = self.params
        keys = self.validate_providers()
        result = {"changed": False}
        if p["plan"] and not (p["repository"] and p["clusterctl"]):
            self.module.fail_json(msg="plan=true needs repository (with clusterctl.yaml) and clusterctl")
        installed, plan = self.read_decision(keys)
        result.update(installed=installed, decision=plan)
        if p["preflight"]:
            version = live.check_version(live.server_version(self.client), pins.CAPI_MANAGEMENT_MINOR_RANGE)
            perms = live.check_permissions(self.client)
            gates = live.controller_gates(self.client, keys)
            denied = ["%s %s%s" % (x["verb"], (x["group"] + "/") if x["group"] else "", x["resource"])
                      for x in perms if not x["allowed"]]
            missing_gates = ["%s/%s: %s" % (g["namespace"], g["deployment"], ",".join(g["gates"]))
                             for g in gates if g["found"] and g["new_args"] is not None]
            result["preflight"] = {
                "version": version, "permissions": perms, "denied": denied,
                "feature_gates": gates, "missing_feature_gates": missing_gates,
                "ok": version["in_range"] and not denied and not missing_gates,
            }
        if p["reference_inventory"] is not None:
            try:
                result["not_as_new"] = decision.not_as_new(p["reference_inventory"], installed)
            except (KeyError, decision.DecisionError) as err:
                self.module.fail_json(msg="reference_inventory: %s (give the 'installed' list of another "
                                      "capi_providers_info result)" % to_native(err))
        if p["plan"] and plan["upgrade"]:
            text, rows = self.upgrade_plan(result)
            result.update(upgrade_plan=text, upgrade_plan_rows=rows,
                          plan_disagreements=decision.plan_disagreements(plan, rows))
        self.module.exit_json(**result)
