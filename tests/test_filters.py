"""Search filters: the documents they allow and the dates they take."""
from __future__ import annotations

import numpy as np
import pytest

from qa.filters import doc_mask, iso_date, undated_searched
from qa.store import DocMeta

META = [DocMeta("a/1.txt", "One", None, "2019-03-01T10:00:00", None, "Daily NK"),
        DocMeta("a/2.txt", "Two", None, None, None, None),
        DocMeta("b/3.txt", "Three", None, "2021-07-15", None, "NK News")]


def test_iso_date():
    assert iso_date(None, "after") is None and iso_date("", "after") is None
    assert iso_date(" 2020-02-03T04:05:06Z", "after") == "2020-02-03"
    with pytest.raises(ValueError, match="Filter 'before' must be a date like 2019-01-31, not 'last spring'"):
        iso_date("last spring", "before")


def test_doc_mask():
    assert doc_mask(META, None) is None and doc_mask(META, {}) is None
    assert doc_mask(META, {"source": "a/"}).tolist() == [True, True, False]
    assert doc_mask(META, {"source": ["b/", "a/2"]}).tolist() == [False, True, True]
    assert doc_mask(META, {"publisher": "daily nk"}).tolist() == [True, False, False]
    assert doc_mask(META, {"after": "2019-03-01"}).tolist() == [True, True, True]  # inclusive, undated in
    assert doc_mask(META, {"after": "2019-03-02"}).tolist() == [False, True, True]
    assert doc_mask(META, {"after": "2019-03-01", "undated": False}).tolist() == [True, False, True]
    assert doc_mask(META, {"before": "2020-01-01", "after": "", "undated": "false"}).tolist() == [True, False, False]
    assert doc_mask(META, {"undated": False}).tolist() == [True, True, True]  # no date filter: no effect
    with pytest.raises(ValueError, match="'undated' must be true or false"):
        doc_mask(META, {"after": "2019-03-01", "undated": "sometimes"})
    assert isinstance(doc_mask(META, {"source": "zzz"}), np.ndarray)
    with pytest.raises(ValueError, match="Unknown filter"):
        doc_mask(META, {"author": "x"})


def test_undated_searched():
    assert undated_searched(META, None, None) is None
    assert undated_searched(META, doc_mask(META, {"after": "2019-01-01"}), {"after": "2019-01-01"}) == 1
    assert undated_searched(META, doc_mask(META, {"after": "2019-01-01", "undated": False}),
                            {"after": "2019-01-01", "undated": False}) == 0
