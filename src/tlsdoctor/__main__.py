"""``python -m tlsdoctor``: the same as the ``tlsdoctor`` command."""

import sys

from tlsdoctor.cli import main

sys.exit(main())
