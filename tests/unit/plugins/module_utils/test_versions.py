# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils import versions as v


@pytest.mark.parametrize("value, expected", [
    ("v1.34.2", "v1.34.2"),
    ("1.34.2", "v1.34.2"),
    (" v1.34.2 ", "v1.34.2"),
    ("1.34", "v1.34"),
    ("v1.34", "v1.34"),
    ("1.34.x", "v1.34"),
    ("v1.34.X", "v1.34"),
    ("1.0.0", "v1.0.0"),
    ("1.34.10", "v1.34.10"),
])
def test_normalize_accepts_the_documented_spellings(value, expected):
    assert v.normalize(value) == expected


def test_normalize_without_prefix():
    assert v.normalize("v1.34.2", prefix=False) == "1.34.2"
    assert v.normalize("1.34.x", prefix=False) == "1.34"


@pytest.mark.parametrize("value", [
    "", "v", "1", "v1", "1.34.2.1", "1.34.02", "01.34.2", "1.034", "1.34.2-rc.1", "1.34.2+k3s1",
    "V1.34.2", "vv1.34.2", "1.34.y", "1.x", "latest", "1. 34", "1.34.", "\u0661.34.2",
])
def test_parse_rejects_malformed_strings_naming_the_variable(value):
    with pytest.raises(v.VersionError) as err:
        v.parse(value, "my_var")
    message = str(err.value)
    assert message.startswith("my_var: ")
    assert repr(value)[1:-1] in message or value in message
    assert "v1.34.2" in message  # says what is valid


@pytest.mark.parametrize("value", [None, 1.34, 134, True, ["v1.34.2"], {"v": 1}])
def test_parse_rejects_non_strings(value):
    with pytest.raises(v.VersionError, match=r"^my_var: .* is not a Kubernetes version"):
        v.parse(value, "my_var")


def test_version_error_is_a_value_error():
    assert issubclass(v.VersionError, ValueError)


def test_exact_requires_a_patch_release():
    with pytest.raises(v.VersionError, match=r"^cv: '1\.34\.x' names a minor only.*e\.g\. v1\.34\.0"):
        v.parse("1.34.x", "cv", exact=True)
    assert v.parse("1.34.0", exact=True).patch == 0


def test_version_fields():
    parsed = v.parse("v1.34.2")
    assert (parsed.major, parsed.minor, parsed.patch) == (1, 34, 2)
    assert parsed.exact is True
    assert parsed.minor_version == "1.34"
    assert parsed.minor_tuple == (1, 34)
    assert str(parsed) == "v1.34.2"
    minor_only = v.parse("1.35")
    assert minor_only.patch is None and minor_only.exact is False


def test_versions_order_numerically_not_lexically():
    values = ["v1.34.10", "v1.34.9", "v1.4.0", "v1.35.0", "1.34"]
    ordered = [str(x) for x in sorted(v.parse(s) for s in values)]
    assert ordered == ["v1.4.0", "v1.34", "v1.34.9", "v1.34.10", "v1.35.0"]
    assert v.parse("1.34.2") == v.parse("v1.34.2")
    assert v.parse("1.34.2") != v.parse("v1.34.3")
    assert len({v.parse("1.34.2"), v.parse("v1.34.2")}) == 1


@pytest.mark.parametrize("a, b, expected", [
    ("v1.34.2", "1.34.2", 0),
    ("v1.34.2", "v1.34.10", -1),
    ("v1.35.0", "v1.34.10", 1),
    ("1.34", "v1.34.7", 0),
    ("v1.34.7", "1.34.x", 0),
    ("1.33", "v1.34.0", -1),
    ("v2.0.0", "v1.99.99", 1),
])
def test_compare(a, b, expected):
    assert v.compare(a, b) == expected
    assert v.compare(b, a) == -expected


def test_compare_names_the_bad_side():
    with pytest.raises(v.VersionError, match=r"^right: 'nope'"):
        v.compare("1.34.2", "nope", ("left", "right"))


def test_minor_of_and_next_minor():
    assert v.minor_of("v1.34.2") == "1.34"
    assert v.next_minor("v1.34.2") == "v1.35"
    assert v.next_minor("1.39.x") == "v1.40"


def test_check_minor_range_is_inclusive():
    for value in ("v1.31.0", "v1.37.9", "1.34"):
        assert v.check_minor_range(value, "x", ("1.31", "1.37")).minor_version == v.minor_of(value)
    for value in ("v1.30.14", "v1.38.0"):
        with pytest.raises(v.VersionError, match=r"^x: '%s' is outside the supported Kubernetes minors 1\.31 \.\. 1\.37"
                           % value.replace(".", r"\.")):
            v.check_minor_range(value, "x", ("1.31", "1.37"))


def test_check_minor_range_rejects_a_bad_range():
    with pytest.raises(v.VersionError, match="minor_range"):
        v.check_minor_range("1.34.0", "x", ("1.37", "1.31"))
    with pytest.raises(v.VersionError, match="minor_range"):
        v.check_minor_range("1.34.0", "x", ("1.31",))


def test_default_range_is_the_pinned_workload_range():
    low, high = pins.CAPI_WORKLOAD_MINOR_RANGE
    v.check_upgrade(None, "v%s.0" % low)
    v.check_upgrade(None, "v%s.0" % high)
    with pytest.raises(v.VersionError):
        v.check_upgrade(None, v.next_minor(high) + ".0")


@pytest.mark.parametrize("current, desired, kind", [
    (None, "v1.34.2", "create"),
    ("", "v1.34.2", "create"),
    ("   ", "1.34.2", "create"),
    ("v1.34.2", "v1.34.2", "none"),
    ("v1.34.2", "1.34.2", "none"),
    ("v1.34.2", "v1.34.3", "patch"),
    ("v1.34.2", "v1.34.12", "patch"),
    ("v1.34.2", "v1.35.0", "minor"),
    ("v1.34.12", "v1.35.0", "minor"),
    ("v1.30.14", "v1.31.0", "minor"),  # leaving an unsupported minor is allowed
])
def test_check_upgrade_allowed_steps(current, desired, kind):
    assert v.check_upgrade(current, desired, "wc_version") == kind


def test_check_upgrade_minor_only_desired_when_not_exact():
    assert v.check_upgrade("v1.34.2", "1.34", "x", exact=False) == "none"
    assert v.check_upgrade("v1.34.2", "1.35.x", "x", exact=False) == "minor"


@pytest.mark.parametrize("current, desired, pattern", [
    ("v1.35.0", "v1.34.9", r"^wc_version: 'v1\.35\.0' -> 'v1\.34\.9' is a downgrade"),
    ("v1.34.3", "v1.34.2", r"^wc_version: 'v1\.34\.3' -> 'v1\.34\.2' is a downgrade"),
    ("v1.34.2", "v1.36.0", r"^wc_version: 'v1\.34\.2' -> 'v1\.36\.0' skips 1 minor.*1\.35\.x"),
    ("v1.31.2", "v1.37.0", r"skips 5 minor"),
    ("v1.34.2", "1.35", r"^wc_version: '1\.35' names a minor only"),
    ("v1.36.2", "v1.38.0", r"^wc_version: 'v1\.38\.0' is outside the supported Kubernetes minors"),
    ("v1.34.2", "v2.0.0", r"outside the supported"),
    ("garbage", "v1.34.2", r"^wc_version \(current value on the cluster\): 'garbage' is not a valid"),
    (None, "v1.34", r"names a minor only"),
])
def test_check_upgrade_forbidden_steps(current, desired, pattern):
    with pytest.raises(v.VersionError, match=pattern):
        v.check_upgrade(current, desired, "wc_version")


def test_check_upgrade_major_change_is_refused_even_inside_the_range():
    with pytest.raises(v.VersionError, match="changes the major version"):
        v.check_upgrade("v1.40.0", "v2.0.0", "x", minor_range=("1.0", "2.99"))


def test_minor_steps_uses_newest_available_patch_per_minor():
    available = ("v1.35.1", "v1.35.4", "v1.36.2", "v1.37.0")
    assert v.minor_steps("v1.34.2", "v1.37.1", available) == ["v1.35.4", "v1.36.2", "v1.37.1"]


def test_minor_steps_without_available_versions_gives_minor_only_forms():
    assert v.minor_steps("1.33.9", "1.36.1") == ["v1.34", "v1.35", "v1.36.1"]


def test_minor_steps_trivial_cases():
    assert v.minor_steps("v1.34.2", "1.34.2") == []
    assert v.minor_steps("v1.34.2", "v1.34.5") == ["v1.34.5"]
    assert v.minor_steps("v1.34.2", "v1.35.0") == ["v1.35.0"]


def test_minor_steps_refuses_downgrades_and_bad_available():
    with pytest.raises(v.VersionError, match=r"^tv: 'v1\.35\.0' -> 'v1\.34\.0' is a downgrade"):
        v.minor_steps("v1.35.0", "v1.34.0", var_name="tv")
    with pytest.raises(v.VersionError, match=r"available\[1\]: '1\.35' names a minor only"):
        v.minor_steps("v1.34.0", "v1.36.0", ["v1.35.1", "1.35"], "tv")


def test_minor_steps_with_pinned_versions_chain_through_pins():
    pinned = list(pins.WORKLOAD_KUBERNETES_VERSIONS)
    steps = v.minor_steps(pinned[0], pinned[-1], pinned)
    assert steps == pinned[1:]
    for previous, step in zip([pinned[0]] + steps, steps):
        assert v.check_upgrade(previous, step, "x") == "minor"


def test_resolve():
    available = ["v1.35.4", "v1.35.10", "v1.36.1"]
    assert v.resolve("1.35", available) == "v1.35.10"
    assert v.resolve("1.35.x", available) == "v1.35.10"
    assert v.resolve("1.34.2", available) == "v1.34.2"
    with pytest.raises(v.VersionError, match=r"^rv: '1\.37' names minor 1\.37, but no exact version.*v1\.35\.4, v1\.35\.10"):
        v.resolve("1.37", available, "rv")


def test_is_valid():
    assert v.is_valid("1.34.x") is True
    assert v.is_valid("1.34.x", exact=True) is False
    assert v.is_valid(None) is False
