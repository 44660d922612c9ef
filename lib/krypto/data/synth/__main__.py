from krypto.data.synth import main

main()
