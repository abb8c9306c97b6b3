"""`dvr info`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("info")
    def info() -> None:
        """Not implemented yet."""
        raise typer.Exit(1)
