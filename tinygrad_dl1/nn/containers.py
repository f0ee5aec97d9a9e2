"""Sequential: layers applied one after another, named "0", "1", ... as in PyTorch."""
from .module import Module


class Sequential(Module):
    def __init__(self, *layers):
        super().__init__()
        self._length = 0
        for layer in layers:
            self.append(layer)

    def append(self, layer):
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential: layer {self._length} must be a Module, got {type(layer).__name__}")
        setattr(self, str(self._length), layer)
        self._length += 1
        return self

    def __len__(self):
        return self._length

    def __iter__(self):
        return (getattr(self, str(i)) for i in range(self._length))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*list(self)[index])
        if not -self._length <= index < self._length:
            raise IndexError(f"Sequential: index {index} is out of range for {self._length} layers")
        return getattr(self, str(index % self._length))

    def forward(self, x):
        for layer in self:
            x = layer(x)
        return x
