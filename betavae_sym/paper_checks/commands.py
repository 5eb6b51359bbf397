"""``betavae-sym check`` and ``betavae-sym reproduce``.

``check`` JSON (``--json PATH|-``), stable: a list of
``{"id", "claim", "location", "status", "printed", "corrected", "evidence", "caveat", "protocol"}``,
status one of verified | erratum | refuted | not-checkable | crashed. ``check --list --json PATH|-`` runs
nothing and writes the list of ``{"id", "claim", "location"}``.
"""

from __future__ import annotations

from betavae_sym.argtypes import positive_int
from betavae_sym.reproduce import PRESETS


def register(subparsers) -> None:
    check = subparsers.add_parser(
        "check", help="run the paper checks: a verdict on every claim of the paper",
        description="Run one check per claim of the paper (equations 1-81, propositions, the stationary solution, "
                    "Figures 3-5, stated settings) and print a verdict table: verified, erratum (with the corrected "
                    "form), refuted (with the measured evidence) or not-checkable (with the reason). Exit 0 when "
                    "every check reached a verdict, 1 when a check crashed.")
    check.add_argument("--only", nargs="+", metavar="ID", help="run only these checks (see --list)")
    check.add_argument("--list", action="store_true",
                       help="list the check ids and claims, run nothing (with --json: id, claim, location as JSON)")
    check.add_argument("--json", metavar="PATH", help="write the verdicts as JSON ('-' for standard output)")
    check.add_argument("--preset", default=PRESETS[0], choices=PRESETS,
                       help="deep sweep preset and analytic grid for the figure claims (default decide: the "
                            "protocol sized to decide them, about 30 minutes on 2 cores; quick: a 5-minute look)")
    check.add_argument("--sweeps", default="betavae-report/sweeps", metavar="DIR",
                       help="folder of the deep sweep stores, resumed if present "
                            "(default: betavae-report/sweeps, shared with 'reproduce')")
    check.add_argument("--jobs", type=positive_int, default=2, metavar="J", help="symbolic topics in parallel (default 2)")
    check.add_argument("--no-progress", action="store_true", help="no progress bars")
    check.set_defaults(handler=check_handler)

    reproduce = subparsers.add_parser(
        "reproduce", help="the main job: derivations, checks, analytic and deep sweeps, figures, report",
        description="Regenerate the derivations, run the analytic sweep (Figure 3) and the deep sweeps "
                    "(Figures 4, 5; stores resumed), run every paper check, and write report.html "
                    "(self-contained), report.md, the figures (PNG, SVG) and the JSON of every sweep and of the "
                    "checks into --out. Exit 1 when a stage failed or a check crashed (the report names it).")
    reproduce.add_argument("--preset", default=PRESETS[0], metavar="|".join(PRESETS),
                           help="decide (default: sized by the README's power analysis to decide the deep claims, "
                                "about 30 minutes on 2 cores), quick (a 5-minute look; its deep verdicts carry a "
                                "caveat) or paper (the thesis's protocol; many hours)")
    reproduce.add_argument("--out", default="betavae-report", metavar="DIR", help="output folder (default ./betavae-report)")
    reproduce.add_argument("--jobs", type=positive_int, default=2, metavar="J",
                           help="symbolic topics in parallel (default 2)")
    reproduce.add_argument("--no-progress", action="store_true", help="no progress display")
    reproduce.set_defaults(handler=reproduce_handler)


def check_handler(args) -> int:
    import sys
    from pathlib import Path

    from betavae_sym.errors import CheckFailed
    from betavae_sym.fileio import check_writable_folder, check_writable_file
    from betavae_sym.paper_checks import Context, run_checks, select, table

    checks = select(args.only)
    if args.json not in (None, "-"):
        check_writable_file(Path(args.json), "json")  # before any check runs; creates nothing
    if args.list:
        listing = [{"id": c.id, "claim": c.claim, "location": c.location} for c in checks]
        if args.json is None:
            sys.stdout.write("".join(f"{c['id']:<30} {c['claim']}\n" for c in listing))
        else:
            _write_json(args.json, listing)
        return 0
    check_writable_folder(Path(args.sweeps), "sweeps")  # where the deep sweeps would be stored
    context = Context(preset=args.preset, sweeps_dir=Path(args.sweeps), jobs=args.jobs, progress=not args.no_progress)
    results = run_checks(checks, context, progress=not args.no_progress)
    if args.json is not None:
        _write_json(args.json, [r.to_json() for r in results])
    (sys.stderr if args.json == "-" else sys.stdout).write(table(results))
    crashed = [r for r in results if r.status == "crashed"]
    for r in crashed:
        sys.stderr.write(f"crashed: {r.id}: {r.evidence.splitlines()[0]}\n")
    if crashed:
        raise CheckFailed(f"{len(crashed)} check(s) crashed: {', '.join(r.id for r in crashed)}")
    return 0


def _write_json(target: str, document) -> None:
    """``document`` as indented JSON to standard output (``target == "-"``) or atomically to the file ``target``."""
    import json
    import sys
    from pathlib import Path

    from betavae_sym.fileio import atomic_write_text, ensure_writable_dir

    text = json.dumps(document, indent=2) + "\n"
    if target == "-":
        sys.stdout.write(text)
    else:
        ensure_writable_dir(Path(target).parent if str(Path(target).parent) else Path("."), "--json")
        atomic_write_text(Path(target), text)


def reproduce_handler(args) -> int:
    import sys

    from betavae_sym.errors import CheckFailed
    from betavae_sym.reproduce import reproduce

    run = reproduce(args.out, args.preset, progress=not args.no_progress, jobs=args.jobs)
    sys.stderr.write(f"report: {run.out / 'report.html'} and {run.out / 'report.md'}\n")
    problems = []
    if run.failed:
        problems.append(f"stage(s) failed: {', '.join(run.failed)}")
    if run.crashed:
        problems.append(f"check(s) crashed: {', '.join(run.crashed)}")
    if problems:
        raise CheckFailed("; ".join(problems) + " (see the report)")
    return 0
