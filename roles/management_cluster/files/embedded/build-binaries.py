#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Build (or find in the cache) the embedded management cluster's binaries without Ansible.

Usage: build-binaries.py [--cache-dir DIR] [--check] [COMPONENT ...]
       build-binaries.py [--cache-dir DIR] [--check] --node-binaries VERSION [BINARY ...]

Prints the result of ``ensure_binaries`` (binary paths, module dirs, timings, what was built)
as JSON on stdout; progress goes to stderr. Exit status 1 on a build error. With
``--node-binaries`` it builds the binaries of a real node of that Kubernetes version (all, or
the BINARY names given) and their bill of materials (``nodes/node_binaries.py``).
"""

import argparse
import importlib
import json
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))


def load_build():
    """The collection's build module from THIS checkout (not whatever ``ansible_collections`` is on
    the path): ``ansible_collections.scs.kaas`` is mapped to the collection root."""
    for name, path in (("ansible_collections", []), ("ansible_collections.scs", []),
                       ("ansible_collections.scs.kaas", [COLLECTION_ROOT])):
        package = types.ModuleType(name)
        package.__path__ = path
        sys.modules[name] = package
    return importlib.import_module("ansible_collections.scs.kaas.plugins.module_utils.embedded.build")


def main():
    build = load_build()
    # Beside this script and loaded through the same mapping, so it shares build.py's CommandError.
    local_command = importlib.import_module(
        "ansible_collections.scs.kaas.roles.management_cluster.files.embedded.local_command")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=None,
                        help="cache directory (default: $SCS_KAAS_CACHE_DIR or ~/.cache/scs-kaas)")
    parser.add_argument("--check", action="store_true", help="only report what would be built")
    parser.add_argument("--optional-providers", action="append", default=[], metavar="PROVIDER",
                        help="build the components of this optional provider too (openstack: CAPO and ORC)")
    parser.add_argument("--node-binaries", metavar="VERSION",
                        help="build the binaries of a real node of this Kubernetes version instead")
    parser.add_argument("components", nargs="*", metavar="COMPONENT",
                        help="components to build (default: those that run by default, plus the tools): %s"
                        % ", ".join(build.COMPONENT_NAMES))
    args = parser.parse_args()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    try:
        if args.node_binaries:
            node_binaries = importlib.import_module(
                "ansible_collections.scs.kaas.plugins.module_utils.nodes.node_binaries")
            result = node_binaries.ensure_node_binaries(HERE, local_command.runner(), args.node_binaries,
                                                        names=args.components or None, cache_dir=args.cache_dir,
                                                        log=log, check_mode=args.check)
        else:
            result = build.ensure_binaries(HERE, local_command.runner(), cache_dir=args.cache_dir,
                                           components=args.components or None, log=log,
                                           check_mode=args.check, switches=args.optional_providers)
    except (build.BuildError, build.CommandError, build.EmbeddedError) as exc:
        log("error: %s" % exc)
        return 1
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
