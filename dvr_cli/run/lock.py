"""One writer per run folder: an exclusive ``flock`` on RUN/.lock, which holds the writer's pid.

The kernel drops a flock when its process dies, however it dies (kill -9 included), so a lock
file left by a killed process is stale by construction: the next writer takes it over and says
so. The file is removed when the lock is released; a writer checks after locking that the file
it holds is still the one at the path (another may have removed and re-created it meanwhile).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import DvrError
from ..ownership import prepare_write
from .folder import LOCK


def _read_pid(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


class RunLock:
    """Context manager: hold ``run_dir``/.lock while writing the run.

    Raises DvrError (naming the holder's pid) when another process holds it.
    Attributes: ``stale_pid``, the pid of a dead writer whose lock was taken over (else None).
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK
        self.fd: int | None = None
        self.stale_pid: int | None = None

    def acquire(self) -> "RunLock":
        prepare_write(self.path)  # never a user's file of that name; recorded as dvr's before it is made
        for _ in range(5):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                os.close(fd)
                who = f"pid {holder}" if holder else "another process"
                raise DvrError(
                    f"another dvr process ({who}) is writing this run folder: wait for it to finish, "
                    "or choose another --out",
                    self.run_dir,
                ) from None
            except OSError as exc:  # ENOLCK: some network file systems have no flock
                os.close(fd)
                raise DvrError(
                    f"cannot lock the run folder ({exc.strerror}; a network file system?): choose a local --out",
                    self.path,
                ) from None
            try:
                current = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if not current:  # released and removed by its holder between our open and flock
                os.close(fd)
                continue
            previous = _read_pid(fd)
            self.stale_pid = previous if previous not in (None, os.getpid()) else None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self.fd = fd
            return self
        raise DvrError("could not lock the run folder (it keeps changing)", self.run_dir)

    def release(self) -> None:
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
