# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Shared base of the collection's modules: ``run()`` returns the result dict, ``KaasError`` and
``KubeError`` become ``fail_json``; modules that talk to a management cluster get the
kubeconfig/context options and a client; every module runs commands through ``self.runner``
(``AnsibleModule.run_command``, see ``module_utils/command.py``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.scs.kaas.plugins.module_utils.command import module_runner
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.kube import client as kube_client

KUBECONFIG_ARGS = dict(
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
)


class KaasModule(object):
    """Subclasses set ``argument_spec`` (and optionally ``module_kwargs``) and implement ``run``.

    ``kubeconfig_options = False`` leaves out the kubeconfig/context options (modules that do not
    talk to an existing cluster); ``required_libraries`` lists (available, name, import error)
    checked before ``run``.
    """

    argument_spec = {}
    module_kwargs = {}
    kubeconfig_options = True
    required_libraries = ()

    def __init__(self):
        spec = dict(KUBECONFIG_ARGS) if self.kubeconfig_options else {}
        spec.update(self.argument_spec)
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=True, **self.module_kwargs)
        self.params = self.module.params
        self.runner = module_runner(self.module)
        self._client = None
        self._redact_invocation()
        for available, name, error in self.required_libraries:
            if not available:
                self.module.fail_json(msg=missing_required_lib(name), exception=to_native(error))

    @property
    def client(self):
        if self._client is None:
            if not kube_client.HAS_KUBERNETES:
                self.module.fail_json(msg=missing_required_lib("kubernetes"),
                                      exception=kube_client.KUBERNETES_IMP_ERR)
            try:
                self._client = kube_client.KubeClient(self.params.get("kubeconfig"), self.params.get("context"))
            except Exception as exc:  # config errors: missing file, unknown context
                self.module.fail_json(msg="cannot load the management cluster kubeconfig: %s" % to_native(exc))
        return self._client

    def shown_params(self):
        """The parameters the result's ``invocation`` shows (-vvv); None: all of them, as Ansible does.
        A module whose options carry configuration that must not be echoed returns a redacted copy."""
        return None

    def _redact_invocation(self):
        shown = self.shown_params()
        if shown is None:
            return
        for name in ("exit_json", "fail_json"):
            setattr(self.module, name, self._with_invocation(getattr(self.module, name), shown))

    @staticmethod
    def _with_invocation(report, shown):
        def with_invocation(*args, **kwargs):
            kwargs.setdefault("invocation", {"module_args": shown})
            return report(*args, **kwargs)
        return with_invocation

    def run(self):
        raise NotImplementedError

    def failure_result(self):
        """Extra result keys of a failed run (e.g. the progress messages so far)."""
        return {}

    def __call__(self):
        """Run; a returned dict is the module result (``changed`` defaults to False)."""
        result = None
        try:
            result = self.run()
        except kube_client.KubeError as exc:
            self.module.fail_json(msg="Kubernetes API error: %s" % to_native(exc), status=exc.status,
                                  reason=exc.reason, **self.failure_result())
        except KaasError as exc:
            self.module.fail_json(msg=to_native(exc), **self.failure_result())
        finally:
            if self._client is not None:
                self._client.close()
        if result is not None:
            result.setdefault("changed", False)
            # A ``warnings`` key of exit_json is deprecated (ansible-core 2.23 removes it); module.warn
            # puts them in the result's warnings all the same.
            for warning in result.pop("warnings", None) or []:
                self.module.warn(warning)
            self.module.exit_json(**result)
