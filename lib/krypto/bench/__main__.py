"""``python -m krypto.bench``: see :mod:`krypto.bench`."""

from krypto.bench.cli import main

raise SystemExit(main())
