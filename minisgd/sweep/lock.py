"""The lock of a sweep folder: DIR/.lock holds {"pid", "host", "started"} while a sweep
writes to DIR, so that a second sweep on the same folder is refused. A lock that its
writer left behind (its process is gone, or it could never be written) is taken over, so
that no fault needs cleaning up by hand. Not for: the run files (runfiles.py).
"""
import json
import os
import socket
import time

from ..io.outputs import read_json, remove_quietly
from .errors import SweepError

UNREADABLE_LOCK_AGE = 10.0


def acquire_lock(out):
    """Create DIR/.lock exclusively (O_CREAT | O_EXCL). A lock left by a process on this
    host that no longer exists is stale and taken over, and so is a lock that cannot be
    read (empty or garbled) once it is older than UNREADABLE_LOCK_AGE seconds (a younger
    one may be a lock being written right now); any other lock is refused. A lock whose
    content cannot be written (a full disk) is removed again, never left behind.
    Returns (path, note) where note says whether a stale lock was taken over."""
    path, note = os.path.join(out, ".lock"), None
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for attempt in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_lock(path)
            if attempt == 0 and (is_stale(holder) or unreadable_and_old(path, holder)):
                note = (f"took over a stale lock {path} " +
                        (f"(pid {holder['pid']} on this host is no longer running)"
                         if holder else "(it could not be read: empty or garbled)"))
                try:
                    remove_quietly(path)
                except OSError as err:               # e.g. a read-only folder
                    raise SweepError(f"cannot take over the stale lock {path}: "
                                     f"{err.strerror or err} (errno {err.errno})") from None
                continue
            raise SweepError(locked_message(out, path, holder)) from None
        except OSError as err:
            raise SweepError(f"cannot write to the output folder {out}: "
                             f"{err.strerror or err} (errno {err.errno})") from None
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
        except OSError as err:
            remove_quietly(path)
            raise SweepError(f"cannot write to the output folder {out}: "
                             f"{err.strerror or err} (errno {err.errno})") from None
        return path, note
    raise SweepError(locked_message(out, path, read_lock(path)))


def locked_message(out, path, holder):
    who = ("a process that left an unreadable lock" if holder is None else
           f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('started')}")
    return (f"another sweep is writing to {out} ({who}); refusing to run a second one there. "
            f"If no sweep is running, delete {path} and start again.")


def read_lock(path):
    holder = read_json(path)
    ok = isinstance(holder, dict) and isinstance(holder.get("host"), str) and \
        isinstance(holder.get("pid"), int) and not isinstance(holder.get("pid"), bool)
    return holder if ok else None                 # anything else is garbled: unreadable


def unreadable_and_old(path, holder):
    try:
        return holder is None and time.time() - os.path.getmtime(path) > UNREADABLE_LOCK_AGE
    except OSError:
        return False


def is_stale(holder):
    if not holder or holder.get("host") != socket.gethostname():
        return False                      # another host's pid cannot be checked from here
    try:
        return not pid_alive(int(holder["pid"]))
    except (KeyError, TypeError, ValueError, OverflowError):
        return False


def pid_alive(pid):
    """Whether a process `pid` exists on this host (one we may not signal exists too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return pid > 0


def release_lock(path):
    holder = read_lock(path)
    if holder is not None and holder.get("pid") == os.getpid():
        remove_quietly(path)
