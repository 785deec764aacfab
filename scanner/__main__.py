"""``python -m scanner`` runs the CLI (same as the ``mlposture`` command)."""

from scanner.cli import main

main()
