"""Files weam writes: atomically (a crash or Ctrl-C never leaves a half-written file or folder),
with the user's umask, and read back with one-line errors (the checks of an output folder before
any work are in ``output_folders``).

Temporary siblings are named ``.NAME.HOST.PID.XXXX.partial`` (and ``.NAME.HOST.PID.old`` while a
finished folder is swapped out), so the next run can tell a killed run's leftovers (its process is
gone) from a concurrent run's (still alive) and remove only the former.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import signal
import socket
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import WeamError

# errno → what the user is told when a write fails for a reason outside weam
_STORAGE_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for this file system or limit",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}
# the same failures as libraries word them after catching the OSError themselves (safetensors:
# "IoError(Os { code: 28, kind: StorageFull ...", torch.save: "... file write failed")
_STORAGE_TEXTS = (
    (re.compile(r"No space left on device|code: 28\b|StorageFull"), errno.ENOSPC),
    (re.compile(r"Disk quota exceeded|code: 122\b|QuotaExceeded"), errno.EDQUOT),
    (re.compile(r"File too large|code: 27\b|FileTooLarge"), errno.EFBIG),
    (re.compile(r"Read-only file system|code: 30\b|ReadOnlyFilesystem"), errno.EROFS),
    (re.compile(r"file write failed|unexpected pos \d+ vs \d+"), errno.ENOSPC),
)
LEGACY_PARTIAL_AGE = 24 * 3600  # seconds: a pid-less .partial folder this old is a dead run's


def read_json(path: str | os.PathLike) -> Any:
    """A JSON file weam wrote (config, metadata); broken JSON is a one-line error naming the line."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WeamError(f"invalid JSON ({exc.msg})", path, exc.lineno) from None


def utf8_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """A text file's lines with their 1-based numbers; a line that is not UTF-8 is a one-line error
    naming the file, line, byte and column (the decoder's own error names neither)."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise WeamError(
                    f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})", path, number
                ) from None


def storage_problem(exc: BaseException) -> str | None:
    """What went wrong, in words, when ``exc`` (or what caused it) is a failed write: a full disk,
    a quota, a read-only destination; None for any other error."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
            return _STORAGE_ERRNOS[exc.errno]
        text = str(exc)
        for pattern, code in _STORAGE_TEXTS:
            if pattern.search(text):
                return _STORAGE_ERRNOS[code]
        exc = exc.__cause__ or exc.__context__
    return None


def _umask() -> int:
    with contextlib.suppress(OSError, ValueError):  # thread-safe where /proc has it
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(path: str | os.PathLike) -> None:
    """Give a finished output (a file, or a folder and everything in it) the permissions of files
    the user creates: temporary files (mkstemp, transformers' saves) are private (0600)."""
    mask = _umask()
    path = Path(path)
    items = [path, *path.rglob("*")] if path.is_dir() and not path.is_symlink() else [path]
    for p in items:
        st = p.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue
        full = 0o777 if stat.S_ISDIR(st.st_mode) else 0o666 | (st.st_mode & 0o111)
        os.chmod(p, full & ~mask)


def real_path(path: str | os.PathLike) -> Path:
    """``path`` with ``~`` expanded and every symlink followed; never raises (a symlink loop is
    left as it is: the read that follows names it)."""
    return Path(os.path.realpath(os.path.expanduser(os.fspath(path))))


def missing_file(path: str | os.PathLike, what: str = "file") -> WeamError:
    """The one-line error for an input ``path`` that cannot be read as a file: a folder, a broken
    symlink, a symlink loop, or nothing there."""
    p = Path(path)
    if p.is_dir():
        return WeamError(f"is a folder, not a {what}", path)
    if p.is_symlink():
        try:
            p.stat()
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return WeamError("is a symlink loop (the link leads back to itself)", path)
        return WeamError(f"is a broken symlink (to {os.readlink(p)}, which does not exist)", path)
    return WeamError(f"{what} not found", path)


def _tag() -> str:
    """host.pid: who owns a temporary sibling."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0]) or "host"
    return f"{host}.{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _owner_gone(host: str, pid: str) -> bool:
    """Whether the run that made a temporary sibling is gone (a live or foreign one is kept)."""
    return host == _tag().split(".")[0] and int(pid) != os.getpid() and not _alive(int(pid))


def clean_stale(path: str | os.PathLike) -> list[Path]:
    """Remove what killed runs left beside ``path``: ``.partial`` folders or files of processes
    that are gone, and restore a finished folder a killed swap moved aside. A concurrent run's
    temporary folders (its process is alive, or it runs on another host) are left alone.
    Returns what was removed."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    name = re.escape(path.name)
    partial = re.compile(rf"^\.{name}\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[^.]+\.(partial|tmp)$")
    legacy = re.compile(rf"^\.{name}\.[a-z0-9_]{{8}}\.partial$")
    old = re.compile(rf"^\.{name}\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.old$")
    removed = []
    for p in sorted(path.parent.iterdir()):
        m = partial.match(p.name) or old.match(p.name)
        if m and _owner_gone(m["host"], m["pid"]):
            if p.name.endswith(".old") and not path.exists():
                os.replace(p, path)  # killed between the two renames of a swap: put it back
                continue
        elif not (legacy.match(p.name) and time.time() - p.stat().st_mtime > LEGACY_PARTIAL_AGE):
            continue
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        removed.append(p)
    return removed


# failures that can only be the write's own (a permission error may be an unreadable input's)
_WRITE_ONLY = {_STORAGE_ERRNOS[e] for e in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)}


def _write_failed(exc: BaseException, path: Path) -> None:
    problem = storage_problem(exc)
    if problem in _WRITE_ONLY and not isinstance(exc, WeamError):
        raise WeamError(f"cannot write it: {problem}; nothing was replaced", path) from None


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """Open a temporary sibling of ``path`` and rename it into place only on success. The file gets
    the mode of the file it replaces, else the user's umask (not mkstemp's 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_tag()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    try:
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        else:
            apply_umask(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        _write_failed(exc, path)
        raise


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ctrl-C and `kill` wait until the block is done (delivered right after it)."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (AttributeError, OSError, ValueError):  # no POSIX signal masks here
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one system call (Linux renameat2 RENAME_EXCHANGE); False where the
    system or file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), str(b))


def replace_dir(new: Path, path: Path, *, keep: Callable[[Path], bool] | None = None) -> None:
    """Put the finished folder ``new`` at ``path``, replacing what is there in one atomic swap
    (two renames where the system cannot swap: a run killed between them leaves
    ``.NAME.HOST.PID.old``, which ``clean_stale`` puts back). Entries of the replaced folder that
    ``keep`` accepts and ``new`` lacks (caches such as pretrain's align-en-*) move into it."""
    apply_umask(new)
    if not path.exists():
        os.replace(new, path)
        return
    with _signals_deferred():
        if _exchange(new, path):
            old = new  # the swap left the replaced folder at new's name (a .partial: cleanable)
        else:
            old = path.with_name(f".{path.name}.{_tag()}.old")
            os.replace(path, old)
            os.replace(new, path)
    for entry in sorted(old.iterdir()) if keep is not None else []:
        if keep(entry) and not (path / entry.name).exists():
            os.replace(entry, path / entry.name)
    shutil.rmtree(old, ignore_errors=True)


def partial_dir(path: Path, *, owner: int | None = None) -> Path:
    """A new temporary sibling of ``path`` owned by this process (see ``clean_stale``). With
    ``owner`` (a pid that outlives this process's siblings, e.g. torchrun's) the name is the same
    for every process that asks, and the folder may exist already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        host = _tag().split(".")[0]
        shared = path.with_name(f".{path.name}.{host}.{owner}.run.partial")
        shared.mkdir(exist_ok=True)
        return shared
    return Path(tempfile.mkdtemp(prefix=f".{path.name}.{_tag()}.", suffix=".partial", dir=path.parent))


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    folder = Path(os.path.abspath(folder))
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


@contextlib.contextmanager
def scratch_dir(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary work folder beside ``path`` (a ``.partial`` sibling, see ``clean_stale``),
    removed at the end: a ``kill -9`` leaves it where the next run writing ``path`` removes it,
    not in /tmp for ever."""
    path = Path(path)
    clean_stale(path)
    tmp = partial_dir(path)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path`` in one rename.

    On any error (or Ctrl-C) the temporary folder is removed and an existing ``path`` is untouched.
    Leftovers of killed runs beside ``path`` are cleaned first.
    """
    path = Path(path)
    clean_stale(path)
    if path.exists() and not overwrite:
        raise WeamError("output folder already exists (pass --overwrite to replace it)", path)
    made = _missing_folders(path.parent)
    tmp = partial_dir(path)
    try:
        yield tmp
        replace_dir(tmp, path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in made:  # a failed write leaves no empty folder it made (deepest first)
            try:
                folder.rmdir()
            except OSError:  # not empty (another output is there now) or gone: keep the rest
                break
        if isinstance(exc, WeamError) and exc.path and Path(exc.path).is_relative_to(tmp):
            # name the file where the user will look for it, not in the removed temporary folder
            final = path / Path(exc.path).relative_to(tmp)
            raise WeamError(exc.message, final, exc.line) from None
        _write_failed(exc, path)
        raise


@contextlib.contextmanager
def exclusive_lock(lock_file: str | os.PathLike, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_file`` (made if missing) for the block; ``on_wait`` is
    called once if another process holds it. No lock where the system has no ``flock`` or the
    folder cannot be written (then nothing is written there either)."""
    try:
        import fcntl
    except ImportError:  # not on POSIX
        yield
        return
    lock_file = Path(lock_file)
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        fh = open(lock_file, "a+b")  # noqa: SIM115 (closed below)
    except OSError:
        yield
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def building(path: str | os.PathLike, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock for making the cache entry ``path``: a second process that wants the
    same entry (two grid steps side by side, two `weam pretrain` runs) waits, then finds it made,
    instead of making it again. ``on_wait`` is called once if it has to wait. No lock under
    torchrun (its ranks make an entry together) or where the system has no ``flock``."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        yield
        return
    path = Path(path)
    with exclusive_lock(path.with_name(f".{path.name}.lock"), on_wait):
        yield
