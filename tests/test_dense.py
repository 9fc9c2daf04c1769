"""The dense index kinds (flat, IVF) behind one interface, and the chooser by the manifest's type."""
from __future__ import annotations

import numpy as np
import pytest

from qa import dense_kinds, store
from qa.dense_flat import FlatIndex
from qa.dense_ivf import IvfIndex, IvfRows, ivf_lists
from qa.dense_kinds import KINDS, kind_name, open_dense
from qa.settings import Settings

DIM = 16


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype("float32")
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def finds_itself(dense, vectors: np.ndarray) -> bool:
    rows = dense.search(vectors, 1).rows
    return bool((rows[:, 0] == np.arange(len(vectors))).all())


def test_the_plan_follows_the_size():
    settings = Settings(ann_min_chunks=100)
    assert dense_kinds.plan(99, settings) == {"type": "flat"}
    assert dense_kinds.plan(400, settings) == {"type": "ivf", "nlist": ivf_lists(400)} == IvfIndex.plan(400)
    assert ivf_lists(400) == 80 and ivf_lists(4) == 16
    assert set(KINDS) == {"flat", "ivf"}


def test_flat_writes_reads_searches_and_gives_its_rows(tmp_path):
    vectors = unit_vectors(50)
    assert dense_kinds.write(tmp_path, vectors, {"type": "flat"}) == {"type": "flat"}
    assert not (tmp_path / "vectors.npy").exists()  # a flat index holds its rows itself
    index = dense_kinds.read(tmp_path, DIM, 50, "flat")
    assert kind_name(index) == "flat"
    dense = open_dense(tmp_path, DIM, 50, "flat", mapped=False)
    assert isinstance(dense, FlatIndex) and dense.size == 50 and finds_itself(dense, vectors)
    assert np.array_equal(dense_kinds.rows_of(tmp_path, index), vectors)
    assert np.array_equal(dense.rows(tmp_path, in_memory=True)[[7, 3]], vectors[[7, 3]])


def test_flat_reuses_the_previous_index_when_vectors_were_only_added(tmp_path):
    first, more = unit_vectors(30), unit_vectors(50, seed=1)
    more[:30] = first
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir(), (tmp_path / "c").mkdir()
    dense_kinds.write(tmp_path / "a", first)
    old = dense_kinds.read(tmp_path / "a", DIM, 30, "flat")
    plan = dense_kinds.write(tmp_path / "b", more, {"type": "flat"}, start_from=old)
    assert plan == {"type": "flat", "reused": 30}
    assert np.array_equal(dense_kinds.rows_of(tmp_path / "b", dense_kinds.read(tmp_path / "b", DIM, 50)), more)
    # Fewer vectors than the old index holds: nothing to reuse.
    assert dense_kinds.write(tmp_path / "c", first[:10], {"type": "flat"}, start_from=old) == {"type": "flat"}


def test_ivf_writes_reads_searches_and_gives_its_rows(tmp_path):
    vectors = unit_vectors(300)
    plan = dense_kinds.write(tmp_path, vectors, dense_kinds.plan(300, Settings(ann_min_chunks=10)))
    assert plan == {"type": "ivf", "nlist": ivf_lists(300)}
    assert np.array_equal(np.load(tmp_path / "vectors.npy"), vectors)
    dense = open_dense(tmp_path, DIM, 300, "ivf", mapped=False, nprobe=plan["nlist"])
    assert isinstance(dense, IvfIndex) and dense.params.nprobe == plan["nlist"]
    assert finds_itself(dense, vectors)  # every cell searched: exact
    rows = np.array([5, 0, 299])
    in_memory = dense.rows(tmp_path, in_memory=True)
    assert isinstance(in_memory, IvfRows) and np.array_equal(in_memory[rows], vectors[rows])
    on_disk = dense_kinds.rows_of(tmp_path, dense.index)
    assert isinstance(on_disk, store.RowReader) and np.array_equal(on_disk[rows], vectors[rows])
    assert np.array_equal(np.array(in_memory), vectors)


def test_an_addition_extends_a_reused_ivf_and_much_growth_trains_it_again(tmp_path):
    vectors = unit_vectors(2000)
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    plan = dense_kinds.write(tmp_path / "a", vectors[:300], IvfIndex.plan(300))
    old = dense_kinds.read(tmp_path / "a", DIM, 300, "ivf")
    grown = dense_kinds.write(tmp_path / "b", vectors[:400], IvfIndex.plan(400), start_from=old)
    assert grown == {"type": "ivf", "nlist": plan["nlist"], "reused": 300}  # its cells kept
    dense = open_dense(tmp_path / "b", DIM, 400, "ivf", nprobe=plan["nlist"])
    assert finds_itself(dense, vectors[:400])
    # Cells made for 300 serve up to (nlist / 4)^2 * 4 = 4 * 300-ish vectors, not 2000.
    retrained = dense_kinds.write(tmp_path / "c", vectors, IvfIndex.plan(2000), start_from=old)
    assert retrained == {"type": "ivf", "nlist": ivf_lists(2000)}
    # A flat previous index is no start for an IVF one.
    flat = tmp_path / "flat"
    flat.mkdir()
    dense_kinds.write(flat, vectors[:300])
    assert "reused" not in dense_kinds.write(tmp_path / "c", vectors[:400], IvfIndex.plan(400),
                                               start_from=dense_kinds.read(flat, DIM, 300))


def test_the_manifest_kind_chooses_and_a_wrong_or_unknown_kind_is_refused(tmp_path):
    dense_kinds.write(tmp_path, unit_vectors(40))
    with pytest.raises(store.IndexProblem, match="flat index, the manifest says ivf"):
        open_dense(tmp_path, DIM, 40, "ivf")
    with pytest.raises(store.IndexProblem, match="does not read"):
        open_dense(tmp_path, DIM, 40, "ivfpq")
    with pytest.raises(store.IndexProblem, match="holds 40 vectors of dimension 16"):
        dense_kinds.read(tmp_path, DIM, 41, "flat")
    with pytest.raises(ValueError, match="Unknown vector index type"):
        dense_kinds.write(tmp_path, unit_vectors(4), {"type": "ivfpq"})
    (tmp_path / "vectors.faiss").write_bytes(b"not an index")
    with pytest.raises(store.IndexProblem, match="damaged"):
        dense_kinds.read(tmp_path, DIM, 40, "flat")
    (tmp_path / "vectors.faiss").unlink()
    with pytest.raises(store.IndexProblem, match="missing"):
        open_dense(tmp_path, DIM, 40, "flat")
