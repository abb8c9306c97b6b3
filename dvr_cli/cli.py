"""The `dvr` command line: typer commands only. Each command lives in dvr_cli/commands/ and
is a thin layer over the library; errors for users are DvrError, printed here in one line."""

from __future__ import annotations

import errno
import signal
import sys
import threading

import typer

from .commands.console import err_console, say_error, warnings_as_lines
from .errors import DvrError

app = typer.Typer(
    name="dvr",
    help="Differentiable Volumetric Rendering: photos + cameras -> textured 3D mesh.\n\n"
    "Typical use: `dvr calibrate` (optional) -> `dvr fit` -> `dvr export` / `dvr render` / `dvr eval`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from .commands import batch, calibrate, evaluate, export, fit, info, render, separate, view

    for module in (calibrate, fit, separate, export, render, evaluate, info, batch, view):
        module.register(app)


_register()


#: Exit code of a command stopped by Ctrl-C or SIGTERM (128 + SIGINT), as shells report it.
INTERRUPTED = 130
#: What to do about an operating-system error, by errno.
OS_HINTS = {
    errno.ENOSPC: "the disk is full; free space or choose another --out",
    errno.EDQUOT: "the disk quota is exhausted; free space or choose another --out",
    errno.EROFS: "the file system is read-only; choose another --out",
    errno.EACCES: "permission denied; choose another --out or fix the permissions",
    errno.EPERM: "not permitted; choose another --out or fix the permissions",
    errno.ENOLCK: "the file system does not support locks (a network file system?); choose a local --out",
}


def os_error_line(exc: OSError) -> str:
    """``PATH: problem (what to do)`` for an operating-system error."""
    reason = OS_HINTS.get(exc.errno) or exc.strerror or str(exc).splitlines()[0]
    return reason if exc.filename is None else f"{exc.filename}: {reason}"


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: returns the exit code.

    typer / click handle usage errors themselves (standalone mode: the usage line and the
    problem, exit 2), whichever click they carry (typer >= 0.29 vendors its own); DvrError
    becomes one line + exit 2; an operating-system error (disk full, read-only, no permission,
    no locks) one line naming the path + exit 1; Ctrl-C or SIGTERM one line + exit 130 (the
    writes are atomic: what was being written is not left half-written); a Python warning one
    ``warning:`` line, once. Nothing else is caught, so a bug still shows its traceback.
    """
    from .runtime import setup_process

    setup_process()
    previous = signal.signal(signal.SIGTERM, _terminate) if _in_main_thread() else None
    try:
        with warnings_as_lines():
            app(args=argv, standalone_mode=True)
    except DvrError as exc:
        say_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        say_error("interrupted")
        return INTERRUPTED
    except OSError as exc:
        say_error(os_error_line(exc))
        return 1
    except SystemExit as exc:  # how standalone mode ends: the command's result or a usage error's code
        if exc.code == INTERRUPTED:  # typer's way of ending on Ctrl-C, silently
            say_error("interrupted")
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        err_console.print(str(exc.code))
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _terminate(signum, frame) -> None:
    """SIGTERM (what Ray, SLURM and Kubernetes send) ends a command as Ctrl-C does."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
