"""``python -m mlposture.scanner`` runs the CLI (same as the ``mlposture`` command)."""

from mlposture.scanner.cli import main

main()
