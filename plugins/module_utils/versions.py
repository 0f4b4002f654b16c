# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Kubernetes version parsing, normalising, comparing and upgrade-step rules.

Import it as ``ansible_collections.scs.kaas.plugins.module_utils.versions``.
It has no third-party dependencies and never touches the network.

Accepted spellings
------------------
``v1.34.2``, ``1.34.2`` (exact: a patch release), ``v1.34``, ``1.34``, ``1.34.x``, ``v1.34.X``
(minor-only: any patch of that minor). Leading/trailing blanks are ignored. Pre-releases
(``-rc.1``), build metadata (``+k3s1``), leading zeros and anything else are rejected.

Canonical forms (what :func:`normalize` returns): ``v1.34.2`` for an exact version and
``v1.34`` for a minor-only one (``1.34.x`` becomes ``v1.34``).

Errors
------
Every public function that takes user input accepts ``var_name`` (the inventory variable or
module option the value came from) and raises :class:`VersionError` (a ``ValueError``)
whose message names that variable, the bad value and what would be valid, e.g.::

    workload_cluster_kubernetes_version: 'v1.36.1' -> 'v1.34.2' is a downgrade; Kubernetes
    versions never go down (current v1.36.1)

Modules use ``module.fail_json(msg=to_native(err))``; filters re-raise as ``AnsibleFilterError``.

API
---
``VersionError(ValueError)``
    Raised for every invalid value or forbidden step.

``Version`` (immutable, ordered by ``sort_key``)
    ``.major``, ``.minor`` (int), ``.patch`` (int or None when minor-only), ``.exact`` (bool),
    ``.minor_version`` (``'1.34'``), ``.minor_tuple`` (``(1, 34)``), ``str(v)`` = canonical form.

``parse(value, var_name='version', exact=False) -> Version``
    Parse one spelling. ``exact=True`` requires a patch (``1.34`` is then an error).

``is_valid(value, exact=False) -> bool``

``normalize(value, var_name='version', exact=False, prefix=True) -> str``
    Canonical string; ``prefix=False`` drops the leading ``v`` (``1.34.2``).

``minor_of(value, var_name='version') -> str``
    ``'1.34'`` for any accepted spelling.

``compare(a, b, var_names=('a', 'b')) -> int``
    -1, 0 or 1. If either side is minor-only, only major.minor are compared
    (``compare('1.34', 'v1.34.7') == 0``).

``next_minor(value, var_name='version') -> str``
    ``'v1.35'`` for ``v1.34.2`` (minor-only canonical form).

``check_minor_range(value, var_name='version', minor_range=pins.CAPI_WORKLOAD_MINOR_RANGE) -> Version``
    Raises unless the value's minor lies in the inclusive range (``('1.31', '1.37')``).

``check_upgrade(current, desired, var_name='version', minor_range=pins.CAPI_WORKLOAD_MINOR_RANGE,
exact=True) -> str``
    The upgrade-step rules of workload clusters. ``current`` is what runs now (None or ''
    when the cluster does not exist yet); ``desired`` is what the inventory asks for.
    Rules: ``desired`` must parse (exact by default, since a topology Cluster needs a full
    version) and lie inside ``minor_range``; patch releases may move forward freely within a
    minor; the minor may go up by exactly one per step; nothing ever goes down (neither
    minor nor patch). Returns the kind of step: ``'create'`` (no current), ``'none'`` (same
    version), ``'patch'`` or ``'minor'``; raises ``VersionError`` otherwise.
    ``current`` is not range-checked (an existing cluster may run an older minor) but
    must parse; its errors name ``var_name`` too and say it is the current value.

``minor_steps(current, target, available=(), var_name='version') -> list``
    The versions to apply, in order, to go from ``current`` to ``target`` one minor at a
    time, ending with ``target`` (canonical form). Each intermediate minor is the newest
    exact version of that minor in ``available`` (e.g. ``pins.WORKLOAD_KUBERNETES_VERSIONS``)
    or the minor-only form (``'v1.35'``) when ``available`` has none. ``[]`` when
    ``current == target``; raises on a downgrade.
    ``minor_steps('v1.34.2', 'v1.36.5', ('v1.35.4',)) == ['v1.35.4', 'v1.36.5']``

``resolve(value, available, var_name='version') -> str``
    Exact canonical version for a spelling: an exact value is returned normalised; a
    minor-only value becomes the newest version of that minor in ``available``; raises when
    ``available`` has none.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError

__all__ = [
    "VersionError",
    "Version",
    "parse",
    "is_valid",
    "normalize",
    "minor_of",
    "compare",
    "next_minor",
    "check_minor_range",
    "check_upgrade",
    "minor_steps",
    "resolve",
]

_VERSION_RE = re.compile(
    r"^v?(?P<major>0|[1-9][0-9]*)\.(?P<minor>0|[1-9][0-9]*)"
    r"(?:\.(?P<patch>0|[1-9][0-9]*|[xX]))?$"
)

_VALID_FORMS = "v1.34.2, 1.34.2, v1.34, 1.34 or 1.34.x"
_EXACT_FORMS = "v1.34.2 or 1.34.2"


class VersionError(KaasError, ValueError):
    """An invalid Kubernetes version or a forbidden upgrade step."""


class Version(object):
    """One parsed Kubernetes version (exact or minor-only)."""

    __slots__ = ("major", "minor", "patch")

    def __init__(self, major, minor, patch=None):
        self.major = int(major)
        self.minor = int(minor)
        self.patch = None if patch is None else int(patch)

    @property
    def exact(self):
        return self.patch is not None

    @property
    def minor_tuple(self):
        return (self.major, self.minor)

    @property
    def minor_version(self):
        return "%d.%d" % (self.major, self.minor)

    @property
    def sort_key(self):
        return (self.major, self.minor, -1 if self.patch is None else self.patch)

    def format(self, prefix=True):
        text = self.minor_version if self.patch is None else "%d.%d.%d" % (self.major, self.minor, self.patch)
        return ("v" + text) if prefix else text

    def __str__(self):
        return self.format()

    def __repr__(self):
        return "Version(%r)" % self.format()

    def __eq__(self, other):
        if not isinstance(other, Version):
            return NotImplemented
        return self.sort_key == other.sort_key

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __lt__(self, other):
        if not isinstance(other, Version):
            return NotImplemented
        return self.sort_key < other.sort_key

    def __le__(self, other):
        if not isinstance(other, Version):
            return NotImplemented
        return self.sort_key <= other.sort_key

    def __gt__(self, other):
        if not isinstance(other, Version):
            return NotImplemented
        return self.sort_key > other.sort_key

    def __ge__(self, other):
        if not isinstance(other, Version):
            return NotImplemented
        return self.sort_key >= other.sort_key

    def __hash__(self):
        return hash(self.sort_key)


def _show(value):
    """Render a user value for an error message (repr keeps quotes and odd characters)."""
    if isinstance(value, Version):
        return "'%s'" % value
    return repr(value) if not isinstance(value, str) else "'%s'" % value


def parse(value, var_name="version", exact=False):
    """Parse a Kubernetes version; see the module docstring for accepted spellings."""
    if isinstance(value, Version):
        parsed = value
    else:
        if value is None or isinstance(value, bool) or not isinstance(value, str):
            raise VersionError(
                "%s: %s is not a Kubernetes version; expected a string such as %s"
                % (var_name, _show(value), _EXACT_FORMS if exact else _VALID_FORMS)
            )
        match = _VERSION_RE.match(value.strip())
        if not match:
            raise VersionError(
                "%s: %s is not a valid Kubernetes version; expected %s "
                "(no pre-releases, build metadata or leading zeros)"
                % (var_name, _show(value), _EXACT_FORMS if exact else _VALID_FORMS)
            )
        patch = match.group("patch")
        parsed = Version(
            match.group("major"),
            match.group("minor"),
            None if patch is None or patch in ("x", "X") else patch,
        )
    if exact and not parsed.exact:
        raise VersionError(
            "%s: %s names a minor only; an exact version with a patch release is required, "
            "e.g. v%s.0 (valid: %s)" % (var_name, _show(value), parsed.minor_version, _EXACT_FORMS)
        )
    return parsed


def is_valid(value, exact=False):
    """True when ``value`` parses (as an exact version when ``exact``)."""
    try:
        parse(value, exact=exact)
    except VersionError:
        return False
    return True


def normalize(value, var_name="version", exact=False, prefix=True):
    """Canonical string: ``v1.34.2`` or ``v1.34`` (without ``v`` when ``prefix`` is false)."""
    return parse(value, var_name, exact=exact).format(prefix=prefix)


def minor_of(value, var_name="version"):
    """``'1.34'`` for any accepted spelling."""
    return parse(value, var_name).minor_version


def compare(a, b, var_names=("a", "b")):
    """-1, 0, 1; minor-only on either side compares major.minor only."""
    va = parse(a, var_names[0])
    vb = parse(b, var_names[1])
    if va.exact and vb.exact:
        ka, kb = va.sort_key, vb.sort_key
    else:
        ka, kb = va.minor_tuple, vb.minor_tuple
    return (ka > kb) - (ka < kb)


def next_minor(value, var_name="version"):
    """``'v1.35'`` for ``v1.34.x``."""
    v = parse(value, var_name)
    return str(Version(v.major, v.minor + 1))


def _parse_range(minor_range):
    if not isinstance(minor_range, (list, tuple)) or len(minor_range) != 2:
        raise VersionError(
            "minor_range: %r must be a pair of minors such as ('1.31', '1.37')" % (minor_range,)
        )
    low = parse(minor_range[0], "minor_range[0]")
    high = parse(minor_range[1], "minor_range[1]")
    if low.minor_tuple > high.minor_tuple:
        raise VersionError("minor_range: %s is above %s" % (low.minor_version, high.minor_version))
    return low, high


def check_minor_range(value, var_name="version", minor_range=pins.CAPI_WORKLOAD_MINOR_RANGE):
    """Return the parsed version; raise unless its minor lies in the inclusive range."""
    v = parse(value, var_name)
    low, high = _parse_range(minor_range)
    if not low.minor_tuple <= v.minor_tuple <= high.minor_tuple:
        raise VersionError(
            "%s: %s is outside the supported Kubernetes minors %s .. %s (inclusive)"
            % (var_name, _show(value), low.minor_version, high.minor_version)
        )
    return v


def check_upgrade(current, desired, var_name="version",
                  minor_range=pins.CAPI_WORKLOAD_MINOR_RANGE, exact=True):
    """Validate one step current -> desired; return 'create', 'none', 'patch' or 'minor'."""
    want = parse(desired, var_name, exact=exact)
    check_minor_range(want, var_name, minor_range)
    if current is None or (isinstance(current, str) and not current.strip()):
        return "create"
    have = parse(current, "%s (current value on the cluster)" % var_name)
    if want.minor_tuple < have.minor_tuple or (
        want.minor_tuple == have.minor_tuple and want.exact and have.exact and want.patch < have.patch
    ):
        raise VersionError(
            "%s: %s -> %s is a downgrade; Kubernetes versions never go down (current %s): set %s to %s "
            "or a newer version" % (var_name, _show(str(have)), _show(desired), have, var_name, have)
        )
    if want.major != have.major:
        raise VersionError(
            "%s: %s -> %s changes the major version; only minor +1 steps are supported"
            % (var_name, _show(str(have)), _show(desired))
        )
    if want.minor == have.minor:
        if want.exact and have.exact and want.patch > have.patch:
            return "patch"
        return "none"
    if want.minor == have.minor + 1:
        return "minor"
    skipped = want.minor - have.minor - 1
    raise VersionError(
        "%s: %s -> %s skips %d minor version(s); upgrade one minor at a time: the next valid "
        "step is a %s.x version" % (var_name, _show(str(have)), _show(desired), skipped, next_minor(have)[1:])
    )


def _available(available, var_name):
    result = []
    for index, item in enumerate(available or ()):
        result.append(parse(item, "%s available[%d]" % (var_name, index), exact=True))
    return result


def _newest_of_minor(minor_tuple, versions):
    matching = [v for v in versions if v.minor_tuple == minor_tuple]
    return max(matching) if matching else None


def resolve(value, available, var_name="version"):
    """Exact canonical version; minor-only values take the newest of ``available``."""
    v = parse(value, var_name)
    if v.exact:
        return str(v)
    versions = _available(available, var_name)
    newest = _newest_of_minor(v.minor_tuple, versions)
    if newest is None:
        raise VersionError(
            "%s: %s names minor %s, but no exact version of it is known; known versions: %s"
            % (var_name, _show(value), v.minor_version,
               ", ".join(str(x) for x in sorted(versions)) or "none")
        )
    return str(newest)


def minor_steps(current, target, available=(), var_name="version"):
    """Versions to apply in order to move from current to target one minor at a time."""
    have = parse(current, "%s (current value on the cluster)" % var_name)
    want = parse(target, var_name)
    if want.major != have.major:
        raise VersionError(
            "%s: %s -> %s changes the major version; only minor steps are supported"
            % (var_name, _show(str(have)), _show(target))
        )
    versions = _available(available, var_name)
    if compare(have, want) > 0:
        valid = [str(have)] + [str(v) for v in sorted(versions) if v.major == have.major and v > have]
        raise VersionError(
            "%s: %s -> %s is a downgrade; Kubernetes versions never go down (current %s): set %s to %s "
            "or a newer version; valid: %s" % (var_name, _show(str(have)), _show(target), have, var_name, have,
                                               ", ".join(valid))
        )
    if compare(have, want) == 0:
        return []
    steps = []
    for minor in range(have.minor + 1, want.minor):
        newest = _newest_of_minor((have.major, minor), versions)
        steps.append(str(newest) if newest is not None else str(Version(have.major, minor)))
    steps.append(str(want))
    return steps
