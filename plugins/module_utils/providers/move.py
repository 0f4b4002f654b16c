# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The ``clusterctl_move`` module: back up, restore or pivot Cluster API objects with clusterctl move.

Pure helpers (validation, reading clusterctl's per-object log lines and a backup directory) are
unit-tested without a cluster; :class:`ClusterctlMoveModule` runs them against real clusters.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import stat

from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule
from ansible_collections.scs.kaas.plugins.module_utils.providers import clusterctl

MODES = ("to_directory", "from_directory", "to_kubeconfig")
# Options that only mean something in some modes (an option given in another mode is an error).
MODE_OPTIONS = {
    "to_kubeconfig": ("to_kubeconfig",),
    "to_context": ("to_kubeconfig",),
    "directory": ("to_directory", "from_directory"),
    "dry_run": ("to_kubeconfig",),
}
REQUIRED_BY_MODE = {
    "to_directory": ("directory",),
    "from_directory": ("directory",),
    "to_kubeconfig": ("to_kubeconfig",),
}
# The roots clusterctl moves everything else with (its object graph hangs off these).
ROOT_KINDS = (("cluster.x-k8s.io", "Cluster"), ("cluster.x-k8s.io", "ClusterClass"))

ARGUMENT_SPEC = dict(
    mode=dict(type="str", required=True, choices=list(MODES)),
    # Paths of kubeconfigs name where credentials live; kept out of results and logs.
    kubeconfig=dict(type="path", no_log=True),
    context=dict(type="str"),
    to_kubeconfig=dict(type="path", no_log=True),
    to_context=dict(type="str"),
    directory=dict(type="path"),
    namespace=dict(type="str"),
    clusterctl=dict(type="path", required=True),
    config=dict(type="path"),
    dry_run=dict(type="bool", default=False),
    timeout=dict(type="int", default=900),
)

_LOGGED_OBJECT = re.compile(r'^(?:\[[^\]]*\] )?(Creating|Saving|Restoring) (\w+)="([^"]*)"(?: Namespace="([^"]*)")?')


class MoveError(KaasError):
    """Invalid input or a failed clusterctl move."""


def validate(params):
    """Every problem with the options, as messages naming the option, the value and what is valid."""
    mode = params["mode"]
    problems = []
    for option, modes in sorted(MODE_OPTIONS.items()):
        value = params.get(option)
        if value not in (None, False) and mode not in modes:
            problems.append("%s=%s has no meaning for mode=%s; it applies to mode %s"
                            % (option, _shown(option, value), mode, " or ".join(modes)))
    for option in REQUIRED_BY_MODE[mode]:
        if not params.get(option):
            problems.append("%s is required for mode=%s (is %s)" % (option, mode, json.dumps(params.get(option))))
    binary = params.get("clusterctl")
    if binary and not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        problems.append("clusterctl=%s is not an executable file" % binary)
    for option in ("kubeconfig", "to_kubeconfig", "config"):
        path = params.get(option)
        if path and not os.path.isfile(path):
            problems.append("%s=%s is not a file; give the path of an existing %s"
                            % (option, _shown(option, path), "clusterctl configuration" if option == "config" else "kubeconfig"))
    if params.get("timeout") is not None and not 1 <= params["timeout"] <= 86400:
        problems.append("timeout=%s is out of range; valid: 1 to 86400 seconds" % params["timeout"])
    directory = params.get("directory")
    if directory and mode == "from_directory":
        if not os.path.isdir(directory):
            problems.append("directory=%s is not a directory; give a backup written by mode=to_directory" % directory)
        elif not backup_files(directory):
            problems.append("directory=%s holds no clusterctl backup files (*.yaml)" % directory)
    if directory and mode == "to_directory" and os.path.lexists(directory):
        if not os.path.isdir(directory) or os.path.islink(directory):
            problems.append("directory=%s exists and is not a directory; give a new or empty directory" % directory)
        elif os.listdir(directory):
            problems.append("directory=%s is not empty; give a new or empty directory (a backup is never mixed with others)"
                            % directory)
        elif os.stat(directory).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            problems.append("directory=%s is accessible by group or others (mode %s); the backup holds the clusters' "
                            "Secrets: give a directory of mode 0700" % (directory, oct(os.stat(directory).st_mode & 0o777)))
    if mode == "to_kubeconfig" and params.get("kubeconfig") and params.get("to_kubeconfig"):
        same_file = os.path.realpath(params["kubeconfig"]) == os.path.realpath(params["to_kubeconfig"])
        if same_file and (params.get("context") or None) == (params.get("to_context") or None):
            problems.append("to_kubeconfig and to_context name the source cluster (kubeconfig, context=%s); "
                            "the target must be another cluster" % json.dumps(params.get("context")))
    return problems


def _shown(option, value):
    # Paths of kubeconfigs are not shown (they are no_log); everything else is.
    return "<given>" if option in ("kubeconfig", "to_kubeconfig") else json.dumps(value)


def logged_objects(output, verbs):
    """``Kind/namespace/name`` of the objects clusterctl logged (at ``-v 1``) with one of ``verbs``."""
    out = []
    for line in (output or "").splitlines():
        match = _LOGGED_OBJECT.match(line.strip())
        # "Creating Namespace=..." is clusterctl making a missing target namespace, not a moved object.
        if match and match.group(1) in verbs and match.group(2) != "Namespace":
            ref = object_ref(match.group(2), match.group(4) or "", match.group(3))
            if ref not in out:
                out.append(ref)
    return sorted(out)


def object_ref(kind, namespace, name):
    return "%s/%s/%s" % (kind, namespace, name) if namespace else "%s/%s" % (kind, name)


def backup_files(directory):
    # clusterctl names each file <Kind>_<namespace>_<name>.yaml
    return sorted(n for n in os.listdir(directory) if n.endswith(".yaml") and os.path.isfile(os.path.join(directory, n)))


def read_backup(directory):
    """``[(apiVersion, kind, namespace, name)]`` of every object in a clusterctl backup directory."""
    objects = []
    for name in backup_files(directory):
        path = os.path.join(directory, name)
        try:
            with open(path) as handle:
                obj = json.load(handle)  # clusterctl writes each object as JSON
            meta = obj["metadata"]
            objects.append((obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise MoveError("%s is not an object clusterctl move wrote: %s" % (path, exc))
    return sorted(objects)


def counts(refs):
    """Kind -> number of objects, from ``Kind/...`` references."""
    out = {}
    for ref in refs:
        kind = ref.split("/", 1)[0]
        out[kind] = out.get(kind, 0) + 1
    return out


class ClusterctlMoveModule(KaasModule):
    argument_spec = ARGUMENT_SPEC

    def run(self):
        problems = validate(self.params)
        if problems:
            raise MoveError("invalid options: " + "; ".join(problems))
        mode = self.params["mode"]
        ctl = self._clusterctl(self.params.get("kubeconfig"), self.params.get("context"))
        try:
            result = getattr(self, "_" + mode)(ctl)
        finally:
            ctl.close()
        result["counts"] = counts(result["objects"])
        result["mode"] = mode
        return result

    def _clusterctl(self, kubeconfig, context):
        try:
            return clusterctl.Clusterctl(self.runner, self.params["clusterctl"], self.params.get("config"), kubeconfig,
                                         context, timeout=self.params["timeout"])
        except clusterctl.ClusterctlError as exc:
            raise MoveError(str(exc))

    def _checked(self, call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        except clusterctl.ClusterctlError as exc:
            raise MoveError(str(exc))

    def _namespace(self):
        """The namespace clusterctl moves: the option, else the context's namespace, else default."""
        if self.params.get("namespace"):
            return self.params["namespace"]
        if self.client is None:  # the property fails cleanly when kubernetes or the kubeconfig is missing
            raise MoveError("no client for the source cluster")
        from kubernetes import config as k8s_config

        try:
            contexts, active = k8s_config.list_kube_config_contexts(config_file=self.params.get("kubeconfig"))
        except Exception as exc:  # pylint: disable=broad-except  # the loader raises several types
            raise MoveError("cannot read the contexts of the kubeconfig: %s" % type(exc).__name__)
        chosen = active
        for ctx in contexts or []:
            if ctx.get("name") == self.params.get("context"):
                chosen = ctx
        return ((chosen or {}).get("context") or {}).get("namespace") or "default"

    def _source_roots(self, namespace):
        """``Kind/namespace/name`` of the Clusters and ClusterClasses clusterctl would move."""
        refs = []
        for group, kind in ROOT_KINDS:
            resource = self.client.resource(group, kind)
            for item in self.client.list(resource, namespace).get("items") or []:
                refs.append(object_ref(kind, namespace, item["metadata"]["name"]))
        return sorted(refs)

    def _listed(self, ctl, namespace):
        """What a move of ``namespace`` would take, by clusterctl's own dry run (writes nothing)."""
        out = self._checked(ctl.move_to_kubeconfig, None, namespace=namespace, dry_run=True, verbosity=1)
        return logged_objects(out["stdout"] + "\n" + out["stderr"], ("Creating",))

    def _to_directory(self, ctl):
        directory = self.params["directory"]
        namespace = self._namespace()
        if not self._source_roots(namespace):
            # Nothing to back up: no empty backup directory is left behind.
            return {"changed": False, "objects": [], "namespace": namespace, "directory": directory}
        if self.module.check_mode:
            objects = self._listed(ctl, namespace)
            return {"changed": bool(objects), "objects": objects, "namespace": namespace, "directory": directory}
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        os.chmod(directory, 0o700)
        self._checked(ctl.move_to_directory, directory, namespace=namespace, verbosity=1)
        objects = sorted(object_ref(kind, ns, name) for _api, kind, ns, name in read_backup(directory))
        return {"changed": bool(objects), "objects": objects, "namespace": namespace, "directory": directory}

    def _from_directory(self, ctl):
        directory = self.params["directory"]
        missing = []
        for api_version, kind, namespace, name in read_backup(directory):
            resource = self.client.resource(api_version, kind)
            if self.client.get(resource, name, namespace if resource.namespaced else None) is None:
                missing.append(object_ref(kind, namespace, name))
        # clusterctl skips what exists; with nothing missing the restore would write nothing.
        if missing and not self.module.check_mode:
            self._checked(ctl.move_from_directory, directory, verbosity=1)
        return {"changed": bool(missing), "objects": sorted(missing), "directory": directory}

    def _to_kubeconfig(self, ctl):
        namespace = self._namespace()
        roots = self._source_roots(namespace)
        if not roots:
            # Nothing of Cluster API is left in the source: a move would have nothing to take.
            return {"changed": False, "objects": [], "namespace": namespace}
        dry_run = self.params["dry_run"] or self.module.check_mode
        out = self._checked(ctl.move_to_kubeconfig, self.params["to_kubeconfig"], self.params.get("to_context"),
                            namespace=namespace, dry_run=dry_run, verbosity=1)
        objects = logged_objects(out["stdout"] + "\n" + out["stderr"], ("Creating",))
        return {"changed": not self.params["dry_run"], "objects": objects, "namespace": namespace,
                "dry_run": dry_run}
