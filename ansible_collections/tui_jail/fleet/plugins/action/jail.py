"""Controller side of the jail and verify modules: reads `spec_file` on the controller (a saved spec
from the wizard) and hands its text to the module on the target as `spec`; takes the jail's `name`
from the spec when the task gives none, so `state: absent` needs nothing but the same spec."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.parsing.yaml.loader import AnsibleLoader
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        spec_file = args.pop("spec_file", None)
        if spec_file is not None:
            if args.get("spec") is not None:
                raise AnsibleActionFail("spec_file and spec: give one, not both")
            try:
                path = self._find_needle("files", spec_file)
                with open(path, encoding="utf-8") as handle:
                    args["spec"] = handle.read()
            except (OSError, AnsibleActionFail) as error:
                raise AnsibleActionFail(f"spec_file: {to_text(error)}") from error
        if not args.get("name") and args.get("spec") is not None:
            args["name"] = _spec_name(args["spec"])
        result.update(self._execute_module(self._task.resolved_action, module_args=args, task_vars=task_vars))
        return result


def _spec_name(spec):
    document = spec
    if isinstance(spec, str):
        try:
            document = AnsibleLoader(spec).get_single_data()
        except Exception as error:  # noqa: BLE001 - any YAML error: tui-jail names it on the target
            display.vvv(f"spec is not YAML the controller can read ({error}); the target will say why")
            return None
    return document.get("name") if isinstance(document, dict) else None
