"""A sweep's progress line on stderr: runs done / total, failures, elapsed, time left, and
for a run executing in this process its step and current training loss.

On a terminal the line is rewritten in place ('\\r', at most 5 times a second); otherwise
(CI logs, a file) one line is printed every `interval` seconds (default 5) and at the end.
quiet=True prints nothing. Messages (a corrupt run file redone, a lost worker) go through
`message`, which clears the in-place line first. Not for: deciding what to run.
"""
import sys
import time


def format_duration(seconds):
    """'42s', '3m05s', '2h07m'."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Counts runs as they start and finish and shows the line."""

    def __init__(self, total, skipped=0, stream=None, quiet=False, interval=None,
                 clock=time.monotonic):
        self.stream = sys.stderr if stream is None else stream
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = (0.2 if self.tty else 5.0) if interval is None else interval
        self.clock = clock
        self.start = self.last_shown = clock()
        self.total, self.skipped = total, skipped
        self.done = self.failed = self.diverged = self.running = 0
        self.slots = None                               # calls that can execute at once
        self.task_size = 1                              # runs per call (ensembles: several)
        self.run_steps = self.step = self.loss = None   # the run executing in this process
        self.width = 0

    def started(self, n_runs, steps=None):
        """n_runs were handed to the executor; `steps` if it is one run in this process."""
        self.running += n_runs
        self.task_size = n_runs
        self.run_steps, self.step, self.loss = steps, None, None

    def finished(self, status):
        self.running = max(0, self.running - 1)
        self.done += 1
        self.failed += status.startswith("failed")
        self.diverged += status.startswith("diverged")
        self.run_steps = self.step = None
        self.tick()

    def lost(self, n_runs):
        self.running = max(0, self.running - n_runs)

    def on_record(self, t, row):
        """train's on_record callback: the in-process run reached step t."""
        self.step, self.loss = t, row.get("train_loss")
        self.tick()

    def line(self):
        now = self.clock()
        elapsed = now - self.start
        finished = self.skipped + self.done
        parts = [f"sweep {finished}/{self.total} runs done"]
        if self.skipped:
            parts[0] += f" ({self.skipped} from before)"
        running = self.running if self.slots is None else min(self.running,
                                                               self.slots * self.task_size)
        parts += [f"{n} {what}" for n, what in ((self.failed, "failed"),
                                                (self.diverged, "diverged"),
                                                (running, "running"),
                                                (self.running - running, "queued")) if n]
        parts.append(f"{format_duration(elapsed)} elapsed")
        fraction = self.step / self.run_steps if self.run_steps and self.step else 0.0
        progress = self.done + fraction
        left = self.total - finished - fraction
        if progress > 0 and left > 0:
            parts.append(f"~{format_duration(elapsed / progress * left)} left")
        text = ", ".join(parts)
        if self.step is not None and self.run_steps:
            loss = "nan" if self.loss is None else f"{self.loss:.4g}"
            text += f" | this run: step {self.step}/{self.run_steps}, loss {loss}"
        return text

    def tick(self, force=False):
        """Show the line if `interval` has passed since the last one (or force)."""
        if self.quiet or not (force or self.clock() - self.last_shown >= self.interval):
            return
        self.last_shown = self.clock()
        text = self.line()
        if self.tty:
            self.stream.write("\r" + text.ljust(self.width))
            self.width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def message(self, text):
        """A line of its own (not overwritten)."""
        if self.quiet:
            return
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self):
        """The final line, ending with a newline."""
        if self.quiet:
            return
        self.tick(force=True)
        if self.tty:
            self.stream.write("\n")
            self.width = 0
        self.stream.flush()
