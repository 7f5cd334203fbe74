"""`python -m bot` runs the paperboy command line."""

import sys

from bot.cli import main

sys.exit(main())
