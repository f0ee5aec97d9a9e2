"""A small progress bar for downloads and training loops (standard library only).

On a terminal the line is redrawn in place with '\\r'. Elsewhere (CI logs, files)
a plain line is printed at most every 10% of the total, so logs stay short.
"""
import numbers
import sys
import time

REDRAW_EVERY_S = 0.1  # terminal redraws at most this often


def _short(value):
    """Floats with 4 significant digits, everything else as str()."""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return f"{float(value):.4g}"
    return str(value)


def _duration(seconds):
    """'m:ss', or 'h:mm:ss' past an hour."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _bytes(n):
    """A byte count with a decimal prefix: '12.3 MB'."""
    for prefix in ("", "k", "M", "G"):
        if abs(n) < 1000 or prefix == "G":
            return f"{n:.0f} {prefix}B" if prefix == "" else f"{n:.1f} {prefix}B"
        n /= 1000


class Progress:
    """Progress of ``total`` steps: count/total, percent, rate, ETA and key=value extras.

    >>> with Progress(1500, desc="train", unit="step") as bar:
    ...     for step in range(1500):
    ...         bar.update(loss=0.5)
    """

    def __init__(self, total=None, desc="", unit="", file=None, disable=False, initial=0):
        self.total = total
        self.desc = desc
        self.unit = unit
        self.file = sys.stderr if file is None else file
        self.disable = disable
        self.n = self.initial = initial   # ``initial``: steps done before (a resumed run)
        self.postfix = {}
        self.closed = False
        self._start = time.monotonic()
        isatty = getattr(self.file, "isatty", None)
        self._tty = bool(isatty and isatty())
        self._last_redraw = float("-inf")
        self._last_printed_n = None
        self._next_tenth = 1  # non-terminal: print when n reaches this tenth of total
        self._width = 0

    def update(self, n=1, **postfix):
        """Advance by ``n`` steps; ``postfix`` values are shown as key=value."""
        self.n += n
        self.postfix.update(postfix)
        if self.disable or self.closed:
            return
        if self._tty:
            now = time.monotonic()
            if now - self._last_redraw >= REDRAW_EVERY_S:
                self._redraw()
                self._last_redraw = now
        elif self.total and self.n * 10 >= self._next_tenth * self.total:
            self._print_line()
            self._next_tenth = self.n * 10 // self.total + 1

    def write(self, text):
        """Print a message on its own line without breaking the bar."""
        if self.disable:
            return
        if self._tty and self._width:
            self.file.write("\r" + " " * self._width + "\r")
        self.file.write(text + "\n")
        if self._tty and not self.closed:
            self._redraw()
        self.file.flush()

    def close(self):
        """Draw the final state and end the line (once)."""
        if self.closed:
            return
        self.closed = True
        if self.disable:
            return
        if self._tty:
            self._redraw()
            self.file.write("\n")
            self.file.flush()
        elif self._last_printed_n != self.n:
            self._print_line()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def line(self):
        """The current state as one line of text."""
        elapsed = time.monotonic() - self._start
        rate = (self.n - self.initial) / elapsed if elapsed > 0 else 0.0
        count = self._count(self.n)
        if self.total:
            count = f"{count}/{self._count(self.total)} {100 * self.n / self.total:3.0f}%"
        if self.unit == "B":
            speed = _bytes(rate) + "/s"
        else:
            speed = f"{rate:.3g} {self.unit or 'it'}/s"
        parts = [f"{self.desc}:" if self.desc else "", count, speed]
        if self.total and rate > 0 and self.n < self.total:
            parts.append("eta " + _duration((self.total - self.n) / rate))
        elif self.total and self.n >= self.total:
            parts.append("in " + _duration(elapsed))
        if self.postfix:
            parts.append(" ".join(f"{k}={_short(v)}" for k, v in self.postfix.items()))
        return " ".join(p for p in parts if p)

    def _count(self, n):
        return _bytes(n) if self.unit == "B" else str(n)

    def _redraw(self):
        text = self.line()
        self.file.write("\r" + text + " " * max(0, self._width - len(text)))
        self.file.flush()
        self._width = len(text)

    def _print_line(self):
        self.file.write(self.line() + "\n")
        self.file.flush()
        self._last_printed_n = self.n
