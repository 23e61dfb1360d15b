"""K4's restatement similarity equals scikit-learn's TF-IDF + cosine, however it is computed."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from qa.tagging.signals.restatements import tfidf_similarities

TEXTS = {
    "zh": ["我的快递三天了还没到", "我都说了快递三天没到", "好", "", "退款  退款 ，我要投诉😀", "ＡＢＣ全角 abc",
           "这是规定不归我管", "快递三天了还没到你们到底怎么回事"],
    "es": ["Mi pedido no ha llegado todavía", "Ya le dije que el pedido no ha llegado", "sí", "",
           "¿Me lo repite, por favor?", "QUIERO   poner una queja"],
    "en": ["My parcel still hasn't arrived", "I told you, the parcel hasn't arrived", "ok", "",
           "Could you repeat that?", "I WANT a   refund now"],
}


@pytest.mark.parametrize("language", sorted(TEXTS))
def test_similarities_equal_scikit_learns(language):
    texts = TEXTS[language]
    analyzer = "char" if language == "zh" else "char_wb"
    expected = cosine_similarity(TfidfVectorizer(analyzer=analyzer, ngram_range=(2, 4)).fit_transform(texts))
    got = tfidf_similarities(texts, language)
    assert got.shape == (len(texts), len(texts))
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_texts_too_short_for_any_gram_are_similar_to_nothing():
    sims = tfidf_similarities(["好", "对"], "zh")
    assert sims.shape == (2, 2) and not sims.any()
