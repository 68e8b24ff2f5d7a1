"""``python -m prunegan map …``, the same as the ``prunegan`` command (:mod:`prunegan.cli`)."""
import sys

from .cli import main

sys.exit(main())
