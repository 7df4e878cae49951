"""``python -m profilelab`` runs the command line."""

from profilelab.cli import program

program()
