"""Minibatches: one pass over a dataset, and an endless seeded stream for training by steps."""
import copy

import numpy as np


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

    def _new_order(self):
        self._rng_state = copy.deepcopy(self.rng.bit_generator.state)  # before this epoch's draw
        self._order = self.rng.permutation(self.n)

    def next_indices(self):
        """The sample indices of the next batch."""
        left = self.n - self.position
        if left == 0 or (self.drop_last and left < self.batch_size):
            self.epoch += 1
            self.position = 0
            self._new_order()
        idx = self._order[self.position:self.position + self.batch_size]
        self.position += len(idx)
        return idx

    def __next__(self):
        idx = self.next_indices()
        return self.x[idx], self.y[idx]

    def __iter__(self):
        return self

    def state_dict(self):
        """Plain Python values (picklable, JSON-able) that fix every batch to come."""
        return {"n": self.n, "batch_size": self.batch_size, "drop_last": self.drop_last,
                "epoch": self.epoch, "position": self.position,
                "rng_state": copy.deepcopy(self._rng_state)}

    def load_state_dict(self, state):
        """Continue exactly where the stream that made ``state`` was."""
        for key in ("n", "batch_size", "drop_last"):
            if state[key] != getattr(self, key):
                raise ValueError(f"stream state has {key}={state[key]}, this stream "
                                 f"{getattr(self, key)}")
        self.rng.bit_generator.state = copy.deepcopy(state["rng_state"])
        self._new_order()
        self.epoch, self.position = state["epoch"], state["position"]
