from qa.answer import overlaps, sentences


def test_sentences_keep_closing_quotes_and_offsets():
    text = '“It is busy,” he said. Trade grew!  Next line\nLast one'
    spans = sentences(text)
    got = [text[s:e] for s, e in spans]
    assert got == ['“It is busy,” he said.', "Trade grew!", "Next line", "Last one"]


def test_overlaps():
    assert overlaps((0, 10), (5, 15)) and not overlaps((0, 10), (10, 20))
