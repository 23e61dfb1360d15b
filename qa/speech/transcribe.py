"""Recording -> Transcript: who said what, when, with word timings.

Stereo calls are transcribed channel by channel (one side per channel, role
from the channel map), so overlapping speech is kept and each side's silence
is skipped by the VAD. Mono calls are transcribed once, split into two voices
(qa.speech.diarize) and the agent is told from the customer by what each says
(qa.speech.roles). A mono call whose voices cannot be separated is flagged, not
guessed. A "stereo" file whose two channels are the same signal is treated as
mono.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from qa.common.memory import give_back
from qa.errors import SilentAudioError, UnsupportedLanguageError
from qa.intake.transcript_io import gaps_between
from qa.speech import asr, batch
from qa.speech.audio import SAMPLE_RATE, iter_chunks
from qa.speech.model import ModelOptions
from qa.types import LANGUAGES, Dropped, Recording, RoleAssignment, Transcript, Utterance, Word

#: Channels correlated above this are one signal copied twice (a mislabeled mono file).
DUPLICATE_CHANNEL_CORRELATION = 0.98
#: Mono audio is kept for speaker separation at the rate qa.speech.diarize reads.
DIARIZE_RATE = SAMPLE_RATE

Progress = Callable[[float], None]


@dataclass(frozen=True)
class TranscribeOptions:
    model: ModelOptions = field(default_factory=ModelOptions)
    language: str | None = None  # zh | es | en; None = detect per call
    beam_size: int | None = None  # None = qa/data/asr.yaml
    vad_filter: bool | None = None  # None = qa/data/asr.yaml (benchmarks turn it off to compare)
    batch_size: int | None = None  # None = qa/data/asr.yaml; 1 decodes piece by piece (benchmarks compare)
    fit_windows: bool | None = None  # None = qa/data/asr.yaml; False: Whisper's 30 s windows (benchmarks compare)


def _check_language(language: str | None) -> str | None:
    if language in (None, "", "auto"):
        return None
    if language not in LANGUAGES:
        raise UnsupportedLanguageError(
            f"language {language!r} is not supported; use one of {', '.join(LANGUAGES)} or auto"
        )
    return language


def _same_signal(samples: np.ndarray) -> bool:
    if samples.shape[0] != 2:
        return False
    left, right = samples[0], samples[1]
    if not left.any() or not right.any():
        return False
    return float(np.corrcoef(left, right)[0, 1]) >= DUPLICATE_CHANNEL_CORRELATION


def transcribe(recording: Recording, options: TranscribeOptions | None = None, progress: Progress | None = None) -> Transcript:
    options = options or TranscribeOptions()
    settings = asr.default_settings().with_overrides(beam_size=options.beam_size, vad_filter=options.vad_filter,
                                                    batch_size=options.batch_size)
    if options.fit_windows is False:
        settings = replace(settings, window_margin=None)
    language = _check_language(options.language)  # forced: never second-guessed
    labelled = _check_language(recording.meta.language)
    if language is None and labelled is not None and settings.relabel_probability is None:
        language = labelled  # the settings trust labels without listening
    language_probability = 1.0
    stereo = recording.channels == 2
    notes: list[str] = []
    utterances: list[Utterance] = []
    dropped: list[Dropped] = []
    mono_parts: list[np.ndarray] = []
    started = time.perf_counter()
    decoded = 0.0
    with ThreadPoolExecutor(max_workers=max(1, options.model.workers)) as pool:
        for chunk in iter_chunks(recording, settings.chunk_seconds, settings.search_seconds):
            samples = chunk.samples
            if stereo and chunk.offset == 0 and _same_signal(samples):
                stereo = False
                notes.append("the two channels carry the same signal: treated as a mono recording")
            if stereo:
                sides = [_Side(np.ascontiguousarray(samples[c]), f"ch{c}", recording.meta.channel_map.get(c, "unknown"))
                         for c in (0, 1)]
            else:
                mono = samples.mean(axis=0) if samples.shape[0] > 1 else samples[0]
                sides = [_Side(np.ascontiguousarray(mono))]
                mono_parts.append(mono[:: SAMPLE_RATE // DIARIZE_RATE].copy())
            if settings.vad_filter:
                for side, spans in zip(sides, pool.map(lambda side: asr.speech_spans(side.audio, settings), sides)):
                    side.spans = spans
                    side.pieces = asr.pack_spans(spans, settings.piece_seconds, settings.join_gap)
            if settings.vad_filter and settings.batch_size > 1:
                jobs = [batch.Job(side.audio, side.spans, chunk.offset, side.speaker, side.role)
                        for side in sides if side.spans]
                outcome = batch.decode_jobs(jobs, language, labelled, options.model, settings, map_fn=pool.map,
                                            workers=max(1, options.model.workers))
                if language is None and jobs:
                    language, language_probability = outcome.language, outcome.language_probability
                    if labelled is not None and language != labelled:
                        notes.append(f"the metadata says {labelled}, but the call was heard as {language} "
                                     f"(p={language_probability:.2f}) and transcribed as {language}")
                utterances += [u for job in jobs for u in job.found.utterances]
                dropped += [d for job in jobs for d in job.found.dropped]
                decoded = chunk.offset + chunk.duration
                if progress:
                    progress(decoded)
                continue
            heard = [speech for speech in (side.first_speech(settings.join_gap) for side in sides) if speech.size]
            if language is None and heard:
                probs = asr.language_probabilities(heard, options.model, map_fn=pool.map, settings=settings)
                language, language_probability = asr.settle_language(probs, labelled, settings)
                if labelled is not None and language != labelled:
                    notes.append(f"the metadata says {labelled}, but the call was heard as {language} "
                                 f"(p={language_probability:.2f}) and transcribed as {language}")
            decoded_sides = _decode_sides(sides, chunk.offset, language, options, settings, pool)
            utterances += decoded_sides.utterances
            dropped += decoded_sides.dropped
            decoded = chunk.offset + chunk.duration
            if progress:
                progress(decoded)
    if not utterances:
        raise SilentAudioError(
            f"{recording.path}: no speech found in {decoded:.1f} s of audio (silence-only or music-only recording)"
        )
    give_back()  # the chunks, spectrograms and decoder buffers are freed: let the tagging reuse the pages
    if stereo:
        roles = _stereo_roles(utterances, recording)
    else:
        utterances, roles = _split_mono(utterances, np.concatenate(mono_parts), language, settings)
    roles.notes = notes + roles.notes
    utterances.sort(key=lambda u: (u.start, u.end))
    duration = decoded or recording.duration
    return Transcript(
        call_id=recording.meta.call_id,
        language=language,
        duration=round(duration, 3),
        utterances=utterances,
        gaps=gaps_between(utterances, duration, settings.min_gap),
        roles=roles,
        meta=recording.meta,
        language_probability=round(float(language_probability), 4),
        timing="audio",
        source={"path": str(recording.path), "sha256": recording.sha256, "codec": recording.codec,
                "channels": recording.channels, "sample_rate": recording.sample_rate},
        asr=_asr_record(options, settings, time.perf_counter() - started),
        dropped=sorted(dropped, key=lambda d: (d.start, d.end)),
    )


@dataclass
class _Side:
    """One voice track of a chunk: a stereo channel with its role, or the mono mix."""

    audio: np.ndarray
    speaker: str = ""
    role: str = "unknown"
    pieces: list[list[dict]] | None = None  # speech spans packed per window (None: VAD off)
    spans: list[dict] = field(default_factory=list)  # the VAD's speech spans

    def first_speech(self, gap: float) -> np.ndarray:
        """Up to one window of this side's speech, for language detection: its first piece as it will be decoded."""
        if self.pieces is None:
            return self.audio[: 30 * SAMPLE_RATE]
        return asr.speech_of(self.audio, self.pieces[0], gap) if self.pieces else self.audio[:0]


def _decode_sides(sides: list[_Side], offset: float, language: str, options: TranscribeOptions,
                  settings: asr.AsrSettings, pool: ThreadPoolExecutor) -> asr.Decoded:
    """Every piece of speech on every side, decoded by whichever worker is free, longest first."""
    if any(side.pieces is None for side in sides):  # VAD off: each side whole
        parts = list(pool.map(lambda side: asr.transcribe_signal(side.audio, language, options.model, settings,
                                                                 offset=offset, speaker=side.speaker, role=side.role),
                              sides))
        found = asr.Decoded([u for p in parts for u in p.utterances], [d for p in parts for d in p.dropped])
    else:
        tracks = [asr.Track(side.audio, side.pieces, offset, side.speaker, side.role) for side in sides if side.pieces]
        found = asr.decode_tracks(tracks, language, options.model, settings, pool=pool,
                                   workers=max(1, options.model.workers))
    found.utterances.sort(key=lambda u: (u.start, u.end))  # speaker separation reads words in time
    return found


def _asr_record(options: TranscribeOptions, settings: asr.AsrSettings, elapsed: float) -> dict:
    import faster_whisper

    return {
        "engine": f"faster-whisper {faster_whisper.__version__}",
        "model": options.model.model or "base (embedded)",
        "compute_type": options.model.compute_type,
        "cpu_threads": options.model.cpu_threads(),
        "workers": options.model.workers,
        "beam_size": settings.beam_size,
        "vad_filter": settings.vad_filter,
        "condition_on_previous_text": settings.condition_on_previous_text,
        "seconds": round(elapsed, 2),
    }


def _stereo_roles(utterances: list[Utterance], recording: Recording) -> RoleAssignment:
    speaking = {u.speaker for u in utterances}
    mapping = {f"ch{c}": r for c, r in recording.meta.channel_map.items()}
    notes = []
    if len(speaking) < 2:
        notes.append(f"only {', '.join(sorted(speaking))} has speech: one side of the call is silent")
    return RoleAssignment(
        method="channel", confidence=1.0, separated=len(speaking) == 2, speaker_roles=mapping, notes=notes
    )


def _split_mono(
    utterances: list[Utterance], mono: np.ndarray, language: str, settings: asr.AsrSettings
) -> tuple[list[Utterance], RoleAssignment]:
    from qa.speech.diarize import assign_words, split_speakers
    from qa.speech.roles import guess_roles, role_settings

    diarization = split_speakers(mono, sample_rate=DIARIZE_RATE)
    if not diarization.separated:
        for u in utterances:
            u.role, u.speaker = "unknown", "spk0"
        return utterances, RoleAssignment(
            method="diarization", confidence=round(diarization.confidence, 3), separated=False,
            speaker_roles={"spk0": "unknown"},
            notes=["the voices in this mono call could not be separated; roles are unknown"] + diarization.notes,
        )
    words: list[tuple[Word, Utterance]] = [(w, u) for u in utterances for w in u.words]
    speakers = assign_words([w for w, _ in words], diarization.turns)
    regrouped: list[Utterance] = []
    for (word, source), speaker in zip(words, speakers):
        last = regrouped[-1] if regrouped else None
        if last is not None and last.speaker == speaker and word.start - last.end <= settings.split_pause:
            last.words.append(word)
            last.end = word.end
        else:
            regrouped.append(Utterance(role="unknown", start=word.start, end=word.end, text="", words=[word],
                                       speaker=speaker, no_speech_prob=source.no_speech_prob))
    for u in regrouped:
        u.text = asr.join_words(u.words, language)
        u.confidence = asr.confidence(u.words)
    regrouped = [u for u in regrouped if u.text]
    guess = guess_roles(regrouped, language)
    for u in regrouped:
        u.role = guess.speaker_roles.get(u.speaker, "unknown")
    confidence = round(guess.confidence * diarization.confidence, 3)
    notes = list(diarization.notes)
    if confidence < role_settings().min_confidence:
        notes.append(f"agent/customer assignment is uncertain (confidence {confidence:.2f}): check by ear")
    return regrouped, RoleAssignment(
        method="diarization", confidence=confidence, separated=True,
        speaker_roles=guess.speaker_roles, notes=notes,
    )
