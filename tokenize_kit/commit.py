"""Committing a set of files (a delivery and its manifest, a generated dataset) as one unit.

A job writes every file of the set to a partial file beside its target (``.NAME.<pid>-<random>.partial``, mode
0600), fsyncs each, and only then places them all, inside a guard that defers SIGTERM, SIGHUP and SIGINT, and
fsyncs the folder after.  Why each step:

* Files are placed last-written-first (for a delivery: the manifest, then OUTPUT), so an OUTPUT never exists
  without the manifest describing it, even if the process is killed between the two renames.
* Without ``overwrite`` a file is placed with :func:`os.link`, which fails if the target exists: of two jobs
  writing the same target, one wins and the other gets a clear error and leaves nothing (a check-then-rename
  would let both pass the check and one silently clobber the other).
* With ``overwrite`` the previous files are kept aside (hard-linked as ``.NAME.<pid>-<random>.previous``, so
  each target is never missing: the new file replaces it in one rename) and deleted only when the whole new set is
  in place; any failure (disk full at the manifest, a signal during the commit) puts them back, so the previous
  delivery is never lost.
* A signal during the placing is deferred to its end, where it undoes the commit: an interrupted job leaves the
  targets as they were, never half a set.  Outside the commit SIGTERM and SIGHUP (closing the terminal) end the
  job as Ctrl-C does, through the same clean-up: partial files are deleted.
* SIGKILL cannot be caught: partial (and set-aside) files of our naming whose process is gone and that are older
  than the running job are removed when a job next writes beside them; a set-aside previous file whose target is
  missing is put back.

Errors while writing (disk full, read-only folder, no permission) are :class:`OutputError` naming the path and
the error's kind, never a traceback.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

from .io import STDIO, InputError

PARTIAL = "partial"
PREVIOUS = "previous"
#: the signals a job turns into a clean exit (SIGINT stays KeyboardInterrupt, the others exit with 128 + signal)
SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name))


class OutputError(InputError):
    """A file of the set cannot be written or placed (environment or usage, not a bug): exit 2."""


class OutputExists(OutputError):
    """A target exists and ``overwrite`` was not given."""


def side_name(target: Path, kind: str, pid: int | None = None) -> Path:
    """The hidden partial (or set-aside) file of ``target``, named with our process id so that a later job can
    tell whether its writer is still alive."""
    tag = secrets.token_hex(4)
    return target.with_name(f".{target.name}.{pid or os.getpid()}-{tag}.{kind}")


def _side_pattern(target: Path) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(target.name)}\.(\d+)-[0-9a-f]+\.({PARTIAL}|{PREVIOUS})$")


def describe_os_error(exc: OSError) -> str:
    """The kind of an OSError in words plus its errno name, never its filename argument (we name the path
    ourselves).

    >>> describe_os_error(OSError(errno.ENOSPC, "No space left on device", "/secret/name"))
    'no space left on the device (ENOSPC)'
    """
    name = errno.errorcode.get(exc.errno or 0, "")
    words = {errno.ENOSPC: "no space left on the device", errno.EROFS: "the file system is read-only",
             errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
             errno.EDQUOT: "disk quota exceeded", errno.EIO: "input/output error",
             errno.ENOENT: "the folder does not exist", errno.EISDIR: "it is a folder",
             errno.ENAMETOOLONG: "the name is too long"}.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return f"{words} ({name})" if name else words


def write_error(path: Path | str, exc: OSError) -> OutputError:
    hint = {errno.ENOSPC: "; free space or write elsewhere", errno.EDQUOT: "; free space or write elsewhere",
            errno.EROFS: "; write to a writable folder", errno.EACCES: "; write to a folder you may write to",
            errno.EPERM: "; write to a folder you may write to"}.get(exc.errno or 0, "")
    return OutputError(f"cannot write {path}: {describe_os_error(exc)}{hint}; nothing was written")


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), from /proc; None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _writer_alive(pid: int, mtime: float) -> bool:
    """Whether the process that wrote a side file last modified at ``mtime`` may still be running."""
    if pid == os.getpid():
        return False  # (our own live side files are never older than the job; an older one is a reused pid's)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    except OSError:
        return True
    started = _process_start(pid)
    return started is None or started <= mtime + 1.0  # a process started after the file was written is not its writer


def clean_stale(target: Path, before: float) -> list[Path]:
    """Remove our partial files of ``target`` left by a killed job (its process gone, the file older than
    ``before``); put back a set-aside previous file whose target is missing, remove it otherwise.  Returns what was
    removed or restored."""
    directory = target.parent if str(target.parent) else Path(".")
    pattern = _side_pattern(target)
    done: list[Path] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return done
    for name in sorted(names):
        m = pattern.match(name)
        if not m:
            continue
        side = directory / name
        try:
            mtime = side.lstat().st_mtime
        except FileNotFoundError:
            continue
        if mtime >= before or _writer_alive(int(m.group(1)), mtime):
            continue
        try:
            if m.group(2) == PREVIOUS and not os.path.lexists(target):
                os.link(side, target)  # (fails if a target appeared meanwhile: then the set-aside copy goes)
            side.unlink()
            done.append(side)
        except FileExistsError:
            side.unlink(missing_ok=True)
            done.append(side)
        except OSError:
            continue
    return done


def fsync_dir(directory: Path) -> None:
    """Make the renames in ``directory`` durable (a rename is only in the folder's metadata)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # (not possible on this platform or file system)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


class _Terminated(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread so that clean-up runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class SignalGuard:
    """Turns SIGTERM / SIGHUP into :class:`_Terminated` and SIGINT into KeyboardInterrupt while a job runs, and
    defers all three during :meth:`deferred`.  A no-op outside the main thread (signals are delivered there)."""

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._deferring = False
        self.pending: int | None = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._deferring:
            self.pending = self.pending or signum
            return
        self.raise_for(signum)

    @staticmethod
    def raise_for(signum: int) -> None:
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise _Terminated(signum)

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                if signal.getsignal(sig) == signal.SIG_IGN:
                    continue  # ignored on purpose (nohup, a background job): stays ignored
                try:
                    self._previous[sig] = signal.signal(sig, self._handle)
                except (ValueError, OSError):  # (not settable here)
                    pass
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False


#: test hook: called with (step, path) before each step of placing ("place", "set-aside"), to inject a failure
_before_step: Callable[[str, Path], None] | None = None


class CommitSet:
    """Write several files and make them appear together, or not at all (see the module's docstring).

    ``targets`` are in placing order reversed: the first is the main file (OUTPUT), the others describe it
    (its manifest) and are placed before it.  Use as a context manager; :meth:`open` gives each target's partial
    file, :meth:`commit` places them; leaving the block without :meth:`commit` (an error, a signal) deletes the
    partial files and leaves the targets as they were.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> out, manifest = folder / "out.csv", folder / "out.csv.manifest.json"
    >>> with CommitSet([out, manifest]) as job:
    ...     job.open(out).write(b"id,1")
    ...     job.write_bytes(manifest, b"{}")
    ...     job.commit()
    4
    >>> sorted(p.name for p in folder.iterdir())
    ['out.csv', 'out.csv.manifest.json']
    >>> with CommitSet([out, manifest]) as job:  # (no overwrite: refused before any work)
    ...     pass
    Traceback (most recent call last):
    tokenize_kit.commit.OutputExists: ... already exists; choose another path or pass --force to replace it
    >>> import shutil; shutil.rmtree(folder)
    """

    def __init__(self, targets: Sequence[str | os.PathLike[str]], *, overwrite: bool = False) -> None:
        self.targets = [Path(t) for t in targets]
        self.overwrite = overwrite
        self._partials: dict[Path, Path] = {}
        self._files: dict[Path, BinaryIO] = {}
        self._guard = SignalGuard()
        self.committed = False

    # -- before writing ------------------------------------------------------------------------------
    def __enter__(self) -> CommitSet:
        started = time.time()
        self._guard.__enter__()
        try:
            for target in self.targets:
                if str(target) == STDIO:  # (standard output is written through io.SpooledOutput)
                    raise OutputError("'-' stands for standard input or output, not a file to write here; give a "
                                      "file path")
                if target.is_dir():
                    raise OutputError(f"{target} is a folder; give a file name")
                if not _directory(target).is_dir():
                    raise OutputError(f"the folder {_directory(target)} of {target} does not exist; create it first")
                clean_stale(target, started)
            self.check_free()
        except BaseException:
            self._guard.__exit__(None, None, None)
            raise
        return self

    def check_free(self) -> None:
        """Without ``overwrite``: refuse at once (before any work) when a target exists."""
        if self.overwrite:
            return
        for target in self.targets:
            if os.path.lexists(target):
                raise OutputExists(f"{target} already exists; choose another path or pass --force to replace it")

    def open(self, target: str | os.PathLike[str]) -> BinaryIO:
        """The partial file of ``target`` (created exclusively, mode 0600), open for writing."""
        target = Path(target)
        if target not in self.targets:
            raise ValueError(f"{target} is not a target of this commit")
        partial = side_name(target, PARTIAL)
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            raise write_error(target, exc) from None
        self._partials[target] = partial
        fh = os.fdopen(fd, "wb")
        self._files[target] = fh
        return fh

    def partial(self, target: str | os.PathLike[str]) -> Path:
        """The partial file :meth:`open` made for ``target`` (to hash it before it is placed)."""
        return self._partials[Path(target)]

    def write_bytes(self, target: str | os.PathLike[str], data: bytes) -> None:
        fh = self.open(target)
        try:
            fh.write(data)
        except OSError as exc:
            raise write_error(Path(target), exc) from None

    # -- placing -------------------------------------------------------------------------------------
    def commit(self) -> None:
        """fsync every partial file, then place them all inside the signal guard, then fsync the folders."""
        missing = [t for t in self.targets if t not in self._partials]
        if missing:
            raise ValueError(f"nothing was written for {missing}")
        for target, fh in self._files.items():
            try:
                if not fh.closed:
                    fh.flush()
                    os.fsync(fh.fileno())
                    fh.close()
                else:  # (closed by a writer library: sync it through a new descriptor)
                    fd = os.open(self._partials[target], os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
            except OSError as exc:
                raise write_error(target, exc) from None
        placed: list[tuple[Path, int]] = []
        aside: dict[Path, Path] = {}
        with self._guard.deferred():
            try:
                for target in reversed(self.targets):  # the manifest first: never an OUTPUT without it
                    if self.overwrite and os.path.lexists(target):
                        _step("set-aside", target)
                        aside[target] = side_name(target, PREVIOUS)
                        _keep_aside(target, aside[target])
                    _step("place", target)
                    inode = os.stat(self._partials[target]).st_ino
                    self._place(self._partials[target], target)
                    placed.append((target, inode))
                if self._guard.pending is not None:  # a signal during the commit: undo it, then honour it
                    raise _Deferred()
                for directory in {_directory(t) for t in self.targets}:
                    fsync_dir(directory)
            except BaseException as exc:
                self._undo(placed, aside)
                if isinstance(exc, FileExistsError):
                    name = exc.filename2 or exc.filename
                    raise OutputExists(f"{name} appeared while this job ran (another job writing the same file?); "
                                       "nothing was written; choose another path or pass --force") from None
                if isinstance(exc, OSError):
                    raise write_error(exc.filename2 or exc.filename or self.targets[0], exc) from None
                if isinstance(exc, _Deferred):
                    pass
                else:
                    raise
            else:
                self.committed = True
                for previous in aside.values():
                    try:
                        previous.unlink()
                    except OSError:
                        pass  # (a later job removes it as stale)
        if self._guard.pending is not None:
            signum, self._guard.pending = self._guard.pending, None
            self._guard.raise_for(signum)

    def _place(self, partial: Path, target: Path) -> None:
        if self.overwrite:
            os.replace(partial, target)
            return
        try:
            os.link(partial, target)  # fails if the target exists: never clobbers another job's file
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK):
                raise
            # a file system without hard links: claim the name exclusively, then rename over our own claim
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.replace(partial, target)
            return
        os.unlink(partial)

    def _undo(self, placed: list[tuple[Path, int]], aside: dict[Path, Path]) -> None:
        for target, inode in placed:
            if target in aside:
                continue  # (put back below, in one rename over the new file)
            try:
                if os.lstat(target).st_ino == inode:  # (ours, unless a --force job replaced it meanwhile)
                    os.unlink(target)
            except OSError:
                pass
        for target, previous in aside.items():
            try:
                if os.path.lexists(target) and os.path.samefile(previous, target):
                    os.unlink(previous)  # (not replaced yet; a rename between two links of one file does nothing)
                else:
                    os.replace(previous, target)
            except OSError:
                pass  # (left as .previous: the next job puts it back)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        try:
            for fh in self._files.values():
                try:
                    fh.close()
                except OSError:
                    pass
            for partial in self._partials.values():
                try:
                    partial.unlink()
                except FileNotFoundError:
                    pass
                except OSError:
                    pass  # (removed as stale by a later job)
        finally:
            self._guard.__exit__(None, None, None)
        if exc_type is not None and issubclass(exc_type, _Terminated):
            raise SystemExit(128 + exc.signum) from None  # type: ignore[union-attr]
        if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS and exc.filename is None:  # (a write to a partial)
            raise write_error(self.targets[0], exc) from None


_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG, errno.EACCES, errno.EPERM}


def _keep_aside(target: Path, previous: Path) -> None:
    """Keep the previous ``target`` under a second name until the new one is in place: a hard link, so the
    target never disappears (the new file replaces it in one rename); a rename where hard links are not possible."""
    try:
        os.link(target, previous, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK):
            raise
        os.rename(target, previous)


class _Deferred(Exception):
    """A signal arrived during the commit: undo it."""


def _step(step: str, path: Path) -> None:
    if _before_step is not None:
        _before_step(step, path)


def _directory(target: Path) -> Path:
    return target.parent if str(target.parent) else Path(".")


@contextmanager
def committed_file(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[BinaryIO]:
    """One file written through a partial file and placed by :class:`CommitSet` when the block succeeds."""
    with CommitSet([path], overwrite=overwrite) as commit:
        fh = commit.open(path)
        yield fh
        commit.commit()
