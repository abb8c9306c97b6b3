"""`dvr fit`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("fit")
    def fit() -> None:
        """Not implemented yet."""
        raise typer.Exit(1)
