"""One settings layer (qa.common.settings): every YAML file read safely, validated, errors with file and line."""

from __future__ import annotations

import collections
import importlib
import pkgutil
from pathlib import Path

import pytest
from pydantic import Field

import qa
from qa.errors import CallqaError, ConfigError, LexiconError, all_error_classes
from qa.common.settings import Number, Settings, load_settings, parse_yaml, read_yaml, shipped


class _Inner(Settings):
    seconds: Number = Field(ge=0, le=100)
    name: str = "x"


class _Outer(Settings):
    first: _Inner
    items: list[_Inner] = []


def _write(tmp_path: Path, text: str | bytes, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_every_module_imports_and_error_codes_are_unique():
    for module in pkgutil.walk_packages(qa.__path__, "qa."):
        if module.name.endswith("__main__"):
            continue
        importlib.import_module(module.name)
    classes = all_error_classes()
    assert len(classes) >= 25
    codes = collections.Counter(cls.code for cls in classes)
    assert [code for code, n in codes.items() if n > 1] == []
    # every error class lives in qa/errors.py (re-exports elsewhere are the same class)
    assert {cls.__module__ for cls in classes} == {"qa.errors"}
    # and names its own code: a subclass that inherits one would share it with its parent
    assert [cls.__name__ for cls in classes if "code" not in vars(cls)] == []


def test_a_valid_file_loads_into_the_typed_model(tmp_path):
    path = _write(tmp_path, "first:\n  seconds: 3\nitems:\n  - seconds: 1.5\n")
    model = load_settings(path, _Outer)
    assert model.first.seconds == 3.0 and model.items[0].seconds == 1.5
    assert model["first"]["seconds"] == 3.0


@pytest.mark.parametrize("text,line,needle", [
    ("first:\n  seconds: 3\n  secnods: 4\n", 3, "first.secnods: unknown key"),
    ("first:\n  seconds: .inf\n", 2, "first.seconds: Input should be a finite number"),
    ("first:\n  seconds: .nan\n", 2, "first.seconds: Input should be a finite number"),
    ("first:\n  seconds: 1.0e+308\n", 2, "first.seconds: Input should be less than or equal to 100"),
    ("first:\n  seconds: yes\n", 2, "first.seconds: Input should be a valid number"),
    ("first:\n  seconds: '3'\n", 2, "first.seconds: Input should be a valid number"),
    ("# c\nfirst:\n  seconds: 1\nitems:\n  - seconds: 1\n  - seconds: -1\n", 6, "items.1.seconds"),
    ("first:\n  name: x\n", 1, "first.seconds: required key is missing"),
    ("first: [\n", 2, "not valid YAML"),
])
def test_errors_name_the_file_and_the_line_of_the_key(tmp_path, text, line, needle):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(path, _Outer)
    message = str(err.value)
    assert message.startswith("[E400] ")
    assert f"{path}:{line}: " in message and needle in message
    assert "\n" not in message


def test_the_error_class_is_the_callers(tmp_path):
    path = _write(tmp_path, "first: 3\n")
    with pytest.raises(LexiconError, match=r"\[E410\].*s\.yaml:1: first"):
        load_settings(path, _Outer, error=LexiconError)


def test_deep_nesting_is_a_coded_error_not_a_recursion_error(tmp_path):
    for text in ("a: " + "[" * 100_000 + "]" * 100_000, "a:\n" + "".join("  " * k + "- \n" for k in range(2000)),
                 "a: " + "{b: " * 5000 + "1" + "}" * 5000):
        with pytest.raises(ConfigError, match=r"s\.yaml:\d+: (nested deeper than 40 levels|not valid YAML .*maximum nesting depth)"):
            load_settings(_write(tmp_path, text), _Outer)


def test_aliases_cannot_blow_up_or_loop(tmp_path):
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 10)}]\n" for k in range(1, 9))
    with pytest.raises(ConfigError, match=r"more than 200000 values once aliases are expanded"):
        load_settings(_write(tmp_path, bomb), _Outer)
    with pytest.raises(ConfigError, match=r"an alias refers to the node that holds it"):
        load_settings(_write(tmp_path, "first: &x [*x]\n"), _Outer)
    small = load_settings(_write(tmp_path, "first: &f {seconds: 2}\nitems: [*f, *f]\n"), _Outer)
    assert [i.seconds for i in small.items] == [2.0, 2.0]


def test_bad_encoding_and_size_are_coded(tmp_path):
    with pytest.raises(ConfigError, match=r"s\.yaml:2: not UTF-8 \(byte 0xff"):
        load_settings(_write(tmp_path, b"first:\n  name: \xff\n"), _Outer)
    with pytest.raises(ConfigError, match=r"larger than 100 bytes"):
        load_settings(_write(tmp_path, "first:\n  name: " + "x" * 200 + "\n"), _Outer, max_bytes=100)
    with pytest.raises(ConfigError, match=r"cannot read"):
        load_settings(tmp_path / "missing.yaml", _Outer)


def test_yaml_values_python_cannot_build_are_coded():
    with pytest.raises(ConfigError, match=r"t\.yaml"):
        parse_yaml("a: 2001-13-45\n", "t.yaml")  # a timestamp out of range
    with pytest.raises(ConfigError, match=r"t\.yaml"):
        parse_yaml("? [a, b]\n: 1\n", "t.yaml")  # a list as a mapping key


def test_an_override_names_its_own_file_and_line(tmp_path):
    base = _write(tmp_path, "first:\n  seconds: 3\n", "base.yaml")
    mine = _write(tmp_path, "first:\n  name: ok\n  seconds: 700\n", "mine.yaml")
    with pytest.raises(ConfigError, match=r"mine\.yaml:3: first\.seconds: Input should be less than"):
        load_settings(base, _Outer, override=mine)
    assert load_settings(base, _Outer, override={"first": {"name": "y"}}).first == _Inner(seconds=3, name="y")


def test_shipped_files_are_found_through_importlib_resources():
    found = shipped("thresholds.yaml")
    assert found.is_file()
    for name in ("archive.yaml", "asr.yaml", "coaching.yaml", "limits.yaml", "questions.yaml", "redact.yaml",
                 "roles.yaml", "thresholds.yaml", "nightly.yaml", "diarize.yaml", "embedded_model.yaml"):
        doc = read_yaml(shipped(name))
        assert isinstance(doc.data, dict) and doc.root is not None, name


def test_callqa_errors_are_one_class_tree():
    assert all(issubclass(cls, CallqaError) for cls in all_error_classes())


def test_lexicons_rubrics_and_datasets_are_package_data():
    # qa/data/{lexicons,rubrics,datasets} link to the repository's folders; setuptools copies them into the
    # wheel, so importlib.resources finds them in a non-editable install too.
    for parts in (("lexicons", "kinds.yaml"), ("lexicons", "zh", "tone.yaml"), ("rubrics", "default.yaml"),
                  ("datasets", "questions", "questions.tsv")):
        assert shipped(*parts).is_file(), parts
    from qa.tagging.questions.model import dataset_path
    from qa.text.lexicon import DEFAULT_ROOT

    assert DEFAULT_ROOT == Path(str(shipped("lexicons"))) and dataset_path().is_file()


def test_every_shipped_settings_file_loads_through_its_loader():
    from qa.common.limits import limits
    from qa.pipeline.archive import load_settings as archive_settings
    from qa.pipeline.nightly import load_settings as nightly_settings
    from qa.privacy.settings import load_redact_settings
    from qa.reports.coaching.settings import load_settings as coaching_settings
    from qa.speech.diarize import DiarizeOptions
    from qa.speech.model import embedded_spec
    from qa.speech.roles import role_settings
    from qa.tagging.questions.cues import load_settings as question_settings
    from qa.tagging.thresholds import load_thresholds
    from qa.text.nlp import load_settings as matching_settings

    assert limits().calls.max_duration >= 6 * 3600
    assert "wav" in archive_settings().audio_extensions and nightly_settings().concurrency >= 1
    assert load_redact_settings().min_digits > 0 and coaching_settings().weakest.count >= 0
    assert DiarizeOptions.load().n_mels > 0 and len(embedded_spec().sha256) == 64
    assert 0 <= role_settings().min_confidence <= 1 and question_settings()["classifier"]["C"] > 0
    assert load_thresholds().repetition.max_earlier >= 1000 and matching_settings("zh").negation_window >= 0
    from qa.reports.scorecard_html import load_page_settings
    from qa.reports.validity import load_validity
    from qa.scoring.rubric import load_rubric
    from qa.scoring.timing import load_timing
    from qa.speech.asr import load_asr_settings
    from qa.web.settings import load_settings as web_settings

    assert load_asr_settings().languages == ("zh", "es", "en") and "K1" in load_timing().items
    assert load_page_settings()["score_bands"]["good"] > 0 and web_settings().per_page >= 1
    assert load_validity().items and len(load_rubric().items) >= 20


#: (loader, file name, a broken file, what the error must say: file, line and key)
_BROKEN = [
    ("archive", "audio_extensions: [wav]\ntranscript_extensions: wav\n", "archive.yaml:2: transcript_extensions"),
    ("nightly", "concurrency: 0\nmodel_threads: 0\nretry_delays: []\nslowest_calls: 1\nweakest_items: 1\n",
     "nightly.yaml:1: concurrency"),
    ("diarize", "vad:\n  threshold: .nan\n", "diarize.yaml:2: vad.threshold: Input should be a finite number"),
    ("asr", None, "asr.yaml:4: beam_size: Input should be a valid integer"),
    ("timing", "items:\n  K1: why\n  K9: why\nkinds: []\n", "timing.yaml:3: items.K9: Value error, unknown course ID 'K9'"),
    ("page", None, "page.yaml:1: stages: required key is missing"),
    ("web", "session_hours: 12\nlogin: {max_failures: 0, window_minutes: 15}\n", "web.yaml:2: login.max_failures"),
    ("validity", "items:\n  P1: {n: yes}\n", "validity.yaml:2: items.P1.n"),
]


def _loader(name: str):
    from qa.pipeline.archive import load_settings as archive_settings
    from qa.pipeline.nightly import load_settings as nightly_settings
    from qa.reports.scorecard_html import load_page_settings
    from qa.reports.validity import load_validity
    from qa.scoring.timing import load_timing
    from qa.speech.asr import load_asr_settings
    from qa.speech.diarize import DiarizeOptions
    from qa.web.settings import load_settings as web_settings

    return {"archive": archive_settings, "nightly": nightly_settings, "diarize": DiarizeOptions.load,
            "asr": load_asr_settings, "timing": load_timing, "page": load_page_settings, "web": web_settings,
            "validity": load_validity}[name]


@pytest.mark.parametrize("loader,text,needle", _BROKEN, ids=[b[0] for b in _BROKEN])
def test_other_settings_files_name_file_and_line(tmp_path, loader, text, needle):
    if loader == "asr":  # the shipped file with one value made wrong
        text = shipped("asr.yaml").read_text(encoding="utf-8").replace("beam_size: 1\n", "beam_size: '1'\n")
    if loader == "page":
        text = "groups: []\n"
    path = _write(tmp_path, text, f"{loader}.yaml")
    with pytest.raises(ConfigError) as err:
        _loader(loader)(path)
    assert needle in str(err.value) and str(path) in str(err.value)




@pytest.mark.parametrize("old,new,key,needle", [
    ("- {name: cn_mobile, pattern: '(?:86)?1[3-9]\\d{9}'}", "- {name: cn_mobile, pattern: '1[3-9'}",
     "phone_plans.cn.0", "cn_mobile: broken regular expression"),
    ("phone_plans: [cn, intl]", "phone_plans: [cn, mars]", "languages.zh.phone_plans", "unknown plan 'mars'"),
    ("fill: tone ", "fill: noise ", "audio.fill", "Input should be 'tone' or 'silence'"),
    ("card_lengths: [13, 19]", "card_lengths: [19, 13]", "card_lengths", "low <= high"),
    ("mask_plain: \"[{label}]\"", "mask_plain: \"***\"", "mask_plain", "must contain {label}"),
])
def test_redact_yaml_errors_name_file_line_and_key(tmp_path, old, new, key, needle):
    from qa.errors import RedactConfigError
    from qa.privacy.settings import AudioSection
    from qa.privacy.settings import load_redact_settings

    text = shipped("redact.yaml").read_text(encoding="utf-8")
    assert old in text  # else the case would test nothing
    line = text[: text.index(old)].count("\n") + 1
    path = _write(tmp_path, text.replace(old, new, 1), "redact.yaml")
    with pytest.raises(RedactConfigError) as err:
        load_redact_settings(path)
    assert f"{path}:{line}: {key}: " in str(err.value) and needle in str(err.value)
    if key.startswith("audio."):  # the audio masker reads only its section, with the same message
        with pytest.raises(RedactConfigError, match=f"redact.yaml:{line}: audio.fill"):
            load_settings(path, AudioSection, error=RedactConfigError)


def test_an_address_pattern_naming_no_word_list_says_file_and_line(tmp_path):
    from qa.errors import RedactConfigError
    from qa.privacy.address import address_patterns

    path = _write(tmp_path, "addresses:\n  en:\n    words: {street: [road]}\n    patterns:\n      - '{nmber} {street}'\n",
                  "redact.yaml")
    with pytest.raises(RedactConfigError, match=r"redact\.yaml:5: addresses\.en\.patterns\.0: no word list named 'nmber'"):
        address_patterns(path)
