"""The ``callqa`` command: the library's commands (``qa.cli``) plus ``nightly``, which runs the Prefect flow.

The library never imports Prefect; the one command that needs it is added here,
at the Prefect layer, and the console script points at this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qa.cli import StoreOpt, app, err, exit_with
from qa.errors import CallqaError

__all__ = ["app", "main"]


@app.command()
def nightly(
    archive: Annotated[Path, typer.Argument(help="the call archive folder (searched recursively)")],
    store: StoreOpt = None,
    reports: Annotated[Path | None, typer.Option("--reports", help="write each reviewed call's page (HTML + scorecard JSON) and the night's index page and summary here", show_default="no files")] = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", min=1, help="calls reviewed at once", show_default="qa/data/nightly.yaml")] = None,
    dask: Annotated[bool, typer.Option("--dask", help="run on a local Dask cluster (prefect-dask)", show_default="off: threads in this process")] = False,
) -> None:
    """Review every new call in an archive (Prefect flow): new calls only, never twice, bad files quarantined.

    Exit codes: 0 every file reviewed or skipped; 1 the run failed (one line on stderr); 3 some files were
    quarantined tonight; 4 some calls failed for a reason not their own and are tried again next night.
    """
    from flows.review import one_line, run_nightly
    from qa.pipeline.nightly import EXIT_RUN_FAILED, exit_code

    try:
        summary = run_nightly(archive, store_url=store, reports_dir=reports, concurrency=concurrency, use_dask=dask,
                              progress=err.is_terminal)
    except CallqaError as exc:
        raise exit_with(exc, EXIT_RUN_FAILED)
    except Exception as exc:  # noqa: BLE001 - under cron, one masked line and exit 1, never a traceback
        raise exit_with(RuntimeError(one_line(exc)), EXIT_RUN_FAILED)
    raise typer.Exit(exit_code(summary))


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
