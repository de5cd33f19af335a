"""Step 3 (sftp jails): who is jailed — the seedbox addresses and the users, checked as typed.

sshd jails a connection only when both match (`Match Address … User …`). A warning appears when the
admin's own address or user is in the lists, since that is how people lock themselves out; when both
are, the admin's own login would be jailed and Next is refused (preflight would refuse it anyway).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Checkbox, Input, Label

from tui_jail.screens.field import Field
from tui_jail.screens.step import StepScreen
from tui_jail.screens.tick import Tick
from tui_jail.screens.validators import SpecList
from tui_jail.screens.wizard_state import PLACEHOLDER, split_list


class AccessScreen(StepScreen):
    STEP = "Access"
    CSS_PATH = "access.tcss"

    def compose_body(self) -> ComposeResult:
        sftp = self.state.sftp
        # the preset's user placeholder, filled elsewhere (a created source's owner) by the first user typed
        self.user_placeholder = next((str(u) for u in sftp.get("users") or [] if PLACEHOLDER.fullmatch(str(u))), "")
        yield Label(
            "Connections from these addresses, as these users, get the SFTP-only jail; every other "
            "login is unchanged. Separate several with commas.",
            classes="intro",
        )
        yield Label("Seedbox addresses (IPs or CIDRs):", classes="field-label")
        yield _field("addresses", sftp.get("addresses"), "address")
        yield Label("", id="addresses-error", classes="field-error", markup=False)
        yield Label("Users:", classes="field-label")
        yield _field("users", sftp.get("users"), "user")
        yield Label("", id="users-error", classes="field-error", markup=False)
        with Horizontal(id="forwarding"):
            yield Tick("allow TCP forwarding", bool(sftp.get("allow_tcp_forwarding")), id="tcp", compact=True)
            yield Tick("allow X11 forwarding", bool(sftp.get("x11_forwarding")), id="x11", compact=True)
        yield Label("", id="admin-warning", classes="warning", markup=False)

    def on_mount(self) -> None:
        self.query_one("#addresses-input", Field).focus()

    @on(Input.Changed)
    def typed(self, event: Input.Changed) -> None:
        if event.input.id is None:
            return
        result = event.validation_result
        errors = "; ".join(result.failure_descriptions) if result else ""
        self.query_one(f"#{event.input.id.removesuffix('-input')}-error", Label).update(errors)
        self._store()

    @on(Checkbox.Changed)
    def flags(self) -> None:
        self._store()

    def _store(self) -> None:
        sftp = self.state.sftp
        for key in ("addresses", "users"):
            values = split_list(self.query_one(f"#{key}-input", Input).value)
            sftp[key] = values
        sftp["allow_tcp_forwarding"] = self.query_one("#tcp", Checkbox).value
        sftp["x11_forwarding"] = self.query_one("#x11", Checkbox).value
        caught, jailed = self.state.admin_caught(sftp["users"], sftp["addresses"])
        warning = self.query_one("#admin-warning", Label)
        warning.update(f"⚠ {caught}" if caught else "")
        warning.set_class(jailed, "-error")

    def check(self) -> str | None:
        from tui_jail.core.spec import SpecError

        sftp = self.state.sftp
        if self.user_placeholder and sftp["users"]:
            self.state.fill_placeholder(self.user_placeholder, sftp["users"][0])
            sftp = self.state.sftp
        if self.state.admin_caught(sftp["users"], sftp["addresses"])[1]:
            return "your own login would be jailed"
        for field in self.query(Field):
            result = field.validate(field.value)
            if result is not None and not result.is_valid:
                return f"{field.id and field.id.removesuffix('-input')}: {result.failure_descriptions[0]}"
        try:
            self.state.spec(final=True)
        except SpecError as exc:
            return str(exc)
        return None


def _field(key: str, values: object, kind: str) -> Field:
    """A preset's `<placeholder>` is shown as the hint of an empty field, not as text to delete."""
    items = [str(v) for v in values] if isinstance(values, list) else []
    unset = [v for v in items if PLACEHOLDER.fullmatch(v)]
    return Field(
        ", ".join(v for v in items if v not in unset),
        placeholder=f"{', '.join(unset)} — to fill in" if unset else "",
        id=f"{key}-input",
        validators=[SpecList(kind)],
    )
