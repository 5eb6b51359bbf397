"""The ``betavae-sym`` command: parses arguments and delegates.

Each area of the package registers its own subcommands from a small
``commands`` module (``betavae_sym/<area>/commands.py``) that defines
``register(subparsers)``. Those modules import only ``argparse`` at the top and
import the science inside their handlers, so ``betavae-sym --help`` is fast.

Exit status: 0 done, 1 a check or run failed, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from betavae_sym import __version__
from betavae_sym.errors import BadInput, CheckFailed

#: Modules that register subcommands, in the order they appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "betavae_sym.symbolic.commands",
    "betavae_sym.linear.commands",
    "betavae_sym.data.commands",
    "betavae_sym.deep.commands",
    "betavae_sym.experiments.commands",
    "betavae_sym.paper_checks.commands",
    "betavae_sym.bench.commands",
)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit status 2."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="betavae-sym",
        description=(
            "Derive, solve and simulate the beta-VAE of Sikka (2020), "
            "'A Deeper Look at the Unsupervised Learning of Disentangled "
            "Representations in beta-VAE', and check every claim of the paper."
        ),
        epilog="Run 'betavae-sym COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"betavae-sym {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _subparsers(parser: argparse.ArgumentParser):
    """Every parser below ``parser`` (subcommands, and their subcommands)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield sub
                yield from _subparsers(sub)


def flag_names(parser: argparse.ArgumentParser, handler) -> dict[str, str]:
    """``{parameter: flag}`` for the subcommand whose handler is ``handler``: ``"batch_size" -> "--batch-size"``.

    Library errors name parameters by their Python names; argparse's ``dest``
    of an option is that name, so the command line can name the flag instead.
    """
    for sub in _subparsers(parser):
        if sub.get_default("handler") is handler:
            return {action.dest: max(action.option_strings, key=len)
                    for action in sub._actions if action.option_strings}
    return {}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``betavae-sym``; returns the exit status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    for token in argv:  # argparse takes '--opt=--' as the option with no value at all, unchecked
        if token.startswith("-") and token.endswith("=--"):
            parser.error(f"argument {token[:-3]}: '--' is not a value")
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except BadInput as exc:
        sys.stderr.write(f"betavae-sym {args.command}: error: {exc.naming(flag_names(parser, args.handler))}\n")
        return 2
    except CheckFailed as exc:
        sys.stderr.write(f"betavae-sym {args.command}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"betavae-sym {args.command}: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
