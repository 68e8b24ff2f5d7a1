"""``python -m prunegan.gan map …`` (:mod:`prunegan.gan.cli`)."""
import sys

from .cli import main

sys.exit(main())
