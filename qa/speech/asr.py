"""Speech recognition of one mono signal with faster-whisper, returned as timed utterances.

Callers pass one channel (stereo calls) or the mix (mono calls); times in the
result are shifted by ``offset`` so chunks of a long recording line up.
Mandarin comes out in simplified characters (Whisper base often writes
traditional ones), and well-known inventions on silence are dropped.
"""

from __future__ import annotations

import bisect
import functools
import re
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from pydantic import Field

from qa.common.settings import Count, Flag, Number, Seconds, Settings, Share, Text, load_settings, shipped
from qa.errors import ConfigError, UnsupportedLanguageError
from qa.speech.audio import SAMPLE_RATE
from qa.speech.model import ModelOptions, load_model
from qa.types import Dropped, Utterance, Word

_STRIP = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass(frozen=True)
class AsrSettings:
    """Decoding settings; loaded from ``qa/data/asr.yaml`` and returned with every transcript."""

    beam_size: int
    condition_on_previous_text: bool
    temperature: tuple[float, ...]
    compression_ratio_threshold: float
    log_prob_threshold: float
    no_speech_threshold: float
    vad_filter: bool
    vad: dict[str, Any]
    split_pause: float
    min_gap: float
    chunk_seconds: float
    search_seconds: float
    languages: tuple[str, ...]
    foreign_language_probability: float
    relabel_probability: float | None = 0.90
    piece_seconds: float = 28.0
    batch_size: int = 1
    loop_tokens_per_second: float = 8.0
    coverage_pad: float = 0.4
    min_uncovered: float = 0.5
    stretched_word: float = 1.5
    slow_text: float = 0.7
    slow_text_span: float = 1.5
    window_margin: float | None = 3.0
    window_floor: float = 0.0
    join_gap: float = 0.3
    unaligned_word: float = 0.02
    unaligned_share: float = 0.5
    hallucinations: tuple[str, ...] = field(default_factory=tuple)

    def with_overrides(self, **changes: Any) -> "AsrSettings":
        """A copy with the given settings changed; ``None`` values keep the default."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


class _Vad(Settings):
    """faster-whisper's VAD parameters (passed to it as they are)."""

    threshold: Share
    min_speech_duration_ms: Count = Field(ge=0, le=60_000)
    min_silence_duration_ms: Count = Field(ge=0, le=60_000)
    speech_pad_ms: Count = Field(ge=0, le=10_000)


class _AsrFile(Settings):
    """``qa/data/asr.yaml``: every key required, typed and bounded."""

    beam_size: Count = Field(ge=1, le=20)
    condition_on_previous_text: Flag
    temperature: list[Share] = Field(min_length=1, max_length=10)
    compression_ratio_threshold: Number = Field(gt=0, le=100)
    log_prob_threshold: Number = Field(ge=-100, le=0)
    no_speech_threshold: Share
    vad_filter: Flag
    vad: _Vad
    split_pause: Seconds
    min_gap: Seconds
    chunk_seconds: Seconds = Field(gt=0)
    search_seconds: Seconds
    languages: list[Text] = Field(min_length=1)
    foreign_language_probability: Share
    relabel_probability: Share | None
    piece_seconds: Seconds = Field(gt=0, le=30)  # one Whisper window
    batch_size: Count = Field(ge=1, le=64)
    loop_tokens_per_second: Number = Field(gt=0, le=100)
    coverage_pad: Seconds
    min_uncovered: Seconds
    stretched_word: Seconds = Field(gt=0)
    slow_text: Seconds = Field(gt=0)
    slow_text_span: Seconds
    window_margin: Seconds | None = Field(le=30)
    window_floor: Seconds = Field(le=30)
    join_gap: Seconds = Field(le=2)
    unaligned_word: Seconds = Field(le=1)
    unaligned_share: Share = Field(gt=0)
    hallucinations: list[Text] = []


def load_asr_settings(path=None) -> AsrSettings:
    """Read an asr.yaml (the shipped one by default); errors are ``ConfigError`` with the file and line."""
    raw = load_settings(path if path is not None else shipped("asr.yaml"), _AsrFile, error=ConfigError)
    values = {name: getattr(raw, name) for name in _AsrFile.model_fields}
    values.update(temperature=tuple(raw.temperature), languages=tuple(raw.languages), vad=raw.vad.model_dump(),
                  hallucinations=tuple(_STRIP.sub("", h.lower()) for h in raw.hallucinations))
    return AsrSettings(**values)


@functools.lru_cache(maxsize=1)
def default_settings() -> AsrSettings:
    return load_asr_settings()


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc

    # Taiwan-standard to simplified: Whisper's traditional output is Taiwan-style, and
    # tw2s also gets 著急 -> 着急 / 睡著 -> 睡着 right where plain t2s leaves 著 (著名 stays).
    return opencc.OpenCC("tw2s")


_CN_DIGITS = {"零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4",
              "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
#: Three or more Chinese digits in a row are a number read digit by digit (一二三一五 = 12315).
_CN_DIGIT_RUN = re.compile(f"[{''.join(_CN_DIGITS)}]{{3,}}")


def normalise_word(text: str, language: str) -> str:
    return _t2s().convert(text) if language == "zh" else text


def normalise_words(texts: list[str], language: str) -> list[str]:
    """Simplified characters and Arabic digit strings for a run of Chinese ASR words.

    OpenCC converts by phrase (著急 -> 着急), so the run is converted as one
    string and cut back into words; conversion is one character for one, so
    the cut points stay where they were.
    """
    if language != "zh":
        return texts
    joined = "".join(texts)
    converted = _t2s().convert(joined)
    converted = _CN_DIGIT_RUN.sub(lambda m: "".join(_CN_DIGITS[c] for c in m.group()), converted)
    if len(converted) != len(joined):
        return [normalise_word(t, language) for t in texts]
    out, at = [], 0
    for t in texts:
        out.append(converted[at: at + len(t)])
        at += len(t)
    return out


def join_words(words: list[Word], language: str) -> str:
    text = "".join(w.text for w in words)
    return text.strip() if language == "zh" else " ".join(text.split())


def speech_spans(audio: np.ndarray, settings: AsrSettings) -> list[dict]:
    """Where someone speaks in one 16 kHz signal (Silero VAD, in bounded memory), as sample ranges."""
    from qa.speech.vad import VadRules
    from qa.speech.vad import speech_spans as spans

    return spans(audio, VadRules(**settings.vad))


def pack_spans(spans: list[dict], seconds: float, gap: float = 0.0) -> list[list[dict]]:
    """Consecutive speech spans grouped so that each group's speech fits one Whisper window.

    Whisper's encoder reads a 30 s window whatever it holds, so full groups
    cost no more encoder passes than one pass over all the speech, while
    separate groups can go to separate workers (an agent who talks twice as
    much as the customer no longer leaves one core idle). ``gap``: the seconds
    of silence ``speech_of`` puts between two spans, counted in the group.
    """
    limit, pause = seconds * SAMPLE_RATE, round(gap * SAMPLE_RATE)
    groups: list[list[dict]] = []
    filled = 0
    for span in spans:
        length = span["end"] - span["start"]
        if groups and filled + pause + length <= limit:
            groups[-1].append(span)
            filled += pause + length
        else:
            groups.append([span])
            filled = length
    return groups


def speech_of(audio: np.ndarray, spans: list[dict], gap: float = 0.0) -> np.ndarray:
    """The speech in ``spans`` cut out of ``audio`` and joined, ``gap`` seconds of silence between two.

    Whisper's word alignment drifts early across a seamless join: the first
    words of a span were timed at the end of the span before it, often the
    same sentence said minutes earlier (tests/repeated_call.py, seed 10).
    A pause between spans gives those words somewhere to fall that is no
    span's speech; ``restore_times`` puts them back on their own span.
    """
    pause = np.zeros(round(gap * SAMPLE_RATE), dtype=audio.dtype)
    parts = [p for s in spans for p in (pause, audio[s["start"]: s["end"]])][1:] if spans else [audio[:0]]
    return np.ascontiguousarray(np.concatenate(parts))


def restore_times(segments, spans: list[dict], gap: float = 0.0) -> list:
    """Segments decoded from ``speech_of(audio, spans, gap)`` with their times on ``audio``'s clock.

    A word belongs to the span its middle falls in (a middle in a pause: the
    nearer span) and is kept inside that span, so that no word is timed in
    the silence between two spans or in the speech of another.
    """
    pause = round(gap * SAMPLE_RATE)
    starts, at = [], 0
    for s in spans:
        starts.append(at)
        at += s["end"] - s["start"] + pause

    def span_at(sample: float) -> int:
        k = max(0, bisect.bisect_right(starts, sample) - 1)
        if k + 1 < len(spans) and sample - (starts[k] + spans[k]["end"] - spans[k]["start"]) > pause / 2:
            k += 1  # in the later half of the pause after span k
        return k

    def put_back(seconds: float, k: int) -> float:
        sample = seconds * SAMPLE_RATE - starts[k] + spans[k]["start"]
        return round(min(max(sample, spans[k]["start"]), spans[k]["end"]) / SAMPLE_RATE, 3)

    out = []
    for seg in segments:
        if seg.words:
            for w in seg.words:
                k = span_at((w.start + w.end) / 2 * SAMPLE_RATE)
                w.start, w.end = put_back(w.start, k), put_back(w.end, k)
            seg.start, seg.end = seg.words[0].start, seg.words[-1].end
        else:
            start, end = seg.start, max(seg.start, seg.end)
            seg.start = put_back(start, span_at(start * SAMPLE_RATE))
            seg.end = put_back(end, span_at(max(start, end - 0.001) * SAMPLE_RATE))  # an end at a join: the span before
        out.append(seg)
    return out


def language_probabilities(samples: list[np.ndarray], options: ModelOptions, map_fn=map,
                           settings: AsrSettings | None = None) -> dict[str, float]:
    """The model's probability of every language it knows, for the speech in ``samples``.

    Each sample (up to one window of one side's speech; at least one, none
    empty) is judged on its own, side by side when ``map_fn`` is a pool's map,
    and the probabilities are averaged weighted by length. ``settings``: the
    encoder window rule (the decoder's, default_settings() when None).
    """
    model = load_model(options)
    settings = settings or default_settings()

    def judge(audio: np.ndarray) -> dict[str, float]:
        # the frames and window the decoder will read for this audio (it drops the last frame), so
        # that the decode of the same piece reuses this encoder pass (qa.speech.encoder)
        features = model.feature_extractor(audio[: model.feature_extractor.n_samples])[:, :-1]
        with model.fitted(settings.window_margin, settings.window_floor):
            _, _, all_probs = model.detect_language(features=features, language_detection_segments=1)
        return dict(all_probs)

    total = float(sum(s.size for s in samples))
    probs: dict[str, float] = {}
    for sample, judged in zip(samples, map_fn(judge, samples)):
        for lang, p in judged.items():
            probs[lang] = probs.get(lang, 0.0) + p * sample.size / total
    return probs


def settle_language(probs: dict[str, float], labelled: str | None, settings: AsrSettings) -> tuple[str, float]:
    """The language to transcribe in, and its probability relative to our languages.

    A call the model is at least ``foreign_language_probability`` sure is in a
    language callqa does not handle is refused, labelled or not: its transcript
    would be gibberish. Without a label, the most likely of ours. With one,
    the label, unless the model is at least ``relabel_probability`` sure the
    call is in another of ours (a Spanish call filed under Mandarin): then the
    language heard, and the transcript and scorecard say so. The probability
    is 1.0 when label and model agree.
    """
    best_other, p_other = max(probs.items(), key=lambda kv: kv[1])
    if best_other not in settings.languages and p_other >= settings.foreign_language_probability:
        filed = f" (its metadata says {labelled})" if labelled else ""
        raise UnsupportedLanguageError(
            f"the call sounds like language {best_other!r} (p={p_other:.2f}){filed}; callqa handles "
            f"{', '.join(settings.languages)}. If that is wrong, force one with --language."
        )
    ours = sum(probs.get(lang, 0.0) for lang in settings.languages) or 1.0
    heard = max(settings.languages, key=lambda lang: probs.get(lang, 0.0))
    if labelled is None:
        return heard, probs.get(heard, 0.0) / ours
    if heard == labelled:
        return labelled, 1.0
    if settings.relabel_probability is not None and probs.get(heard, 0.0) >= settings.relabel_probability:
        return heard, probs.get(heard, 0.0) / ours
    return labelled, probs.get(labelled, 0.0) / ours


def _is_hallucination(text: str, settings: AsrSettings) -> bool:
    flat = _STRIP.sub("", text.lower())
    return bool(flat) and any(h in flat for h in settings.hallucinations)


def _decode(audio: np.ndarray, language: str, options: ModelOptions, settings: AsrSettings, vad: bool,
            may_split: bool = False) -> list | None:
    """faster-whisper's segments for one signal: greedy first, the temperature fallback only where it pays.

    Whisper's own rule decodes a window again at every temperature of the
    ladder (five sampled hypotheses each) when its text is repetitive, and a
    window in which the agent says one sentence three times is (compression
    ratio 2.46): on calls with recurring sentences that was most of the
    decoding time, for no better text. So the first decode is greedy only,
    and the whole ladder runs again only for a window that is unlikely
    (``log_prob_threshold``) or a decoder loop (``looping``). Speech the
    greedy decode left out is found by ``decode_tracks``' coverage check.
    ``may_split``: return None instead of running the ladder (the caller
    decodes the signal again in two windows).
    """
    model = load_model(options)
    if len(settings.temperature) == 1:
        return _run_model(model, audio, language, settings, vad, settings.temperature)
    first = _run_model(model, audio, language, settings, vad, settings.temperature[:1])
    if not any(_needs_fallback(window, audio.size / SAMPLE_RATE, model, settings) for window in _windows(first)):
        return first
    if may_split:
        return None
    return _run_model(model, audio, language, settings, vad, settings.temperature)


def _run_model(model, audio: np.ndarray, language: str, settings: AsrSettings, vad: bool, temperature) -> list:
    with model.fitted(settings.window_margin, settings.window_floor):  # the generator runs inside
        return list(model.transcribe(
            audio,
            language=language,
            task="transcribe",
            beam_size=settings.beam_size,
            temperature=list(temperature),
            compression_ratio_threshold=settings.compression_ratio_threshold,
            log_prob_threshold=settings.log_prob_threshold,
            no_speech_threshold=settings.no_speech_threshold,
            condition_on_previous_text=settings.condition_on_previous_text,
            word_timestamps=True,
            vad_filter=vad,
            vad_parameters=dict(settings.vad) if vad else None,
        )[0])


def _windows(segments: list) -> list[list]:
    """Segments grouped by the 30 s window they were decoded in (faster-whisper's ``seek``)."""
    windows: dict[int, list] = {}
    for seg in segments:
        windows.setdefault(seg.seek, []).append(seg)
    return list(windows.values())


#: faster-whisper's prompt without previous text: start of transcript, language, task.
_PROMPT_TOKENS = 3


def _needs_fallback(window: list, audio_seconds: float, model, settings: AsrSettings) -> bool:
    """Whether a greedy window's text is unlikely or a loop (then the temperature ladder decodes it again).

    Every segment of a window carries the window's average log-probability
    and compression ratio. A window faster-whisper skipped as silence never
    reaches here (it yields no segment), so an unlikely window is speech.
    """
    return window[0].avg_logprob < settings.log_prob_threshold or loops(window, audio_seconds, model, settings)


def loops(window: list, audio_seconds: float, model, settings: AsrSettings) -> bool:
    """Whether a decoded window's text is a decoder loop: repetitive, and more tokens than its speech holds."""
    head = window[0]
    if head.compression_ratio <= settings.compression_ratio_threshold:
        return False
    start = head.seek / model.frames_per_second
    seconds = min(30.0, audio_seconds - start)
    room = model.max_length - _PROMPT_TOKENS
    return looping(sum(len(seg.tokens) for seg in window), seconds, room, settings)


def looping(tokens: int, seconds: float, room: int, settings: AsrSettings) -> bool:
    """A repetitive text that is a decoder loop, not a sentence said again.

    Whisper's compression-ratio test cannot tell an agent who repeats a
    sentence three times (ratio 2.46, measured) from a loop; the loop writes
    more tokens than the speech could hold, often until the window is full
    (``room``: the model's length limit less the prompt).
    """
    return tokens >= room or tokens > settings.loop_tokens_per_second * max(seconds, 1.0)


@dataclass
class Decoded:
    """What one signal yielded: utterances, and the speech that yielded none (with why)."""

    utterances: list[Utterance] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)


def transcribe_signal(
    audio: np.ndarray,
    language: str,
    options: ModelOptions,
    settings: AsrSettings,
    offset: float = 0.0,
    speaker: str = "",
    role: str = "unknown",
    spans: list[dict] | None = None,
) -> Decoded:
    """Utterances (with word timings) heard in one mono 16 kHz signal.

    ``spans``: decode only these speech spans (see ``pack_spans``), cut out
    and joined, with times put back on the signal's clock, and account for
    each of them (``decode_spans``); None: the whole signal, with the VAD as
    the settings say.
    """
    if spans is None:
        segments = _decode(audio, language, options, settings, vad=settings.vad_filter)
        why = dict.fromkeys(unaligned_ones(segments, settings), UNALIGNED)  # no retry here: stretched text stays
        why.update(dict.fromkeys(looped_ones(segments, audio.size / SAMPLE_RATE, options, settings), LOOP))
        kept, apart = _set_apart(segments, why)
        utterances, rejected = _utterances(kept, language, settings, offset, speaker, role, apart)
        return Decoded(utterances, [Dropped(a, b, why, role, speaker) for a, b, why in rejected])
    return decode_spans(audio, spans, language, options, settings, offset, speaker, role)


def decode_spans(audio: np.ndarray, spans: list[dict], language: str, options: ModelOptions,
                 settings: AsrSettings, offset: float = 0.0, speaker: str = "",
                 role: str = "unknown") -> Decoded:
    """Decode packed speech spans of one signal so that every one ends in the transcript or in ``dropped``."""
    return decode_tracks([Track(audio, [spans], offset, speaker, role)], language, options, settings)


@dataclass
class Track:
    """One signal (a channel of a chunk, or the mix) and its speech packed in pieces (``pack_spans``)."""

    audio: np.ndarray
    pieces: list[list[dict]]
    offset: float = 0.0
    speaker: str = ""
    role: str = "unknown"


def decode_tracks(tracks: list[Track], language: str, options: ModelOptions, settings: AsrSettings,
                  pool: Executor | None = None, workers: int = 1) -> Decoded:
    """Decode every piece of every track, in rounds, so that all speech is transcribed or listed as dropped.

    Whisper may end a window early (it writes one sentence of a window that
    holds the same sentence three times, and faster-whisper then skips the
    rest of the window), skip a window as silence, or write text the
    hallucination filter removes. So after each round of a track, the spans
    of its pieces that words do not cover (``min_uncovered`` seconds or more
    left, words widened by ``coverage_pad``) are decoded again whole in its
    next round (``leftovers``), packed together, so that the leftovers of
    several pieces share one window (each window costs a whole encoder pass,
    however little it holds). A part still uncovered when decoded on its own,
    or when the track's retries are spent, is recorded as dropped, with the
    reason.

    A piece of several spans whose greedy decode loops (or is unlikely) is
    decoded again as two pieces of half its speech each, side by side, not
    with the temperature ladder (a new window seldom loops, and the ladder
    samples five hypotheses at each temperature: on seed 3 of
    tests/repeated_call.py one looping piece took 10.6 s, the call 16 s; split,
    the call takes 9 s); a single span gets the ladder.

    Rounds are per track: a side whose round is over starts its next while
    the other side's pieces are still decoding (global rounds left a core
    idle at every round's end: 8.6 s -> 6.3 s on a repeated-sentence call).
    What is packed with what depends on the track's own results only, so the
    transcript is the same whatever the order the ``workers`` of ``pool``
    finish in (None: one piece at a time, here). Longest piece first.
    """
    own = pool is None
    pool = pool or ThreadPoolExecutor(max_workers=1)
    workers = 1 if own else max(1, workers)
    out = Decoded()
    budgets = [2 * sum(len(p) for p in t.pieces) + 2 for t in tracks]  # retries per track: each must make progress
    queue = [(k, piece) for k, t in enumerate(tracks) for piece in t.pieces]
    busy = [len(t.pieces) for t in tracks]  # pieces of each track queued or decoding in its current round
    again: list[list[dict]] = [[] for _ in tracks]
    alone: list[list[dict]] = [[] for _ in tracks]
    running: dict[Future, tuple[int, list[dict]]] = {}
    try:
        while queue or running:
            queue.sort(key=lambda item: (-sum(s["end"] - s["start"] for s in item[1]), item[0], item[1][0]["start"]))
            while queue and len(running) < workers:
                k, group = queue.pop(0)
                running[pool.submit(_decode_piece, tracks[k], group, language, options, settings)] = (k, group)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: (running[f][0], running[f][1][0]["start"])):
                k, group = running.pop(future)
                result = future.result()
                if result is None:  # a loop or an unlikely text: a window of half the speech each
                    queue += [(k, half) for half in halves(group)]
                    busy[k] += 1
                    continue
                found, rejected = result
                t = tracks[k]
                busy[k] -= 1
                found, missed, how = leftovers(group, found, settings, t.offset, budgets[k], language)
                out.utterances += found
                if how is not None:
                    budgets[k] -= 1
                    if how == "pack":
                        again[k] += missed
                    else:
                        alone[k] += [[m] for m in missed]
                elif missed:
                    out.dropped += dropped_parts(missed, rejected, t.offset, t.role, t.speaker, budgets[k] > 0)
                if busy[k] == 0:  # the track's round is over: its leftovers make its next round
                    nxt = alone[k] + pack_spans(sorted(again[k], key=lambda s: s["start"]), settings.piece_seconds,
                                                          settings.join_gap)
                    queue += [(k, group) for group in nxt]
                    busy[k], again[k], alone[k] = len(nxt), [], []
    finally:
        for future in running:
            future.cancel()
        if own:
            pool.shutdown()
    out.utterances.sort(key=lambda u: (u.start, u.end, u.speaker))
    out.dropped.sort(key=lambda d: (d.start, d.end, d.speaker))
    return out


def leftovers(group: list[dict], found: list[Utterance], settings: AsrSettings, offset: float, budget: int,
              language: str) -> tuple[list[Utterance], list[dict], str | None]:
    """What a decoded piece leaves to decode again: (the utterances kept, the speech missed, how to retry it).

    A span the decode covered only in part is decoded again whole, and the
    words already found in it are let go: Whisper times a span's words late
    or early when the decode went wrong around it, and the part it left
    uncovered, decoded alone, wrote again words already written
    (tests/repeated_call.py seed 2: 我想 found twice, 我想我想问). Fresh seeds
    45-64: sentences missing 5 -> 2, mean per-role CER 0.114 -> 0.113;
    checked on 25-44: 1 -> 0, 0.103 -> 0.102. When a whole-span retry makes
    no progress (a piece of one span), only the missing part is retried and
    the words found are kept.
    """
    missed = uncovered(group, [w for u in found for w in u.words], settings, offset)
    if not missed:
        return found, [], None
    whole = [s for s in group if any(m["start"] < s["end"] and m["end"] > s["start"] for m in missed)]
    how = retry(group, whole, budget)
    if how is not None:
        return without(found, whole, offset, language), whole, how
    return found, missed, retry(group, missed, budget)


def without(utterances: list[Utterance], spans: list[dict], offset: float, language: str) -> list[Utterance]:
    """The utterances less their words whose middle falls in ``spans`` (sample ranges of a signal at ``offset``)."""
    def inside(word: Word) -> bool:
        middle = ((word.start + word.end) / 2 - offset) * SAMPLE_RATE
        return any(s["start"] <= middle < s["end"] for s in spans)

    out = []
    for u in utterances:
        keep = [w for w in u.words if not inside(w)]
        if len(keep) == len(u.words):
            out.append(u)
        elif keep:
            out.append(replace(u, start=keep[0].start, end=keep[-1].end, text=join_words(keep, language), words=keep,
                               confidence=confidence(keep)))
    return out


def retry(group: list[dict], missed: list[dict], budget: int) -> str | None:
    """How the speech a decoded piece left uncovered is tried again, while its track has ``budget`` retries.

    "pack": fewer samples are missing than were decoded (progress), so the
    leftovers share windows; "alone": nothing was found, but the piece held
    several spans, so each missed part gets a window of its own; None: give
    up (``dropped_parts``).
    """
    if budget <= 0:
        return None
    if sum(m["end"] - m["start"] for m in missed) < sum(g["end"] - g["start"] for g in group):
        return "pack"
    return "alone" if len(group) > 1 else None


def dropped_parts(missed: list[dict], rejected: list[tuple[float, float, str]], offset: float, role: str,
                  speaker: str, retries_left: bool, silent: float | None = None) -> list[Dropped]:
    """Speech given up on (sample ranges on a signal starting at ``offset``), each with why.

    The reason is the rejected segment over it (the hallucination filter, no
    word timings), else the model's silence verdict (``silent``: its
    no-speech probability), else that no words came out.
    """
    out = []
    for m in missed:
        a, b = offset + m["start"] / SAMPLE_RATE, offset + m["end"] / SAMPLE_RATE
        why = next((r for ra, rb, r in rejected if ra < b and rb > a), None)
        if why is None and silent is not None:
            why = f"judged silence by the model (no_speech_prob {silent:.2f})"
        if why is None:
            why = "no words decoded" if retries_left else "no words decoded (retry limit reached)"
        out.append(Dropped(round(a, 3), round(b, 3), why, role, speaker))
    return out


def _decode_piece(track: Track, group: list[dict], language: str, options: ModelOptions,
                  settings: AsrSettings) -> tuple[list[Utterance], list[tuple[float, float, str]]] | None:
    """One piece's speech cut out, decoded, and put back on the track's clock.

    None: the greedy decode of a piece of several spans looped or was
    unlikely; ``decode_tracks`` then decodes its halves instead.
    """
    joined = speech_of(track.audio, group, settings.join_gap)
    segments = _decode(joined, language, options, settings, vad=False, may_split=len(group) > 1)
    if segments is None:
        return None
    why = misplaced(segments, settings, len(group) > 1)  # on the joined clock, before restore_times clamps the words
    segments = restore_times(segments, group, settings.join_gap)
    why.update(dict.fromkeys(looped_ones(segments, joined.size / SAMPLE_RATE, options, settings), LOOP))
    kept, apart = _set_apart(segments, why)
    return _utterances(kept, language, settings, track.offset, track.speaker, track.role, apart)


LOOP = "decoder loop at every temperature"
UNALIGNED = "words not aligned to the audio (most were given no time)"
SKIPPED = "a word stretched over speech the decoder skipped"
SLOW = "too few words for the speech they were timed over"


def unaligned(segment, settings: AsrSettings) -> bool:
    """Whether Whisper could not align a segment's text: of its words (3 or more), ``unaligned_share`` or
    more are shorter than ``unaligned_word`` seconds.

    Seen on tests/repeated_call.py when a piece's decode goes wrong: seed 41
    wrote 我在冰台心区有房 twice and 广州市… in the first 3 s of a piece, most
    characters timed 0 s, where only 广州市… was said; the clamped words then
    read as a sentence said where another was (a sentence "missing" under
    junk). Aligned speech has no such words: every character takes time.
    """
    words = segment.words or []
    short = sum(w.end - w.start < settings.unaligned_word for w in words)
    return len(words) >= 3 and short >= settings.unaligned_share * len(words)


def unaligned_ones(segments: list, settings: AsrSettings) -> set[int]:
    """The ids of the segments whose words are not aligned (``unaligned``), judged on the decoded clock."""
    return {id(s) for s in segments if unaligned(s, settings)}


def stretched_ones(segments: list, settings: AsrSettings) -> set[int]:
    """The ids of the segments holding a word longer than ``stretched_word`` seconds, judged on the decoded clock.

    Such a word follows speech the decoder skipped (a piece holding the same
    sentence several times), and the words around it are timed wrong too:
    on tests/repeated_call.py seed 1, 我想 then 问 stretched over 18 s, where
    我想问 was said at the stretch's end, and a sentence's 广州 vanished into
    a stretched 周. Decoded again, the speech reads right; kept, the piece's
    words land where other sentences were said. Fresh seeds 45-64: mean
    per-role CER 0.126 -> 0.114, sentences missing 8 -> 5; checked on 25-44:
    0.110 -> 0.103, 4 -> 1.
    """
    return {id(s) for s in segments if any(w.end - w.start > settings.stretched_word for w in s.words or [])}


def slow_ones(segments: list, settings: AsrSettings) -> set[int]:
    """The ids of the segments whose words last more than ``slow_text`` seconds per character and span
    ``slow_text_span`` seconds or more, judged on the decoded clock.

    In a piece of several spans Whisper may write a sentence it has just
    written where another was said, its few characters stretched over the
    other's speech (tests/repeated_call.py seed 95: 我想问, three characters
    over 2.8 s, where 广州市… was said). ``misplaced`` applies this to pieces
    of several spans only, so a slow speaker's text is never lost to it: its
    speech, decoded again, ends up in a piece of its own, where it is kept.
    """
    out = set()
    for s in segments:
        words = s.words or []
        chars = sum(ch.isalnum() for w in words for ch in w.word)
        if chars and words[-1].end - words[0].start >= settings.slow_text_span and \
                sum(w.end - w.start for w in words) > settings.slow_text * chars:
            out.add(id(s))
    return out


def misplaced(segments: list, settings: AsrSettings, several: bool = False) -> dict[int, str]:
    """Why each segment whose words cannot be placed in time is set apart, by id: ``UNALIGNED``, ``SKIPPED``
    or (``several``: a piece of several spans) ``SLOW``.

    Judged on the decoded clock: once ``restore_times`` has clamped words to
    their spans, an unaligned word and a stretched one both look ordinary.
    """
    why = dict.fromkeys(slow_ones(segments, settings), SLOW) if several else {}
    why.update(dict.fromkeys(stretched_ones(segments, settings), SKIPPED))
    why.update(dict.fromkeys(unaligned_ones(segments, settings), UNALIGNED))
    return why


def looped_ones(segments: list, audio_seconds: float, options: ModelOptions, settings: AsrSettings) -> set[int]:
    """The ids of the segments of windows that are a decoder loop (``loops``) once ``_decode`` is done.

    Such a window has been through the whole temperature ladder, which
    samples: its text is junk (seed 9 of tests/repeated_call.py in 20 s
    pieces: agent CER 0.21, 1.30 or 2.40 from run to run).
    """
    model = load_model(options)
    return {id(seg) for window in _windows(segments) if loops(window, audio_seconds, model, settings)
            for seg in window}


def _set_apart(segments: list, why: dict[int, str]) -> tuple[list, list[tuple[object, str]]]:
    """The segments kept, and those set apart (``why`` has their ids: ``LOOP``, ``UNALIGNED``, ``SKIPPED``, ``SLOW``).

    Their text is not written; their speech, uncovered, is decoded again
    (``decode_tracks``) or listed as dropped with the reason.
    """
    kept = [seg for seg in segments if id(seg) not in why]
    return kept, [(seg, why[id(seg)]) for seg in segments if id(seg) in why]


def halves(group: list[dict]) -> list[list[dict]]:
    """A piece's spans in two groups of about equal speech, in order (both non-empty for two spans or more)."""
    total, filled = sum(s["end"] - s["start"] for s in group), 0
    for cut, span in enumerate(group[:-1], start=1):
        filled += span["end"] - span["start"]
        if filled * 2 >= total:
            break
    return [group[:cut], group[cut:]]


def uncovered(spans: list[dict], words: list[Word], settings: AsrSettings, offset: float = 0.0) -> list[dict]:
    """The parts of ``spans`` (sample ranges) that no word covers, ``min_uncovered`` seconds or longer."""
    pad, least = settings.coverage_pad, settings.min_uncovered * SAMPLE_RATE
    covered = sorted((int((w.start - offset - pad) * SAMPLE_RATE),
                      int((w.end - offset + pad) * SAMPLE_RATE)) for w in words)
    missed: list[dict] = []
    for span in spans:
        at = span["start"]
        for a, b in covered:
            if b <= at or a >= span["end"]:
                continue
            if a - at >= least:
                missed.append({"start": at, "end": a})
            at = max(at, b)
        if span["end"] - at >= least:
            missed.append({"start": at, "end": span["end"]})
    return missed


def _utterances(segments, language: str, settings: AsrSettings, offset: float, speaker: str,
                role: str, apart: list | tuple = ()) -> tuple[list[Utterance], list[tuple[float, float, str]]]:
    """Utterances from faster-whisper segments, and the segments left out as (start, end, reason).

    ``apart``: (segment, reason) set apart before (``_set_apart``), left out.
    """
    utterances: list[Utterance] = []
    rejected = [(round(offset + float(seg.start), 3), round(offset + float(seg.end), 3), why) for seg, why in apart]
    for seg in segments:
        where = (round(offset + float(seg.start), 3), round(offset + float(seg.end), 3))
        if _is_hallucination(seg.text, settings):
            rejected.append((*where, f"hallucination filter: {seg.text.strip()[:60]}"))
            continue
        if not seg.words:
            rejected.append((*where, "no word timings"))
            continue
        texts = normalise_words([w.word for w in seg.words], language)
        words = [
            Word(
                start=round(offset + float(w.start), 3),
                end=round(offset + float(max(w.end, w.start)), 3),
                text=text,
                probability=round(float(w.probability), 4),
            )
            for w, text in zip(seg.words, texts)
        ]
        for group in split_at_pauses(words, settings.split_pause):
            text = join_words(group, language)
            if not _STRIP.sub("", text):
                continue
            utterances.append(
                Utterance(
                    role=role,
                    start=group[0].start,
                    end=group[-1].end,
                    text=text,
                    words=group,
                    speaker=speaker,
                    confidence=confidence(group),
                    no_speech_prob=round(float(seg.no_speech_prob), 4),
                )
            )
    return utterances, rejected


def confidence(words: list[Word]) -> float:
    """An utterance's confidence: its words' mean probability (one formula wherever utterances are made)."""
    return round(float(np.mean([w.probability for w in words])), 4)


def split_at_pauses(words: list[Word], pause: float) -> list[list[Word]]:
    """Cut a run of words wherever the speaker pauses longer than ``pause`` seconds."""
    groups: list[list[Word]] = []
    for word in words:
        if groups and word.start - groups[-1][-1].end <= pause:
            groups[-1].append(word)
        else:
            groups.append([word])
    return groups
