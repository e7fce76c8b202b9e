"""Writing a checkpoint file so that a crash never leaves a broken one: temp file, fsync, rename.

Example::

    >>> import os, tempfile
    >>> from minigrad.serialization.atomic import write_atomically
    >>> path = os.path.join(tempfile.mkdtemp(), "a.bin")
    >>> write_atomically(path, b"new bytes")
    >>> open(path, "rb").read()
    b'new bytes'
"""

from __future__ import annotations

import os
import secrets

__all__ = ["write_atomically"]


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file next to it -> write -> fsync -> os.replace -> fsync dir.

    ``os.replace`` is atomic on POSIX and Windows when both names are on the same file system -
    that is why the temp file lives next to the target, not in /tmp. fsync before the rename makes
    sure the *data* is on disk before the new *name* is, so even a power cut cannot leave the name
    pointing at a half-written file.

    Example::

        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "b.bin")
        >>> write_atomically(path, b"old"); write_atomically(path, b"new")
        >>> open(path, "rb").read(), os.listdir(os.path.dirname(path))
        (b'new', ['b.bin'])
    """
    target = os.path.realpath(path)  # write through a symlink to its file, keep the link
    directory = os.path.dirname(target)
    if os.path.isdir(target):
        raise IsADirectoryError(f"mg.save: '{path}' is a directory, not a checkpoint file")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"mg.save: cannot write '{path}': directory '{directory}' does not exist")

    tmp, fd = _create_temp_file(target)
    try:
        with open(fd, "wb", closefd=True) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        # Any failure (disk full, Ctrl-C...): drop the temp file; the previous checkpoint is untouched.
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _create_temp_file(target: str) -> tuple[str, int]:
    """A new empty file ``.<name>.<random>.tmp`` next to ``target``, open for writing.

    O_EXCL: never reuse (or follow a symlink planted at) an existing name. Mode 0o666 lets the OS
    apply the user's umask, exactly as for a normal new file; when we replace an existing
    checkpoint we keep its permissions instead (a private 0600 file must stay private).
    """
    directory, base = os.path.split(target)
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:  # astronomically unlikely: try another random name
            continue
    try:
        os.chmod(tmp, os.stat(target).st_mode & 0o7777)
    except FileNotFoundError:
        pass
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return tmp, fd


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable. Best effort: not every OS can open a directory (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
