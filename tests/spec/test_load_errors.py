"""Load errors name the path and the problem; a failed save leaves the old file and no debris."""

from __future__ import annotations

import errno
import os
import resource
import struct
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import mlspec
from tests.support.specs import classifier

HEADER = 16  # magic (8 bytes) + payload length (8 bytes), see mlspec/spec/io.py


def expect_load_error(path: Path, *fragments: str) -> str:
    with pytest.raises(mlspec.SpecLoadError) as caught:
        mlspec.load(path)
    text = str(caught.value)
    assert str(path) in text
    for fragment in fragments:
        assert fragment in text, text
    return text


def saved(tmp_path: Path, name: str = "model.mlspec") -> Path:
    path = tmp_path / name
    mlspec.save(classifier(), path)
    return path


def test_missing_file(tmp_path: Path) -> None:
    expect_load_error(tmp_path / "absent.mlspec", "no such file")


def test_directory(tmp_path: Path) -> None:
    expect_load_error(tmp_path, "is a directory")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mlspec"
    path.write_bytes(b"")
    expect_load_error(path, "empty file")


def field_boundaries(payload: bytes) -> list[int]:
    """Offsets in the payload where a top-level field ends, found by walking tags by hand."""
    offsets, pos = [], 0
    while pos < len(payload):
        tag, pos = varint(payload, pos)
        wire = tag & 7
        if wire == 0:
            _, pos = varint(payload, pos)
        elif wire == 2:
            size, pos = varint(payload, pos)
            pos += size
        else:
            raise AssertionError(f"unexpected wire type {wire} in a spec")
        offsets.append(pos)
    return offsets


def varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value, pos
        shift += 7


def test_truncated_at_field_boundaries_and_elsewhere(tmp_path: Path) -> None:
    data = saved(tmp_path).read_bytes()
    boundaries = [HEADER + end for end in field_boundaries(data[HEADER:])[:-1]]
    assert len(boundaries) >= 3  # version, description, metadata... before the last field
    cuts = sorted({*boundaries, 3, HEADER - 1, HEADER, HEADER + 1, len(data) // 2, len(data) - 1})
    for cut in cuts:
        path = tmp_path / f"cut{cut}.mlspec"
        path.write_bytes(data[:cut])
        expect_load_error(path, "truncated")


def test_trailing_bytes(tmp_path: Path) -> None:
    path = saved(tmp_path)
    path.write_bytes(path.read_bytes() + b"\x00\x01")
    expect_load_error(path, "2 unexpected bytes")


def test_random_bytes(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    for index in range(5):
        path = tmp_path / f"random{index}.mlspec"
        path.write_bytes(rng.integers(0, 256, 200 + index, dtype=np.uint8).tobytes())
        expect_load_error(path, "not an mlspec spec")


def test_random_bytes_named_like_text(tmp_path: Path) -> None:
    path = tmp_path / "random.pbtxt"
    path.write_bytes(b"\xff\xfe\x00garbage")
    expect_load_error(path, "not UTF-8")


def test_invalid_text(tmp_path: Path) -> None:
    path = tmp_path / "bad.pbtxt"
    path.write_text("spec_version: 1\nnetwork { layers { nme: 'x' } }\n")
    expect_load_error(path, "invalid spec text", "nme")


def test_newer_spec_version(tmp_path: Path) -> None:
    path = tmp_path / "future.pbtxt"
    path.write_text(f"spec_version: {mlspec.SPEC_VERSION + 1}\n")
    expect_load_error(path, "newer than this mlspec supports")


@pytest.mark.parametrize("name", ["tiny.onnx", "tiny.mlspec"])
def test_onnx_file(tmp_path: Path, name: str) -> None:
    weight = numpy_helper.from_array(np.ones((2, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3])],
        [weight],
    )
    path = tmp_path / name
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), path)
    expect_load_error(path, "ONNX model", "mlspec import-onnx")


def encode_coreml_like() -> bytes:
    """Core ML's Model: field 1 specificationVersion (varint 4), description at 2, a type at >= 200."""
    version = bytes([1 << 3 | 0, 4])
    description = bytes([2 << 3 | 2, 2]) + b"\x0a\x00"
    neural_network_tag = varint_bytes(500 << 3 | 2)
    neural_network = neural_network_tag + bytes([3]) + b"\x0a\x01\x00"
    return version + description + neural_network


def varint_bytes(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def test_coreml_file(tmp_path: Path) -> None:
    path = tmp_path / "model.mlmodel"
    path.write_bytes(encode_coreml_like())
    expect_load_error(path, "Core ML model", "mlspec import-coreml")


def test_header_length_is_little_endian_uint64(tmp_path: Path) -> None:
    data = saved(tmp_path).read_bytes()
    assert data[:8] == b"MLSPEC\x00\x01"
    assert struct.unpack_from("<Q", data, 8)[0] == len(data) - HEADER


# ---- atomic save -------------------------------------------------------------------------------


def assert_untouched(path: Path, before: bytes) -> None:
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "temporary file left behind"


@pytest.mark.parametrize("suffix", [".mlspec", ".pbtxt"])
def test_write_failing_midway_leaves_the_old_file(tmp_path: Path, suffix: str) -> None:
    """A real mid-write failure: a file-size limit makes the kernel refuse the second half (EFBIG)."""
    path = saved(tmp_path, f"model{suffix}")
    before = path.read_bytes()
    model = classifier()
    model.metadata.short_description = "x" * 200_000
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, limits[1]))  # Python ignores SIGXFSZ
    try:
        with pytest.raises(OSError) as caught:
            mlspec.save(model, path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
    assert caught.value.errno == errno.EFBIG
    assert_untouched(path, before)


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_interrupted_save_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = saved(tmp_path)
    before = path.read_bytes()

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, failing, interrupted)
    with pytest.raises(KeyboardInterrupt):
        mlspec.save(classifier(), path)
    monkeypatch.undo()
    assert_untouched(path, before)


def test_save_into_missing_folder_or_onto_a_directory(tmp_path: Path) -> None:
    with pytest.raises(mlspec.SpecLoadError, match="does not exist"):
        mlspec.save(classifier(), tmp_path / "absent" / "model.mlspec")
    with pytest.raises(mlspec.SpecLoadError, match="is a directory"):
        mlspec.save(classifier(), tmp_path)
    assert os.listdir(tmp_path) == []
