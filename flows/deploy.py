"""Serve the nightly review on a cron schedule: ``python -m flows.deploy ARCHIVE [options]``.

``prefect.serve`` (what ``nightly_review.serve(name=..., cron="0 2 * * *")``
does) registers a deployment with the Prefect API and keeps this process
running, starting ``nightly_review`` at each scheduled time (02:00 by default,
in UTC unless ``--timezone`` is given). It needs a
Prefect API: start one with ``prefect server start`` and set
``PREFECT_API_URL=http://127.0.0.1:4200/api`` (a temporary ephemeral API
would vanish with this process). See flows/README.md.
"""

from __future__ import annotations

import argparse

import flows  # noqa: F401  - Prefect environment defaults

DEFAULT_CRON = "0 2 * * *"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m flows.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("archive", help="folder of recordings and transcripts, scanned recursively")
    parser.add_argument("--store", dest="store_url", help="postgresql://... or sqlite:///... [default: callqa.db]")
    parser.add_argument("--reports", dest="reports_dir", help="write each night's summary and scorecards here")
    parser.add_argument("--concurrency", type=int, help="calls reviewed at once [default: qa/data/nightly.yaml]")
    parser.add_argument("--dask", action="store_true", help="review in Dask worker processes")
    parser.add_argument("--dask-address", help="tcp://scheduler:8786 of an existing Dask cluster")
    parser.add_argument("--cron", default=DEFAULT_CRON, help=f"when to run [default: {DEFAULT_CRON!r}]")
    parser.add_argument("--timezone", help="IANA time zone of the cron schedule, e.g. Asia/Shanghai")
    parser.add_argument("--name", default="callqa-nightly", help="deployment name")
    return parser.parse_args(argv)


def build_deployment(args: argparse.Namespace):
    """The ``nightly_review`` deployment: its schedule and parameters, one run at a time."""
    from prefect.schedules import Cron

    from flows.review import nightly_review

    when = {"schedules": [Cron(args.cron, timezone=args.timezone)]} if args.timezone else {"cron": args.cron}
    return nightly_review.to_deployment(
        name=args.name,
        **when,
        # One night at a time: a long night must not overlap the next one.
        concurrency_limit=1,
        parameters={
            "archive": args.archive, "store_url": args.store_url, "reports_dir": args.reports_dir,
            "concurrency": args.concurrency, "task_runner": "dask" if args.dask or args.dask_address else "threads",
            "dask_address": args.dask_address,
        },
        description="Review every new call in the archive; quarantine bad files; keep every result.",
        tags=["callqa", "nightly"],
    )


def main(argv: list[str] | None = None) -> None:
    """Register the deployment and run it on schedule until stopped (Ctrl-C pauses its schedule)."""
    from prefect import serve

    serve(build_deployment(parse_args(argv)))


if __name__ == "__main__":  # pragma: no cover - long-running service
    main()
