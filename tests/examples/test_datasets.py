"""The glyph generator and the IDX reader the examples build on."""

from __future__ import annotations

import gzip
import itertools
import struct
from pathlib import Path

import numpy as np
import pytest

from mlspec import MlspecError
from mlspec.datasets import (
    DIGIT_GLYPHS,
    GLYPH_SIZE,
    GlyphStream,
    IdxFormatError,
    draw_glyphs,
    read_idx,
    read_idx_pair,
)


def test_every_digit_has_its_own_bitmap() -> None:
    assert sorted(DIGIT_GLYPHS) == list(range(10))
    for first, second in itertools.combinations(range(10), 2):
        assert np.any(DIGIT_GLYPHS[first] != DIGIT_GLYPHS[second]), (first, second)
    # The BNNS sample's own "three", row by row.
    expected_three = [[0, 1, 1, 1, 1, 0], [0, 0, 0, 0, 1, 0]] * 2 + [[0, 1, 1, 1, 1, 0], [0] * 6]
    np.testing.assert_array_equal(DIGIT_GLYPHS[3], np.array(expected_three, dtype=np.float32))


def test_each_image_holds_exactly_its_glyph_somewhere_in_the_grid() -> None:
    digits = np.arange(10).repeat(5)
    images = draw_glyphs(digits, np.random.default_rng(4), grid=20)
    assert images.shape == (50, 1, 20, 20) and images.dtype == np.float32
    positions = set()
    for image, digit in zip(images[:, 0], digits, strict=True):
        glyph = DIGIT_GLYPHS[int(digit)]
        hits = [
            (row, col)
            for row in range(20 - GLYPH_SIZE + 1)
            for col in range(20 - GLYPH_SIZE + 1)
            if np.array_equal(image[row : row + GLYPH_SIZE, col : col + GLYPH_SIZE], glyph)
            and image.sum() == glyph.sum()
        ]
        assert hits, f"digit {digit} not found"
        positions.add(hits[0])
    assert len(positions) > 25  # positions really vary


def test_same_seed_same_images_and_noise_is_added() -> None:
    first = draw_glyphs([1, 2, 3], np.random.default_rng(7), noise=0.1)
    second = draw_glyphs([1, 2, 3], np.random.default_rng(7), noise=0.1)
    np.testing.assert_array_equal(first, second)
    clean = draw_glyphs([1, 2, 3], np.random.default_rng(7))
    assert 0.05 < float(np.std(first - np.round(first))) < 0.15 and not np.array_equal(first, clean)


def test_stream_draws_fresh_examples() -> None:
    stream = GlyphStream(4, seed=1, grid=8)
    examples = [stream.example(0) for _ in range(20)]
    assert len(stream) == 4
    assert len({example["image"].tobytes() for example in examples}) > 10
    for example in examples:
        assert example["image"].shape == (1, 8, 8)
        digit = int(example["label"])
        assert example["image"].sum() == DIGIT_GLYPHS[digit].sum()


def test_bad_requests_are_mlspec_errors() -> None:
    with pytest.raises(MlspecError, match=r"no glyph for digit\(s\) \[10\]"):
        draw_glyphs([10], np.random.default_rng(0))
    with pytest.raises(MlspecError, match="grid=5 is smaller"):
        draw_glyphs([1], np.random.default_rng(0), grid=5)


def idx_bytes(type_code: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    """An IDX file written from the format description, with struct (not with numpy)."""
    return bytes([0, 0, type_code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


def write_mnist(directory: Path, split: str, count: int, *, gz: bool) -> tuple[list[int], list[int]]:
    pixels = [(7 * i) % 256 for i in range(count * 28 * 28)]
    labels = [i % 10 for i in range(count)]
    for part, data in (
        ("images-idx3-ubyte", idx_bytes(0x08, (count, 28, 28), bytes(pixels))),
        ("labels-idx1-ubyte", idx_bytes(0x08, (count,), bytes(labels))),
    ):
        path = directory / f"{split}-{part}{'.gz' if gz else ''}"
        path.write_bytes(gzip.compress(data) if gz else data)
    return pixels, labels


def test_idx_pair_plain_and_gzipped(tmp_path: Path) -> None:
    pixels, labels = write_mnist(tmp_path, "train", 3, gz=False)
    write_mnist(tmp_path, "t10k", 2, gz=True)
    images, read_labels = read_idx_pair(tmp_path, "train")
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8
    assert images.reshape(-1).tolist() == pixels and read_labels.tolist() == labels
    test_images, test_labels = read_idx_pair(tmp_path, "t10k")
    assert test_images.shape == (2, 28, 28) and test_labels.tolist() == [0, 1]


def test_idx_big_endian_wider_types(tmp_path: Path) -> None:
    shorts = tmp_path / "shorts.idx"
    shorts.write_bytes(idx_bytes(0x0B, (2, 2), struct.pack(">4h", -2, 300, 7, -32768)))
    values = read_idx(shorts)
    assert values.dtype == np.int16 and values.dtype.isnative
    assert values.tolist() == [[-2, 300], [7, -32768]]
    floats = tmp_path / "floats.idx"
    floats.write_bytes(idx_bytes(0x0D, (3,), struct.pack(">3f", 1.5, -0.25, 3.0)))
    assert read_idx(floats).tolist() == [1.5, -0.25, 3.0]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "first two bytes must be zero"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 1), "truncated header"),
        (idx_bytes(0x08, (2, 3), bytes(5)), r"dimensions \(2, 3\) of uint8 need 18 bytes, the file has 17"),
    ],
)
def test_idx_malformed_files_name_the_problem(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(IdxFormatError, match=message):
        read_idx(path)


def test_idx_pair_reports_missing_and_mismatched_files(tmp_path: Path) -> None:
    with pytest.raises(IdxFormatError, match="no train images file; looked for train-images-idx3-ubyte"):
        read_idx_pair(tmp_path)
    write_mnist(tmp_path, "train", 3, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(0x08, (2,), bytes([1, 2])))
    with pytest.raises(IdxFormatError, match="do not pair up"):
        read_idx_pair(tmp_path)
