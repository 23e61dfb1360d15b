"""``callqa calibrate`` end to end: labelled calls -> cases -> cross-validated fit -> a new rubric file.

The calls come from the store (reviewed before: their transcript and findings
are there) or from a folder of transcripts named ``<call_id>.json`` / ``.txt``
(tagged here, as ``callqa score`` would). The labels come from a file
(``qa.scoring.calibrate.read_labels``), from the reviewer verdicts in the store,
or from closed calibration sessions of the workspace (the reviewers' majority
verdict per call and item; ties left out).
"""

from __future__ import annotations

from pathlib import Path

from qa.intake.transcript_io import read_transcript
from qa.pipeline.review import ReviewOptions, review_transcript
from qa.scoring.calibrate import (Calibration, CalibrationError, Case, Label, calibrate, cases_from_store,
                                  file_digest, labels_from_store, read_labels, write_rubric)
from qa.scoring.agreement import consensus
from qa.scoring.rubric import DEFAULT_RUBRIC


def cases_from_folder(folder: Path, labels: list[Label]) -> list[Case]:
    """Tag each labelled call's transcript from ``folder`` (``<call_id>.json`` or ``.txt``)."""
    folder = Path(folder)
    cases, missing = [], []
    for label in labels:
        path = next((p for p in (folder / f"{label.call_id}.json", folder / f"{label.call_id}.txt") if p.is_file()), None)
        if path is None:
            missing.append(label.call_id)
            continue
        transcript, findings, _ = review_transcript(read_transcript(path), ReviewOptions())
        cases.append(Case(transcript, findings, label))
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise CalibrationError(f"{len(missing)} labelled call(s) have no transcript in {folder} ({shown})")
    return cases


def labels_from_sessions(store, session_ids: list[int]) -> list[Label]:
    """The majority verdicts of closed calibration sessions, one label per call (later sessions win per item)."""
    from qa.errors import CalibrationSessionError, NotFound
    from qa.store.calibration_sessions import CalibrationStore
    from qa.store.workspace import WorkspaceStore

    cal = CalibrationStore(WorkspaceStore(store))
    merged: dict[str, dict[str, str]] = {}
    for session_id in session_ids:
        session = cal.get(session_id)
        if session is None:
            raise NotFound(f"no calibration session {session_id}")
        if session.is_open:
            raise CalibrationSessionError(f"calibration session {session_id} is still open: close it in the "
                                          f"workspace first, so its verdicts are final")
        labels, _ties = consensus(cal.results(session_id)[1])
        for call_id, verdicts in labels.items():
            merged.setdefault(call_id, {}).update(verdicts)
    return [Label(call_id, None, verdicts) for call_id, verdicts in sorted(merged.items())]


def run_calibration(out: Path, labels_path: Path | None = None, store=None, transcripts: Path | None = None,
                    rubric: Path | None = None, attribution: str = "", force: bool = False,
                    sessions: list[int] | None = None) -> tuple[Path, Calibration]:
    """Calibrate ``rubric`` (default: the shipped one) and write the result to ``out``."""
    base = Path(rubric or DEFAULT_RUBRIC)
    if sessions:
        if store is None:
            raise CalibrationError("calibration sessions live in the store: give --store (or use the default)")
        labels = labels_from_sessions(store, sessions)
        data = f"calibration session(s) {', '.join(map(str, sessions))} (majority verdicts)"
    elif labels_path is not None:
        labels = read_labels(labels_path)
        data = f"labels file {Path(labels_path).name} (sha256 {file_digest(labels_path)[:16]})"
    elif store is not None:
        labels = labels_from_store(store)
        data = "reviewer verdicts in the store (callqa dispute)"
    else:
        raise CalibrationError("give a labels file (--labels) or use the reviewer verdicts in the store (--from-store)")
    if transcripts is not None:
        cases = cases_from_folder(transcripts, labels)
    elif store is not None:
        cases = cases_from_store(store, labels)
    else:
        raise CalibrationError("say where the labelled calls are: --transcripts DIR or the store")
    out = Path(out)
    if out.resolve() == base.resolve():  # before the (long) fit: never over the rubric in use
        raise CalibrationError(f"{out} is the rubric in use: write the calibrated rubric to a new file")
    if out.exists() and not force:
        raise CalibrationError(f"{out} exists: choose another --out, or pass --force to replace it")
    result = calibrate(base.read_text(encoding="utf-8"), cases, data, str(base), attribution)
    return write_rubric(result, out, base, force=force), result
