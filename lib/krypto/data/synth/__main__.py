"""``python -m krypto.data.synth OUT``: see :func:`krypto.data.synth.main`."""

from krypto.data.synth import main

if __name__ == "__main__":
    main(prog="python -m krypto.data.synth")
