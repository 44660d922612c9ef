"""``python -m krypto.bench``: see :mod:`krypto.bench`."""

import sys

from krypto.bench.cli import main

sys.exit(main())
