"""``python -m krypto.data.renderers.portrait OUT --identities 200 --size 64``."""

from krypto.data.renderers import main

main("portrait")
