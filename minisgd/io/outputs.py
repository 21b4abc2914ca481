"""Writing a run's outputs: output paths checked before any work (check_outputs), and
files written whole or not at all (write_atomic: a temp file beside the target, fsync,
rename). io/files.py re-exports these names. Not for: reading inputs (io/files.py).
"""
import json
import os
import sys
import tempfile


def check_outputs(outputs, inputs=()):
    """Output paths [(flag, path or None)] checked before any work: each one a file that can
    be written (check_output_path), none the file of an input [(flag, path or None)] of the
    run or of another output (the same file by any name: symlinks, '..', hard links)."""
    given = {file_key(path): flag for flag, path in inputs if path}
    written = {}
    for flag, path in outputs:
        if path is None:
            continue
        check_output_path(flag, path)
        key = file_key(path)
        if key in given:
            raise ValueError(f"{flag} {path!r} is the file given as {given[key]}: an output "
                             "must not overwrite an input of the run; give another file path")
        if key in written:
            raise ValueError(f"{flag} {path!r} is also the file of {written[key]}: each "
                             "output needs a file of its own; give another file path")
        written[key] = flag


def file_key(path):
    """What names one file: its device and inode when it exists, else its real path."""
    try:
        st = os.stat(path)
        return ("inode", st.st_dev, st.st_ino)
    except OSError:
        return ("path", os.path.realpath(path))


def check_output_path(flag, path):
    """An output file path that can be written, checked before any work: not empty, not a
    folder, not a device or pipe, in a folder that exists (it is not made) and takes a
    new file of that name (else the OS's reason: permission denied, read-only, not a
    directory, file name too long); a new name is made and removed at once to know it."""
    if path == "" or os.path.basename(path) in ("", ".", ".."):
        what = "an empty string" if path == "" else f"{path!r}, a folder"
        example = f"result{FLAG_SUFFIX.get(flag, '')}"
        raise ValueError(f"{flag} must be a file path (e.g. {flag} {example}), got {what}")
    if os.path.isdir(path):
        raise ValueError(f"{flag} must be a file path, {path!r} is a folder")
    real = os.path.realpath(path)
    if os.path.exists(real) and not os.path.isfile(real):
        raise ValueError(f"{flag} must be a regular file path, {path!r} is not a regular file "
                         "(a device, pipe or socket would be replaced)")
    folder = os.path.dirname(real)
    if not os.path.lexists(folder):
        raise ValueError(f"{flag} {path!r}: its folder {folder!r} does not exist (make it "
                         "first, or give a file path in an existing folder)")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
        if not os.path.lexists(real):            # the name itself (too long, not allowed)
            os.close(os.open(real, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.unlink(real)
    except OSError as err:
        raise ValueError(f"{flag} {path!r} cannot be written: {err.strerror or err} (give "
                         "a file path where a new file can be made)") from None
    return path


FLAG_SUFFIX = {"--json": ".json", "--save": ".npz"}


def write_outputs(writes, prog):
    """Call write(real path) for each (flag, path, write) whose path is given; an OSError
    (full disk, ...) ends the writing with a message naming the flag on stderr, any
    previous file there left whole. Returns the exit status: 0 all written, else 1."""
    for flag, path, write in writes:
        if path is None:
            continue
        try:
            write(os.path.realpath(path))
        except OSError as err:
            print(f"{prog}: {flag} {path!r} could not be written: {err.strerror or err} "
                  "(any previous file there is untouched)", file=sys.stderr)
            return 1
    return 0


def write_json_atomic(obj, path):
    """Write JSON to a temp file in the same folder, fsync, then rename over `path`: a
    reader sees either the old file or the whole new one, never a half-written one."""
    write_atomic(path, ".json", "w", lambda fh: json.dump(obj, fh, indent=1, allow_nan=False))


def write_atomic(path, suffix, mode, write):
    """write(fh) into a temp file beside `path`, fsync, then rename it over `path`; on any
    failure the temp file is removed and `path` is as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
    try:
        os.chmod(tmp, 0o644)                     # mkstemp makes 0600; results are shared
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json(path):
    """The parsed JSON file at `path`, or None when it cannot be read or parsed (a lock or a
    sweep.json left half-written is then treated as absent or garbled by its reader)."""
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def remove_quietly(path):
    """Delete the file at `path`; one that is already gone is fine."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
