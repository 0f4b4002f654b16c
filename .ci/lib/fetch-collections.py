# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Provide kubernetes.core and openstack.cloud without Galaxy, plus a link to this collection.

The collections are taken from the ``ansible`` wheel on PyPI (downloaded once into a cache
outside the repository) and unpacked into ``<dest>/ansible_collections/``. ``scs/kaas`` there
is a symlink to the repository root, so ansible-playbook, ansible-lint, molecule and pytest
find the collection under development.

usage: fetch-collections.py <ansible wheel version> <wheel cache dir> <dest dir> <repo root>
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import zipfile

WANTED = ("kubernetes/core", "openstack/cloud")


def main():
    version, wheel_dir, dest, repo = sys.argv[1:5]
    os.makedirs(wheel_dir, exist_ok=True)
    pattern = os.path.join(wheel_dir, "ansible-%s-py3-none-any.whl" % version)
    wheels = glob.glob(pattern)
    if not wheels:
        print("collections: downloading ansible==%s (wheel only) into %s" % (version, wheel_dir), flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
             "--only-binary=:all:", "--python-version", "3.12", "ansible==%s" % version, "-d", wheel_dir],
            check=True,
        )
        wheels = glob.glob(pattern)
    if not wheels:
        sys.exit("collections: ansible==%s wheel not found in %s after download" % (version, wheel_dir))
    wheel = wheels[0]

    root = os.path.join(dest, "ansible_collections")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        for wanted in WANTED:
            prefix = "ansible_collections/%s/" % wanted
            members = [n for n in names if n.startswith(prefix)]
            if not members:
                sys.exit("collections: %s is not in %s" % (wanted.replace("/", "."), wheel))
            target = os.path.join(root, wanted)
            if os.path.isdir(target):
                shutil.rmtree(target)
            for member in members:
                archive.extract(member, dest)
            with open(os.path.join(target, "MANIFEST.json")) as manifest:
                info = json.load(manifest)["collection_info"]
            name = "%s.%s" % (info["namespace"], info["name"])
            print("collections: %s %s from %s" % (name, info["version"], os.path.basename(wheel)), flush=True)

    link = os.path.join(root, "scs", "kaas")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.islink(link) or os.path.exists(link):
        if os.path.realpath(link) == os.path.realpath(repo):
            return
        os.remove(link)
    os.symlink(os.path.realpath(repo), link)
    print("collections: scs.kaas -> %s" % os.path.realpath(repo), flush=True)


if __name__ == "__main__":
    main()
