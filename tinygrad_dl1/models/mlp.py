"""The assignment's multi-layer perceptron."""
from .. import checks, nn

ASSIGNMENT_WEIGHT_STD = 1e-4   # the assignment's init: weights ~ N(0, std^2), biases 0


class AssignmentLinear(nn.Linear):
    """nn.Linear initialised as the assignment asks: weights ~ N(0, 1e-4^2), biases 0."""

    def reset_parameters(self):
        nn.init.normal_(self.weight, 0.0, ASSIGNMENT_WEIGHT_STD)
        if self.bias is not None:
            nn.init.zeros_(self.bias)


class MLP(nn.Sequential):
    """Linear layers with leaky ReLU between them; the input is flattened to (N, n_inputs).

    Each hidden layer is Linear -> [BatchNorm1d] -> LeakyReLU(neg_slope) -> [Dropout].
    An empty ``n_hidden`` gives multinomial logistic regression. ``init="assignment"``
    draws weights from N(0, 1e-4^2) with zero biases, as the assignment does;
    ``init="default"`` uses PyTorch's default. Being a Sequential, its state_dict keys
    ("0.weight", "1.running_mean", ...) match the same stack built in PyTorch.
    """

    def __init__(self, n_inputs, n_hidden, n_classes, neg_slope=0.02, batch_norm=False, dropout=0.0,
                 init="assignment"):
        checks.check_choice(init, ("assignment", "default"), "init", "MLP")
        linear = AssignmentLinear if init == "assignment" else nn.Linear
        sizes = [n_inputs, *n_hidden]
        layers = []
        for n_in, n_out in zip(sizes, sizes[1:]):
            layers.append(linear(n_in, n_out))
            if batch_norm:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(nn.LeakyReLU(neg_slope))
            if dropout:
                layers.append(nn.Dropout(dropout))
        layers.append(linear(sizes[-1], n_classes))
        super().__init__(*layers)
        self.n_inputs = n_inputs

    def forward(self, x):
        if x.ndim != 2:
            x = x.reshape(len(x), -1)
        n = self.n_inputs
        checks.check_input_shape(x, x.shape[1] == n, f"(N, {n}) ({n} features)", "MLP")
        return super().forward(x)
