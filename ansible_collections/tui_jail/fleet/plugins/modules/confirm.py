"""The confirm module: keep a pending tui-jail transaction. Run it on a new SSH login (after
`meta: reset_connection`): tui-jail refuses a confirmation from the connection that applied."""

from __future__ import annotations

DOCUMENTATION = r"""
module: confirm
short_description: Confirm a pending tui-jail transaction from a new SSH login
description:
  - Runs C(tui-jail confirm TXN). Over SSH tui-jail accepts it only from a login that began after the
    change took effect, so put C(meta: reset_connection) before this task.
  - Does nothing when I(txn) is empty (the jail task changed nothing, or ran in check mode).
options:
  txn:
    description: The transaction id returned by M(tui_jail.fleet.jail).
    type: str
  executable:
    type: str
    default: /usr/local/sbin/tui-jail
  root:
    type: path
    default: /
"""

EXAMPLES = r"""
- ansible.builtin.meta: reset_connection
- tui_jail.fleet.confirm:
    txn: "{{ applied.transaction }}"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tui_jail.fleet.plugins.module_utils import cli


def main():
    module = AnsibleModule(
        argument_spec={**cli.COMMON_OPTIONS, "txn": {"type": "str"}},
        supports_check_mode=True,
    )
    txn = module.params["txn"]
    if not txn or module.check_mode:
        module.exit_json(changed=bool(txn), transaction=txn)
    out = cli.run(module, "confirm", txn)
    module.exit_json(changed=True, transaction=txn, msg=out.strip())


if __name__ == "__main__":
    main()
