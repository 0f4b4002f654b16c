# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""One way to run external commands: a ``CommandRunner`` handed to whoever needs one.

``runner.run(argv, cwd=None, env=None, data=None, timeout=None) -> CommandResult(argv, rc, stdout, stderr)``
  ``env`` holds variables set on top of the current environment (an update, never a
  replacement); ``data`` is text written to the command's stdin; ``timeout`` (seconds) runs the
  command under coreutils ``timeout`` and turns its expiry into a ``CommandError`` naming the
  command and the limit. A non-zero exit is returned, not raised: ``result.check(what)`` raises.

Inside a module the runner is ``module_runner(module)``, built on ``AnsibleModule.run_command``.
Outside Ansible (the build script, tests, benchmarks) the same class runs over ``subprocess``
(``roles/management_cluster/files/embedded/local_command.py``), so both share argv handling,
timeouts and errors.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError

# Seconds between coreutils timeout's SIGTERM and its SIGKILL.
KILL_AFTER = 10
# Exit status of ``timeout`` when the limit expired: 124 after SIGTERM, 137 (128+9) or -9 (the
# runner saw the signal) when SIGKILL was needed.
TIMED_OUT = (124, 137, -9)


class CommandError(KaasError):
    """A command could not be started, ran out of time, or failed where success was required."""


class CommandResult(object):
    def __init__(self, argv, rc, stdout, stderr):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    @property
    def ok(self):
        return self.rc == 0

    def check(self, what=None, lines=30):
        """This result if the command succeeded, else a ``CommandError`` with the end of stderr."""
        if self.rc != 0:
            tail = "\n".join((self.stderr or self.stdout or "").strip().splitlines()[-lines:])
            raise CommandError("%s failed (exit %d): %s\n%s" % (what or self.argv[0], self.rc, " ".join(self.argv), tail))
        return self


class CommandRunner(object):
    """Runs argv lists through ``execute(argv, cwd, env, data) -> (rc, stdout, stderr)``.

    ``execute`` raises ``OSError`` when the command cannot be started.
    """

    def __init__(self, execute):
        self._execute = execute

    def run(self, argv, cwd=None, env=None, data=None, timeout=None):
        argv = [str(a) for a in argv]
        full = argv
        if timeout:
            full = ["timeout", "--kill-after=%ds" % KILL_AFTER, "%ds" % int(timeout)] + argv
        try:
            rc, stdout, stderr = self._execute(full, cwd, dict(env or {}), data)
        except OSError as exc:
            raise CommandError("cannot run %s: %s" % (" ".join(argv), exc))
        if timeout and rc in TIMED_OUT:
            raise CommandError("%s did not finish within its limit of %d seconds (stopped)"
                               % (" ".join(argv), int(timeout)))
        return CommandResult(argv, rc, stdout, stderr)


def module_runner(module):
    """The runner of an Ansible module: ``module.run_command`` (argv as given, no shell)."""
    def execute(argv, cwd, env, data):
        return module.run_command(argv, cwd=cwd, environ_update=env, data=data, binary_data=True,
                                  expand_user_and_vars=False, handle_exceptions=False)
    return CommandRunner(execute)
