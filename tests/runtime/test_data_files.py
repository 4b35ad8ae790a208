"""Data as users have it: CSV files, image folders, .npz hints, generators and __getitem__ providers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from mlspec.runtime import Trainer
from mlspec.runtime.data import DataError, DataFile, as_source
from mlspec.runtime.features import FeatureSpec
from tests.runtime.models import LABELS, blobs, classifier, cnn

X = FeatureSpec("x", "input", np.dtype(np.float32), (4,))
LABEL = FeatureSpec("label", "target", np.dtype(np.int64), (), 3, LABELS, is_class_label=True)
IMAGE = FeatureSpec("image", "input", np.dtype(np.float32), (3, 4, 5))
INDEX = FeatureSpec("label", "target", np.dtype(np.int64), (), 3, None, is_class_label=True)


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_columns_by_default_by_name_and_by_prefix(tmp_path: Path) -> None:
    text = "id,p0,p1,p2,p3,label\n7,1,2,3,4,dog\n8,5,6,7,8,fish\n"
    path = _csv(tmp_path / "d.csv", text)
    by_prefix = as_source(DataFile(path, features=("p*",)), [X, LABEL], where="d").batch(slice(None))
    np.testing.assert_array_equal(by_prefix["x"], [[1, 2, 3, 4], [5, 6, 7, 8]])
    np.testing.assert_array_equal(by_prefix["label"], [1, 2])
    by_name = DataFile(path, features=("p3", "p2", "p1", "p0"))
    reordered = as_source(by_name, [X, LABEL], where="d").batch(slice(None))["x"]
    np.testing.assert_array_equal(reordered[0], [4, 3, 2, 1])
    with pytest.raises(DataError, match=r"'x' has per-example shape \(5,\), expected \(4,\)"):
        as_source(path, [X, LABEL], where="d")  # by default "id" is a feature column too


def test_csv_label_column_option_and_integer_labels(tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv", "a,b,c,d,klass\n1,2,3,4,2\n1,2,3,4,0\n")
    batch = as_source(DataFile(path, label_column="klass"), [X, INDEX], where="d").batch(slice(None))
    np.testing.assert_array_equal(batch["label"], [2, 0])
    with pytest.raises(DataError, match=r"no label column; name it 'label', or pass --label-column"):
        as_source(path, [X, INDEX], where="d")


def test_csv_errors_name_the_line_and_column(tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv", "a,b,c,d,label\n1,2,3,4,cat\n1,x,3,4,dog\n")
    with pytest.raises(DataError, match=r"d\.csv: line 3, column 'b': 'x' is not a number"):
        as_source(path, [X, LABEL], where="d")
    ragged = _csv(tmp_path / "r.csv", "a,b,c,d,label\n1,2,3,cat\n")
    with pytest.raises(DataError, match=r"line 2 has 4 fields, the header has 5"):
        as_source(ragged, [X, LABEL], where="d")
    with pytest.raises(DataError, match=r"no column 'q' \(--features\); columns: a, b, c, d, label"):
        as_source(DataFile(path, features=("q",)), [X, LABEL], where="d")
    with pytest.raises(DataError, match=r"no column starts with 'z'"):
        as_source(DataFile(path, features=("z*",)), [X, LABEL], where="d")
    with pytest.raises(DataError, match=r"'label'\[0\] = 'bird' is not a class label"):
        as_source(_csv(tmp_path / "b.csv", "a,b,c,d,label\n1,2,3,4,bird\n"), [X, LABEL], where="d")


def test_npz_hint_names_the_models_keys_and_following_it_works(tmp_path: Path) -> None:
    wrong = _csv(tmp_path / "d.npz", "not numpy")
    hint = r"write one with np\.savez\(path, x=\.\.\., label=\.\.\.\)"
    with pytest.raises(DataError, match=hint) as caught:
        as_source(wrong, [X, LABEL], where="d")
    assert "features" not in str(caught.value)
    x, y = blobs(6)
    np.savez(tmp_path / "ok.npz", x=x, label=y)
    assert len(as_source(tmp_path / "ok.npz", [X, LABEL], where="d")) == 6


def _image_folder(root: Path, counts: dict[str, int], size: tuple[int, int] = (10, 8)) -> Path:
    rng = np.random.default_rng(0)
    for label, count in counts.items():
        (root / label).mkdir(parents=True)
        for index in range(count):
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            suffix = (".png", ".jpg", ".bmp")[index % 3]
            Image.fromarray(pixels).save(root / label / f"{index}{suffix}")
    return root


def test_image_folder_labels_from_subfolders_resized_scaled_and_laid_out(tmp_path: Path) -> None:
    root = _image_folder(tmp_path / "photos", {"cat": 2, "fish": 3})
    (root / "cat" / "notes.txt").write_text("ignored: not an image")
    source = as_source(root, [IMAGE, LABEL], where="d")
    assert len(source) == 5
    batch = source.batch(slice(None))
    np.testing.assert_array_equal(batch["label"], [0, 0, 2, 2, 2])
    assert batch["image"].shape == (5, 3, 4, 5)
    # Reference: Pillow's own bilinear resize of the first PNG, then /255 and HWC -> CHW.
    with Image.open(root / "cat" / "0.png") as image:
        expected = np.asarray(image.convert("RGB").resize((5, 4), Image.Resampling.BILINEAR)) / 255.0
    np.testing.assert_allclose(batch["image"][0], expected.transpose(2, 0, 1), atol=1e-6)
    gray = FeatureSpec("image", "input", np.dtype(np.float32), (4, 5, 1))
    assert as_source(root, [gray, LABEL], where="d").batch(slice(0, 1))["image"].shape == (1, 4, 5, 1)


def test_image_folder_refusals(tmp_path: Path) -> None:
    root = _image_folder(tmp_path / "photos", {"cat": 1})
    (root / "dog").mkdir()
    with pytest.raises(DataError, match=r"dog: class folder holds no"):
        as_source(root, [IMAGE, LABEL], where="d")
    (root / "dog").rmdir()
    outside = tmp_path / "secret.png"
    Image.fromarray(np.zeros((2, 2), dtype=np.uint8)).save(outside)
    (root / "cat" / "link.png").symlink_to(outside)
    with pytest.raises(DataError, match=r"link\.png: not a regular file inside"):
        as_source(root, [IMAGE, LABEL], where="d")
    (root / "cat" / "link.png").unlink()
    (root / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"broken\.png: not a readable PNG, JPEG or BMP image"):
        as_source(root, [IMAGE, LABEL], where="d").batch(slice(None))
    flat = FeatureSpec("image", "input", np.dtype(np.float32), (60,))
    with pytest.raises(DataError, match=r"images need an input shaped \(channels, height, width\)"):
        as_source(root, [flat, LABEL], where="d")
    with pytest.raises(DataError, match=r"folder name 'cat' is not a whole number"):
        as_source(root, [IMAGE, INDEX], where="d")
    with pytest.raises(DataError, match=r"is a folder; --data-format csv needs a file"):
        as_source(DataFile(root, format="csv"), [IMAGE, LABEL], where="d")


def test_trainer_trains_a_cnn_from_an_image_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for index, label in enumerate(LABELS):
        (tmp_path / label).mkdir()
        for n in range(4):
            pixels = rng.integers(0, 60, (6, 6), dtype=np.uint8)
            pixels[:, 2 * index : 2 * index + 2] = 250
            Image.fromarray(pixels).save(tmp_path / label / f"{n}.png")
    with Trainer.from_spec(cnn(), epochs=2) as trainer:
        before = trainer.evaluate(tmp_path).loss
        result = trainer.train(tmp_path)
        assert result.epochs_completed == 2
        assert trainer.evaluate(tmp_path).loss < before


class Indexed:
    """Core ML's MLBatchProvider shape: __len__ and __getitem__."""

    def __init__(self, x: npt.NDArray[np.float32], y: npt.NDArray[np.str_]) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> Mapping[str, npt.ArrayLike]:
        return {"x": self.x[index], "label": self.y[index]}


def test_lists_generators_and_getitem_providers_train_like_arrays() -> None:
    x, y = blobs(12)

    def generator() -> Iterator[dict[str, object]]:
        for row, label in zip(x, y, strict=True):
            yield {"x": row, "label": label}

    dicts = [{"x": row, "label": label} for row, label in zip(x, y, strict=True)]
    forms: list[object] = [(x, y), dicts, generator(), Indexed(x, y)]
    weights = []
    for data in forms:
        with Trainer.from_spec(classifier(), epochs=2) as trainer:
            trainer.train(data)
            weights.append(trainer.parameters())
    for other in weights[1:]:
        for name, value in weights[0].items():
            np.testing.assert_array_equal(value, other[name])


def test_examples_that_are_not_dicts_are_refused_naming_the_index() -> None:
    with pytest.raises(DataError, match=r"example 0 is a int, not a dict keyed by x, label"):
        as_source(iter([1, 2]), [X, LABEL], where="d")
    with pytest.raises(DataError, match=r"the iterable yielded no examples"):
        as_source(iter([]), [X, LABEL], where="d")
