"""``python -m vigilante.cli``: the ``vigilante`` command."""

import sys

from vigilante.cli import main

if __name__ == "__main__":
    sys.exit(main())
