"""Write-back: the updated spec holds the trained weights, loads, validates and predicts the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

import mlspec
from mlspec.backends.inference import run_inference
from mlspec.convert import to_onnx
from mlspec.reference import evaluate
from mlspec.runtime import Trainer
from mlspec.spec.errors import MlspecError
from mlspec.spec.graph import find_layer
from mlspec.spec.validate import validate
from mlspec.spec.weights import to_numpy
from tests.runtime.models import LABELS, blobs, classifier, cnn, images

X, Y = blobs(24)


def _softmax(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    result: npt.NDArray[np.float32] = shifted / shifted.sum(axis=1, keepdims=True)
    return result


def test_saved_spec_loads_validates_and_its_inference_export_predicts_like_the_trainer(
    tmp_path: Path,
) -> None:
    source = tmp_path / "model.mlspec"
    mlspec.save(classifier(hidden=5), source)
    original = source.read_bytes()
    trainer = Trainer.from_spec(source, epochs=3)
    trainer.train((X, Y))
    target = tmp_path / "updated.mlspec"
    trainer.save(target)
    assert source.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.mlspec", "updated.mlspec"]

    updated = mlspec.load(target)
    validate(updated)
    exported = run_inference(to_onnx(updated).SerializeToString(), {"x": X})
    predicted = trainer.predict(X)
    np.testing.assert_allclose(exported["probs"], predicted["probs"], rtol=1e-6, atol=1e-7)
    assert list(exported["label"]) == list(predicted["label"])

    weights = trainer.parameters()
    hidden = np.maximum(X @ weights["hidden.weights"].T + weights["hidden.bias"], 0)
    expected = _softmax(hidden @ weights["fc.weights"].T + weights["fc.bias"])
    np.testing.assert_allclose(exported["probs"], expected, rtol=1e-5, atol=1e-6)
    assert list(exported["label"]) == [LABELS[i] for i in np.argmax(expected, axis=1)]
    start = find_layer(mlspec.load(source), "fc").inner_product.weights
    assert not np.array_equal(to_numpy(find_layer(updated, "fc").inner_product.weights), to_numpy(start))


def test_save_refuses_to_overwrite_the_input_spec(tmp_path: Path) -> None:
    source = tmp_path / "model.mlspec"
    mlspec.save(classifier(), source)
    original = source.read_bytes()
    trainer = Trainer.from_spec(source)
    trainer.train((X, Y))
    with pytest.raises(MlspecError, match="refusing to overwrite the input spec"):
        trainer.save(source)
    assert source.read_bytes() == original


def test_batch_norm_running_statistics_are_written_back_and_used_by_inference() -> None:
    spec = cnn()
    x, y = images(24)
    trainer = Trainer.from_spec(spec)
    trainer.train((x, y))
    updated = trainer.updated_model()
    bn = find_layer(updated, "bn").batch_norm
    trained = trainer.parameters()
    np.testing.assert_array_equal(to_numpy(bn.running_mean), trained["bn.running_mean"])
    np.testing.assert_array_equal(to_numpy(bn.running_variance), trained["bn.running_variance"])
    before = find_layer(spec, "bn").batch_norm
    assert not np.allclose(to_numpy(bn.running_mean), to_numpy(before.running_mean))
    reference = evaluate(updated, {"image": x})["probs"]
    np.testing.assert_allclose(trainer.predict(x)["probs"], reference, rtol=1e-4, atol=1e-5)


def test_artifacts_need_their_own_spec_for_write_back(tmp_path: Path) -> None:
    spec = classifier()
    Trainer.from_spec(spec, work_dir=tmp_path / "artifacts", seed=5)  # the seed is baked into dropout
    bare = Trainer.from_artifacts(tmp_path / "artifacts")
    bare.train((X, Y))
    assert bare.evaluate((X, Y)).accuracy is not None
    with pytest.raises(MlspecError, match=r"pass spec= to Trainer\.from_artifacts"):
        bare.updated_model()
    with pytest.raises(MlspecError, match="converted from a different spec"):
        Trainer.from_artifacts(tmp_path / "artifacts", spec=classifier(seed=7))
    paired = Trainer.from_artifacts(tmp_path / "artifacts", spec=spec)
    paired.train((X, Y))
    validate(paired.updated_model())


class Images:
    """A provider yielding one example at a time, as data too big for memory would."""

    def __init__(self, x: npt.NDArray[np.float32]) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def example(self, index: int) -> dict[str, npt.NDArray[np.float32]]:
        return {"x": self.x[index]}


def test_predict_takes_a_provider_in_chunks_and_matches_array_input() -> None:
    x, _ = blobs(300, seed=9)  # more than one inference chunk
    trainer = Trainer.from_spec(classifier())
    from_provider = trainer.predict(Images(x))
    from_arrays = trainer.predict({"x": x})
    assert from_provider["probs"].shape == (300, 3)
    np.testing.assert_array_equal(from_provider["probs"], from_arrays["probs"])
    assert list(from_provider["label"]) == list(from_arrays["label"])
