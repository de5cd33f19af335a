"""The jail module: a tui-jail spec present on (or absent from) the target, through tui-jail's own
transaction. A real run leaves the transaction pending; `confirm` keeps it from a new login."""

from __future__ import annotations

DOCUMENTATION = r"""
module: jail
short_description: Apply or remove a tui-jail spec through its transaction, left pending confirmation
description:
  - Runs C(tui-jail) on the target. Check mode is C(tui-jail plan --json) (C(remove --dry-run) for
    I(state=absent)) and changes nothing; C(--diff) shows the plan's file diffs.
  - A real run applies (or removes) as a transaction that tui-jail's watchdog rolls back unless
    M(tui_jail.fleet.confirm) runs from a new SSH login before I(confirm_timeout). The id is returned
    as C(transaction).
  - Refusals (preflight, invalid spec, a pending transaction) fail the task with tui-jail's one-line reason.
options:
  spec_file:
    description: A spec YAML file on the controller (read there by the action plugin).
    type: path
  spec:
    description: The spec inline, as YAML text or a mapping.
    type: raw
  name:
    description: The jail's name; taken from the spec when omitted. Enough alone for I(state=absent).
    type: str
  state:
    type: str
    choices: [present, absent]
    default: present
  confirm_timeout:
    description: Seconds before tui-jail's watchdog rolls the transaction back unless confirmed.
    type: float
    default: 120
  executable:
    type: str
    default: /usr/local/sbin/tui-jail
  root:
    description: The system root tui-jail works on (C(--root)).
    type: path
    default: /
"""

EXAMPLES = r"""
- name: Apply the seedbox jail, pending confirmation
  tui_jail.fleet.jail:
    spec_file: specs/rclone-sftp.yaml
    confirm_timeout: 120
  register: applied
"""

RETURN = r"""
transaction:
  description: The pending transaction's id; null when nothing changed or in check mode.
  type: str
  returned: always
summary:
  description: tui-jail's one-line summary of the plan.
  type: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tui_jail.fleet.plugins.module_utils import cli


def main():
    module = AnsibleModule(
        argument_spec={
            **cli.COMMON_OPTIONS,
            **cli.SPEC_OPTIONS,
            "name": {"type": "str"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "confirm_timeout": {"type": "float", "default": 120},
        },
        required_if=[("state", "present", ("spec",))],
        required_one_of=[("spec", "name")],
        supports_check_mode=True,
    )
    params = module.params
    timeout = ["--confirm-timeout", f"{params['confirm_timeout']:g}", "--yes"]
    if params["state"] == "present":
        if module.check_mode:
            plan, transaction = cli.run_json(module, "plan", spec=params["spec"]), None
        else:
            done = cli.run_json(module, "apply", *timeout, spec=params["spec"])
            plan, transaction = done["plan"], done["transaction"]
    else:
        if not params["name"]:
            module.fail_json(msg="name: state absent needs the jail's name (or a spec naming it)")
        if module.check_mode:
            plan, transaction = cli.run_json(module, "remove", params["name"], "--dry-run"), None
        else:
            done = cli.run_json(module, "remove", params["name"], *timeout)
            plan, transaction = done["plan"], done["transaction"]
    module.exit_json(
        changed=bool(plan["has_changes"]),
        transaction=transaction and transaction["id"],
        summary=plan.get("summary", ""),
        diff=cli.diffs(plan),
    )


if __name__ == "__main__":
    main()
