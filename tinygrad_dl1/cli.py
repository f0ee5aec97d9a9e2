"""Command line: ``tinygrad-dl1 train mlp|convnet [flags]`` (also ``python -m tinygrad_dl1``).

Every error, argparse's own included, is one line ``tinygrad-dl1: error: ...`` in the command line's
words, and exit status 1."""
import argparse
import json
import math
import os
import re
import sys
import time

# Per model: the assignment's defaults for the flags left out.
DEFAULTS = {
    "mlp": dict(learning_rate=2e-3, max_steps=1500, batch_size=200, eval_freq=100, optimizer="sgd"),
    "convnet": dict(learning_rate=1e-4, max_steps=5000, batch_size=32, eval_freq=500, optimizer="adam"),
}
EVAL_BATCH = {"mlp": 1000, "convnet": 250}   # test images per forward pass when evaluating
MLP_ONLY = ["dnn_hidden_units", "neg_slope", "batch_norm", "dropout", "init"]   # flags the ConvNet does not take
# the defaults of the flags that apply to one model or optimizer only, filled in once it is known that they apply
MLP_DEFAULTS = dict(dnn_hidden_units="100", neg_slope=0.02, batch_norm=False, dropout=0.0, init="assignment")
SGD_DEFAULTS = dict(momentum=0.0)
PROG = "tinygrad-dl1"


class UsageError(ValueError):
    """A flag that is malformed, out of its range or does not apply; the message names it."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors raised as UsageError (one line, exit status 1) rather than printed (exit 2),
    and every negative number a value (``--weight-decay -1e-3``, ``-inf``), not taken for a flag."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|nan)$", re.I)

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser():
    parser = Parser(prog=PROG, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a model on CIFAR-10",
                                description="Train a model on CIFAR-10 and write metrics.csv, curves.png, "
                                            "summary.json and checkpoint.npz into --out.")
    train.add_argument("model", choices=sorted(DEFAULTS))
    train.add_argument("--dnn-hidden-units",
                       help="MLP hidden layer sizes, comma separated ('' for logistic regression; default 100)")
    train.add_argument("--learning-rate", type=float, help="mlp: 2e-3, convnet: 1e-4")
    train.add_argument("--max-steps", type=int, help="mlp: 1500, convnet: 5000")
    train.add_argument("--batch-size", type=int, help="mlp: 200, convnet: 32")
    train.add_argument("--eval-freq", type=int,
                       help="evaluate on the whole test set every N steps (mlp: 100, convnet: 500)")
    train.add_argument("--neg-slope", type=float, help="MLP: leaky ReLU negative slope, in [0, 1] (0.02)")
    train.add_argument("--optimizer", choices=["sgd", "adam"], help="mlp: sgd, convnet: adam")
    train.add_argument("--momentum", type=float, help="SGD momentum, in [0, 1) (0)")
    train.add_argument("--weight-decay", type=float, default=0.0)
    train.add_argument("--batch-norm", action="store_true", default=None,
                       help="MLP: batch norm after each hidden linear")
    train.add_argument("--dropout", type=float, help="MLP: dropout after each hidden layer, in [0, 1) (0)")
    train.add_argument("--init", choices=["assignment", "default"],
                       help="MLP weights: N(0, 1e-4^2) as the assignment, or PyTorch's default")
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--data-dir", help="folder holding cifar-10-batches-py (else $TINYGRAD_DL1_DATA, "
                                          "else a cache folder, downloading on first use)")
    train.add_argument("--download", action="store_true",
                       help="download CIFAR-10 into --data-dir (or $TINYGRAD_DL1_DATA) when it is not there")
    train.add_argument("--out", help="output folder, new or empty (default: a new runs/<model>-<date>-<time>)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--device", default="cpu", help="cpu or cuda")
    train.add_argument("--no-progress", action="store_true", help="no progress bars (training and download)")
    return parser


def parse_config(argv=None):
    """The run's settings as a plain dict, with each model's defaults filled in; UsageError naming the
    flag for one that is malformed, out of its range, or does not apply to the model or optimizer."""
    args = build_parser().parse_args(argv)
    if args.resume and not args.out:
        raise UsageError("--resume needs --out, the folder of the run to continue")
    config = vars(args)
    for key, value in DEFAULTS[args.model].items():
        if config[key] is None:
            config[key] = value
    _fill_in(config, MLP_DEFAULTS, applies=config["model"] == "mlp", to=f"the {config['model']}")
    _fill_in(config, SGD_DEFAULTS, applies=config["optimizer"] == "sgd", to=f"--optimizer {config['optimizer']}")
    units = config["dnn_hidden_units"]
    try:
        config["dnn_hidden_units"] = [int(u) for u in units.split(",") if u.strip()]
    except ValueError:
        raise UsageError(f"--dnn-hidden-units must be integers separated by commas, got {units!r}") from None
    if any(u <= 0 for u in config["dnn_hidden_units"]):
        raise UsageError(f"--dnn-hidden-units must be positive (a layer needs at least one unit), got {units!r}")
    for key in ("max_steps", "batch_size", "eval_freq"):
        if config[key] <= 0:
            raise UsageError(f"{_flag(key)} must be positive, got {config[key]}")
    _check_range(config, "learning_rate", 0, math.inf, "a finite number > 0", low_open=True)
    _check_range(config, "weight_decay", 0, math.inf, "a finite number >= 0")
    _check_range(config, "momentum", 0, 1, "in [0, 1) (1 or more makes the steps grow without end)", high_open=True)
    _check_range(config, "dropout", 0, 1, "in [0, 1)", high_open=True)
    _check_range(config, "neg_slope", 0, 1, "in [0, 1] (a leaky ReLU's slope for negative inputs)")
    if config["seed"] < 0:
        raise UsageError(f"--seed must be 0 or more, got {config['seed']}")
    if config["out"] is not None and not config["out"].strip():
        raise UsageError("--out is empty; name a folder or leave the flag out")
    return config


def _flag(key):
    return "--" + key.replace("_", "-")


def _fill_in(config, defaults, applies, to):
    """Fill in ``defaults`` for the flags left out; refuse one given where it does not apply (``to`` names what)."""
    given = [key for key in defaults if config[key] is not None]
    if given and not applies:
        flags = ", ".join(_flag(key) for key in given)
        raise UsageError(f"{flags} {'does' if len(given) == 1 else 'do'} not apply to {to}")
    for key, value in defaults.items():
        if config[key] is None:
            config[key] = value


def _check_range(config, key, low, high, what, low_open=False, high_open=False):
    """A UsageError naming the flag unless ``config[key]`` is finite and within [low, high] (open where told)."""
    value = config[key]
    if value is None:   # a flag that does not apply here
        return
    inside = (math.isfinite(value) and (value > low if low_open else value >= low)
              and (value < high if high_open else value <= high))
    if not inside:
        raise UsageError(f"{_flag(key)} must be {what}, got {value}")


def recorded_settings(config):
    """The settings that shape the run's results, as the checkpoint and summary.json record them:
    none of the flags that only say where things are or how to show them, and none that the
    model or optimizer ignores."""
    ignored = ["command", "data_dir", "download", "out", "resume", "no_progress"]
    if config["model"] != "mlp":
        ignored += MLP_ONLY
    if config["optimizer"] != "sgd":
        ignored.append("momentum")
    return {k: v for k, v in config.items() if k not in ignored}


def check_model_fits(config, n_inputs, n_classes):
    """Refuse, before allocating it, an MLP larger than the memory of its device."""
    if config["model"] != "mlp":
        return
    sizes = [n_inputs, *config["dnn_hidden_units"], n_classes]
    n_weights = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes, sizes[1:]))
    batch = max(config["batch_size"], EVAL_BATCH["mlp"])
    # float32: weights, gradients and Adam's two moments; activations and their gradients
    needed = 4 * (4 * n_weights + 2 * batch * sum(sizes))
    available = memory_bytes(config["device"])
    if available is not None and needed > available:
        raise ValueError(f"an MLP with --dnn-hidden-units {','.join(map(str, config['dnn_hidden_units']))} "
                         f"needs about {needed / 1e9:,.1f} GB, more than the {available / 1e9:,.1f} GB of memory "
                         f"of {config['device']}")


def memory_bytes(device):
    """The memory of ``device``: a GPU's, or this machine's RAM; None when the system does not say."""
    from . import backend
    device = backend.parse_device(device)
    if device.startswith("cuda"):
        return backend.cupy.cuda.Device(int(device[5:])).mem_info[1]
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def build_model(config, n_channels, n_inputs, n_classes):
    from . import models
    if config["model"] == "convnet":
        return models.ConvNet(n_channels, n_classes)
    return models.MLP(n_inputs, config["dnn_hidden_units"], n_classes, neg_slope=config["neg_slope"],
                      batch_norm=config["batch_norm"], dropout=config["dropout"], init=config["init"])


def build_optimizer(config, params):
    from . import optim
    if config["optimizer"] == "adam":
        return optim.Adam(params, lr=config["learning_rate"], weight_decay=config["weight_decay"])
    return optim.SGD(params, lr=config["learning_rate"], momentum=config["momentum"],
                     weight_decay=config["weight_decay"])


def error_line(error):
    """The one line printed for ``error``: in the command line's words where the error has them."""
    message = getattr(error, "cli_message", None) or str(error)
    if isinstance(error, OSError) and error.strerror:
        message = f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return f"{PROG}: error: " + " ".join(message.split())


def main(argv=None):
    try:
        config = parse_config(argv)
    except UsageError as e:
        print(error_line(e), file=sys.stderr)
        return 1
    from . import data, rng
    from .run_folder import RunFolder, train_in_folder
    from .train import TrainingState, training_batches
    out = config["out"] or time.strftime(f"runs/{config['model']}-%Y%m%d-%H%M%S")
    try:
        # the folder first: a run that cannot write learns it before loading data or training
        with RunFolder(out, resume=config["resume"], numbered=not config["out"]) as folder:
            cifar = data.load_cifar10(config["data_dir"], download=config["download"] or None,
                                      progress=not config["no_progress"])
            if config["batch_size"] > len(cifar.train_x):
                raise UsageError(f"--batch-size {config['batch_size']} is more than the {len(cifar.train_x)} "
                                 "training images")
            check_model_fits(config, n_inputs=cifar.train_x[0].size, n_classes=len(cifar.classes))
            rng.manual_seed(config["seed"])     # the model's initial weights
            model = build_model(config, n_channels=cifar.train_x.shape[1], n_inputs=cifar.train_x[0].size,
                                n_classes=len(cifar.classes))
            model.to(config["device"])
            optimizer = build_optimizer(config, model.parameters())
            state = TrainingState(model, optimizer, training_batches(cifar, config["batch_size"], config["seed"]))
            print(f"training {config['model']} for {config['max_steps']} steps; writing to {folder.path}",
                  file=sys.stderr)
            summary = train_in_folder(folder, state, cifar, recorded_settings(config),
                                      max_steps=config["max_steps"], eval_freq=config["eval_freq"],
                                      device=config["device"], eval_batch_size=EVAL_BATCH[config["model"]],
                                      show_progress=not config["no_progress"])
    except KeyboardInterrupt:
        return 130
    except (ValueError, RuntimeError, OSError) as e:   # among them DatasetError, RunFolderError, TrainingDiverged
        print(error_line(e), file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{PROG}: error: out of memory; try a smaller --batch-size or model", file=sys.stderr)
        return 1
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
