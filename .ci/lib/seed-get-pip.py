# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Pre-seed ansible-test's pip bootstrap script so sanity venvs are created without the internet.

ansible-test bootstraps pip in every per-test venv with a ``get-pip.py`` it downloads from a
host that is unreachable here. It first looks in ``~/.ansible/test/cache/get_pip_<ver>.py``;
we put a tiny script there that runs an already working pip (the one of the given Python) as
``<python> -m pip --python <venv python> install <args>``. Idempotent: rewritten only when
the content differs.

usage: seed-get-pip.py <python with a working pip> [pip version ...]
(run it with the Python that has ansible-test installed; by default the pip version is read from it)
"""

import os
import sys

TEMPLATE = '''\
# Written by the scs.kaas Makefile (seed-get-pip): installs pip into the calling interpreter
# with an existing pip instead of downloading get-pip.py.
import os
import subprocess
import sys

PIP_PYTHON = {python!r}
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if not os.path.exists(PIP_PYTHON):
    sys.exit("get-pip shim: %s is gone; run make again to re-seed" % PIP_PYTHON)
sys.exit(subprocess.call([PIP_PYTHON, "-m", "pip", "--python", sys.executable, "install"] + args))
'''


def pip_versions():
    """The pip version(s) the installed ansible-test bootstraps (``default_packages`` pip=...)."""
    import importlib.util
    import re

    spec = importlib.util.find_spec("ansible_test")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("seed-get-pip: ansible_test is not importable by %s" % sys.executable)
    source = os.path.join(list(spec.submodule_search_locations)[0], "_internal", "python_requirements.py")
    with open(source) as handle:
        found = sorted(set(re.findall(r"pip='([0-9][0-9.]*)'", handle.read())))
    if not found:
        sys.exit("seed-get-pip: no pip version found in %s" % source)
    return found


def main():
    python = os.path.abspath(sys.argv[1])
    versions = sys.argv[2:] or pip_versions()
    cache = os.path.expanduser("~/.ansible/test/cache")
    os.makedirs(cache, exist_ok=True)
    content = TEMPLATE.format(python=python)
    for version in versions:
        path = os.path.join(cache, "get_pip_%s.py" % version.replace(".", "_"))
        try:
            with open(path) as handle:
                if handle.read() == content:
                    continue
        except OSError:
            pass
        # sanity and sanity-newest seed side by side: each writes a file of its own, then renames it
        temporary = "%s.%d.tmp" % (path, os.getpid())
        with open(temporary, "w") as handle:
            handle.write(content)
        os.replace(temporary, path)
        print("seed-get-pip: wrote %s" % path, flush=True)


if __name__ == "__main__":
    main()
