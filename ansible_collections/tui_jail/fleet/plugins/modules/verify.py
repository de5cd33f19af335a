"""The verify module: `tui-jail verify` of a spec on the target, as a task that fails naming the
checks that failed. Changes nothing."""

from __future__ import annotations

DOCUMENTATION = r"""
module: verify
short_description: Verify a tui-jail spec on the live host
description:
  - Runs C(tui-jail verify --json) and fails when any check fails, naming each with its detail.
options:
  spec_file:
    description: A spec YAML file on the controller (read there by the action plugin).
    type: path
  spec:
    description: The spec inline, as YAML text or a mapping.
    type: raw
  name:
    description: The jail's name, returned as C(jail) (the action plugin takes it from the spec).
    type: str
  executable:
    type: str
    default: /usr/local/sbin/tui-jail
  root:
    type: path
    default: /
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tui_jail.fleet.plugins.module_utils import cli


def main():
    module = AnsibleModule(
        argument_spec={**cli.COMMON_OPTIONS, **cli.SPEC_OPTIONS, "name": {"type": "str"}},
        required_one_of=[("spec",)],
        supports_check_mode=True,
    )
    rc, out, err = cli.run_unchecked(module, "verify", "--json", spec=module.params["spec"])
    try:
        results = json.loads(out)["results"]
    except (ValueError, KeyError):
        module.fail_json(msg=cli.reason(err, out), rc=rc)
    failed = [f"{r['name']}: {r.get('detail', '')}" for r in results if r["status"] == "fail"]
    if rc != 0 or failed:
        module.fail_json(msg="; ".join(failed) or cli.reason(err, out), results=results, rc=rc)
    module.exit_json(changed=False, jail=module.params["name"], results=results)


if __name__ == "__main__":
    main()
