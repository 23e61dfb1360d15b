"""The ``callqa`` command: the library's commands (``qa.cli``) plus ``nightly``, which runs the Prefect flow.

The library never imports Prefect; the one command that needs it is added here,
at the Prefect layer, and the console script points at this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from qa.cli import StoreOpt, app, err

__all__ = ["app", "main"]


@app.command()
def nightly(
    archive: Annotated[Path, typer.Argument(help="the call archive folder (searched recursively)")],
    store: StoreOpt = None,
    reports: Annotated[Optional[Path], typer.Option("--reports", help="write the night's scorecards and coaching reports here")] = None,
    concurrency: Annotated[Optional[int], typer.Option("--concurrency", min=1, help="calls reviewed at once [default: fits the machine]")] = None,
    dask: Annotated[bool, typer.Option("--dask", help="run on a local Dask cluster (prefect-dask)")] = False,
) -> None:
    """Review every new call in an archive (Prefect flow): new calls only, never twice, bad files quarantined."""
    from flows.review import run_nightly

    summary = run_nightly(archive, store_url=store, reports_dir=reports, concurrency=concurrency, use_dask=dask,
                          progress=err.is_terminal)
    if summary.get("counts", {}).get("errors"):  # quarantined files are expected; errors are not
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
