"""Why a sweep stops: SweepError, with the exit code the command ends with, and
write_or_explain, which turns a write the disk refuses into one that says how to go on.
Not for: a run's own error (a failed run is recorded in its run file, jobs.py).
"""


class SweepError(RuntimeError):
    """A sweep that cannot go on; exit_code 2 when nothing ran, 1 when it stopped midway."""

    def __init__(self, message, exit_code=2):
        super().__init__(message)
        self.exit_code = exit_code


def write_or_explain(write, path, exit_code=1):
    """Call write(); an OSError from it (a full, read-only or forbidden disk) becomes a
    SweepError naming `path`, the cause and that the run files written before are intact."""
    try:
        write()
    except OSError as err:
        raise SweepError(f"cannot write {path}: {err.strerror or err} (errno {err.errno}); "
                         "run files written before are intact - free space or fix the "
                         "folder's permissions and run the same command again to continue",
                         exit_code) from None
