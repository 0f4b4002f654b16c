# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Build (or find in the cache) the binaries of the embedded management cluster.

Pure Python (standard library only); needs a Go toolchain on ``PATH`` or in ``/usr/local/go/bin``
(or ``$SCS_KAAS_GO``) only when something has to be built.

Each component is built from a small wrapper Go module under ``<source_dir>/go/<module>/``
(committed ``go.mod``/``go.sum``, a ``tool`` directive per upstream main):

==============================  =============  ==============================================
component                       wrapper module  package
==============================  =============  ==============================================
kube-apiserver                  kubernetes     k8s.io/kubernetes/cmd/kube-apiserver
kube-controller-manager         kubernetes     k8s.io/kubernetes/cmd/kube-controller-manager
etcd                            etcd           ./ (our own main over .../server/v3/embed)
capi-manager                    cluster-api    sigs.k8s.io/cluster-api/core
kubeadm-bootstrap-manager       cluster-api    sigs.k8s.io/cluster-api/bootstrap/kubeadm
kubeadm-control-plane-manager   cluster-api    sigs.k8s.io/cluster-api/controlplane/kubeadm
capd-manager                    cluster-api    sigs.k8s.io/cluster-api/test/infrastructure/docker
clusterctl                      cluster-api    sigs.k8s.io/cluster-api/cmd/clusterctl
kubectl                         kubectl        k8s.io/kubernetes/cmd/kubectl
==============================  =============  ==============================================

kubectl has a wrapper module of its own (same k8s.io/kubernetes version and version stamp as the
kubernetes wrapper): its extra dependencies would otherwise change the kubernetes wrapper's go.mod
and with it the cache keys of kube-apiserver and kube-controller-manager.

Binaries are cached in ``<cache_dir>/embedded/<component>/<version>-<key>/<component>``, where
``key`` hashes everything that determines the binary: the wrapper module's files, the package,
the linker flags (version stamps), the Go version/platform and the source edit step below.
A warm call only checks that the files exist and are executable. A build goes to a temporary
directory that is renamed into place, so an interrupted build never leaves a half binary.

Loopback only: the upstream mains give no flag for the webhook server's host, and the in-memory
backend of CAPD listens on fixed ports on all interfaces. ``EDITS`` lists small string
replacements applied to a build-time copy of the affected modules (kept in
``<cache_dir>/embedded/src/``); the wrapper module is copied to a temporary directory and pointed
at the edited copies with ``go mod edit -replace``. An edit whose expected upstream text is not
found fails the build.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import time

try:
    from ansible_collections.scs.kaas.plugins.module_utils import pins as _pins
except ImportError:  # loaded by path (build-binaries.py): take pins.py next to this package
    import importlib.util as _ilu

    _spec = _ilu.spec_from_file_location(
        "scs_kaas_pins", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pins.py"))
    _pins = _ilu.module_from_spec(_spec)
    _spec.loader.exec_module(_pins)

try:
    from ansible_collections.scs.kaas.plugins.module_utils.command import CommandError
except ImportError:  # loaded by path: the same file as local_command.py loads, so one CommandError
    import importlib.util as _ilu

    if "scs_kaas_command" not in sys.modules:
        _spec = _ilu.spec_from_file_location(
            "scs_kaas_command", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "command.py"))
        sys.modules["scs_kaas_command"] = _ilu.module_from_spec(_spec)
        _spec.loader.exec_module(sys.modules["scs_kaas_command"])
    CommandError = sys.modules["scs_kaas_command"].CommandError

# The development provider (CAPD) lives in the separate module sigs.k8s.io/cluster-api/test. Its
# v1.14.1 and v1.14.2 sources are not downloadable from the Go module proxy this project can reach
# (403), so CAPD's own code comes from test module v1.14.0, built against the pinned root module
# (CLUSTER_API_VERSION), which provides everything else including the version package.
CLUSTER_API_TEST_MODULE_VERSION = _pins.CLUSTER_API_TEST_VERSION

LOOPBACK = "127.0.0.1"

COMPONENT_NAMES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "capi-manager",
    "kubeadm-bootstrap-manager",
    "kubeadm-control-plane-manager",
    "capd-manager",
    "clusterctl",
    "kubectl",
)

# Wrapper modules: the upstream module whose version is stamped, how it is stamped, and the
# modules the edit step changes (keys of EDITS).
WRAPPERS = {
    "kubernetes": {
        "version": _pins.KUBERNETES_MANAGEMENT_VERSION,
        "stamp_module": "k8s.io/kubernetes",
        "stamp_packages": ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"),
        "edits": (),
    },
    "kubectl": {
        "version": _pins.KUBERNETES_MANAGEMENT_VERSION,
        "stamp_module": "k8s.io/kubernetes",
        "stamp_packages": ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"),
        "edits": (),
    },
    "etcd": {
        "version": _pins.ETCD_VERSION,
        "stamp_module": None,
        "stamp_packages": (),
        "edits": (),
    },
    "cluster-api": {
        "version": _pins.CLUSTER_API_VERSION,
        "stamp_module": "sigs.k8s.io/cluster-api",
        "stamp_packages": ("sigs.k8s.io/cluster-api/version",),
        "edits": ("sigs.k8s.io/controller-runtime", "sigs.k8s.io/cluster-api/test"),
    },
}

COMPONENTS = {
    "kube-apiserver": ("kubernetes", "k8s.io/kubernetes/cmd/kube-apiserver"),
    "kube-controller-manager": ("kubernetes", "k8s.io/kubernetes/cmd/kube-controller-manager"),
    "etcd": ("etcd", "."),
    "capi-manager": ("cluster-api", "sigs.k8s.io/cluster-api/core"),
    "kubeadm-bootstrap-manager": ("cluster-api", "sigs.k8s.io/cluster-api/bootstrap/kubeadm"),
    "kubeadm-control-plane-manager": ("cluster-api", "sigs.k8s.io/cluster-api/controlplane/kubeadm"),
    "capd-manager": ("cluster-api", "sigs.k8s.io/cluster-api/test/infrastructure/docker"),
    "clusterctl": ("cluster-api", "sigs.k8s.io/cluster-api/cmd/clusterctl"),
    "kubectl": ("kubectl", "k8s.io/kubernetes/cmd/kubectl"),
}

# Module cache directories handed to the runtime (CRDs and webhook manifests live in them),
# as (wrapper module, Go module).
MODULE_DIRS = {
    "cluster-api": ("cluster-api", "sigs.k8s.io/cluster-api"),
    "cluster-api-test": ("cluster-api", "sigs.k8s.io/cluster-api/test"),
    "cluster-api-provider-openstack": ("capo", "sigs.k8s.io/cluster-api-provider-openstack"),
}

# The edit step: per Go module, (file, expected upstream text, replacement, expected count).
# Changing anything here changes the cache key of every binary built with the module.
EDITS = {
    # controller-runtime's webhook server listens on net.JoinHostPort(Options.Host, Port); the
    # CAPI mains never set Host, so an empty Host (all interfaces) defaults to the loopback host
    # here. One edit in the library covers every manager (core, kubeadm bootstrap, kubeadm
    # control plane, CAPD) and any webhook server a future main adds, instead of one edit per
    # main that silently misses a new one. A main that sets Host explicitly still wins.
    "sigs.k8s.io/controller-runtime": (
        (
            "pkg/webhook/server.go",
            "func (o *Options) setDefaults() {\n",
            "func (o *Options) setDefaults() {\n"
            "\tif o.Host == \"\" {\n"
            "\t\to.Host = \"" + LOOPBACK + "\" // scs.kaas: loopback only\n"
            "\t}\n",
            1,
        ),
    ),
    # The in-memory backend's debug server (19000) and one listener per workload cluster
    # (20000 and up) are opened with net.Listen("tcp", ":<port>").
    "sigs.k8s.io/cluster-api/test": (
        (
            "infrastructure/inmemory/pkg/server/mux.go",
            'net.Listen("tcp", fmt.Sprintf(":%d", options.DebugPort))',
            'net.Listen("tcp", fmt.Sprintf("' + LOOPBACK + ':%d", options.DebugPort))',
            1,
        ),
        (
            "infrastructure/inmemory/pkg/server/mux.go",
            'net.Listen("tcp", fmt.Sprintf(":%d", wcl.Port()))',
            'net.Listen("tcp", fmt.Sprintf("' + LOOPBACK + ':%d", wcl.Port()))',
            2,
        ),
    ),
}


class BuildError(Exception):
    """Raised when a binary cannot be built or the edit step does not apply."""


def apply_edits(root, edits):
    """Apply ``edits`` ((file, old, new, count), ...) to the tree at ``root``.

    Every ``old`` text must occur exactly ``count`` times in its file, otherwise BuildError
    names the file, the text and how often it was found; nothing is written for a failing file.
    Returns the list of edited files (relative paths).
    """
    by_file = {}
    for rel, old, new, count in edits:
        by_file.setdefault(rel, []).append((old, new, count))
    changed = []
    for rel in sorted(by_file):
        path = os.path.join(root, rel)
        if not os.path.isfile(path):
            raise BuildError("edit step: %s not found in %s" % (rel, root))
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
        for old, new, count in by_file[rel]:
            found = text.count(old)
            if found != count:
                raise BuildError(
                    "edit step: expected %d occurrence(s) of %r in %s, found %d; the upstream "
                    "source changed, review EDITS in build.py" % (count, old, path, found))
            text = text.replace(old, new)
        mode = os.stat(path).st_mode
        os.chmod(path, mode | 0o200)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, mode)
        changed.append(rel)
    return changed


def edit_step_digest(modules):
    """Hash of the edit step for ``modules``: the edit function's source and their EDITS entries."""
    h = hashlib.sha256()
    h.update(inspect.getsource(apply_edits).encode("utf-8"))
    for module in sorted(modules):
        h.update(module.encode("utf-8"))
        h.update(repr(EDITS[module]).encode("utf-8"))
    return h.hexdigest()


def default_cache_dir():
    base = os.environ.get("SCS_KAAS_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "scs-kaas")
    return base


def find_go():
    explicit = os.environ.get("SCS_KAAS_GO")
    candidates = [explicit] if explicit else []
    found = shutil.which("go")
    if found:
        candidates.append(found)
    candidates.append("/usr/local/go/bin/go")
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise BuildError("no Go toolchain found: install Go >= %s (go on PATH, /usr/local/go/bin/go "
                     "or SCS_KAAS_GO)" % _pins.GO_MIN_VERSION)


def go_env():
    """Variables set (on top of the environment) for every go command."""
    env = {}
    env["GOFLAGS"] = "-mod=readonly"
    env["GOTOOLCHAIN"] = "local"
    env["GOWORK"] = "off"
    return env


def _run(runner, argv, cwd, env, what):
    return runner.run(argv, cwd=cwd, env=env).check(what).stdout


def _version_tuple(text):
    parts = text.lstrip("go").split(".")
    out = []
    for p in parts[:3]:
        digits = "".join(ch for ch in p if ch.isdigit())
        out.append(int(digits or 0))
    while len(out) < 3:
        out.append(0)
    return tuple(out)


def go_toolchain(go, runner):
    """GOVERSION, GOOS, GOARCH and CGO_ENABLED of the toolchain (part of every cache key)."""
    out = _run(runner, [go, "env", "-json", "GOVERSION", "GOOS", "GOARCH", "CGO_ENABLED"], None, go_env(), "go env")
    info = json.loads(out)
    if _version_tuple(info["GOVERSION"]) < _version_tuple(_pins.GO_MIN_VERSION):
        raise BuildError("Go %s is too old: the embedded components need Go >= %s"
                         % (info["GOVERSION"], _pins.GO_MIN_VERSION))
    return info


def wrapper_dir(source_dir, module):
    base = os.path.join(source_dir, "go") if os.path.isdir(os.path.join(source_dir, "go")) else source_dir
    path = os.path.join(base, module)
    if not os.path.isfile(os.path.join(path, "go.mod")):
        raise BuildError("wrapper module %r not found: %s has no go.mod (source_dir=%s)" % (module, path, source_dir))
    return path


def wrapper_files(path):
    """Files of a wrapper module that go into the cache key (go.mod, go.sum, *.go)."""
    names = sorted(n for n in os.listdir(path) if n in ("go.mod", "go.sum") or n.endswith(".go"))
    return [os.path.join(path, n) for n in names]


def parse_go_mod_requires(text):
    """``{module: version}`` of the require directives of a go.mod text."""
    requires = {}
    in_block = False
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if in_block:
            if line == ")":
                in_block = False
                continue
            fields = line.split()
        elif line.startswith("require ("):
            in_block = True
            continue
        elif line.startswith("require "):
            fields = line.split()[1:]
        else:
            continue
        if len(fields) >= 2:
            requires[fields[0]] = fields[1]
    return requires


def download_modules(runner, go, wdir, modules, env):
    """``go mod download -json`` for ``modules`` in the wrapper module; {module: info dict}."""
    out = _run(runner, [go, "mod", "download", "-json"] + list(modules), wdir, env, "go mod download")
    infos = {}
    decoder = json.JSONDecoder()
    pos = 0
    out = out.strip()
    while pos < len(out):
        obj, end = decoder.raw_decode(out, pos)
        if obj.get("Error"):
            raise BuildError("go mod download %s: %s" % (obj.get("Path"), obj["Error"]))
        infos[obj["Path"]] = obj
        pos = end
        while pos < len(out) and out[pos].isspace():
            pos += 1
    return infos


def _read_info(info):
    path = info.get("Info")
    if not path or not os.path.isfile(path):
        return {}
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f)


def ldflags_for(wrapper, stamp_info):
    """Linker flags: strip symbols, stamp the version packages of ``wrapper``.

    ``stamp_info`` is the module proxy's .info of the stamped module (Version, Time, Origin):
    the build date is the release time (so the flags, and the cache key, are reproducible) and
    gitCommit is the release commit when the proxy reports it.
    """
    spec = WRAPPERS[wrapper]
    flags = ["-s", "-w"]
    if not spec["stamp_module"]:
        return " ".join(flags)
    version = spec["version"]
    major, minor = version.lstrip("v").split(".")[:2]
    values = [
        ("gitVersion", version),
        ("gitMajor", major),
        ("gitMinor", minor),
        ("gitTreeState", "clean"),
        ("buildDate", stamp_info.get("Time", "1970-01-01T00:00:00Z")),
    ]
    commit = (stamp_info.get("Origin") or {}).get("Hash")
    if commit:
        values.append(("gitCommit", commit))
    for package in spec["stamp_packages"]:
        for name, value in values:
            flags.append("-X '%s.%s=%s'" % (package, name, value))
    return " ".join(flags)


def cache_key(files, package, ldflags, toolchain, edit_digest):
    """Hex key over every input that determines a binary."""
    h = hashlib.sha256()
    for path in files:
        h.update(os.path.basename(path).encode("utf-8") + b"\0")
        with open(path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    for part in (package, ldflags, json.dumps(toolchain, sort_keys=True), edit_digest, "-trimpath"):
        h.update(b"\0" + part.encode("utf-8"))
    return h.hexdigest()[:16]


def _is_executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _remove_stale_temp_dirs(parent, max_age=6 * 3600):
    """Remove temporary build directories an interrupted build left behind (older than max_age)."""
    now = time.time()
    for name in os.listdir(parent):
        path = os.path.join(parent, name)
        if name.startswith(".tmp-") and os.path.isdir(path) and now - os.stat(path).st_mtime > max_age:
            shutil.rmtree(path, ignore_errors=True)


def _escape(module):
    return module.replace("/", "_")


def patched_module(module, info, cache_dir, digest, log):
    """Edited copy of ``module`` (module cache dir in ``info``) under the cache; reused when present."""
    target = os.path.join(cache_dir, "embedded", "src", "%s@%s-%s" % (_escape(module), info["Version"], digest[:16]))
    if os.path.isfile(os.path.join(target, "go.mod")):
        return target
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    try:
        tree = os.path.join(tmp, "src")
        shutil.copytree(info["Dir"], tree, symlinks=True)
        os.chmod(tree, 0o755)
        for dirpath, dirnames, filenames in os.walk(tree):
            for name in dirnames:
                os.chmod(os.path.join(dirpath, name), 0o755)
        edited = apply_edits(tree, EDITS[module])
        os.rename(tree, target)
        log("edit step: %s@%s -> %s (%s)" % (module, info["Version"], target, ", ".join(edited)))
    except OSError:
        if not os.path.isfile(os.path.join(target, "go.mod")):
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _plan(runner, go, source_dir, cache_dir, components, toolchain, env, log, timings):
    """Per component: wrapper, package, binary path, key; plus module dirs."""
    plan = {}
    module_dirs = {}
    infos_by_wrapper = {}
    wrappers_needed = sorted({COMPONENTS[c][0] for c in components} | {w for w, _m in MODULE_DIRS.values()})
    for wrapper in wrappers_needed:
        wdir = wrapper_dir(source_dir, wrapper)
        with open(os.path.join(wdir, "go.mod"), "r", encoding="utf-8") as f:
            requires = parse_go_mod_requires(f.read())
        wanted = set(WRAPPERS.get(wrapper, {}).get("edits", ()))
        stamp = WRAPPERS.get(wrapper, {}).get("stamp_module")
        if stamp:
            wanted.add(stamp)
        wanted |= {m for w, m in MODULE_DIRS.values() if w == wrapper}
        missing = sorted(m for m in wanted if m not in requires)
        if missing:
            raise BuildError("wrapper module %s: go.mod does not require %s" % (wdir, ", ".join(missing)))
        start = time.time()
        infos_by_wrapper[wrapper] = download_modules(runner, go, wdir, sorted(wanted), env) if wanted else {}
        timings.setdefault("resolve", {})[wrapper] = round(time.time() - start, 2)
    for name, (wrapper, module) in MODULE_DIRS.items():
        module_dirs[name] = infos_by_wrapper[wrapper][module]["Dir"]
    for name in components:
        wrapper, package = COMPONENTS[name]
        spec = WRAPPERS[wrapper]
        wdir = wrapper_dir(source_dir, wrapper)
        infos = infos_by_wrapper[wrapper]
        stamp_info = _read_info(infos[spec["stamp_module"]]) if spec["stamp_module"] else {}
        ldflags = ldflags_for(wrapper, stamp_info)
        digest = edit_step_digest(spec["edits"])
        key = cache_key(wrapper_files(wdir), package, ldflags, toolchain, digest)
        out_dir = os.path.join(cache_dir, "embedded", name, "%s-%s" % (spec["version"], key))
        plan[name] = {
            "wrapper": wrapper,
            "wrapper_dir": wdir,
            "package": package,
            "ldflags": ldflags,
            "edit_digest": digest,
            "dir": out_dir,
            "binary": os.path.join(out_dir, name),
        }
    return plan, module_dirs, infos_by_wrapper


def _prepare_workdir(runner, go, wrapper, wdir, infos, cache_dir, env, log):
    """Temporary copy of the wrapper module pointed at the edited module copies."""
    work = tempfile.mkdtemp(prefix="scs-kaas-build-%s-" % wrapper)
    for path in wrapper_files(wdir):
        shutil.copy2(path, os.path.join(work, os.path.basename(path)))
    patched = {}
    edits = WRAPPERS[wrapper]["edits"]
    if edits:
        digest = edit_step_digest(edits)
        for module in edits:
            patched[module] = patched_module(module, infos[module], cache_dir, digest, log)
        args = ["-replace=%s=%s" % (m, d) for m, d in sorted(patched.items())]
        _run(runner, [go, "mod", "edit"] + args, work, env, "go mod edit")
    return work, patched


def _stderr_log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def ensure_binaries(source_dir, runner, cache_dir=None, components=None, log=_stderr_log, check_mode=False):
    """Make sure every requested component's binary is in the cache; build what is missing.

    ``runner`` (``module_utils/command.py``) runs the go commands. Returns ``{"binaries":
    {component: path}, "module_dirs": {name: dir}, "timings": {...},
    "built": [components built by this call], "patched_sources": {module: dir}}``. In check mode
    nothing is built; ``built`` lists what would be built and ``binaries`` still names the paths.
    """
    if components is None:
        components = list(COMPONENT_NAMES)
    unknown = [c for c in components if c not in COMPONENTS]
    if unknown:
        raise BuildError("unknown component(s) %s; valid: %s" % (", ".join(unknown), ", ".join(COMPONENT_NAMES)))
    components = [c for c in COMPONENT_NAMES if c in components]
    if not os.path.isdir(source_dir):
        raise BuildError("source_dir %s is not a directory" % source_dir)
    cache_dir = os.path.abspath(cache_dir or default_cache_dir())
    go = find_go()
    env = go_env()
    timings = {}
    start_all = time.time()
    toolchain = go_toolchain(go, runner)
    plan, module_dirs, infos = _plan(runner, go, source_dir, cache_dir, components, toolchain, env, log, timings)

    todo = [c for c in components if not _is_executable(plan[c]["binary"])]
    result = {
        "binaries": dict((c, plan[c]["binary"]) for c in components),
        "module_dirs": module_dirs,
        "timings": timings,
        "built": [],
        "patched_sources": {},
    }
    if check_mode or not todo:
        if check_mode:
            result["built"] = todo
        timings["total"] = round(time.time() - start_all, 2)
        return result

    by_wrapper = {}
    for c in todo:
        by_wrapper.setdefault(plan[c]["wrapper"], []).append(c)
    for wrapper, names in by_wrapper.items():
        wdir = wrapper_dir(source_dir, wrapper)
        work, patched = _prepare_workdir(runner, go, wrapper, wdir, infos[wrapper], cache_dir, env, log)
        result["patched_sources"].update(patched)
        try:
            packages = [plan[c]["package"] for c in names]
            start = time.time()
            # Loading the packages downloads every module they need (and nothing else).
            _run(runner, [go, "list", "-deps", "-f", "{{.ImportPath}}"] + packages, work, env, "go list (download)")
            took = round(time.time() - start, 2)
            timings.setdefault("download", {})[wrapper] = took
            log("%s: downloaded modules in %.1fs" % (wrapper, took))
            for c in names:
                step = plan[c]
                parent = os.path.dirname(step["dir"])
                os.makedirs(parent, exist_ok=True)
                _remove_stale_temp_dirs(parent)
                tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
                try:
                    start = time.time()
                    _run(runner, [go, "build", "-trimpath", "-ldflags", step["ldflags"], "-o",
                                  os.path.join(tmp, c), step["package"]], work, env, "go build %s" % c)
                    took = round(time.time() - start, 2)
                    with open(os.path.join(tmp, "build.json"), "w", encoding="utf-8") as f:
                        json.dump({"component": c, "package": step["package"], "ldflags": step["ldflags"],
                                   "toolchain": toolchain, "edit_digest": step["edit_digest"],
                                   "build_seconds": took}, f, indent=2, sort_keys=True)
                    os.chmod(tmp, 0o755)
                    if _is_executable(step["binary"]):
                        # A concurrent call finished the same key first: same inputs, keep it.
                        log("%s: %s appeared meanwhile, keeping it" % (c, step["binary"]))
                    else:
                        if os.path.isdir(step["dir"]):
                            shutil.rmtree(step["dir"])
                        os.rename(tmp, step["dir"])
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                timings.setdefault("build", {})[c] = took
                result["built"].append(c)
                log("%s: built in %.1fs -> %s" % (c, took, step["binary"]))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    timings["total"] = round(time.time() - start_all, 2)
    return result


class BuildModuleBase(object):
    """Shared base of the ``embedded_build`` module: arguments, errors and results."""

    argument_spec = dict(
        source_dir=dict(type="path", required=True),
        cache_dir=dict(type="path"),
        components=dict(type="list", elements="str", choices=list(COMPONENT_NAMES)),
    )

    def __init__(self):
        from ansible.module_utils.basic import AnsibleModule
        from ansible_collections.scs.kaas.plugins.module_utils.command import module_runner

        self.module = AnsibleModule(argument_spec=self.argument_spec, supports_check_mode=True)
        self.params = self.module.params
        self.runner = module_runner(self.module)
        self.messages = []

    def log(self, msg):
        self.messages.append(msg)
        self.module.debug(msg)

    def run(self):
        p = self.params
        return ensure_binaries(p["source_dir"], self.runner, cache_dir=p.get("cache_dir"), components=p.get("components"),
                               log=self.log, check_mode=self.module.check_mode)

    def main(self):
        try:
            result = self.run()
        except (BuildError, CommandError) as exc:
            self.module.fail_json(msg=str(exc), messages=self.messages)
        result["changed"] = bool(result["built"])
        result["messages"] = self.messages
        self.module.exit_json(**result)
