# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The attributes every module documents: ``scs.kaas.attributes`` (check mode) together with
    # ``scs.kaas.attributes.no_diff`` or ``scs.kaas.attributes.diff``. The parts do not overlap,
    # because a fragment cannot override a key another fragment sets. A module adds ``details``
    # in its own ``attributes:`` block (merged key by key over these).
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
"""

    NO_DIFF = r"""
attributes:
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
"""

    DIFF = r"""
attributes:
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
"""
