"""``python -m krypto.data.synth OUT``: see :func:`krypto.data.synth.main`."""

from krypto.data.synth import main

main()
