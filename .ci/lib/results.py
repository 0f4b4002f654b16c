# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Test results of `make test`, added up over every suite.

    results.py record DIR STAGE NAME passed|failed     one result without a junit file (a molecule scenario)
    results.py summary DIR STAGE_LOG ALLOWED_SKIPS STAGE...

``DIR/<stage>/*.xml`` are junit files (pytest, ansible-test units and sanity), ``DIR/<stage>.jsonl``
results recorded with ``record``. A stage without any result counts as one test of its own (build,
lint, ...). A stage that failed without a failed test counts one failure more, and so does a stage
missing from the stage log. A skipped or xfailed test fails unless ALLOWED_SKIPS lists it with a
reason. The last line printed is ``results: N passed, N failed`` (``, N skipped`` when allowed skips
exist); the exit code is 1 when anything failed.
"""

import fnmatch
import json
import os
import re
import sys
from xml.etree import ElementTree

import yaml


def record(directory, stage, name, outcome):
    if outcome not in ("passed", "failed"):
        sys.exit("results.py record: outcome must be passed or failed, not %r" % outcome)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, stage + ".jsonl"), "a") as handle:
        handle.write(json.dumps({"name": name, "outcome": outcome}) + "\n")


def _junit_cases(path):
    """(name, outcome, message) for every testcase of a junit file."""
    root = ElementTree.parse(path).getroot()
    for case in root.iter("testcase"):
        if not case.get("name"):
            continue  # the test a Ctrl-C stopped: pytest writes an empty testcase for it
        name = "%s::%s" % (case.get("classname") or "", case.get("name") or "")
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, message = "failed", child.get("message") or (child.text or "").strip()
                break
            if child.tag == "skipped":
                outcome = "skipped"
                message = child.get("message") or (child.text or "").strip() or child.get("type") or ""
        yield name, outcome, message


def stage_cases(directory, stage):
    cases = []
    stage_dir = os.path.join(directory, stage)
    if os.path.isdir(stage_dir):
        for entry in sorted(os.listdir(stage_dir)):
            if entry.endswith(".xml"):
                try:
                    cases.extend(_junit_cases(os.path.join(stage_dir, entry)))
                except ElementTree.ParseError as exc:
                    cases.append(("%s (unreadable junit file)" % entry, "failed", str(exc)))
    recorded = os.path.join(directory, stage + ".jsonl")
    if os.path.exists(recorded):
        with open(recorded) as handle:
            for line in handle:
                item = json.loads(line)
                cases.append((item["name"], item["outcome"], ""))
    return cases


def _allowed(path):
    with open(path) as handle:
        data = yaml.safe_load(handle) or {}
    allowed = []
    for entry in data.get("allowed") or []:
        if not entry.get("reason"):
            sys.exit("%s: every allowed skip needs a reason: %r" % (path, entry))
        allowed.append((entry["stage"], entry["test"]))
    return allowed


def _is_allowed(allowed, stage, name):
    return any(stage == s and fnmatch.fnmatchcase(name, pattern) for s, pattern in allowed)


def _stage_log(path):
    outcomes = {}
    if os.path.exists(path):
        with open(path) as handle:
            for line in handle:
                fields = line.split()
                if len(fields) == 3:
                    outcomes[fields[0]] = (fields[1], fields[2])
    return outcomes


# The line of a failure message that says why, in this order: an Ansible task's error, else the
# assertion's own line (the first line is often just the start of a playbook's output tail).
_REASONS = (re.compile(r'(fatal: \[.*)'), re.compile(r'(FAILED! => .*)'), re.compile(r'((?:Timeout|Kube|Embedded)Error.*)'))


def _first_line(text, reason=False):
    lines = (text or "").strip().splitlines()
    if reason:
        for pattern in _REASONS:
            for line in lines:
                found = pattern.search(line)
                if found:
                    return found.group(1)[:300]
    return lines[0][:200] if lines else ""


def summary(directory, stage_log, allowed_path, stages):
    allowed = _allowed(allowed_path)
    outcomes = _stage_log(stage_log)
    total = {"passed": 0, "failed": 0, "skipped": 0}
    problems = []
    rows = []
    for stage in stages:
        result, seconds = outcomes.get(stage, ("MISSING", "-"))
        counts = {"passed": 0, "failed": 0, "skipped": 0}
        cases = stage_cases(directory, stage)
        for name, outcome, message in cases:
            if outcome == "skipped" and not _is_allowed(allowed, stage, name):
                outcome = "failed"
                problems.append("%s: %s was skipped (%s) and is not in %s" % (stage, name, _first_line(message), allowed_path))
            elif outcome == "failed":
                problems.append("%s: %s failed: %s" % (stage, name, _first_line(message, reason=True)))
            counts[outcome] += 1
        if not cases:
            counts["passed" if result == "ok" else "failed"] += 1
        elif result != "ok" and counts["failed"] == 0:
            counts["failed"] += 1
            if result == "TIMEOUT":
                problems.append("%s: stopped at SCS_KAAS_STAGE_DEADLINE (CI's time) before it finished" % stage)
            else:
                problems.append("%s: the stage ended with %s but no test of it failed" % (stage, result))
        if result == "MISSING":
            problems.append("%s: not in the stage log %s (the stage did not run)" % (stage, stage_log))
        for key in total:
            total[key] += counts[key]
        rows.append((stage, result, seconds, counts["passed"], counts["failed"], counts["skipped"]))
    print("%-14s %-14s %8s %8s %8s %8s" % ("stage", "result", "seconds", "passed", "failed", "skipped"))
    for row in rows:
        print("%-14s %-14s %8s %8d %8d %8d" % row)
    for problem in problems:
        print("  " + problem)
    line = "results: %d passed, %d failed" % (total["passed"], total["failed"])
    if total["skipped"]:
        line += ", %d skipped" % total["skipped"]
    print(line)
    return 1 if total["failed"] else 0


def main(argv):
    if len(argv) == 5 and argv[0] == "record":
        record(*argv[1:])
        return 0
    if len(argv) >= 5 and argv[0] == "summary":
        return summary(argv[1], argv[2], argv[3], argv[4:])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
