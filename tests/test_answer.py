from qa.answer import best_sentence, sentences
from qa.lexical import tokenize


def test_sentences_keep_closing_quotes_and_offsets():
    text = '“It is busy,” he said. Trade grew!  Next line\nLast one'
    spans = sentences(text)
    got = [text[s:e] for s, e in spans]
    assert got == ['“It is busy,” he said.', "Trade grew!", "Next line", "Last one"]


def test_best_sentence_prefers_more_query_terms():
    text = "Coal was seen at the river. Seafood is smuggled into Dandong by boat. Prices rose."
    weights = {t: 1.0 for t in tokenize("how is seafood smuggled into Dandong")}
    s, e = best_sentence(text, weights)
    assert text[s:e] == "Seafood is smuggled into Dandong by boat."
