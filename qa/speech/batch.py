"""Decode the speech of both sides of a call as batches: one encoder pass and one greedy decode for many pieces.

On a CPU, Whisper's decoder reads all its weights for every token it writes;
one piece at a time, that memory traffic is most of a call's cost (measured:
62 % of the CPU in the decoder, 30 % in the encoder). Decoding the pieces of
both channels side by side in one batch reads the weights once per step for
all of them. faster-whisper's ``BatchedInferencePipeline`` does this too, but
decodes each window once: where the model stops early, the rest of the window
is lost (whole turns, CER 0.39-0.66 on the sample call). Here each round's
uncovered speech (``asr.uncovered``) goes round again, packed anew, as in
``asr.decode_spans``; a piece whose text looks like a loop or is very unlikely
is decoded again on its own with the temperature fallback; and the language is
read from the first round's encoder output, so it costs no extra encoder pass.

Uses faster-whisper internals (``encode``, ``_split_segments_by_timestamps``,
``add_word_timestamps``; the pinned 1.2.x), as its batched pipeline does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from qa.speech import asr
from qa.speech.audio import SAMPLE_RATE
from qa.speech.model import ModelOptions, load_model

MapFn = Callable[[Callable, Iterable], Iterable]


@dataclass
class Job:
    """One voice track of a chunk (a stereo channel, or the mono mix) and its speech spans (sample ranges)."""

    audio: np.ndarray
    spans: list[dict]
    offset: float = 0.0
    speaker: str = ""
    role: str = "unknown"
    found: asr.Decoded = field(default_factory=asr.Decoded)


@dataclass
class _Item:
    job: int
    group: list[dict]

    @property
    def samples(self) -> int:
        return sum(s["end"] - s["start"] for s in self.group)


@dataclass
class _Result:
    """One item's decode: segments on the item's own (joined speech) clock, or why it needs another way."""

    segments: list = field(default_factory=list)
    silent: float | None = None  # no_speech_prob when the model judged the piece silent
    fallback: bool = False  # loop-like or unlikely text: decode again with the temperature fallback


@dataclass
class BatchOutcome:
    jobs: list[Job]
    language: str
    language_probability: float


def decode_jobs(jobs: list[Job], language: str | None, labelled: str | None, options: ModelOptions,
                settings: asr.AsrSettings, map_fn: MapFn = map, workers: int = 1) -> BatchOutcome:
    """Transcribe every job's speech; each span ends in ``job.found`` as words or as a ``Dropped``.

    ``language`` None: settled from the first round (``asr.settle_language``,
    ``labelled`` as the metadata says). ``workers``: the batch is cut into this
    many parts decoded at once through ``map_fn`` (one model replica each).
    """
    model = load_model(options)
    budgets = [2 * len(job.spans) + 2 for job in jobs]
    queue = [_Item(j, group) for j, job in enumerate(jobs)
             for group in asr.pack_spans(job.spans, settings.piece_seconds, settings.join_gap)]
    language_probability = 1.0
    while queue:
        items, queue = queue, []
        encoded = _encode(model, jobs, items, settings, map_fn, workers)
        if language is None:
            language, language_probability = _language(model, jobs, items, encoded, labelled, settings)
        results = [r for part in map_fn(lambda part: _generate(model, jobs, part, language, settings), encoded)
                   for r in part]
        fallback = []
        for item, result in zip([i for part in encoded for i in part[0]], results):
            if result.fallback:
                fallback.append(item)
                continue
            queue += _account(jobs[item.job], item, result, language, settings, budgets)
        for item, decoded in zip(fallback, map_fn(lambda it: _one_by_one(jobs[it.job], it, language, options, settings),
                                                   fallback)):
            jobs[item.job].found.utterances += decoded.utterances
            jobs[item.job].found.dropped += decoded.dropped
    for job in jobs:
        job.found.utterances.sort(key=lambda u: (u.start, u.end))
    return BatchOutcome(jobs, language or "", language_probability)


def batches(items: list[_Item], batch_size: int, workers: int) -> list[list[_Item]]:
    """Items cut into batches of at most ``batch_size``, longest first, at least one per worker when there are enough.

    Similar lengths go together (a batch is as slow as its longest piece), and
    the batches are of even size so the workers finish together.
    """
    if not items:
        return []
    ordered = sorted(items, key=lambda it: -it.samples)
    count = max(workers, math.ceil(len(ordered) / max(1, batch_size)))
    size = math.ceil(len(ordered) / count)
    return [ordered[k: k + size] for k in range(0, len(ordered), size)]


def _encode(model, jobs: list[Job], items: list[_Item], settings: asr.AsrSettings, map_fn: MapFn,
            workers: int) -> list[tuple[list[_Item], object]]:
    """The items cut into batches (similar lengths together, at most ``batch_size``), each with its encoder output."""
    from faster_whisper.audio import pad_or_trim

    parts = batches(items, settings.batch_size, workers)

    def encode(part: list[_Item]):
        features = np.stack([pad_or_trim(model.feature_extractor(
            asr.speech_of(jobs[it.job].audio, it.group, settings.join_gap))[..., :-1]) for it in part])
        return part, model.encode(features)

    return list(map_fn(encode, parts))


def _language(model, jobs: list[Job], items: list[_Item], encoded, labelled: str | None,
              settings: asr.AsrSettings) -> tuple[str, float]:
    """The call's language from the encoder output of each side's first piece, weighted by its speech."""
    firsts = {}
    for item in items:
        firsts.setdefault(item.job, item)
    probs: dict[str, float] = {}
    total = float(sum(it.samples for it in firsts.values())) or 1.0
    for part, output in encoded:
        judged = model.model.detect_language(output)
        for item, langs in zip(part, judged):
            if firsts.get(item.job) is not item:
                continue
            for token, p in langs:
                lang = token[2:-2]
                probs[lang] = probs.get(lang, 0.0) + p * item.samples / total
    return asr.settle_language(probs, labelled, settings)


def _generate(model, jobs: list[Job], part: tuple[list[_Item], object], language: str,
              settings: asr.AsrSettings) -> list[_Result]:
    """Greedy-decode one batch with timestamps, split it into segments and time its words."""
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import Segment, Word, get_compression_ratio, get_suppressed_tokens

    items, encoder_output = part
    tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language=language)
    prompt = model.get_prompt(tokenizer, [], without_timestamps=False)
    generated = model.model.generate(
        encoder_output, [list(prompt) for _ in items], beam_size=settings.beam_size, max_length=model.max_length,
        suppress_blank=True, suppress_tokens=get_suppressed_tokens(tokenizer, [-1]), return_scores=True,
        return_no_speech_prob=True, sampling_temperature=settings.temperature[0],
    )
    results, split, sizes = [], [], []
    for item, out in zip(items, generated):
        tokens = out.sequences_ids[0]
        avg_logprob = out.scores[0] * len(tokens) / (len(tokens) + 1)
        text = tokenizer.decode([t for t in tokens if t < tokenizer.eot])
        duration = item.samples / SAMPLE_RATE
        size = int(math.ceil(duration) * model.frames_per_second)
        segments, _, _ = model._split_segments_by_timestamps(tokenizer=tokenizer, tokens=tokens, time_offset=0.0,
                                                             segment_size=size, segment_duration=duration, seek=0)
        for seg in segments:
            seg.update(text=tokenizer.decode(seg["tokens"]), avg_logprob=avg_logprob,
                       no_speech_prob=out.no_speech_prob, compression_ratio=get_compression_ratio(text))
        result = _Result()
        unlikely = avg_logprob < settings.log_prob_threshold
        if out.no_speech_prob > settings.no_speech_threshold and unlikely:
            result.silent = float(out.no_speech_prob)
        elif unlikely or (get_compression_ratio(text) > settings.compression_ratio_threshold
                          and asr.looping(len(tokens), duration, model.max_length - len(prompt), settings)):
            result.fallback = True
        results.append(result)
        split.append(segments)
        sizes.append(size)
    model.add_word_timestamps(split, tokenizer, encoder_output, sizes, "\"'“¿([{-", "\"'.。,，!！?？:：”)]}、", 0.0)
    for result, segments in zip(results, split):
        result.segments = [
            Segment(id=k, seek=0, start=s["start"], end=s["end"], text=s["text"], tokens=s["tokens"],
                    avg_logprob=s["avg_logprob"], compression_ratio=s["compression_ratio"],
                    no_speech_prob=s["no_speech_prob"], temperature=settings.temperature[0],
                    words=[Word(**w) for w in s.get("words") or []])
            for k, s in enumerate(segments)
        ]
    return results


def _account(job: Job, item: _Item, result: _Result, language: str, settings: asr.AsrSettings,
             budgets: list[int]) -> list[_Item]:
    """Keep the item's utterances; return its uncovered speech as new items, or record it as dropped."""
    found, rejected = [], []
    if result.silent is None:
        why = asr.misplaced(result.segments, settings, len(item.group) > 1)  # loops were decoded again one by one (_one_by_one)
        kept, apart = asr._set_apart(asr.restore_times(result.segments, item.group, settings.join_gap), why)
        found, rejected = asr._utterances(kept, language, settings, job.offset, job.speaker, job.role, apart)
    found, missed, how = asr.leftovers(item.group, found, settings, job.offset, budgets[item.job], language)
    job.found.utterances += found
    if not missed:
        return []
    if how is not None:
        budgets[item.job] -= 1
        groups = (asr.pack_spans(missed, settings.piece_seconds, settings.join_gap) if how == "pack"
                  else [[m] for m in missed])
        return [_Item(item.job, g) for g in groups]
    job.found.dropped += asr.dropped_parts(missed, rejected, job.offset, job.role, job.speaker,
                                           budgets[item.job] > 0, result.silent)
    return []


def _one_by_one(job: Job, item: _Item, language: str, options: ModelOptions, settings: asr.AsrSettings) -> asr.Decoded:
    """A piece the greedy batch got wrong, decoded on its own with the temperature fallback (asr.decode_spans)."""
    return asr.decode_spans(job.audio, item.group, language, options, settings, job.offset, job.speaker, job.role)
