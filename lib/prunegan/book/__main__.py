"""``python -m prunegan.book ...``: see :func:`prunegan.book.cli.main`."""
import sys

from .cli import main

sys.exit(main())
