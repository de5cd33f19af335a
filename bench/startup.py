"""Time to the wizard's first screen, headless, against a bare Textual app (Header, Label, Footer).

Each run is a fresh interpreter (imports are most of a start-up), timed from spawn until the first
screen has been composed and painted, then the app exits. The two apps alternate in the same run so
machine load hits both alike; the figure is the ratio of the medians. Target: ratio <= 1.3.

    .venv/bin/python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import asyncio, sys
from pathlib import Path
which = sys.argv[1]
if which == "bare":
    from textual.app import App
    from textual.widgets import Footer, Header, Label

    class Bare(App[None]):
        def compose(self):
            yield Header()
            yield Label("hello")
            yield Footer()

    app = Bare()
    ready = lambda: True
else:
    from tui_jail.app import make_app

    app = make_app(root=Path(sys.argv[2]), sandbox=True, environ={})
    ready = lambda: app.screen is not app.screen_stack[0]

async def first_screen(pilot):
    while not ready():
        await asyncio.sleep(0.001)
    await pilot.pause()
    app.exit()

app.run(headless=True, size=(80, 24), auto_pilot=first_screen)
"""


def once(which: str, root: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", CHILD, which, str(root)], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    from tui_jail.sandbox import make_sandbox_root

    with tempfile.TemporaryDirectory() as tmp:
        root = make_sandbox_root(Path(tmp) / "root", host_keys=False)
        once("bare", root), once("wizard", root)  # warm the file cache
        times: dict[str, list[float]] = {"bare": [], "wizard": []}
        for _ in range(args.runs):
            for which in times:
                times[which].append(once(which, root))
    bare, wizard = (statistics.median(times[w]) for w in ("bare", "wizard"))
    print(f"bare Textual app (Header+Label+Footer): median {bare * 1000:.0f} ms over {args.runs} runs")
    print(f"tui-jail wizard, first screen:          median {wizard * 1000:.0f} ms over {args.runs} runs")
    print(f"ratio {wizard / bare:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()
