"""``python -m krypto.data.renderers.eigenfaces OUT --identities 200 --size 64``."""

from krypto.data.renderers import main

main("eigenfaces")
