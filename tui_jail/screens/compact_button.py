"""The wizard's button (Back/Next on every step, the dialogs' OK/Cancel): Textual's compact button with
only the stylesheet it draws with.

Textual's `Button` brings 7 KB of CSS (bordered, flat and ANSI styles, five variants) that the app parses
before the first screen paints, ~10 ms of the wizard's start-up, to draw buttons that are always compact
and default, primary or warning. This one is the same widget (keys, clicks, `Button.Pressed`) with the
rules for those looks alone; it does not inherit `Button`'s CSS, so stylesheets name it `CompactButton`.
"""

from __future__ import annotations

from textual.widgets import Button
from textual.widgets.button import ButtonVariant


class CompactButton(Button, inherit_css=False):
    """A borderless button: variant "default", "primary" or "warning" (others draw as default)."""

    # Button's own rules for a compact button of these variants, in its order (a variant's colour beats
    # :hover, the variant's :hover beats both), without the borders a compact button never draws
    DEFAULT_CSS = """
    CompactButton {
        width: auto;
        min-width: 16;
        height: auto;
        line-pad: 1;
        text-align: center;
        content-align: center middle;
        pointer: pointer;

        &.-style-default {
            text-style: bold;
            color: $button-foreground;
            background: $surface;

            &:disabled {
                text-opacity: 0.6;
                pointer: not-allowed;
            }
            &:focus {
                text-style: $button-focus-text-style;
                background-tint: $foreground 5%;
            }
            &:hover {
                background: $surface-darken-1;
            }
            &.-active {
                background: $surface;
                tint: $background 30%;
            }
            &.-primary {
                color: $button-color-foreground;
                background: $primary;
                &:hover {
                    background: $primary-darken-2;
                }
                &.-active {
                    background: $primary;
                }
            }
            &.-warning {
                color: $button-color-foreground;
                background: $warning;
                &:hover {
                    background: $warning-darken-2;
                }
                &.-active {
                    background: $warning;
                }
            }
        }
    }
    """

    def __init__(self, label: str, *, id: str, variant: ButtonVariant = "default") -> None:
        # the classes Button's watchers would add one by one, each restyling the button before it is even
        # mounted: present from the start, the watchers skip them (-textual-compact is not: its reactive
        # removes it as it initialises, then adds it back)
        classes = "-style-default" + ("" if variant == "default" else f" -{variant}")
        super().__init__(label, id=id, variant=variant, compact=True, classes=classes)
