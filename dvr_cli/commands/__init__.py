"""One module per `dvr` command; each exposes ``register(app)``."""
