"""Read stretches of text as digit strings and say what they are, for ``qa.privacy.redact``.

People read numbers out in pieces and ASR writes them every which way: "138
1234 5678", "一三八幺二三四…", "seiscientos doce, treinta y cuatro", "double
five", "four one five, twelve thirty-four". A ``NumberReader`` finds the
number atoms of one language (digit characters and number words), chains
those separated only by a few separator characters, and turns each chain into
``NumberRun``s: the digits said plus where each piece sits in the text, so the
caller can classify the digits and mask exactly the characters they came from.
``DigitClasses`` then decides on the digits alone whether they are an ID, a
card, a phone number or just a long number. The word lists, separators and
patterns come from ``data/redact.yaml``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field


def _fold_table() -> dict[int, str]:
    """Accented Latin letters to their base letter and full-width ASCII to ASCII, one char for one."""
    table: dict[int, str] = {}
    for cp in range(0xC0, 0x250):
        base = unicodedata.normalize("NFD", chr(cp))[0]
        if base != chr(cp) and base.isascii():
            table[cp] = base
    for cp in range(0xFF01, 0xFF5F):
        table[cp] = chr(cp - 0xFEE0)
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """``text`` with accents dropped ("veintitrés" -> "veintitres"); same length, same offsets."""
    return text.translate(_FOLD)


# --- Checksums --------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        value = int(ch)
        if i % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def gb11643_ok(number: str) -> bool:
    """ISO 7064 MOD 11-2 check digit of an 18-character Chinese resident ID (GB 11643)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(ch) * pow(2, 17 - i, 11) for i, ch in enumerate(number[:17]))
    check = (12 - total % 11) % 11
    return number[17] == ("X" if check == 10 else str(check))


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni_letter_ok(number: str) -> bool:
    """A Spanish DNI's letter is its number mod 23 looked up in a fixed alphabet."""
    return len(number) == 9 and number[:8].isdigit() and _DNI_LETTERS[int(number[:8]) % 23] == number[8]


CHECKS = {"gb11643": gb11643_ok, "dni_letter": dni_letter_ok}


# --- Reading numbers ------------------------------------------------------------------

# Kinds of number words (``words`` maps a folded, lower-case word to (kind, value)):
# unit (0-9), teen (10-29 said as one word), tens (value 2-9 for 20-90), hundreds
# (es "seiscientos": 6), hundred (en "hundred" after a unit), and (en "and" after
# it), joiner (es "y" between tens and unit), multiplier ("double": 2), plus.


@dataclass(frozen=True)
class Piece:
    """One number said as a unit ("cuarenta y cinco" -> "45") and where it is."""

    start: int
    end: int
    digits: str
    weak: bool = False  # a lone "oh"/"un": a digit only inside a number


@dataclass
class NumberRun:
    """Pieces read as one digit string; ``start`` includes a leading "+" or "plus"."""

    start: int
    end: int
    pieces: list[Piece] = field(default_factory=list)
    plus: bool = False

    @property
    def digits(self) -> str:
        return "".join(p.digits for p in self.pieces)


@dataclass(frozen=True)
class _Tok:
    kind: str  # "digits" or a word kind
    value: int | str
    start: int
    end: int
    weak: bool = False


class NumberReader:
    """Finds the digit strings of one language's text."""

    def __init__(self, *, digit_chars: dict[str, int], words: dict[str, tuple[str, int]],
                 weak: set[str], separators: str, max_separator: int, strong: str):
        self._digit_table = str.maketrans({ch: str(v) for ch, v in digit_chars.items()})
        self._words = {fold(w).lower(): kv for w, kv in words.items()}
        self._weak = {fold(w).lower() for w in weak}
        self._seps = frozenset(separators)
        self._max_sep = max_separator
        self._strong = frozenset(strong)
        parts = [f"(?P<d>[{''.join(re.escape(c) for c in digit_chars)}]+)", r"(?P<p>\+)"]
        if self._words:
            alts = "|".join(re.escape(w) for w in sorted(self._words, key=len, reverse=True))
            parts.append(rf"(?<![^\W\d_])(?P<w>{alts})(?![^\W\d_])")
        self._atom = re.compile("|".join(parts), re.IGNORECASE)

    def has_atoms(self, scan: str) -> bool:
        return self._atom.search(scan) is not None

    def runs(self, scan: str, min_digits: int) -> list[NumberRun]:
        """The number runs of ``scan`` (folded text, blocked stretches blanked out)."""
        out: list[NumberRun] = []
        for chain in self._chains(scan):
            for run in self._parse(chain, scan):
                run = self._trim_weak(run, scan)
                if run is not None:
                    out.extend(self._split(run, scan, min_digits))
        return out

    # -- atoms and chains

    def _tokens(self, scan: str):
        for m in self._atom.finditer(scan):
            kind = m.lastgroup
            if kind == "d":
                yield _Tok("digits", m.group().translate(self._digit_table), m.start(), m.end())
            elif kind == "p":
                yield _Tok("plus", 0, m.start(), m.end())
            else:
                word = m.group().lower()
                entry = self._words.get(word)
                if entry is not None:
                    yield _Tok(entry[0], entry[1], m.start(), m.end(), word in self._weak)

    def _gap_ok(self, gap: str) -> bool:
        return len(gap) <= self._max_sep and all(c in self._seps for c in gap)

    def _chains(self, scan: str) -> list[list[_Tok]]:
        chains: list[list[_Tok]] = []
        for tok in self._tokens(scan):
            if chains and self._gap_ok(scan[chains[-1][-1].end:tok.start]):
                chains[-1].append(tok)
            else:
                chains.append([tok])
        return chains

    # -- grammar

    def _parse(self, toks: list[_Tok], scan: str) -> list[NumberRun]:
        runs: list[NumberRun] = []
        cur: NumberRun | None = None
        i = 0
        while i < len(toks):
            tok = toks[i]
            if tok.kind == "plus":  # only a number's first word; it starts a new run
                if cur is not None and cur.pieces:
                    runs.append(cur)
                cur = NumberRun(tok.start, tok.end, plus=True)
                i += 1
                continue
            piece, used = self._number_at(toks, i, scan)
            if piece is None:  # "y", "and", "hundred" or "double" where they join nothing
                if cur is not None and cur.pieces:
                    runs.append(cur)
                cur = None
                i += 1
                continue
            if cur is None:
                cur = NumberRun(piece.start, piece.end)
            cur.pieces.append(piece)
            cur.end = piece.end
            i += used
        if cur is not None and cur.pieces:
            runs.append(cur)
        return runs

    def _joined(self, toks: list[_Tok], i: int, scan: str) -> bool:
        """Whether toks[i] and toks[i+1] belong to one spoken number (no comma between)."""
        return i + 1 < len(toks) and not any(c in self._strong for c in scan[toks[i].end:toks[i + 1].start])

    def _kind(self, toks: list[_Tok], i: int) -> str | None:
        return toks[i].kind if i < len(toks) else None

    def _below_hundred(self, toks: list[_Tok], i: int, scan: str, unit_ok: bool) -> tuple[int, int, int] | None:
        """(value, end, tokens used) of a number under 100 starting at toks[i], or None."""
        kind = self._kind(toks, i)
        if kind == "teen":
            return int(toks[i].value), toks[i].end, 1
        if kind == "tens":
            return self._tens(toks, i, scan)
        if kind == "unit" and unit_ok:
            return int(toks[i].value), toks[i].end, 1
        return None

    def _tens(self, toks: list[_Tok], i: int, scan: str) -> tuple[int, int, int]:
        tens = int(toks[i].value) * 10
        if (self._kind(toks, i + 1) == "joiner" and self._kind(toks, i + 2) == "unit"
                and self._joined(toks, i, scan) and self._joined(toks, i + 1, scan)):
            return tens + int(toks[i + 2].value), toks[i + 2].end, 3
        if self._kind(toks, i + 1) == "unit" and self._joined(toks, i, scan):  # "thirty-four"
            return tens + int(toks[i + 1].value), toks[i + 1].end, 2
        return tens, toks[i].end, 1

    def _number_at(self, toks: list[_Tok], i: int, scan: str) -> tuple[Piece | None, int]:
        tok = toks[i]
        kind = tok.kind
        if kind == "digits":
            return Piece(tok.start, tok.end, str(tok.value)), 1
        if kind == "teen":
            return Piece(tok.start, tok.end, f"{int(tok.value):02d}"), 1
        if kind == "tens":
            value, end, used = self._tens(toks, i, scan)
            return Piece(tok.start, end, str(value)), used
        if kind == "hundreds":  # es: "seiscientos doce" -> 612, "cien" -> 100
            rest = self._below_hundred(toks, i + 1, scan, True) if self._joined(toks, i, scan) else None
            if rest is None:
                return Piece(tok.start, tok.end, f"{tok.value}00"), 1
            return Piece(tok.start, rest[1], f"{tok.value}{rest[0]:02d}"), 1 + rest[2]
        if kind == "unit":
            if self._kind(toks, i + 1) == "hundred" and self._joined(toks, i, scan):
                return self._english_hundred(toks, i, scan)
            return Piece(tok.start, tok.end, str(tok.value), tok.weak), 1
        if kind == "multiplier" and self._kind(toks, i + 1) in ("unit", "digits"):
            said = str(toks[i + 1].value)
            return Piece(tok.start, toks[i + 1].end, said[0] * int(tok.value) + said[1:]), 2
        return None, 1

    def _english_hundred(self, toks: list[_Tok], i: int, scan: str) -> tuple[Piece, int]:
        """"eight hundred" -> 800; "one hundred and five" -> 105; "eight hundred twelve" -> 812.

        A bare digit after "hundred" is the next digit, not part of it: "one eight
        hundred five five five..." is read 1-800-555...
        """
        head, start = toks[i].value, toks[i].start
        end, used = toks[i + 1].end, 2
        rest = None
        if self._kind(toks, i + 2) == "and" and self._joined(toks, i + 1, scan) and self._joined(toks, i + 2, scan):
            rest = self._below_hundred(toks, i + 3, scan, True)
            if rest is not None:
                used += 1
        elif self._joined(toks, i + 1, scan):
            rest = self._below_hundred(toks, i + 2, scan, False)
        if rest is None:
            return Piece(start, end, f"{head}00"), used
        return Piece(start, rest[1], f"{head}{rest[0]:02d}"), used + rest[2]

    # -- clean-up

    def _trim_weak(self, run: NumberRun, scan: str) -> NumberRun | None:
        """Drop an "oh"/"un" at either end that faces the number across punctuation ("Oh, five...")."""
        pieces = run.pieces
        while pieces and pieces[0].weak and (len(pieces) == 1 or _has_punct(scan[pieces[0].end:pieces[1].start])):
            pieces = pieces[1:]
            run.plus = False
        while pieces and pieces[-1].weak and (len(pieces) == 1 or _has_punct(scan[pieces[-2].end:pieces[-1].start])):
            pieces = pieces[:-1]
        if not pieces:
            return None
        start = run.start if run.plus else pieces[0].start
        return NumberRun(start, pieces[-1].end, pieces, run.plus)

    def _split(self, run: NumberRun, scan: str, min_digits: int) -> list[NumberRun]:
        """Split a list ("13812345678、13987654321") at commas where both sides are numbers of their own."""
        segments: list[list[Piece]] = [[run.pieces[0]]]
        for prev, piece in zip(run.pieces, run.pieces[1:]):
            if any(c in self._strong for c in scan[prev.end:piece.start]):
                segments.append([piece])
            else:
                segments[-1].append(piece)
        if len(segments) == 1:
            return [run]
        out = [NumberRun(run.start, segments[0][-1].end, list(segments[0]), run.plus)]
        for seg in segments[1:]:
            left = sum(len(p.digits) for p in out[-1].pieces)
            if left >= min_digits and sum(len(p.digits) for p in seg) >= min_digits:
                out.append(NumberRun(seg[0].start, seg[-1].end, list(seg)))
            else:
                out[-1].pieces.extend(seg)
            out[-1].end = seg[-1].end
        return out


def _has_punct(gap: str) -> bool:
    return any(not c.isspace() for c in gap)


# --- Classifying digit strings ------------------------------------------------------------

# A card number that fails the Luhn check (an ASR slip) is still a card when it
# has a known issuer prefix and at least this many digits (redact.yaml, card_prefixes).
_PREFIX_ONLY_CARD_DIGITS = 15


@dataclass(frozen=True)
class PhonePattern:
    name: str
    regex: re.Pattern[str]
    international: bool  # only after "+", "plus"/"más" or "00"


@dataclass(frozen=True)
class IdPattern:
    name: str
    regex: re.Pattern[str]
    check: Callable[[str], bool] | None


@dataclass(frozen=True)
class DigitClasses:
    """The ID and card patterns of redact.yaml, compiled; a language adds its phone plans."""

    id_patterns: tuple[IdPattern, ...]
    card_prefix: re.Pattern[str]
    card_lengths: tuple[int, int]

    def classify(self, digits: str, suffix: str | None, international: bool,
                 plans: tuple[PhonePattern, ...]) -> tuple[str, bool]:
        """Category of a digit string, and whether the ID letter said after it belongs to it.

        First match wins: ID with a good checksum; shape of a checksummed ID (an
        ASR slip broke the check); "+"/"00" and a phone plan; card prefix and
        Luhn; ID shape without checksum; Luhn or (long) card prefix alone; local
        phone plan; otherwise a generic number ("digits").
        """
        candidates = ((digits + suffix, True), (digits, False)) if suffix else ((digits, False),)
        checked = [p for p in self.id_patterns if p.check is not None]
        for p in checked:
            for cand, used in candidates:
                if p.regex.fullmatch(cand) and p.check(cand):
                    return "id_number", used
        for p in checked:
            for cand, used in candidates:
                if p.regex.fullmatch(cand):
                    return "id_number", used
        dialled_00 = digits.startswith("00")
        national = digits[2:] if dialled_00 else digits
        if (international or dialled_00) and any(p.regex.fullmatch(national) for p in plans):
            return "phone", False
        n = len(digits)
        card_length = self.card_lengths[0] <= n <= self.card_lengths[1]
        prefix = card_length and self.card_prefix.match(digits) is not None
        luhn = card_length and luhn_ok(digits)
        if prefix and luhn:
            return "card", False
        for p in self.id_patterns:
            if p.check is None and any(p.regex.fullmatch(cand) for cand, _ in candidates):
                return "id_number", False
        if luhn or (prefix and n >= _PREFIX_ONLY_CARD_DIGITS):
            return "card", False
        if any(p.regex.fullmatch(digits) for p in plans if not p.international):
            return "phone", False
        return "digits", False
