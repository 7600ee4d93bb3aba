"""The ``physxai`` command.

::

    physxai list                                   experiments and their citations
    physxai run NAME [--preset quick|full] [--set key=value ...] [--out DIR] [--check]
                     [--threads N]
    physxai report RESULTS_DIR [-o report.html]   one static page with every run found
    physxai attribute --model SPEC [--weights W.pt] --data D.h5 --method M [--target T]
                      [--option k=v ...] [--batch-size B] [--device cpu|cuda] --out A.h5
                      [--resume] [--overwrite]

``run`` writes ``config.json``, ``env.json``, ``metrics.json``, ``claims.json`` and the
experiment's figures and arrays to ``results/NAME/<preset>-<timestamp>/`` and prints the
paper-versus-ours table; with ``--check`` it exits 1 when a claim of the preset fails. An unknown
experiment, preset or config key exits 2 with a message listing the valid choices. Experiments
are found by path (``$PHYSXAI_EXPERIMENTS``, ``./experiments``, the repository's
``experiments/``), never imported as a package. Each verb is one ``_cmd_<verb>`` function
registered in :data:`COMMANDS`, so later verbs (``attribute``, ``data``, ``report``) slot in.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__, harness, report, scale

__all__ = ["COMMANDS", "build_parser", "main"]


def _cmd_list(args: argparse.Namespace) -> int:
    found = harness.find_experiments()
    if not found:
        where = ", ".join(str(d) for d in harness.experiment_dirs()) or "no experiments/ directory"
        print(
            f"no experiments found (searched: {where}; set ${harness.EXPERIMENTS_ENV} to add one)",
            file=sys.stderr,
        )
        return 0
    width = max(len(name) for name in found)
    for name, path in found.items():
        print(f"{name.ljust(width)}  {harness.experiment_summary(path)}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    try:
        plan = harness.prepare_run(args.name, args.preset, args.overrides)
    except (ValueError, TypeError) as err:
        print(f"physxai run: error: {err}", file=sys.stderr)
        return 2
    result = harness.run_experiment(
        plan.module, args.preset, args.overrides, args.out, args.check, threads=args.threads
    )
    return result.exit_code


def _add_data_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    sub.add_parser("list", help="the dataset cards, their descriptions and whether cached")
    b = sub.add_parser("build", help="build a card's data set into the cache (resumes)")
    b.add_argument("name", help="card name (see `physxai data list`) or path to a .toml card")
    b.add_argument("--force", action="store_true", help="rebuild from scratch")
    i = sub.add_parser("info", help="schema (paths, shapes, dtypes) and provenance of a file")
    i.add_argument("file", help="an HDF5 file, or a card name (its cached file)")


def _cmd_data(args: argparse.Namespace) -> int:
    # physxai data list | build NAME [--force] | info FILE
    from . import data
    from .errors import InvalidDataError

    action = args.data_command
    if action is None:
        print("physxai data: error: an action is required (list, build, info)", file=sys.stderr)
        return 2
    try:
        if action == "list":
            found = data.find_cards()
            if not found:
                print(f"no dataset cards found (set ${data.CARDS_ENV} to add a directory)")
            width = max((len(name) for name in found), default=0)
            for name, path in found.items():
                try:
                    card = data.read_card(path)
                    state = "cached" if data.is_cached(card) else "-"
                    print(f"{name.ljust(width)}  {state:<6}  {card.description}")
                except ValueError as err:
                    print(f"{name.ljust(width)}  {'error':<6}  {err}")
            return 0
        if action == "build":
            data.build(args.name, force=args.force, log=print)
            return 0
        path = args.file
        if not path.endswith((".h5", ".hdf5")) and path in data.find_cards():
            path = data.cache_path(path)
            if not path.is_file():
                print(
                    f"physxai data info: {args.file} is not built yet (`physxai data build "
                    f"{args.file}`); it will be cached at {path}",
                    file=sys.stderr,
                )
                return 1
        text, valid = data.describe(path)
        print(text)
        return 0 if valid else 1
    except FileNotFoundError as err:
        print(f"physxai data {action}: error: {err}", file=sys.stderr)
        return 2
    except InvalidDataError as err:
        print(f"physxai data {action}: error: {err}", file=sys.stderr)
        return 1
    except ValueError as err:  # unknown or invalid card
        print(f"physxai data {action}: error: {err}", file=sys.stderr)
        return 2


#: verb -> (handler, help); ``build_parser`` adds one subcommand per entry
COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "list": (_cmd_list, "list the experiments with their citations"),
    "run": (_cmd_run, "run an experiment and compare its numbers with the paper's"),
    "data": (_cmd_data, "dataset cards: list, build into the cache, inspect a file"),
    "report": (report.cmd_report, "one static HTML page with every run: claims, figures, config"),
    "attribute": (
        scale.cmd_attribute,
        "attribute every sample of an HDF5 data set (streamed, resumable, sharded under torchrun)",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``physxai`` with one subparser per verb."""
    parser = argparse.ArgumentParser(
        prog="physxai",
        description="Interpretability toolkit for physics models: attribution, physics probes "
        "and reproductions of published analyses.",
    )
    parser.add_argument("--version", action="version", version=f"physxai {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(verb, help=help_text, description=help_text)
        if verb == "run":
            p.add_argument("name", help="experiment name (see `physxai list`) or path to its .py")
            harness.add_run_arguments(p)
        elif verb == "data":
            _add_data_arguments(p)
        elif verb == "report":
            report.add_report_arguments(p)
        elif verb == "attribute":
            scale.add_attribute_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``physxai`` console script; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 when ``run --check`` finds a failed claim, 2 for usage errors (an unknown
        verb, experiment, preset or config key).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(f"physxai: error: a command is required ({', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    handler, _ = COMMANDS[args.command]
    return handler(args)
