# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Build a local clusterctl provider repository from the pinned Go modules' own ``config/``.

Layout written under ``dest`` (what clusterctl's local repository reader expects,
``{basepath}/{provider-label}/{version}/{components file}``)::

    <dest>/cluster-api/v1.14.2/core-components.yaml + metadata.yaml
    <dest>/bootstrap-kubeadm/v1.14.2/bootstrap-components.yaml + metadata.yaml
    <dest>/control-plane-kubeadm/v1.14.2/control-plane-components.yaml + metadata.yaml
    <dest>/infrastructure-openstack/v0.14.7/infrastructure-components.yaml + metadata.yaml
    <dest>/addon-helm/v0.5.3/addon-components.yaml + metadata.yaml
    <dest>/orc/v2.4.0/install.yaml                    (applied by us, not by clusterctl)
    <dest>/cert-manager/v1.21.1/cert-manager.yaml     (only when a verified manifest is given)
    <dest>/clusterctl.yaml     providers with file:// URLs, cert-manager URL, image overrides,
                               the variables carrying our controller flags
    <dest>/images.txt          every image to mirror: "<source> <mirror target>" per line
    <dest>/repository.json     what was built from what (module h1 hashes; sha256 of the files
                               built HERE, labelled as such - never upstream checksums)

Components are rendered like the upstream release targets do: ``kustomize build`` of the
provider's ``config/default`` with the released image name at the pinned tag and the release's
pull policy. ``kustomize`` is a ``kustomize`` binary or ``kubectl kustomize``.

Commands (go, kustomize) run through ``runner`` (``module_utils/command.py``), the first argument of
``gomodcache``, ``module_dir``, ``render`` and ``build``.

Public API: ``module_dir(runner, module, version, gomodcache=None, download=True)``,
``build(runner, dest, keys=None, gomodcache=None, kustomize=None, mirror=None, cert_manager_manifest=None,
verify_modules=True, download=True, log=None) -> dict``, ``images_in(documents) -> list``,
``mirror_image(image, mirror) -> str``, ``clusterctl_config(dest, entries, mirror, cert_manager) -> dict``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import shutil
import tempfile

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - reported by the module with missing_required_lib
    HAS_YAML = False

from ansible_collections.scs.kaas.plugins.module_utils import artifacts
from ansible_collections.scs.kaas.plugins.module_utils.command import CommandError
from ansible_collections.scs.kaas.plugins.module_utils.providers import catalog
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError


class RepositoryError(KaasError, RuntimeError):
    """The repository cannot be built (missing module, kustomize failure, bad input)."""


def _escape_module(path):
    # Go module cache escaping: upper case letters become "!" + lower case.
    return "".join("!" + c.lower() if c.isupper() else c for c in path)


def gomodcache(runner):
    env = os.environ.get("GOMODCACHE")
    if env:
        return env
    try:
        result = runner.run(["go", "env", "GOMODCACHE"], timeout=60)
        if result.rc == 0 and result.stdout.strip():
            return result.stdout.strip()
    except CommandError:
        pass
    gopath = os.environ.get("GOPATH") or os.path.join(os.path.expanduser("~"), "go")
    return os.path.join(gopath.split(os.pathsep)[0], "pkg", "mod")


def module_dir(runner, module, version, cache=None, download=True):
    """Directory of ``module@version`` in the Go module cache; downloads it if allowed."""
    cache = cache or gomodcache(runner)
    path = os.path.join(cache, _escape_module(module) + "@" + version)
    if os.path.isdir(path):
        return path
    if not download:
        raise RepositoryError("Go module %s@%s is not in the module cache %s (download disabled)"
                              % (module, version, cache))
    env = dict(GOFLAGS="-mod=mod", GOTOOLCHAIN="local", GOMODCACHE=cache)
    try:
        proc = runner.run(["go", "mod", "download", "-json", "%s@%s" % (module, version)],
                          env=env, timeout=900, cwd=tempfile.gettempdir())
    except CommandError as err:
        raise RepositoryError("cannot run the Go tool to download %s@%s: %s" % (module, version, err))
    try:
        info = json.loads(proc.stdout or "{}")
    except ValueError:
        info = {}
    if proc.rc != 0 or info.get("Error") or not info.get("Dir"):
        raise RepositoryError("go mod download %s@%s failed: %s" % (
            module, version, info.get("Error") or proc.stderr.strip() or proc.stdout.strip()))
    return info["Dir"]


def kustomize_command(kustomize=None):
    """The kustomize command as a list: the given one, ``kustomize`` on PATH, else kubectl's."""
    if kustomize:
        return list(kustomize) if isinstance(kustomize, (list, tuple)) else kustomize.split()
    for name in ("kustomize",):
        found = shutil.which(name)
        if found:
            return [found, "build"]
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    raise RepositoryError("neither kustomize nor kubectl is on PATH; give the kustomize command "
                          "explicitly (e.g. ['/usr/local/bin/kustomize', 'build'])")


def render(runner, entry, mod_dir, kustomize_cmd):
    """Render one provider's components text from its module directory."""
    source = os.path.join(mod_dir, entry["kustomize_dir"])
    if not os.path.isfile(os.path.join(source, "kustomization.yaml")):
        raise RepositoryError("%s: %s has no kustomization.yaml" % (entry["key"], source))
    work = tempfile.mkdtemp(prefix="scs-kaas-kustomize-")
    try:
        kust = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [os.path.relpath(source, work)],
            "images": [{"name": placeholder, "newName": released, "newTag": entry["version"]}
                       for placeholder, released in sorted(entry["images"].items())],
        }
        if entry.get("pull_policy"):
            kust["patches"] = [{
                "target": {"kind": "Deployment"},
                "patch": json.dumps([{"op": "add",
                                      "path": "/spec/template/spec/containers/0/imagePullPolicy",
                                      "value": entry["pull_policy"]}]),
            }]
        with open(os.path.join(work, "kustomization.yaml"), "w") as handle:
            yaml.safe_dump(kust, handle, sort_keys=False)
        proc = runner.run(list(kustomize_cmd) + [work], timeout=300)
        if proc.rc != 0:
            raise RepositoryError("%s: %s failed: %s" % (entry["key"], " ".join(kustomize_cmd),
                                                         proc.stderr.strip()[-2000:]))
        return proc.stdout
    finally:
        shutil.rmtree(work, ignore_errors=True)


def images_in(documents):
    """Every container image referenced by the workloads in ``documents`` (sorted, unique)."""
    found = set()

    def pod_spec(doc):
        kind = doc.get("kind")
        spec = doc.get("spec") or {}
        if kind == "Pod":
            return spec
        if kind == "CronJob":
            return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
        return (spec.get("template") or {}).get("spec")

    for doc in documents:
        if not isinstance(doc, dict):
            continue
        spec = pod_spec(doc)
        if not isinstance(spec, dict):
            continue
        for field in ("initContainers", "containers", "ephemeralContainers"):
            for container in spec.get(field) or []:
                if container.get("image"):
                    found.add(container["image"])
    return sorted(found)


def mirror_image(image, mirror):
    """Where clusterctl's ``images: {all: {repository: <mirror>}}`` override puts ``image``.

    clusterctl replaces the repository (everything before the last path element) and keeps name
    and tag: ``registry.k8s.io/cluster-api/cluster-api-controller:v1.14.2`` with mirror
    ``mirror.example/capi`` becomes ``mirror.example/capi/cluster-api-controller:v1.14.2``.
    """
    if not mirror:
        return image
    last = image.rsplit("/", 1)[-1]
    return "%s/%s" % (mirror.rstrip("/"), last)


def _sha256_text(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_if_changed(path, text, mode=0o644, dry_run=False):
    if os.path.isfile(path):
        with open(path, "r") as handle:
            if handle.read() == text:
                return False
    if dry_run:
        return True
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def file_url(path):
    return "file://" + os.path.abspath(path)


def clusterctl_config(dest, entries, mirror=None, cert_manager=None, variables=None):
    """The clusterctl configuration (as a dict) that reads only the local repository."""
    config = {
        "providers": [{
            "name": e["name"],
            "type": e["type"],
            "url": file_url(os.path.join(dest, catalog.label(e), e["version"], e["components"])),
        } for e in entries if e["type"]],
    }
    if cert_manager:
        config["cert-manager"] = {"url": file_url(cert_manager["path"]), "version": cert_manager["version"]}
    if mirror:
        config["images"] = {"all": {"repository": mirror.rstrip("/")}}
    config.update(variables if variables is not None else catalog.CLUSTERCTL_VARIABLES)
    return config


def build(runner, dest, keys=None, cache=None, kustomize=None, mirror=None, cert_manager_manifest=None,
          cert_manager_sha256=None, allow_unverified=False, verify_modules=True, download=True,
          log=None, dry_run=False):
    """Build (or refresh) the local provider repository under ``dest``. Idempotent.

    ``dry_run``: render and compare, write nothing (``changed`` then means "would change").
    Returns ``{"changed": bool, "dest", "clusterctl_config", "providers": [...], "images": [...],
    "mirror_list": [(source, target)], "files": {path: sha256}}``.
    """
    if not HAS_YAML:
        raise RepositoryError("PyYAML is required to build the provider repository")
    log = log or (lambda msg: None)
    keys = list(keys if keys is not None else catalog.DEFAULT_KEYS)
    unknown = [k for k in keys if k not in catalog.PROVIDERS]
    if unknown:
        raise RepositoryError("unknown provider keys %s; valid: %s"
                              % (", ".join(unknown), ", ".join(sorted(catalog.PROVIDERS))))
    if mirror is not None and (not mirror or " " in mirror or "://" in mirror):
        raise RepositoryError("mirror %r must be a registry repository like registry.example.com/capi "
                              "(no scheme, no blanks)" % (mirror,))
    dest = os.path.abspath(dest)
    kustomize_cmd = kustomize_command(kustomize)
    changed = False
    entries = [catalog.provider(k) for k in keys]
    all_images = []
    files = {}
    built = []
    module_sums = {}
    for entry in entries:
        mod = module_dir(runner, entry["module"], entry["version"], cache, download)
        key = "%s@%s" % (entry["module"], entry["version"])
        if verify_modules and key not in module_sums:
            module_sums[key] = artifacts.verify_go_module(mod, entry["module"], entry["version"])
            log("verified %s %s" % (key, module_sums[key]))
        text = render(runner, entry, mod, kustomize_cmd)
        docs = [d for d in yaml.safe_load_all(text) if d]
        images = images_in(docs)
        expected = sorted("%s:%s" % (img, entry["version"]) for img in entry["images"].values())
        missing = [img for img in expected if img not in images]
        if missing:
            raise RepositoryError("%s: rendered components lack the pinned image(s) %s (found %s)"
                                  % (entry["key"], ", ".join(missing), ", ".join(images)))
        subdir = catalog.label(entry) if entry["type"] else entry["key"]
        out_dir = os.path.join(dest, subdir, entry["version"])
        comp_path = os.path.join(out_dir, entry["components"])
        changed |= _write_if_changed(comp_path, text, dry_run=dry_run)
        files[comp_path] = _sha256_text(text)
        meta_src = os.path.join(mod, "metadata.yaml")
        if entry["type"]:
            if not os.path.isfile(meta_src):
                raise RepositoryError("%s: %s has no metadata.yaml" % (entry["key"], mod))
            with open(meta_src) as handle:
                meta = handle.read()
            meta_path = os.path.join(out_dir, "metadata.yaml")
            changed |= _write_if_changed(meta_path, meta, dry_run=dry_run)
            files[meta_path] = _sha256_text(meta)
        all_images.extend(images)
        built.append({"key": entry["key"], "name": entry["name"], "type": entry["type"],
                      "label": subdir, "version": entry["version"], "namespace": entry["namespace"],
                      "components": comp_path, "images": images, "module": key, "module_dir": mod})
        log("rendered %s %s (%d objects)" % (entry["key"], entry["version"], len(docs)))

    cert_manager = None
    cm_version = catalog.CERT_MANAGER["version"]
    if cert_manager_manifest:
        expect = artifacts.expected_sha256(
            "cert-manager", cm_version, "all", "cert-manager.yaml",
            overrides=({artifacts.override_key("cert-manager", cm_version, "all", "cert-manager.yaml"):
                        cert_manager_sha256} if cert_manager_sha256 else None),
            allow_unverified=allow_unverified, var_name="cert_manager_manifest")
        artifacts.verify_file(cert_manager_manifest, expect, "cert_manager_manifest")
        with open(cert_manager_manifest) as handle:
            cm_text = handle.read()
        cm_path = os.path.join(dest, "cert-manager", cm_version, "cert-manager.yaml")
        changed |= _write_if_changed(cm_path, cm_text, dry_run=dry_run)
        files[cm_path] = _sha256_text(cm_text)
        cert_manager = {"path": cm_path, "version": cm_version}
        all_images.extend(images_in([d for d in yaml.safe_load_all(cm_text) if d]))
    else:
        all_images.extend("%s:%s" % (img, cm_version) for img in catalog.CERT_MANAGER["images"])

    config = clusterctl_config(dest, entries, mirror, cert_manager)
    config_text = yaml.safe_dump(config, sort_keys=False)
    config_path = os.path.join(dest, "clusterctl.yaml")
    changed |= _write_if_changed(config_path, config_text, dry_run=dry_run)

    images = sorted(set(all_images))
    mirror_list = [(img, mirror_image(img, mirror)) for img in images]
    images_text = "".join("%s %s\n" % pair for pair in mirror_list)
    changed |= _write_if_changed(os.path.join(dest, "images.txt"), images_text, dry_run=dry_run)

    manifest = {
        "providers": [{k: v for k, v in b.items() if k != "module_dir"} for b in built],
        "go_modules": {k: {"h1": v, "source": artifacts.GO_MODULES[k]["source"]}
                       for k, v in sorted(module_sums.items())},
        "cert_manager": cert_manager,
        "kustomize": " ".join(os.path.basename(c) for c in kustomize_cmd),
        "built_here_sha256": {os.path.relpath(p, dest): s for p, s in sorted(files.items())},
        "note": "sha256 values under built_here_sha256 are of files rendered by scs.kaas on this "
                "machine, not upstream release checksums",
    }
    changed |= _write_if_changed(os.path.join(dest, "repository.json"),
                                 json.dumps(manifest, indent=2, sort_keys=True) + "\n", dry_run=dry_run)
    return {
        "changed": changed,
        "dest": dest,
        "clusterctl_config": config_path,
        "providers": built,
        "images": images,
        "mirror_list": mirror_list,
        "cert_manager": cert_manager,
        "files": files,
    }
