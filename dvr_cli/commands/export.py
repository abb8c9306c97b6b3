"""`dvr export`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export() -> None:
        """Not implemented yet."""
        raise typer.Exit(1)
