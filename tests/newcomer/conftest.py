# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The newcomer's path: `make demo` twice, and every shell block of README.md and docs/ as pasted.
Run by `make newcomer` in a private network namespace."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
