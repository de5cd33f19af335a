"""The plain commands beneath the wizard, one module each: `add_parser(subparsers)` and `run(args)`.

Every command returns an exit code: 0 success, 1 refused (with a one-line reason on stderr),
2 usage error (argparse's own)."""

COMMAND_MODULES = (
    "presets",
    "plan",
    "apply",
    "confirm",
    "rollback",
    "status",
    "verify",
    "recover",
    "remove",
    "exec",
)
