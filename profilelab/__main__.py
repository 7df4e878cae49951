"""``python -m profilelab`` runs the command line."""

import sys

from profilelab.cli import main

sys.exit(main())
