"""Split a mono call into two speakers (issue "Who spoke").

Many contact-centre recordings mix agent and customer in one channel. This
module finds speech with faster-whisper's bundled Silero VAD, describes short
windows of speech by their spectrum (MFCC mean/std) and pitch, clusters the
windows into two groups with scikit-learn and turns the labels into speaker
turns ("spk0" speaks first). It refuses to guess: when the two clusters are not
distinct (one voice, or too little speech) the result says ``separated=False``
with a note, and the caller reports the call as not separated. Which speaker is
the agent is decided later from what they say.

All parameters live in ``qa/data/diarize.yaml``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from pydantic import Field

from qa.common.settings import Count, Flag, Number, Ratio, Seconds, Settings, Share, Small, load_settings, shipped
from qa.errors import ConfigError, DiarizeInputError
from qa.types import Word

DEFAULT_CONFIG = shipped("diarize.yaml")
SAMPLE_RATE = 16000
SPEAKERS = ("spk0", "spk1")


# --------------------------------------------------------------------------- options


class _Vad(Settings):
    threshold: Share
    min_silence_duration_ms: Count = Field(ge=0, le=60_000)
    min_speech_duration_ms: Count = Field(ge=0, le=60_000)
    speech_pad_ms: Count = Field(ge=0, le=10_000)
    max_speech_duration_s: Seconds = Field(gt=0)
    chunk_s: Seconds = Field(gt=0)


class _Features(Settings):
    frame_ms: Number = Field(gt=0, le=1000)
    hop_ms: Number = Field(gt=0, le=1000)
    n_fft: Count = Field(ge=16, le=65_536)
    n_mels: Count = Field(ge=1, le=512)
    fmin_hz: Number = Field(ge=0, le=SAMPLE_RATE / 2)
    fmax_hz: Number = Field(gt=0, le=SAMPLE_RATE / 2)
    n_mfcc: Count = Field(ge=1, le=512)
    frame_floor_db: Number = Field(ge=0, le=200)
    pitch: Flag
    pitch_floor_hz: Number = Field(gt=0, le=SAMPLE_RATE / 2)
    pitch_ceiling_hz: Number = Field(gt=0, le=SAMPLE_RATE / 2)
    mean_weight: Ratio
    std_weight: Ratio
    pitch_weight: Ratio


class _Windows(Settings):
    length_s: Seconds = Field(gt=0)
    hop_s: Seconds = Field(gt=0)
    min_length_s: Seconds


class _Clustering(Settings):
    max_fit_windows: Count = Field(ge=2, le=10_000_000)
    pca_components: Count = Field(ge=1, le=512)


class _Decision(Settings):
    min_speech_s: Seconds
    min_windows: Small
    min_bic_ratio: Ratio
    bic_max_frames: Count = Field(ge=1, le=10_000_000)
    min_minor_share: Share
    min_minor_speech_s: Seconds
    full_confidence_bic_ratio: Ratio


class _Smoothing(Settings):
    median_windows: Small
    grid_s: Seconds = Field(gt=0)
    min_turn_s: Seconds


class _DiarizeFile(Settings):
    """``qa/data/diarize.yaml``: one section per step of the split; each key typed and bounded."""

    vad: _Vad
    features: _Features
    windows: _Windows
    clustering: _Clustering
    decision: _Decision
    smoothing: _Smoothing


@dataclass(frozen=True)
class DiarizeOptions:
    """Parameters of the split; see ``qa/data/diarize.yaml`` for what each means."""

    # vad
    threshold: float
    min_silence_duration_ms: int
    min_speech_duration_ms: int
    speech_pad_ms: int
    max_speech_duration_s: float
    chunk_s: float
    # features
    frame_ms: float
    hop_ms: float
    n_fft: int
    n_mels: int
    fmin_hz: float
    fmax_hz: float
    n_mfcc: int
    frame_floor_db: float
    pitch: bool
    pitch_floor_hz: float
    pitch_ceiling_hz: float
    mean_weight: float
    std_weight: float
    pitch_weight: float
    # windows
    length_s: float
    hop_s: float
    min_length_s: float
    # clustering
    max_fit_windows: int
    pca_components: int
    # decision
    min_speech_s: float
    min_windows: int
    min_bic_ratio: float
    bic_max_frames: int
    min_minor_share: float
    min_minor_speech_s: float
    full_confidence_bic_ratio: float
    # smoothing
    median_windows: int
    grid_s: float
    min_turn_s: float

    @classmethod
    def load(cls, path: Path | str | None = None) -> "DiarizeOptions":
        """Read the sectioned YAML file (the shipped one by default); every field must be given exactly once."""
        raw = load_settings(Path(path) if path is not None else DEFAULT_CONFIG, _DiarizeFile, error=ConfigError)
        flat: dict[str, Any] = {}
        for section in _DiarizeFile.model_fields:
            flat.update(getattr(raw, section).model_dump())
        return cls(**flat)

    def replace(self, **changes: Any) -> "DiarizeOptions":
        return dataclasses.replace(self, **changes)


_DEFAULT_OPTIONS: DiarizeOptions | None = None


def default_options() -> DiarizeOptions:
    global _DEFAULT_OPTIONS
    if _DEFAULT_OPTIONS is None:
        _DEFAULT_OPTIONS = DiarizeOptions.load()
    return _DEFAULT_OPTIONS


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SpeakerTurn:
    """A stretch of speech attributed to one speaker label."""

    start: float
    end: float
    speaker: str

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass
class Diarization:
    """The speaker split of one mono recording.

    ``confidence`` is how far the two labels can be trusted to be two different
    people: 0.0 when ``separated`` is False, else 0.5 (BIC ratio at the decision
    threshold) rising linearly to 1.0 (clearly distinct voices). ``stats``
    carries the measurements behind the verdict (speech_s, windows, bic_ratio,
    minor_share, minor_speech_s, silhouette).
    """

    turns: list[SpeakerTurn]
    separated: bool
    confidence: float
    num_speakers: int
    notes: list[str] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- VAD


def _check_samples(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate != SAMPLE_RATE:
        raise DiarizeInputError(
            f"speaker split needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz; decode with "
            f"faster_whisper.decode_audio(path, sampling_rate={SAMPLE_RATE})")
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise DiarizeInputError(
            f"speaker split needs one mono channel, got an array of shape {samples.shape}; "
            f"mix the channels down (samples.mean(axis=...)) or split stereo calls by channel")
    return samples.astype(np.float32, copy=False)


def _vad_options(options: DiarizeOptions):
    from faster_whisper.vad import VadOptions

    return VadOptions(
        threshold=options.threshold,
        min_speech_duration_ms=options.min_speech_duration_ms,
        max_speech_duration_s=options.max_speech_duration_s,
        min_silence_duration_ms=options.min_silence_duration_ms,
        speech_pad_ms=options.speech_pad_ms,
    )


def speech_regions(samples: np.ndarray, sample_rate: int = SAMPLE_RATE,
                   options: DiarizeOptions | None = None) -> list[tuple[float, float]]:
    """Speech regions (start, end) in seconds, found by Silero VAD chunk by chunk.

    Chunking bounds memory on long recordings; regions that touch a chunk
    boundary are joined back together.
    """
    from faster_whisper.vad import get_speech_timestamps

    options = options or default_options()
    samples = _check_samples(samples, sample_rate)
    vad = _vad_options(options)
    chunk = max(int(options.chunk_s * sample_rate), sample_rate)
    join_gap = options.min_silence_duration_ms / 1000.0
    regions: list[tuple[float, float]] = []
    for offset in range(0, len(samples), chunk):
        piece = samples[offset:offset + chunk]
        if len(piece) < 512:  # shorter than one VAD frame
            continue
        for ts in get_speech_timestamps(piece, vad, sampling_rate=sample_rate):
            start = (offset + ts["start"]) / sample_rate
            end = (offset + ts["end"]) / sample_rate
            if regions and start - regions[-1][1] < join_gap and offset > 0 \
                    and abs(start - offset / sample_rate) < join_gap:
                regions[-1] = (regions[-1][0], end)
            else:
                regions.append((start, end))
    return regions


# --------------------------------------------------------------------------- features


def _mel_filterbank(options: DiarizeOptions, sample_rate: int) -> np.ndarray:
    """Triangular filters equally spaced on the mel scale (HTK formula)."""
    def to_mel(hz):
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def to_hz(mel):
        return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)

    edges = to_hz(np.linspace(to_mel(options.fmin_hz), to_mel(options.fmax_hz), options.n_mels + 2))
    freqs = np.fft.rfftfreq(options.n_fft, 1.0 / sample_rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def _dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II rows 1..n_out (c0 dropped)."""
    k = np.arange(1, n_out + 1)[:, None]
    n = np.arange(n_in)[None, :]
    return (np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))).astype(np.float32)


class _FrameAnalyser:
    """Frame-level MFCCs, loudness and pitch of one stretch of audio."""

    def __init__(self, options: DiarizeOptions, sample_rate: int):
        self.options = options
        self.sample_rate = sample_rate
        self.frame = int(round(options.frame_ms * sample_rate / 1000))
        self.hop = int(round(options.hop_ms * sample_rate / 1000))
        self.window = np.hamming(self.frame).astype(np.float32)
        self.mel = _mel_filterbank(options, sample_rate)
        self.dct = _dct_matrix(options.n_mels, options.n_mfcc)

    def frames(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times of frame centres, MFCC [n, n_mfcc], loudness dB [n]) relative to audio start."""
        if len(audio) < self.frame:
            audio = np.pad(audio, (0, self.frame - len(audio)))
        emphasised = np.append(audio[0], audio[1:] - 0.97 * audio[:-1]).astype(np.float32)
        framed = np.lib.stride_tricks.sliding_window_view(emphasised, self.frame)[::self.hop]
        spectrum = np.abs(np.fft.rfft(framed * self.window, n=self.options.n_fft)) ** 2
        mel = np.log(spectrum @ self.mel.T + 1e-8)
        mfcc = mel @ self.dct.T
        loud = 10.0 * np.log10((framed.astype(np.float64) ** 2).mean(axis=1) + 1e-10)
        times = (np.arange(len(framed)) * self.hop + self.frame / 2) / self.sample_rate
        return times, mfcc, loud

    def pitch(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(times, F0 Hz with NaN where unvoiced) from Praat's autocorrelation tracker."""
        import parselmouth

        min_len = 3.0 / self.options.pitch_floor_hz  # Praat needs three periods
        if len(audio) / self.sample_rate <= min_len:
            return np.zeros(0), np.zeros(0)
        sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=self.sample_rate)
        track = sound.to_pitch_ac(time_step=self.options.hop_ms / 1000.0,
                                  pitch_floor=self.options.pitch_floor_hz,
                                  pitch_ceiling=self.options.pitch_ceiling_hz)
        f0 = track.selected_array["frequency"].astype(np.float64)
        f0[f0 <= 0] = np.nan
        return np.asarray(track.xs()), f0


@dataclass
class _Windows:
    """Analysis windows: where they are and what they sound like."""

    spans: np.ndarray  # [n, 2] start, end seconds
    region: np.ndarray  # [n] index of the VAD region holding the window
    features: np.ndarray  # [n, d]


def _window_starts(length: float, options: DiarizeOptions) -> list[float]:
    if length < options.min_length_s:
        return []
    if length <= options.length_s:
        return [0.0]
    starts = list(np.arange(0.0, length - options.length_s + 1e-9, options.hop_s))
    if length - (starts[-1] + options.length_s) > options.hop_s / 2:
        starts.append(length - options.length_s)  # cover the region's tail
    return [float(s) for s in starts]


def _describe_windows(samples: np.ndarray, regions: Sequence[tuple[float, float]],
                      options: DiarizeOptions, sample_rate: int) -> _Windows:
    """Mean/std MFCC (+ median log-F0) of each window, one region at a time."""
    analyser = _FrameAnalyser(options, sample_rate)
    spans: list[tuple[float, float]] = []
    owners: list[int] = []
    rows: list[np.ndarray] = []
    for index, (r_start, r_end) in enumerate(regions):
        audio = samples[int(r_start * sample_rate):int(r_end * sample_rate)]
        starts = _window_starts(len(audio) / sample_rate, options)
        if not starts:
            continue
        times, mfcc, loud = analyser.frames(audio)
        p_times, f0 = analyser.pitch(audio) if options.pitch else (np.zeros(0), np.zeros(0))
        for w_start in starts:
            w_end = min(w_start + options.length_s, len(audio) / sample_rate)
            inside = (times >= w_start) & (times < w_end)
            if not inside.any():
                continue
            keep = inside & (loud >= loud[inside].max() - options.frame_floor_db)
            coeffs = mfcc[keep]
            row = [coeffs.mean(axis=0), coeffs.std(axis=0)]
            if options.pitch:
                voiced = f0[(p_times >= w_start) & (p_times < w_end)]
                voiced = voiced[~np.isnan(voiced)]
                row.append(np.array([np.log2(np.median(voiced)) if len(voiced) >= 5 else np.nan]))
            rows.append(np.concatenate(row))
            spans.append((r_start + w_start, r_start + w_end))
            owners.append(index)
    width = 2 * options.n_mfcc + (1 if options.pitch else 0)
    return _Windows(
        spans=np.asarray(spans, dtype=np.float64).reshape(-1, 2),
        region=np.asarray(owners, dtype=np.int64),
        features=np.asarray(rows, dtype=np.float64).reshape(-1, width),
    )


# --------------------------------------------------------------------------- clustering


def _window_matrix(windows: _Windows, options: DiarizeOptions) -> np.ndarray:
    """Standardised, group-weighted window features (NaN pitch -> median pitch)."""
    features = windows.features.copy()
    n = options.n_mfcc
    if options.pitch:
        pitch = features[:, 2 * n]
        known = np.isfinite(pitch)
        pitch[~known] = np.median(pitch[known]) if known.any() else 0.0
    spread = features.std(axis=0)
    spread[spread < 1e-9] = 1.0
    z = (features - features.mean(axis=0)) / spread
    z[:, :n] *= options.mean_weight
    z[:, n:2 * n] *= options.std_weight
    if options.pitch:
        z[:, 2 * n] *= options.pitch_weight
    return z


def _fit_indices(count: int, cap: int) -> np.ndarray:
    """Evenly spaced subsample (deterministic) of at most ``cap`` indices."""
    if count <= cap:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, cap).round().astype(np.int64))


def _cluster(z: np.ndarray, options: DiarizeOptions) -> tuple[np.ndarray, float]:
    """Two-way k-means in PCA space, fitted on a subsample; (labels of all rows, silhouette)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score

    fit = _fit_indices(len(z), options.max_fit_windows)
    components = max(1, min(options.pca_components, len(fit) - 1, z.shape[1]))
    pca = PCA(n_components=components, random_state=0).fit(z[fit])
    reduced = pca.transform(z)
    km = KMeans(n_clusters=2, n_init=10, random_state=0).fit(reduced[fit])
    labels = km.predict(reduced)
    if len(set(labels[fit].tolist())) < 2:
        return labels, -1.0
    return labels, float(silhouette_score(reduced[fit], labels[fit]))


def _median_within_regions(labels: np.ndarray, regions: np.ndarray, width: int) -> np.ndarray:
    """Median-filter binary labels, never across a pause between VAD regions."""
    if width < 3:
        return labels.copy()
    half = width // 2
    smoothed = labels.copy()
    bounds = np.flatnonzero(np.diff(regions)) + 1  # windows are in region order
    for idx in np.split(np.arange(len(regions)), bounds):
        run = labels[idx]
        for k in range(len(run)):
            lo, hi = max(0, k - half), min(len(run), k + half + 1)
            smoothed[idx[k]] = int(np.median(run[lo:hi]) > 0.5) if hi - lo >= 3 else run[k]
    return smoothed


def _turns_from_windows(windows: _Windows, labels: np.ndarray,
                        regions: Sequence[tuple[float, float]],
                        options: DiarizeOptions) -> list[tuple[float, float, int]]:
    """Vote window labels onto a time grid per VAD region, then merge short runs."""
    turns: list[tuple[float, float, int]] = []
    centres = windows.spans.mean(axis=1)
    for index, (r_start, r_end) in enumerate(regions):
        lo, hi = np.searchsorted(windows.region, [index, index + 1])  # region order
        mine = np.arange(lo, hi)
        if len(mine) == 0:
            continue  # too short to describe: left to the nearest turn below
        grid = np.arange(r_start, r_end, options.grid_s) + options.grid_s / 2
        spans = windows.spans[mine]
        cover = (grid[:, None] >= spans[None, :, 0]) & (grid[:, None] < spans[None, :, 1])
        votes1 = (cover * (labels[mine] == 1)[None, :]).sum(axis=1)
        votes0 = cover.sum(axis=1) - votes1
        nearest = labels[mine][np.abs(grid[:, None] - centres[mine][None, :]).argmin(axis=1)]
        point = np.where(votes1 > votes0, 1, np.where(votes0 > votes1, 0, nearest))
        runs = _runs(point)
        runs = _merge_short_runs(runs, options.min_turn_s / options.grid_s)
        for first, last, label in runs:
            start = r_start if first == 0 else r_start + first * options.grid_s
            end = r_end if last == len(grid) - 1 else r_start + (last + 1) * options.grid_s
            turns.append((start, end, label))
    return turns


def _runs(labels: np.ndarray) -> list[list[int]]:
    """[first, last, label] of each run of equal labels."""
    runs: list[list[int]] = []
    for k, label in enumerate(labels.tolist()):
        if runs and runs[-1][2] == label:
            runs[-1][1] = k
        else:
            runs.append([k, k, label])
    return runs


def _merge_short_runs(runs: list[list[int]], min_len: float) -> list[list[int]]:
    """Give runs shorter than ``min_len`` grid points to their longer neighbour."""
    runs = [r[:] for r in runs]
    while len(runs) > 1:
        lengths = [r[1] - r[0] + 1 for r in runs]
        k = int(np.argmin(lengths))
        if lengths[k] >= min_len:
            break
        left = lengths[k - 1] if k > 0 else -1
        right = lengths[k + 1] if k + 1 < len(runs) else -1
        target = k - 1 if left >= right else k + 1
        runs[target][0] = min(runs[target][0], runs[k][0])
        runs[target][1] = max(runs[target][1], runs[k][1])
        del runs[k]
        merged: list[list[int]] = []
        for r in runs:  # neighbours of equal label join
            if merged and merged[-1][2] == r[2]:
                merged[-1][1] = r[1]
            else:
                merged.append(r)
        runs = merged
    return runs


def _delta_bic_ratio(samples: np.ndarray, turns: Sequence[tuple[float, float, int]],
                     options: DiarizeOptions, sample_rate: int) -> float:
    """Frame-level BIC gain of two Gaussians over one, divided by the BIC penalty.

    Classic speaker-clustering stopping rule (Chen & Gopalakrishnan 1998): a
    ratio above 1 means the two-speaker model pays for its extra parameters; a
    content split of one voice barely does. Frames are subsampled to a fixed
    cap so the ratio does not grow with the length of the recording.
    """
    analyser = _FrameAnalyser(options, sample_rate)
    all_frames = sum(e - s for s, e, _ in turns) / (options.hop_ms / 1000.0)
    stride = max(1, int(np.ceil(all_frames / options.bic_max_frames)))
    parts: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for start, end, label in turns:  # every stride-th frame: memory stays bounded
        audio = samples[int(start * sample_rate):int(end * sample_rate)]
        if len(audio) < analyser.frame:
            continue
        _, mfcc, loud = analyser.frames(audio)
        kept = mfcc[loud >= loud.max() - options.frame_floor_db][::stride]
        parts.append(kept)
        owners.append(np.full(len(kept), label))
    if not parts:
        return 0.0
    frames = np.concatenate(parts).astype(np.float64)
    owner = np.concatenate(owners)
    dim = frames.shape[1]
    counts = [int((owner == k).sum()) for k in (0, 1)]
    if min(counts) <= dim:
        return 0.0

    def logdet(x: np.ndarray) -> float:
        return float(np.linalg.slogdet(np.cov(x.T) + 1e-6 * np.eye(dim))[1])

    total = len(frames)
    gain = 0.5 * (total * logdet(frames) - sum(c * logdet(frames[owner == k])
                                               for k, c in zip((0, 1), counts)))
    penalty = 0.5 * (dim + dim * (dim + 1) / 2) * np.log(total)
    return float(gain / penalty)


# --------------------------------------------------------------------------- public API


def _single_speaker(regions: Sequence[tuple[float, float]], num_speakers: int,
                    notes: list[str], stats: dict[str, float]) -> Diarization:
    turns = [SpeakerTurn(round(s, 3), round(e, 3), SPEAKERS[0]) for s, e in regions]
    return Diarization(turns=turns, separated=False, confidence=0.0,
                       num_speakers=num_speakers, notes=notes, stats=stats)


def split_speakers(samples: np.ndarray, sample_rate: int = SAMPLE_RATE,
                   options: DiarizeOptions | None = None) -> Diarization:
    """Split mono speech into speaker turns "spk0"/"spk1", or say why it cannot.

    When not separated, every speech region is one "spk0" turn, ``separated``
    is False and ``notes`` says why (no speech, too little speech, one voice).
    """
    options = options or default_options()
    samples = _check_samples(samples, sample_rate)
    regions = speech_regions(samples, sample_rate, options)
    speech_s = float(sum(e - s for s, e in regions))
    stats: dict[str, float] = {"speech_s": round(speech_s, 2)}
    if not regions:
        return _single_speaker(regions, 0, ["no speech found: nothing to split"], stats)
    if speech_s < options.min_speech_s:
        return _single_speaker(regions, 1, [
            f"only {speech_s:.1f} s of speech (< {options.min_speech_s} s): too little to "
            f"tell two voices apart"], stats)
    windows = _describe_windows(samples, regions, options, sample_rate)
    stats["windows"] = float(len(windows.spans))
    if len(windows.spans) < options.min_windows:
        return _single_speaker(regions, 1, [
            f"only {len(windows.spans)} analysis windows (< {options.min_windows}): too "
            f"little speech to tell two voices apart"], stats)
    labels, silhouette = _cluster(_window_matrix(windows, options), options)
    labels = _median_within_regions(labels, windows.region, options.median_windows)
    raw_turns = _turns_from_windows(windows, labels, regions, options)
    seconds = [sum(e - s for s, e, k in raw_turns if k == label) for label in (0, 1)]
    minor_s = min(seconds)
    share = minor_s / max(1e-9, sum(seconds))
    bic = _delta_bic_ratio(samples, raw_turns, options, sample_rate)
    stats.update(silhouette=round(silhouette, 3), minor_share=round(share, 3),
                 minor_speech_s=round(minor_s, 2), bic_ratio=round(bic, 3))
    reasons = []
    if share < options.min_minor_share or minor_s < options.min_minor_speech_s:
        reasons.append(f"second voice too small ({minor_s:.1f} s, {share:.0%} of speech; needs "
                       f"{options.min_minor_speech_s} s and {options.min_minor_share:.0%})")
    if bic < options.min_bic_ratio:
        reasons.append(f"the two clusters are not distinct voices (BIC ratio {bic:.2f} < "
                       f"{options.min_bic_ratio})")
    if reasons:
        return _single_speaker(regions, 1, ["one voice or voices not separable: "
                                            + "; ".join(reasons)], stats)
    turns = _name_speakers(raw_turns, regions)
    span = options.full_confidence_bic_ratio - options.min_bic_ratio
    confidence = 0.5 + 0.5 * float(np.clip((bic - options.min_bic_ratio) / span, 0.0, 1.0))
    return Diarization(turns=turns, separated=True, confidence=round(confidence, 3),
                       num_speakers=2, notes=[], stats=stats)


def _name_speakers(raw: Sequence[tuple[float, float, int]],
                   regions: Sequence[tuple[float, float]]) -> list[SpeakerTurn]:
    """"spk0" is whoever speaks first; regions too short to analyse join the nearest turn."""
    first = raw[0][2]
    turns = [SpeakerTurn(round(s, 3), round(e, 3), SPEAKERS[0 if k == first else 1])
             for s, e, k in raw]
    covered = [(t.start, t.end) for t in turns]
    for start, end in regions:
        if any(s < end and start < e for s, e in covered):
            continue
        middle = (start + end) / 2
        near = min(turns, key=lambda t: abs((t.start + t.end) / 2 - middle))
        turns.append(SpeakerTurn(round(start, 3), round(end, 3), near.speaker))
    turns.sort(key=lambda t: t.start)
    merged: list[SpeakerTurn] = []
    for turn in turns:  # touching turns of one speaker become one
        if merged and merged[-1].speaker == turn.speaker and turn.start - merged[-1].end < 1e-6:
            merged[-1] = SpeakerTurn(merged[-1].start, turn.end, turn.speaker)
        else:
            merged.append(turn)
    return merged


def assign_words(words: Sequence[Word], turns: Sequence[SpeakerTurn]) -> list[str]:
    """The speaker of each word: the turn it overlaps most, else the nearest turn.

    Returns "" for every word when there are no turns at all.
    """
    if not turns:
        return ["" for _ in words]
    starts = np.array([t.start for t in turns])
    ends = np.array([t.end for t in turns])
    speakers: list[str] = []
    for word in words:
        overlap = np.minimum(ends, word.end) - np.maximum(starts, word.start)
        best = int(np.argmax(overlap))
        if overlap[best] <= 0:
            middle = (word.start + word.end) / 2
            distance = np.maximum(starts - middle, 0) + np.maximum(middle - ends, 0)
            best = int(np.argmin(distance))
        speakers.append(turns[best].speaker)
    return speakers
