"""The `dvr` command line: typer commands only. Each command lives in dvr_cli/commands/ and
is a thin layer over the library; errors for users are DvrError, printed here in one line."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from .errors import DvrError

app = typer.Typer(
    name="dvr",
    help="Differentiable Volumetric Rendering: photos + cameras -> textured 3D mesh.\n\n"
    "Typical use: `dvr calibrate` (optional) -> `dvr fit` -> `dvr export` / `dvr render` / `dvr eval`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


def _register() -> None:
    from .commands import batch, calibrate, evaluate, export, fit, info, render, view

    for module in (calibrate, fit, export, render, evaluate, info, batch, view):
        module.register(app)


_register()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: returns the exit code.

    typer / click handle usage errors themselves (standalone mode: the usage line and the
    problem, exit 2), whichever click they carry (typer >= 0.29 vendors its own); DvrError
    becomes one line + exit 2; nothing else is caught, so a bug still shows its traceback.
    """
    from .runtime import setup_process

    setup_process()
    try:
        app(args=argv, standalone_mode=True)
    except DvrError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except SystemExit as exc:  # how standalone mode ends: the command's result or a usage error's code
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        err_console.print(str(exc.code))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
