"""Call ids: the one rule they follow, and the output file names made from them.

A call id comes from outside (a transcript header, a JSON transcript, a
sidecar, a manifest row, or the file name) and becomes a file name in
``--out`` and ``--reports``, a key in the store and words on every page. The
rule, applied to every source:

* 1 to ``MAX_ID_BYTES`` bytes (UTF-8) of letters and digits of any script,
  ``_``, ``-`` and ``.``; the first character a letter, digit or ``_``. No
  ``/``, ``\\``, NUL, spaces or other control characters, so no ``..`` either.
* An id that breaks the rule is refused (``CallIdError``) when a file *claims*
  it (header, JSON, sidecar, manifest): the sender must fix its metadata.
  An id taken from a *file name* is turned into a slug plus 12 hex digits of
  the name's SHA-256 (``call 0042`` -> ``call_0042-3f1c…``): a file name is
  not a claim, and two names never share a slug.
* Phone, card and ID numbers and e-mails are masked in every id, whatever its
  source (``13812345678.wav`` -> ``PHONE_5678-<12 hex of the file's content>``:
  the content hash, since a hash of an 11-digit number is easily reversed).
  Order-like numbers ("call-20240501-000123") are kept.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from qa.errors import CallIdError

MAX_ID_BYTES = 128
_ALLOWED = re.compile(r"[^\W][\w.-]*")  # \w: letters, digits and _ of any script
_UNSAFE_RUN = re.compile(r"[^\w.-]+")
#: Masked in ids and names: the personal categories, not generic long numbers.
PERSONAL = frozenset({"phone", "card", "id_number", "email"})
_LANGUAGES = ("zh", "en", "es")


def is_safe(call_id: str) -> bool:
    return (isinstance(call_id, str) and _ALLOWED.fullmatch(call_id) is not None
            and len(call_id.encode("utf-8")) <= MAX_ID_BYTES)


def check_call_id(call_id: object, where: str) -> str:
    """``call_id`` if it follows the rule, else a CallIdError naming ``where`` (the id itself is masked)."""
    if not isinstance(call_id, str):
        raise CallIdError(f"{where}: the call id must be a string, not {type(call_id).__name__}")
    if is_safe(call_id):
        return call_id
    shown = mask_text(call_id[:80].encode("unicode_escape").decode("ascii"))
    raise CallIdError(
        f"{where}: call id {shown!r}{'…' if len(call_id) > 80 else ''} is not allowed; use 1-{MAX_ID_BYTES} "
        f"bytes of letters, digits, '_', '-' and '.', starting with a letter, digit or '_' (no '/', spaces or "
        f"control characters)")


def mask_text(text: str, personal_only: bool = False) -> str:
    """``text`` with numbers and e-mails masked by the project's redaction, in each language's reading.

    Used for what callqa prints about a call outside its transcript: quarantine
    reasons, file names in logs and reports. ``personal_only`` keeps generic
    long numbers (order ids) and masks phone, card, ID numbers and e-mails.
    """
    from qa.privacy.redact import find_spans

    if not text:
        return text
    for language in _LANGUAGES:
        spans = [s for s in find_spans(text, language) if not personal_only or s.category in PERSONAL]
        if spans:
            parts, pos = [], 0
            for s in spans:
                parts += [text[pos:s.start], s.replacement]
                pos = s.end
            text = "".join(parts + [text[pos:]])
    return text


def _slug(text: str, digest: str) -> str:
    slug = _UNSAFE_RUN.sub("_", text).strip("._-")
    budget = MAX_ID_BYTES - 13
    while len(slug.encode("utf-8")) > budget:
        slug = slug[:-1]
    return f"{slug.rstrip('._-') or 'call'}-{digest[:12]}"


def settle_call_id(raw: str, where: str, from_name: bool, content: Path | None = None) -> str:
    """The call id to use for ``raw`` (see the module's rule); ``content`` is hashed when masking was needed."""
    masked = mask_text(raw, personal_only=True) if isinstance(raw, str) else raw
    if masked != raw:
        digest = _content_digest(content) if content is not None else hashlib.sha256(masked.encode()).hexdigest()
        return _slug(masked, digest)
    if from_name and not is_safe(raw):
        return _slug(raw, hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest())
    return check_call_id(raw, where)


def _content_digest(path: Path) -> str:
    from qa.speech.audio import file_sha256

    return file_sha256(Path(path))


def output_path(directory: Path, call_id: str, suffix: str) -> Path:
    """``directory/<call_id><suffix>``, refusing any id that is unsafe or would land outside ``directory``."""
    check_call_id(call_id, "output file name")
    target = Path(directory) / f"{call_id}{suffix}"
    if target.parent != Path(directory) or target.name in (".", ".."):  # cannot happen for a checked id
        raise CallIdError(f"{target}: would not be a file directly in {directory}")
    return target
