"""`mlspec train --data` takes a CSV and an image folder; a directory is no longer "not an .npz"."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from mlspec.builder import AdamParams, NetworkBuilder
from tests.cli import specs
from tests.cli.conftest import assert_one_line_failure, invoke
from tests.support.heads import classifier_head


def _csv(path: Path, count: int, *, seed: int = 0) -> Path:
    x, classes = specs.blobs(count, seed=seed)
    lines = ["id,f0,f1,f2,f3,kind"]
    lines += [
        f"{i},{','.join(f'{v:.5f}' for v in row)},{specs.LABELS[c]}"
        for i, (row, c) in enumerate(zip(x, classes, strict=True))
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_from_csv_with_feature_prefix_and_label_column(updatable_path: Path, tmp_path: Path) -> None:
    data, val = _csv(tmp_path / "train.csv", 48), _csv(tmp_path / "val.csv", 24, seed=1)
    output = tmp_path / "out.mlspec"
    args = ["--features", "f*", "--label-column", "kind", "--epochs", "2", "-o", output]
    result = invoke("train", updatable_path, "--data", data, "--val", val, *args)
    assert result.exit_code == 0, result.output
    assert output.exists()
    before = re.search(r"before training: validation loss (\S+), accuracy (\S+)", result.stdout)
    assert before is not None and 0.0 <= float(before.group(2)) <= 1.0
    missing = invoke("train", updatable_path, "--data", data, "--features", "f*", "-o", output)
    assert_one_line_failure(missing, "train.csv", "no label column", "--label-column", "kind")


def test_train_from_an_image_folder(tmp_path: Path) -> None:
    builder = NetworkBuilder(class_labels=["dark", "light"], seed=0)
    builder.add_input("image", [1, 8, 8])
    classifier_head(builder, "image", 2, optimizer=AdamParams(lr=0.05, batch=4), epochs=3)
    model = specs.write(builder.spec, tmp_path / "m.mlspec")
    rng = np.random.default_rng(0)
    for label, level in (("dark", 30), ("light", 220)):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for n in range(6):
            pixels = np.clip(rng.normal(level, 20, (20, 16, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "photos" / label / f"{n}.jpg")
    output = tmp_path / "out.mlspec"
    result = invoke("train", model, "--data", tmp_path / "photos", "--val", tmp_path / "photos", "-o", output)
    assert result.exit_code == 0, result.output
    first, last = (float(v) for v in re.findall(r"mean loss (\S+) -> (\S+)", result.stdout)[0])
    assert last < first
    assert output.exists()


def test_unknown_data_format_is_one_line(updatable_path: Path, train_npz: Path, tmp_path: Path) -> None:
    result = invoke(
        "train", updatable_path, "--data", train_npz, "--data-format", "parquet", "-o", tmp_path / "o"
    )
    assert_one_line_failure(result, "--data-format 'parquet'", "npz, csv, images")
