"""The settings object: the blend's named weights, and reading the manifests of older builds."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from qa.settings import MAX_K, Blend, Settings


def test_the_blend_round_trips_through_the_manifest():
    settings = Settings(blend=Blend(dense=0.3, sentence=0.5, bm25=0.1, sentence_bm25=0.05, pairs=0.05),
                        chunk_tokens=120)
    written = json.loads(json.dumps(settings.to_dict()))
    assert written["blend"] == {"dense": 0.3, "sentence": 0.5, "bm25": 0.1, "sentence_bm25": 0.05, "pairs": 0.05}
    assert Settings.from_dict(written) == settings


def test_the_flat_weight_keys_of_older_manifests_are_read():
    old = {"chunk_tokens": 200, "weight_dense": 0.25, "weight_sentence": 0.6, "weight_bm25": 0.15,
           "weight_sentence_bm25": 0.12, "weight_pairs": 0.08, "bm25_k1": 0.9, "unknown_key": 1}
    assert Settings.from_dict(old).blend == Blend(0.25, 0.6, 0.15, 0.12, 0.08)
    # A manifest of main's defaults reads as today's defaults.
    defaults = {"weight_dense": 0.2, "weight_sentence": 0.65, "weight_bm25": 0.2, "weight_sentence_bm25": 0.1,
                "weight_pairs": 0.1}
    assert Settings.from_dict(defaults) == Settings()
    assert Settings.from_dict({}).blend == Blend()


def test_the_blend_is_frozen_and_replaced_by_with():
    with pytest.raises(AttributeError):
        Settings().blend.dense = 1.0  # type: ignore[misc]
    lighter = Settings().with_(blend=replace(Blend(), pairs=0.0))
    assert lighter.blend.pairs == 0.0 and lighter.blend.sentence == Blend().sentence
    assert MAX_K == 50
