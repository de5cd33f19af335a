"""The errors a command turns into a one-line refusal (exit 1), never a traceback."""


class Refused(Exception):
    """An action refused for a reason the user can act on (failed preflight, pending transaction…).

    `field` names the spec's top-level field whose change would lift the refusal (`mounts`, `root`,
    `sftp`, `exec`), when there is one: the wizard leads the admin back to the step that edits it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
