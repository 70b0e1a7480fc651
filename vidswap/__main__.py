"""``python -m vidswap`` runs the command line."""

from vidswap.cli import main

main()
