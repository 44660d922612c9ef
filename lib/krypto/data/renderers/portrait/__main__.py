from krypto.data.renderers import main

main("portrait")
