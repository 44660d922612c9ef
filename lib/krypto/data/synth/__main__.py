"""``python -m krypto.data.synth OUT``: see :mod:`krypto.data.synth.cli`."""

from krypto.data.synth.cli import main

if __name__ == "__main__":
    main(prog="python -m krypto.data.synth")
