# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Install what the box runs: the OpenStack services from PyPI into a cached Python 3.12 venv, and
MariaDB and RabbitMQ from Debian.

The venv lives under ``${SCS_KAAS_CACHE_DIR:-~/.cache/scs-kaas}/openstack-services/<key>``; the key
hashes the pinned requirements file and the harness's mechanism driver, so a change of either builds a
new venv. It is built in a temporary directory and renamed into place (a crash leaves no half venv).
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REQUIREMENTS = os.path.join(ROOT, "requirements", "openstack-services.txt")
DRIVER_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ml2_driver.py")
PYTHON_VERSIONS = ("3.12",)
DEBIAN_PACKAGES = {"mariadb-server": "mariadbd", "rabbitmq-server": "rabbitmq-server"}
DRIVER_MODULE = "kaas_box_ml2"
DRIVER_ENTRY_POINT = "kaas_box"


class InstallError(RuntimeError):
    pass


def cache_dir():
    return os.environ.get("SCS_KAAS_CACHE_DIR") or os.path.expanduser("~/.cache/scs-kaas")


def find_python():
    """Python 3.12 the way the Makefile's NEWEST_PYTHONS loop finds one (pyenv, PATH, pyenv root)."""
    candidates = []
    for version in PYTHON_VERSIONS:
        try:
            found = subprocess.run(["pyenv", "which", "python" + version], capture_output=True, text=True,
                                   check=False).stdout.strip()
            candidates.append(found)
        except OSError:
            pass
        candidates.append(shutil.which("python" + version) or "")
        try:
            root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            root = os.path.expanduser("~/.pyenv")
        candidates += sorted(glob.glob(os.path.join(root, "versions", version + "*", "bin", "python" + version)),
                             reverse=True)
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and subprocess.run(
                [candidate, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 12))"],
                capture_output=True, check=False).returncode == 0:
            return candidate
    raise InstallError("no Python %s found (pyenv or PATH); the OpenStack services need it"
                       % " or ".join(PYTHON_VERSIONS))


def venv_key():
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, DRIVER_SOURCE):
        with open(path, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()[:16]


def _install_driver(venv):
    """Register the harness's port-binding mechanism driver through an entry point (a minimal dist)."""
    python = os.path.join(venv, "bin", "python")
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    shutil.copyfile(DRIVER_SOURCE, os.path.join(purelib, DRIVER_MODULE + ".py"))
    dist = os.path.join(purelib, "kaas_box_ml2-1.0.dist-info")
    os.makedirs(dist, exist_ok=True)
    with open(os.path.join(dist, "METADATA"), "w") as handle:
        handle.write("Metadata-Version: 2.1\nName: kaas-box-ml2\nVersion: 1.0\n")
    with open(os.path.join(dist, "entry_points.txt"), "w") as handle:
        handle.write("[neutron.ml2.mechanism_drivers]\n%s = %s:KaasBoxMechanismDriver\n"
                     % (DRIVER_ENTRY_POINT, DRIVER_MODULE))
    with open(os.path.join(dist, "RECORD"), "w") as handle:
        handle.write("")


def ensure_services_venv(log=print):
    """Path of the services venv, built when missing. Returns (path, seconds spent building)."""
    import time

    target = os.path.join(cache_dir(), "openstack-services", venv_key())
    if os.path.exists(os.path.join(target, ".complete")):
        return target, 0.0
    started = time.monotonic()
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".build-", dir=parent)
    try:
        python = find_python()
        log("building the OpenStack services venv %s with %s" % (target, python))
        subprocess.run([python, "-m", "venv", tmp], check=True)
        pip = [os.path.join(tmp, "bin", "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run(pip + ["install", "--no-deps", "--require-hashes", "-r", REQUIREMENTS], check=True)
        subprocess.run(pip + ["check"], check=True)
        _install_driver(tmp)
        open(os.path.join(tmp, ".complete"), "w").close()
        # venv scripts carry the build path in their shebangs: rewrite them for the final place.
        _relocate(tmp, target)
        try:
            os.rename(tmp, target)
        except OSError:
            if not os.path.exists(os.path.join(target, ".complete")):
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # built concurrently by another run
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target, time.monotonic() - started


def _relocate(tmp, target):
    bindir = os.path.join(tmp, "bin")
    old = tmp.encode()
    for name in os.listdir(bindir):
        path = os.path.join(bindir, name)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        if old in data:
            with open(path, "wb") as handle:
                handle.write(data.replace(old, target.encode()))
    cfg = os.path.join(tmp, "pyvenv.cfg")
    with open(cfg) as handle:
        text = handle.read()
    with open(cfg, "w") as handle:
        handle.write(text.replace(tmp, target))


def debian_versions():
    """Installed versions of the Debian packages the box needs ({} entries for missing ones)."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version} ${Status}\\n"]
                         + list(DEBIAN_PACKAGES), capture_output=True, text=True, check=False).stdout
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and line.endswith("installed") and "not-installed" not in line:
            found[parts[0]] = parts[1]
    return found


def ensure_debian_packages(log=print):
    """apt-get install mariadb-server rabbitmq-server when missing (policy-rc.d keeps them stopped)."""
    missing = [name for name in DEBIAN_PACKAGES if name not in debian_versions()]
    if missing:
        if os.geteuid() != 0:
            raise InstallError("Debian packages %s are missing and installing needs root" % missing)
        log("apt-get install %s" % " ".join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q"] + missing, check=True, env=env,
                       stdout=subprocess.DEVNULL)
    return debian_versions()


if __name__ == "__main__":  # `python -m tests.openstack_box.install` (make openstack-services)
    print("OpenStack services venv: %s" % ensure_services_venv()[0])
    print("Debian packages: %s" % ensure_debian_packages())
    sys.exit(0)
