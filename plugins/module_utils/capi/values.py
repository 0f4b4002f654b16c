# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Value kinds of the workload cluster spec and the class variables (pure).

Each kind has one parser ``parse(value) -> normalised value`` that raises :class:`Invalid` with
the problem and what would be valid. The spec declaration (:mod:`spec`) and the class variable
declarations (``VALUE_KINDS`` in ``class_*.py``) name a kind per option; the checks and the
tests iterate over those declarations, so a new option of a kind is checked (and tested) by
naming its kind.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import importlib.util
import ipaddress
import re

# cryptography is imported by the first certificate that is checked (0.06 s a module run otherwise).
HAS_CRYPTOGRAPHY = importlib.util.find_spec("cryptography") is not None

RFC1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
RFC1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_PERCENT = re.compile(r"^(0|[1-9][0-9]?|100)%$")
_RANGE = re.compile(r"^\[[0-9]+-[0-9]+\]$")
_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://([^/?#\s]+)([/?#]\S*)?$")
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)


class Invalid(ValueError):
    """A value that is not what its option claims: ``problem`` and ``valid`` (what would be)."""

    def __init__(self, problem, valid=None):
        super(Invalid, self).__init__(problem)
        self.problem = problem
        self.valid = valid


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def duration(value):
    """Seconds from an int or a string like '90s', '5m', '1h30m'."""
    if is_int(value):
        if value < 0:
            raise Invalid("is negative", "use seconds >= 0 or a duration like '5m'")
        return value
    if isinstance(value, str) and value.strip():
        match = _DURATION.match(value.strip())
        if match:
            hours, minutes, seconds = (int(g or 0) for g in match.groups())
            return hours * 3600 + minutes * 60 + seconds
    raise Invalid("is not a duration", "use seconds (int) or a string such as '90s', '5m', '1h30m'")


def count(value):
    if not is_int(value) or value < 0:
        raise Invalid("is not a non-negative integer", "use an integer >= 0")
    return value


def count_or_percent(value):
    if is_int(value) and value >= 0:
        return value
    if isinstance(value, str) and _PERCENT.match(value):
        return value
    raise Invalid("is not a count or percentage", "use an integer >= 0 or a string like '25%'")


def unhealthy_range(value):
    if not isinstance(value, str) or not _RANGE.match(value):
        raise Invalid("is not a range", "use a string like '[1-3]'")
    return value


def port(value):
    if not is_int(value) or not 1 <= value <= 65535:
        raise Invalid("is not a TCP port", "use 1..65535")
    return value


def boolean(value):
    if not isinstance(value, bool):
        raise Invalid("is not a boolean", "use true or false")
    return value


def text(value):
    if not isinstance(value, str) or not value or len(value) > 256:
        raise Invalid("is not a non-empty string", "a non-empty string of at most 256 characters")
    return value


def dns_subdomain(value):
    if not isinstance(value, str) or len(value) > 253 or not RFC1123_SUBDOMAIN.match(value):
        raise Invalid("is not a DNS domain", "e.g. cluster.local")
    return value


def cidr(value):
    """An IP network with no host bits set (10.96.0.0/12, fd00::/64); the prefix length is required."""
    if not isinstance(value, str) or "/" not in value:
        raise Invalid("is not a network CIDR (no prefix length)", "e.g. 10.96.0.0/12 with no host bits set")
    try:
        return ipaddress.ip_network(value, strict=True)
    except (TypeError, ValueError) as exc:
        raise Invalid("is not a network CIDR (%s)" % exc, "e.g. 10.96.0.0/12 with no host bits set")


def ip(value):
    try:
        return ipaddress.ip_address(value)
    except (TypeError, ValueError):
        raise Invalid("is not an IP address", "e.g. 192.0.2.10 or 2001:db8::10")


def host(value):
    """A DNS name (wildcard allowed in the first label) or an IP address."""
    if isinstance(value, str):
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            name = value.lower()
            if name.startswith("*."):
                name = name[2:]
            if len(value) <= 253 and RFC1123_SUBDOMAIN.match(name):
                return value
    raise Invalid("is not a DNS name or IP address", "e.g. api.example.com or 192.0.2.10")


def url(value, schemes=("http", "https")):
    match = _URL.match(value) if isinstance(value, str) else None
    if not match or match.group(1).lower() not in schemes:
        raise Invalid("is not an %s URL" % " or ".join(schemes),
                      "use a URL with a scheme and a host, e.g. %s://registry.example.com" % schemes[-1])
    return value


def https_url(value):
    return url(value, ("https",))


def _der_certificate(der):
    """Minimal DER check when cryptography is missing: one SEQUENCE spanning the whole block."""
    if len(der) < 4 or der[0] != 0x30:
        return False
    length = der[1]
    offset = 2
    if length & 0x80:
        width = length & 0x7F
        if width == 0 or width > 4 or len(der) < 2 + width:
            return False
        length = int.from_bytes(der[2:2 + width], "big")
        offset += width
    return offset + length == len(der) and der[offset] == 0x30


def certificate(value):
    """PEM text of one or more X.509 certificates that really parse."""
    valid = "paste the PEM text of X.509 certificates (-----BEGIN CERTIFICATE----- ...)"
    if not isinstance(value, str):
        raise Invalid("is not PEM text", valid)
    blocks = _PEM_BLOCK.findall(value)
    if not blocks:
        raise Invalid("holds no PEM certificate", valid)
    for number, (label, body) in enumerate(blocks, 1):
        if label != "CERTIFICATE":
            raise Invalid("holds a %s block (#%d), not a certificate" % (label, number), valid)
        try:
            der = base64.b64decode("".join(body.split()), validate=True)
        except (ValueError, TypeError):
            raise Invalid("certificate #%d is not base64" % number, valid)
        if HAS_CRYPTOGRAPHY:
            from cryptography import x509
            try:
                x509.load_der_x509_certificate(der)
            except ValueError as exc:
                raise Invalid("certificate #%d does not parse (%s)" % (number, exc), valid)
        elif not _der_certificate(der):
            raise Invalid("certificate #%d does not parse" % number, valid)
    return value


# kind -> parser; the names are what the declarations use.
KINDS = {
    "duration": duration,
    "count": count,
    "count_or_percent": count_or_percent,
    "unhealthy_range": unhealthy_range,
    "port": port,
    "bool": boolean,
    "text": text,
    "dns_subdomain": dns_subdomain,
    "cidr": cidr,
    "ip": ip,
    "host": host,
    "url": url,
    "https_url": https_url,
    "certificate": certificate,
}


def parse(kind, value):
    return KINDS[kind](value)


def values_at(data, path):
    """Yield (var_suffix, value) for a declared path like 'customCAs[].pem' inside ``data``."""
    parts = path.replace("[]", ".[]").split(".")

    def walk(node, index, suffix):
        if index == len(parts):
            yield suffix, node
            return
        part = parts[index]
        if part == "[]":
            if isinstance(node, list):
                for i, item in enumerate(node):
                    yield from walk(item, index + 1, "%s[%d]" % (suffix, i))
            return
        if isinstance(node, dict) and node.get(part) is not None:
            yield from walk(node[part], index + 1, "%s.%s" % (suffix, part))

    return walk(data, 0, "")
