"""One settings layer: every YAML file callqa reads goes through ``load_settings``.

A settings file is read safely and checked against a pydantic model; every
problem is a coded ``ConfigError`` (or the subclass the caller names) that says
the file and the line of the offending key, e.g.::

    [E400] thresholds.yaml:48: repetition.similarity: Input should be a finite number

Safety before parsing: a size limit, UTF-8 only, a nesting-depth limit checked
on the event stream (PyYAML's composer recurses, so a deep file would be a
``RecursionError``), and a budget of expanded nodes so aliases cannot multiply
a small file into a huge one (nor loop). The numbers live in ``qa/data/limits.yaml``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from qa.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
#: libyaml when present (the same results, faster), else the pure-Python safe loader.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Bounds of a settings file. Kept here (not in limits.yaml) because limits.yaml itself is read with them.
MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 40
MAX_NODES = 200_000


#: Typed values for settings models: no YAML ``yes`` read as 1, no "3" read as 3, no .inf or .nan.
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Count = Annotated[int, Strict()]
Flag = Annotated[bool, Strict()]
Text = Annotated[str, Strict()]
#: Seconds within a day, a share 0..1, a ratio up to 100: bounds that keep 1e308 out.
Seconds = Annotated[float, Strict(), Field(ge=0, le=86_400, allow_inf_nan=False)]
Share = Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)]
Ratio = Annotated[float, Strict(), Field(ge=0, le=100, allow_inf_nan=False)]
Small = Annotated[int, Strict(), Field(ge=0, le=100_000)]


class Settings(BaseModel):
    """Base of every settings model: unknown keys are errors, numbers are finite, values frozen.

    Sections also answer ``section["key"]`` so code written against the plain
    dicts of old keeps working while the fields are typed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def __getitem__(self, key: str) -> Any:
        try:
            return self.__dict__[key]  # pydantic keeps field values here: a dict lookup, as fast as the old dicts
        except KeyError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return self.__dict__.get(key, default)

    def keys(self):
        return type(self).model_fields.keys()


def shipped(*parts: str) -> Traversable:
    """A data file shipped inside the package (``qa/data/...``): found by importlib.resources, so wheels work."""
    node = files("qa") / "data"
    for part in parts:
        node = node / part
    return node


@dataclass(frozen=True)
class Document:
    """A parsed YAML file: its plain data, its node tree (for line numbers) and its name."""

    data: Any
    root: yaml.Node | None
    where: str


def _name(source: Path | Traversable | str) -> str:
    return str(source)


def read_text(source: Path | Traversable, error: type[ConfigError] = ConfigError, max_bytes: int = MAX_BYTES) -> str:
    """The file's text: at most ``max_bytes``, UTF-8 (a bad byte is reported with its line)."""
    where = _name(source)
    try:
        with source.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{where}: cannot read ({exc.strerror or exc})") from exc
    if len(raw) > max_bytes:
        raise error(f"{where}: larger than {max_bytes} bytes; a settings file is a few KB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(f"{where}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save the file as UTF-8") from exc


def _mark_line(mark: Any) -> int:
    return (mark.line + 1) if mark is not None else 0


def _check_shape(text: str, where: str, error: type[ConfigError], max_depth: int) -> None:
    """Walk the event stream (no recursion): nesting deeper than ``max_depth`` is an error."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > max_depth:
                    raise error(f"{where}:{_mark_line(event.start_mark)}: nested deeper than {max_depth} levels")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError as exc:
        raise error(f"{where}:{_problem_line(exc)}: not valid YAML ({_one_line(exc)})") from exc


def _problem_line(exc: yaml.YAMLError) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return _mark_line(mark)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300]


def _check_size(root: yaml.Node, where: str, error: type[ConfigError], max_nodes: int) -> None:
    """Count nodes as the data will have them (an alias counts its whole target); refuse cycles."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > max_nodes:
                raise error(f"{where}:{_mark_line(node.start_mark)}: more than {max_nodes} values once aliases are expanded")
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise error(f"{where}:{_mark_line(node.start_mark)}: an alias refers to itself")
        on_path.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                raise error(f"{where}:{_mark_line(child.start_mark)}: an alias refers to the node that holds it")
            if id(child) not in sizes:
                stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def parse_yaml(text: str, where: str, error: type[ConfigError] = ConfigError,
               max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Document:
    """Parse ``text`` safely: depth and size checked before the data is built."""
    _check_shape(text, where, error, max_depth)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return Document(None, None, where)
        _check_size(root, where, error, max_nodes)
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise error(f"{where}:{_problem_line(exc)}: not valid YAML ({_one_line(exc)})") from exc
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. a timestamp out of range, an unhashable key
        raise error(f"{where}: a value cannot be read ({_one_line(exc)})") from exc
    finally:
        getattr(loader, "dispose", lambda: None)()
    return Document(data, root, where)


def read_yaml(source: Path | Traversable, error: type[ConfigError] = ConfigError,
              max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Document:
    """Read and parse one YAML file safely (size, encoding, depth, alias budget)."""
    return parse_yaml(read_text(source, error, max_bytes), _name(source), error, max_depth, max_nodes)


def line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The line (1-based) of the key or item at pydantic's ``loc``; the deepest one found when it is missing."""
    if root is None:
        return None
    node, line = root, _mark_line(root.start_mark)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                    node, line = value_node, _mark_line(key_node.start_mark)
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = _mark_line(node.start_mark)
    return line


def _dotted(loc: tuple[Any, ...]) -> str:
    shown = [str(p) for p in loc if not (isinstance(p, str) and ("[" in p or "(" in p or p.startswith("function-")))]
    return ".".join(shown) or "(top)"


def describe(exc: ValidationError, docs: list[Document], limit: int = 5) -> str:
    """One line for a pydantic error: ``file:line: key.path: message`` per problem.

    ``docs`` are tried in order (an override before the defaults it changes):
    the first whose tree holds the whole ``loc`` names the file.
    """
    parts = []
    errors = exc.errors(include_url=False)
    for err in errors[:limit]:
        loc = tuple(err.get("loc", ()))
        where = docs[-1].where if docs else "<settings>"
        line = None
        for doc in docs:
            if _holds(doc.root, loc) or (doc.root is None and _holds_data(doc.data, loc)):
                where, line = doc.where, line_of(doc.root, loc)
                break
        else:
            if docs:
                line = line_of(docs[-1].root, loc)
        place = f"{where}:{line}" if line else where
        parts.append(f"{place}: {_dotted(loc)}: {_message(err)}")
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return "; ".join(parts)


_MESSAGES = {
    "extra_forbidden": "unknown key (a typo? the known keys are in the shipped file)",
    "missing": "required key is missing",
}


def _message(err: Mapping[str, Any]) -> str:
    return _MESSAGES.get(err.get("type", ""), err.get("msg", "invalid"))


def _holds_data(data: Any, loc: tuple[Any, ...]) -> bool:
    """True when plain ``data`` (an override given as a mapping) has the whole ``loc``."""
    for part in loc:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return False
    return True


def _holds(root: yaml.Node | None, loc: tuple[Any, ...]) -> bool:
    node = root
    if node is None:
        return False
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)]
            if not match:
                return False
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return False
            node = node.value[part]
        else:
            return False
    return True


def _merge(base: Any, override: Any) -> Any:
    """``override``'s keys replace ``base``'s, section by section (unknown keys stay, for the model to refuse)."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return override


def validate(model: type[M], data: Any, docs: list[Document], error: type[ConfigError] = ConfigError) -> M:
    """``model`` built from ``data``; a failure names the file and line of each bad key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(describe(exc, docs)) from exc
    except RecursionError as exc:  # pragma: no cover - depth is bounded before this
        raise error(f"{docs[-1].where if docs else '<settings>'}: nested too deeply") from exc


def load_document(source: Path | Traversable, model: type[M], *, error: type[ConfigError] = ConfigError,
                  max_bytes: int = MAX_BYTES) -> tuple[M, Document]:
    """``load_settings`` for a file whose values are checked further after the model (regexes that
    refer to each other, names defined elsewhere in the file): the parsed document comes back too,
    so those checks can name the line (``line_of(doc.root, key_path)``)."""
    doc = read_yaml(source, error, max_bytes=max_bytes)
    return validate(model, doc.data, [doc], error), doc


def load_settings(source: Path | Traversable, model: type[M], *, error: type[ConfigError] = ConfigError,
                  override: Path | Mapping[str, Any] | None = None, max_bytes: int = MAX_BYTES) -> M:
    """Read ``source`` (a path or an ``importlib.resources`` file) and validate it with ``model``.

    ``override`` (a YAML file or a mapping) replaces only the keys it names;
    an unknown key there is refused like one in the file itself.
    """
    doc = read_yaml(source, error, max_bytes=max_bytes)
    docs = [doc]
    data = doc.data
    if override is not None:
        if isinstance(override, Mapping):
            extra = Document(dict(override), None, "override")
        else:
            extra = read_yaml(Path(override), error, max_bytes=max_bytes)
        if extra.data is None:
            extra = Document({}, extra.root, extra.where)
        if not isinstance(extra.data, Mapping):
            raise error(f"{extra.where}: must be a mapping of sections, like {doc.where}")
        if not isinstance(data, Mapping):
            raise error(f"{doc.where}: must be a mapping of sections")
        data = _merge(data, extra.data)
        docs = [extra, doc]
    return validate(model, data, docs, error)


def finite(value: float, name: str = "value") -> float:
    """``value`` if it is a finite number; for hand-written checks outside a model."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value
