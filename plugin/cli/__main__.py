"""``python -m plugin.cli``."""

from plugin.cli import main

main()
