"""`dvr eval`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def evaluate() -> None:
        """Not implemented yet."""
        raise typer.Exit(1)
