# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Build (or find in the cache) the binaries of the embedded management cluster.

Pure Python (standard library only); needs a Go toolchain on ``PATH`` or in ``/usr/local/go/bin``
(or ``$SCS_KAAS_GO``) only when something has to be built (``go_tool.py``).

What is built comes from the component registry (``registry.py``) alone: every record of
``REGISTRY`` and ``TOOLS`` names its wrapper Go module under ``<source_dir>/go/<module>/``
(committed ``go.mod``/``go.sum``, a ``tool`` directive per upstream main), its package and its pin;
``WRAPPER_MODULES`` says how a wrapper's binaries are version-stamped and which modules the edit
step changes; the module directories handed to the runtime (CRDs and webhook manifests live in
them) are those of the catalog providers the registry installs (``registry.module_dirs``).

Binaries are cached in ``<cache_dir>/embedded/<component>/<version>-<key>/<component>``, where
``key`` hashes everything that determines the binary: the wrapper module's files, the package,
the linker flags (version stamps), the Go version/platform and the source edit step below
(``build_cache.py``). A warm call only checks that the files exist and are executable. A build
goes to a temporary directory that is renamed into place, so an interrupted build never leaves a
half binary.

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

from ansible_collections.scs.kaas.plugins.module_utils import pins as _pins
from ansible_collections.scs.kaas.plugins.module_utils.embedded import registry as _registry
from ansible_collections.scs.kaas.plugins.module_utils.embedded.build_cache import (
    _is_executable, _remove_stale_temp_dirs, cache_key, default_cache_dir, install_build)
from ansible_collections.scs.kaas.plugins.module_utils.embedded.go_tool import (
    _read_info, _run, download_modules, find_go, go_env, go_toolchain, parse_go_mod_requires, wrapper_dir,
    wrapper_files)
from ansible_collections.scs.kaas.plugins.module_utils.command import CommandError
from ansible_collections.scs.kaas.plugins.module_utils.errors import BuildError, EmbeddedError

__all__ = ["BuildError", "CommandError", "EmbeddedError", "COMPONENT_NAMES", "ensure_binaries", "default_cache_dir"]

# The development provider (CAPD) lives in the separate module sigs.k8s.io/cluster-api/test. Its
# v1.14.1 and v1.14.2 sources are not downloadable from the Go module proxy this project can reach
# (403), so CAPD's own code comes from test module v1.14.0, built against the pinned root module
# (CLUSTER_API_VERSION), which provides everything else including the version package.
CLUSTER_API_TEST_MODULE_VERSION = _pins.CLUSTER_API_TEST_VERSION

LOOPBACK = "127.0.0.1"


def binaries():
    """The registry's binaries (components, then tools) by name, in build order."""
    return dict((b.name, b) for b in tuple(_registry.REGISTRY) + tuple(_registry.TOOLS))


def wrappers(by_name=None, modules=None):
    """Per wrapper module of the registry's binaries (or of ``by_name``, a ``{name: Binary}``):
    ``version`` (the pin its binaries share, stamped and naming the cache directory) and the
    fields of its ``WrapperModule`` (from ``modules``, a ``{wrapper: WrapperModule}``, else the
    registry's)."""
    out = {}
    for binary in (by_name or binaries()).values():
        spec = (modules or {}).get(binary.wrapper) or _registry.wrapper_module(binary.wrapper)
        entry = out.setdefault(binary.wrapper, dict(
            [("version", binary.pin)] + [(field, getattr(spec, field)) for field in _registry.WrapperModule.__slots__]))
        if entry["version"] != binary.pin:
            raise BuildError("registry: %s pins wrapper module %s at %s, another binary at %s"
                             % (binary.name, binary.wrapper, binary.pin, entry["version"]))
    return out


def default_components(switches=()):
    """What a build without an explicit component list makes: the components that run with
    ``switches`` on (``registry.components``), then the tools."""
    return list(_registry.components(switches)) + [t.name for t in _registry.TOOLS]


def modules_to_resolve(components, by_name=None, specs=None, module_dirs=None):
    """``{wrapper module: sorted Go modules}`` to download before planning ``components``: the
    stamped module, the edited modules and the module directories the runtime reads when
    ``components`` run (``module_dirs``: ``{name: (wrapper, module)}``, default the registry's)."""
    by_name = by_name or binaries()
    specs = specs or wrappers(by_name)
    needed = dict((by_name[c].wrapper, set()) for c in components)
    if module_dirs is None:
        module_dirs = _registry.module_dirs(components)
    for wrapper, module in module_dirs.values():
        needed.setdefault(wrapper, set()).add(module)
    for wrapper, modules in needed.items():
        spec = specs.get(wrapper) or {}
        modules.update(spec.get("edits") or ())
        if spec.get("stamp_module"):
            modules.add(spec["stamp_module"])
    return dict((w, sorted(m)) for w, m in needed.items())


COMPONENT_NAMES = tuple(binaries())
# (wrapper module, package) per binary, the wrapper specs and (wrapper, Go module) per module
# directory of the default components: views of the registry as it is at import time (callers
# read them; the build itself reads the registry at call time).
COMPONENTS = dict((b.name, (b.wrapper, b.package)) for b in binaries().values())
WRAPPERS = wrappers()
MODULE_DIRS = _registry.module_dirs(_registry.components())

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
    # flanneld registers every backend by a blank import in main.go. The Tencent Cloud VPC one
    # needs github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc v1.3.188, whose source
    # the module proxy refuses (403); it is of no use off Tencent Cloud, so it is left out.
    "github.com/flannel-io/flannel": (
        ("main.go", '\t_ "github.com/flannel-io/flannel/pkg/backend/tencentvpc"\n', "", 1),
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


def ldflags_for(wrapper, stamp_info, specs=None):
    """Linker flags: strip symbols, stamp the version packages of ``wrapper`` (a key of
    ``specs``, default the registry's wrappers), link a cgo build statically when asked.

    ``stamp_info`` is the module proxy's .info of the stamped module (Version, Time, Origin):
    the build date is the release time (so the flags, and the cache key, are reproducible) and
    gitCommit is the release commit when the proxy reports it.
    """
    spec = (specs or wrappers())[wrapper]
    flags = ["-s", "-w"]
    if spec.get("extldflags"):
        flags.append("-linkmode external -extldflags '%s'" % spec["extldflags"])
    if not spec["stamp_module"]:
        return " ".join(flags)
    version = spec["version"]
    commit = (stamp_info.get("Origin") or {}).get("Hash")
    if spec.get("stamp_vars"):
        # short_commit: what `git describe --always` prints where no annotated tag names the commit.
        values = {"version": version, "bare_version": version.lstrip("v"), "commit": commit or "",
                  "short_commit": (commit or "")[:7]}
        for variable, value in spec["stamp_vars"]:
            flags.append("-X '%s=%s'" % (variable, values[value]))
        return " ".join(flags)
    major, minor = version.lstrip("v").split(".")[:2]
    values = [
        ("gitVersion", version),
        ("gitMajor", major),
        ("gitMinor", minor),
        ("gitTreeState", "clean"),
        ("buildDate", stamp_info.get("Time", "1970-01-01T00:00:00Z")),
    ]
    if commit:
        values.append(("gitCommit", commit))
    for package in spec["stamp_packages"]:
        for name, value in values:
            flags.append("-X '%s.%s=%s'" % (package, name, value))
    return " ".join(flags)


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


def _native_inputs(runner, go, spec, env):
    """What a cgo build takes from the system besides Go: the C compiler's version and the Debian
    versions of the static libraries it links in (``{package: version}``); empty for pure Go."""
    if spec["env"].get("CGO_ENABLED") != "1":
        return {}, {}
    cc = _run(runner, [go, "env", "CC"], None, env, "go env CC").strip() or "cc"
    compiler = _run(runner, [cc, "--version"], None, env, "%s --version" % cc).splitlines()[0]
    libraries = {}
    for package in spec["static_libraries"]:
        result = runner.run(["dpkg-query", "-W", "-f=${Version}", package], env=env)
        if result.rc != 0 or not result.stdout.strip():
            raise BuildError("the cgo build links the static libraries of the Debian package %s, which is not "
                             "installed (requirements/debian-packages.txt; `make debian-packages`)" % package)
        libraries[package] = result.stdout.strip()
    return {"compiler": compiler}, libraries


def _build_env(spec, env):
    out = dict(env)
    out.update(spec["env"])
    return out


def _plan(runner, go, source_dir, cache_dir, components, toolchain, env, log, timings):
    """:func:`_plan_records` of the registry's ``components``."""
    by_name = binaries()
    records = dict((c, by_name[c]) for c in components)
    specs = wrappers(records)
    module_dirs = _registry.module_dirs(components)
    resolve = modules_to_resolve(components, records, specs, module_dirs)
    return _plan_records(runner, go, source_dir, cache_dir, records, specs, resolve, module_dirs, toolchain, env,
                         timings)


def _plan_records(runner, go, source_dir, cache_dir, records, specs, resolve, module_dir_map, toolchain, env,
                  timings):
    """Per binary: wrapper, package, binary path, key, build flags; plus module dirs and the
    module infos per wrapper."""
    plan = {}
    infos_by_wrapper = {}
    for wrapper, wanted in sorted(resolve.items()):
        wdir = wrapper_dir(source_dir, wrapper)
        with open(os.path.join(wdir, "go.mod"), "r", encoding="utf-8") as f:
            requires = parse_go_mod_requires(f.read())
        missing = sorted(m for m in wanted if m not in requires)
        if missing:
            raise BuildError("wrapper module %s: go.mod does not require %s" % (wdir, ", ".join(missing)))
        start = time.time()
        infos_by_wrapper[wrapper] = download_modules(runner, go, wdir, wanted, env) if wanted else {}
        timings.setdefault("resolve", {})[wrapper] = round(time.time() - start, 2)
    module_dirs = dict((name, infos_by_wrapper[wrapper][module]["Dir"])
                       for name, (wrapper, module) in module_dir_map.items())
    natives = {}
    for name, record in records.items():
        wrapper, package = record.wrapper, record.package
        spec = specs[wrapper]
        wdir = wrapper_dir(source_dir, wrapper)
        infos = infos_by_wrapper[wrapper]
        stamp_info = _read_info(infos[spec["stamp_module"]]) if spec["stamp_module"] else {}
        ldflags = ldflags_for(wrapper, stamp_info, specs)
        digest = edit_step_digest(spec["edits"])
        if wrapper not in natives:
            natives[wrapper] = _native_inputs(runner, go, spec, _build_env(spec, env))
        compiler, libraries = natives[wrapper]
        # Only what a wrapper sets beyond the defaults joins the key: existing keys stay as they are.
        extra = [json.dumps(x, sort_keys=True) for x in (spec["env"], list(spec["tags"]), compiler, libraries) if x]
        key = cache_key(wrapper_files(wdir), package, ldflags, toolchain, digest, extra)
        out_dir = os.path.join(cache_dir, "embedded", name, "%s-%s" % (spec["version"], key))
        plan[name] = {
            "wrapper": wrapper,
            "wrapper_dir": wdir,
            "package": package,
            "ldflags": ldflags,
            "tags": list(spec["tags"]),
            "env": dict(spec["env"]),
            "static_libraries": libraries,
            "edit_digest": digest,
            "dir": out_dir,
            "binary": os.path.join(out_dir, name),
        }
    return plan, module_dirs, infos_by_wrapper


def _prepare_workdir(runner, go, wrapper, wdir, infos, cache_dir, env, log, specs):
    """Temporary copy of the wrapper module pointed at the edited module copies."""
    work = tempfile.mkdtemp(prefix="scs-kaas-build-%s-" % wrapper)
    for path in wrapper_files(wdir):
        shutil.copy2(path, os.path.join(work, os.path.basename(path)))
    patched = {}
    edits = specs[wrapper]["edits"]
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


def ensure_binaries(source_dir, runner, cache_dir=None, components=None, log=_stderr_log, check_mode=False,
                    switches=None):
    """Make sure every requested component's binary is in the cache; build what is missing.

    ``components`` (default: :func:`default_components` of ``switches``, a list of
    ``registry.SWITCHES`` keys) names the binaries; the module directories are those the runtime
    reads when they run.

    Returns ``{"binaries": {component: path}, "module_dirs": {name: dir}, "timings": {...},
    "built": [components built by this call], "patched_sources": {module: dir}}``. In check mode
    nothing is built; ``built`` lists what would be built and ``binaries`` still names the paths.
    """
    names = list(binaries())
    switches = _registry.validate_switches(switches)
    if components is None:
        components = default_components(switches)
    unknown = [c for c in components if c not in names]
    if unknown:
        raise BuildError("unknown component(s) %s; valid: %s" % (", ".join(unknown), ", ".join(names)))
    by_name = binaries()
    records = dict((c, by_name[c]) for c in names if c in components)
    return build_set(source_dir, runner, records, cache_dir=cache_dir, module_dirs=_registry.module_dirs(components),
                     log=log, check_mode=check_mode)


def build_set(source_dir, runner, records, modules=None, cache_dir=None, module_dirs=None, log=_stderr_log,
              check_mode=False):
    """Build (or find in the cache) the binaries ``records`` (``{name: Binary}``, in build order):
    the one build behind :func:`ensure_binaries` and the node binaries (``nodes/node_binaries.py``).

    ``modules`` (``{wrapper: WrapperModule}``) adds wrapper modules the registry does not know;
    ``module_dirs`` (``{name: (wrapper, module)}``) names module directories to resolve. Returns
    what :func:`ensure_binaries` documents.
    """
    if not os.path.isdir(source_dir):
        raise BuildError("source_dir %s is not a directory" % source_dir)
    components = list(records)
    specs = wrappers(records, modules)
    module_dirs = dict(module_dirs or {})
    cache_dir = os.path.abspath(cache_dir or default_cache_dir())
    go = find_go()
    env = go_env()
    timings = {}
    start_all = time.time()
    toolchain = go_toolchain(go, runner)
    resolve = modules_to_resolve(components, records, specs, module_dirs)
    plan, module_dirs, infos = _plan_records(runner, go, source_dir, cache_dir, records, specs, resolve,
                                             module_dirs, toolchain, env, timings)

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
        build_env = _build_env(specs[wrapper], env)
        work, patched = _prepare_workdir(runner, go, wrapper, wdir, infos[wrapper], cache_dir, env, log, specs)
        result["patched_sources"].update(patched)
        try:
            packages = [plan[c]["package"] for c in names]
            start = time.time()
            # Loading the packages downloads every module they need (and nothing else).
            _run(runner, [go, "list", "-deps", "-f", "{{.ImportPath}}"] + packages, work, build_env,
                 "go list (download)")
            took = round(time.time() - start, 2)
            timings.setdefault("download", {})[wrapper] = took
            log("%s: downloaded modules in %.1fs" % (wrapper, took))
            for c in names:
                timings.setdefault("build", {})[c] = _build_one(runner, go, c, plan[c], work, build_env, toolchain, log)
                result["built"].append(c)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    timings["total"] = round(time.time() - start_all, 2)
    return result


def _build_one(runner, go, name, step, work, env, toolchain, log):
    """``go build`` one binary into a temporary directory renamed into place; its seconds."""
    parent = os.path.dirname(step["dir"])
    os.makedirs(parent, exist_ok=True)
    _remove_stale_temp_dirs(parent)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    try:
        start = time.time()
        tags = ["-tags", ",".join(step["tags"])] if step["tags"] else []
        argv = [go, "build", "-trimpath"] + tags + ["-ldflags", step["ldflags"], "-o", os.path.join(tmp, name),
                                                    step["package"]]
        _run(runner, argv, work, env, "go build %s" % name)
        took = round(time.time() - start, 2)
        install_build(tmp, step, {"component": name, "package": step["package"], "ldflags": step["ldflags"],
                                  "tags": step["tags"], "env": step["env"],
                                  "static_libraries": step["static_libraries"], "toolchain": toolchain,
                                  "edit_digest": step["edit_digest"], "build_seconds": took}, name, log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log("%s: built in %.1fs -> %s" % (name, took, step["binary"]))
    return took
