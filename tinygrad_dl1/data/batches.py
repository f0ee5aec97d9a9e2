"""Minibatches: one pass over a dataset, and an endless seeded stream for training by steps."""
import copy

import numpy as np

from .. import backend, rng


def iterate_minibatches(x, y, batch_size, shuffle=True, seed=None, drop_last=False):
    """Yield (x_batch, y_batch) once over the data, in a seeded random order if ``shuffle``."""
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x has {n} samples but y has {len(y)}")
    order = np.random.default_rng(seed).permutation(n) if shuffle else None
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        if drop_last and stop - start < batch_size:
            return
        if order is None:
            yield x[start:stop], y[start:stop]
        else:
            idx = order[start:stop]
            yield x[idx], y[idx]


class BatchStream:
    """Endless (x_batch, y_batch) for training by steps, epoch after epoch.

    Each epoch visits every sample once in a new order drawn from one Generator
    seeded once. With ``drop_last`` (default) an epoch's last partial batch is
    skipped so every batch has ``batch_size`` samples. ``state_dict()`` /
    ``load_state_dict()`` let a resumed run draw exactly the batches an
    uninterrupted one would.

    Batches come from where the samples are: ``to("cuda")`` copies them to the GPU
    once, after which each epoch's order (drawn on the host) goes there once too
    and every batch is gathered there, with nothing copied per batch.
    """

    def __init__(self, x, y, batch_size, seed=0, drop_last=True):
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
        if batch_size < 1 or (drop_last and batch_size > len(x)):
            raise ValueError(f"batch_size {batch_size} does not fit {len(x)} samples")
        self.x, self.y = x, y
        self.n, self.batch_size, self.drop_last = len(x), batch_size, drop_last
        self.rng = np.random.default_rng(seed)
        self.epoch = 0      # epochs started before the current one
        self.position = 0   # samples of the current epoch already handed out
        self._new_order()

    @property
    def device(self):
        """Where the samples are, and the batches are made: 'cpu' or 'cuda:N'."""
        return backend.device_of(self.x)

    def to(self, device):
        """Keep the samples on ``device`` (copied once; nothing to do if they are there); returns self."""
        if backend.parse_device(device) != self.device:
            self.x, self.y = backend.to_device(self.x, device), backend.to_device(self.y, device)
            self._order_here = backend.to_device(self._order, device)
        return self

    def _new_order(self):
        self._rng_state = copy.deepcopy(self.rng.bit_generator.state)  # before this epoch's draw
        self._order = self.rng.permutation(self.n)
        self._order_here = backend.to_device(self._order, self.device)   # the order where the samples are

    def _next_span(self):
        """(start, stop): the positions in this epoch's order of the next batch's samples."""
        left = self.n - self.position
        if left == 0 or (self.drop_last and left < self.batch_size):
            self.epoch += 1
            self.position = 0
            self._new_order()
        start = self.position
        self.position = min(start + self.batch_size, self.n)
        return start, self.position

    def next_indices(self):
        """The sample indices of the next batch (a NumPy array)."""
        start, stop = self._next_span()
        return self._order[start:stop]

    def __next__(self):
        start, stop = self._next_span()
        idx = self._order_here[start:stop]
        with backend.device_scope(idx):
            return self.x[idx], self.y[idx]

    def __iter__(self):
        return self

    def state_dict(self):
        """Plain Python values (picklable, JSON-able) that fix every batch to come."""
        return {"n": self.n, "batch_size": self.batch_size, "drop_last": self.drop_last,
                "epoch": self.epoch, "position": self.position,
                "rng_state": copy.deepcopy(self._rng_state)}

    def load_state_dict(self, state):
        """Continue exactly where the stream that made ``state`` was; a ValueError naming the entry, with
        nothing changed, for a state of another stream or with values out of their range."""
        missing = [key for key in ("n", "batch_size", "drop_last", "epoch", "position", "rng_state")
                   if not isinstance(state, dict) or key not in state]
        if missing:
            raise ValueError(f"stream state lacks {', '.join(missing)}")
        for key in ("n", "batch_size", "drop_last"):
            if state[key] != getattr(self, key):
                raise ValueError(f"stream state has {key}={state[key]!r:.40}, this stream "
                                 f"{getattr(self, key)}")
        for key, high in (("epoch", 2 ** 63), ("position", self.n + 1)):
            if not (type(state[key]) is int and 0 <= state[key] < high):
                raise ValueError(f"stream state has {key}={state[key]!r:.40}, not an int from 0 to {high - 1}")
        self.rng.bit_generator.state = rng.checked_state(self.rng.bit_generator, state["rng_state"],
                                                         "stream state has an rng_state")
        self._new_order()
        self.epoch, self.position = state["epoch"], state["position"]
