"""Build the website into a folder (default: site/), from the repository root.

    python -m tinygrad_dl1.site [OUT] [--fast] [--tutorials NAME ...]

``--fast`` runs the tutorials in fast mode (small synthetic data, about a minute in all); without it they run
in full on CIFAR-10, as `pytest --run-slow` runs them (about 8 minutes on 2 cores). Open OUT/index.html.
It needs the ``docs`` extra: pip install -e ".[docs]".
"""
import argparse
import sys

from .build import SiteError, build


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinygrad_dl1.site", description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", default="site", help="the folder for the site (default: site)")
    parser.add_argument("--fast", action="store_true", help="run the tutorials in fast mode")
    parser.add_argument("--tutorials", nargs="+", default=(), metavar="NAME",
                        help="only these tutorials, e.g. 01_derivatives (default: all)")
    args = parser.parse_args(argv)
    try:
        out = build(args.out, fast=args.fast, tutorials=args.tutorials,
                    log=lambda line: print(line, file=sys.stderr, flush=True))
    except (SiteError, FileNotFoundError) as e:
        print(f"site: error: {e}", file=sys.stderr)
        return 1
    print(f"{out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
