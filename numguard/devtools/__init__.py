"""Developer tools: the carrier simulator, the local Kafka broker and the webhook sink.

Shipped with the `dev` extra (pip install 'numguard[dev]') and imported only by the
commands that need them (demo, dev, simulate) and by the tests."""
