"""Reading index files: .npy headers, arrays read whole into (huge-page) memory or by row,
and the error every reader of an index raises."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class IndexProblem(RuntimeError):
    """The index is missing, damaged or was built differently: the message says what to do."""


def _npy_header(handle) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype of the ``.npy`` file open at its start; leaves ``handle``
    at the first byte of the data."""
    version = np.lib.format.read_magic(handle)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
        np.lib.format.read_array_header_2_0
    return read_header(handle)


def huge_pages(nbytes: int) -> np.ndarray:
    """``nbytes`` of zeroed anonymous memory (uint8), in transparent huge pages where the kernel
    gives them (``MADV_HUGEPAGE``; below 2 MB, or without them, ordinary 4 KB pages)."""
    import mmap

    memory = mmap.mmap(-1, max(nbytes, 1), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if nbytes >= 2**21 and hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            memory.madvise(mmap.MADV_HUGEPAGE)
        except OSError:  # a kernel without transparent huge pages: 4 KB pages, same data
            pass
    return np.frombuffer(memory, dtype="uint8", count=nbytes)


def read_resident(path: Path) -> np.ndarray:
    """A ``.npy`` array read into this process's memory, in transparent huge pages where the
    kernel gives them (``MADV_HUGEPAGE``).

    For arrays read at scattered rows by every question (a million chunks' sentence vectors:
    1.7 GB): with 4 KB pages each row read costs a page-table walk as well as the row, and in a
    virtual machine that walk is itself walked by the host; 2 MB pages need 512 times fewer.
    """
    with open(path, "rb") as handle:
        shape, fortran, dtype = _npy_header(handle)
        if fortran or dtype.hasobject:
            raise ValueError(f"{path.name} is not a plain array")
        count = int(np.prod(shape, dtype="int64"))
        nbytes = count * dtype.itemsize
        memory = huge_pages(nbytes)
        view, got = memoryview(memory), 0
        while got < nbytes:
            n = handle.readinto(view[got:])
            if not n:
                raise ValueError(f"{path.name} is cut short ({got:,} of {nbytes:,} bytes)")
            got += n
        del view
    return memory.view(dtype).reshape(shape)



class RowReader:
    """Rows of a 2-D ``.npy`` file, read with ``pread`` when asked for.

    A memory-mapped file read at scattered rows does not stay small: the kernel maps the
    pages around each touched one (fault-around, 64 KB), so a server that re-scores a few
    hundred candidate rows per question grew to 1.1 GB of a 1.5 GB vector file after 200
    questions at 1M chunks. Reading the rows keeps in memory only what a question uses.
    Runs of consecutive rows (a chunk's sentences) are read in one call.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            with open(self.path, "rb") as handle:
                shape, fortran, dtype = _npy_header(handle)
                self.offset = handle.tell()
            size = self.path.stat().st_size
        except (OSError, ValueError) as exc:
            raise IndexProblem(f'Index file {self.path} is missing or damaged ({exc}): run "qa build"') from exc
        if len(shape) != 2 or fortran or dtype.hasobject:
            raise IndexProblem(f'Index file {self.path} is not a table of vectors: run "qa build"')
        self.shape, self.dtype = (int(shape[0]), int(shape[1])), dtype
        self.row_bytes = self.shape[1] * dtype.itemsize
        if size < self.offset + self.shape[0] * self.row_bytes:
            raise IndexProblem(f'Index file {self.path} is cut short: run "qa build" to rebuild the index')
        self._fd = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype="int64").ravel()
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        if len(rows) == 0:
            return out
        if rows.min() < 0 or rows.max() >= self.shape[0]:
            raise IndexError(f"row out of range 0..{self.shape[0] - 1}")
        starts = np.concatenate([[0], np.flatnonzero(np.diff(rows) != 1) + 1, [len(rows)]])
        raw = out.view(np.uint8).reshape(len(rows), self.row_bytes)
        for a, b in zip(starts[:-1].tolist(), starts[1:].tolist()):
            want = (b - a) * self.row_bytes
            got = os.preadv(self._fd, [raw[a:b]], self.offset + int(rows[a]) * self.row_bytes)
            if got != want:
                raise IndexProblem(f'Index file {self.path} was cut short while open: run "qa build"')
        return out

    def __array__(self, dtype=None, copy=None):
        whole = self[np.arange(self.shape[0])]
        return whole if dtype is None else whole.astype(dtype)

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)
