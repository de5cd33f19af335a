"""`python -m tui_jail` runs the CLI."""

import sys

from tui_jail.cli import main

sys.exit(main())
