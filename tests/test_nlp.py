"""Lexicon matching on real phrasing: cases are data in tests/data/nlp_cases.yaml."""

from __future__ import annotations

from pathlib import Path

import jieba
import pytest
import yaml

from qa.text.lexicon import load_lexicon
from qa.text.nlp import get_nlp, match_lexicon

CASES_FILE = Path(__file__).parent / "data" / "nlp_cases.yaml"
CASES = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_lexicon_case(case):
    found = match_lexicon(case["text"], case["language"], case.get("role"))
    live = {m.kind for m in found if not m.negated}
    negated = {m.kind for m in found if m.negated}
    for kind in case.get("present", []):
        assert kind in live, f"{kind} not found in {case['text']!r}: {[(m.text, m.kind, m.negated) for m in found]}"
    for kind in case.get("absent", []):
        assert kind not in live, (
            f"{kind} wrongly found in {case['text']!r}: {[(m.text, m.kind) for m in found if m.kind == kind]}"
        )
    for kind in case.get("negated", []):
        assert kind in negated, f"{kind} should be negated in {case['text']!r}"
    for kind, count in (case.get("count") or {}).items():
        got = sum(1 for m in found if m.kind == kind and not m.negated)
        assert got == count, f"{kind}: {got} matches in {case['text']!r}, expected {count}"


def test_spans_are_token_aligned_or_inside_one_token():
    """A cue is reported on jieba's token boundaries; only a cue inside one word keeps its own span."""
    text = "非常抱歉给您带来不便，请您稍等一下，不是不知道"
    doc = get_nlp("zh").make_doc(text)
    tokens = [(t.idx, t.idx + len(t.text)) for t in doc]
    starts, ends = {a for a, _ in tokens}, {b for _, b in tokens}
    found = match_lexicon(text, "zh")
    assert found
    for m in found:
        assert text[m.start_char : m.end_char] == m.text
        aligned = m.start_char in starts and m.end_char in ends
        inside_one = any(a <= m.start_char and m.end_char <= b for a, b in tokens)
        assert aligned or inside_one, m


def test_role_filter_keeps_role_and_any_entries():
    text = "您好，我要投诉你们"
    agent = match_lexicon(text, "zh", "agent")
    customer = match_lexicon(text, "zh", "customer")
    assert all(m.entry.role in ("agent", "any") for m in agent)
    assert all(m.entry.role in ("customer", "any") for m in customer)
    assert any(m.kind == "stage_S5" for m in customer) and not any(m.kind == "stage_S5" for m in agent)


def test_global_jieba_dictionary_untouched_by_get_nlp():
    jieba.dt.initialize()
    before = (len(jieba.dt.FREQ), jieba.dt.total)
    get_nlp("zh")
    lexicon_only = [p for p in load_lexicon("zh").phrases() if len(p) > 3 and p not in jieba.dt.FREQ]
    assert lexicon_only, "expected lexicon phrases that jieba's own dictionary lacks"
    assert (len(jieba.dt.FREQ), jieba.dt.total) == before
    assert all(p not in jieba.dt.FREQ for p in lexicon_only)
    assert get_nlp("zh").tokenizer.jieba_seg is not jieba.dt


def test_private_jieba_keeps_lexicon_phrases_whole():
    words = [t.text for t in get_nlp("zh").make_doc("这个不归我管")]
    assert "不归我管" in words
    assert "不归我管" not in list(jieba.cut("这个不归我管"))


def test_empty_text_has_no_matches():
    assert match_lexicon("", "zh") == [] and match_lexicon("   ", "en") == []


def test_fast_segmenter_cuts_exactly_like_jieba():
    """qa.text.segment redoes jieba's accurate+HMM cut for speed (jieba-rs, and a Python walk); both give jieba's words."""
    import json
    from pathlib import Path

    from qa.text.nlp import get_nlp

    seg = get_nlp("zh").tokenizer.jieba_seg
    texts = [
        "您好，工号1024为您服务，请问有什么可以帮您？",
        "我的快递三天了还没到，你们到底怎么回事！我要打12315投诉你们，退款退款！",
        "订单号8802315764，手机号是13812345678，收货地址在上海市浦东新区张江高科技园区",
        "这是规定不归我管你听清楚了没有 OK? 谢谢 thank you 2024年11月20日下午3点",
        "亲，请选择移动业务-其他哦.[呵呵] @中国电信 #电信服务怎么了？#",
        "", "   ", "ＡＢＣ全角字符和emoji😀混在一起", "不是不知道，是真的没办法了啦啦啦",
        "邮箱85196069@qq.com谢谢", "安卓5.0.2系统买了T恤和iPhone6s手机", "西安e9-159元套餐流量120M", "话费50%打折C++语言",
    ]
    rows = Path(__file__).parent / "data" / "question_cases.yaml"
    texts += [line.split(":", 1)[1].strip() for line in rows.read_text(encoding="utf-8").splitlines()
              if line.strip().startswith("text:")][:80]
    assert seg._rust is not None, "rjieba is a dependency: the Rust copy should be built"
    python_only = type(seg).__new__(type(seg))  # the same dictionary, without the Rust copy
    python_only.__dict__.update(seg.__dict__)
    python_only._rust, python_only._block_memo, python_only._hmm_memo = None, {}, {}
    for text in texts:
        expected = list(seg.tokenizer.cut(text))
        assert seg.words(text) == expected, json.dumps(text, ensure_ascii=False)
        assert python_only.words(text) == expected, json.dumps(text, ensure_ascii=False)


def test_the_rust_copy_is_built_without_rjiebas_own_dictionary():
    """``import rjieba`` builds jieba-rs's default dictionary (33 MB a process); callqa loads only its class."""
    import subprocess
    import sys

    code = ("import sys; from qa.text.nlp import get_nlp; seg = get_nlp('zh').tokenizer.jieba_seg; "
            "assert seg._rust is not None; t = '我的快递三天了还没到，你们到底怎么回事'; "
            "print(seg._rust.cut(t, True) == seg.words(t) == list(seg.tokenizer.cut(t))); "
            "print(sorted(m for m in sys.modules if 'rjieba' in m))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).parents[1], check=True).stdout.splitlines()
    assert out[-2] == "True"  # the Rust copy cuts as jieba does
    assert out[-1] == "[]"  # the package (and its default Jieba()) never imported


def test_forced_split_added_after_a_text_was_cut_is_honoured():
    """jieba's forced splits are global; a cut remembered from before one was added must not be served again."""
    from jieba import finalseg

    seg = get_nlp("zh").tokenizer.jieba_seg
    text = "我叫李小福是创新办主任"
    assert "李小福" in seg.words(text)  # joined by the HMM, and now remembered
    finalseg.add_force_split("李小福")
    try:
        assert seg.words(text) == list(seg.tokenizer.cut(text)) == ["我", "叫", "李", "小", "福", "是", "创新", "办", "主任"]
    finally:
        finalseg.Force_Split_Words.discard("李小福")
    assert "李小福" in seg.words(text)


def test_threads_asking_at_once_build_the_matcher_once(tmp_path):
    """Two calls reviewed in parallel threads share one matcher; neither builds its own (jieba + spaCy, seconds)."""
    import shutil

    from qa.text.nlp import _lexicon_matcher
    from tests.threads import run_together

    root = tmp_path / "lexicons"
    shutil.copytree(Path(__file__).resolve().parents[1] / "lexicons", root)
    before = _lexicon_matcher.cache_info().misses
    found, errors = run_together(lambda: match_lexicon("I'm so sorry about that", "en", "agent", root=root), 4)
    assert not errors
    assert _lexicon_matcher.cache_info().misses - before == 1
    assert len(found) == 4 and all(any(m.kind == "apology" for m in f) for f in found)


def test_threads_matching_while_the_cache_evicts_never_fail(tmp_path):
    """Two calls tagged in parallel share the matcher's LRU cache; an entry evicted by one thread between
    another's lookup and its move-to-end must not raise (a tiny cache makes that happen all the time)."""
    import shutil
    import sys

    from tests.threads import run_together

    root = tmp_path / "lexicons"
    shutil.copytree(Path(__file__).resolve().parents[1] / "lexicons", root)
    settings = root / "matching.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("utterances: 20000", "utterances: 2"),
                        encoding="utf-8")
    texts = [f"我的订单{n}号还没到，我要投诉" for n in range(6)]

    def hammer():
        return [len(match_lexicon(texts[k % len(texts)], "zh", "customer", root=root)) for k in range(3000)]

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so the window is hit
    try:
        results, errors = run_together(hammer, 6)
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[:1]
    assert len(results) == 6 and all(r == results[0] for r in results)
