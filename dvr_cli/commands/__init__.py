"""One module per `dvr` command, each exposing ``register(app)``; console.py and fit_progress.py hold
the printing they share."""
