"""``python -m statuspage``: see ``statuspage.cli``."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
