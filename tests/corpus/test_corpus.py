"""The import corpus: real exporter outputs, each imported, run against the original in ONNX
Runtime at batch 2, and trained at the head and at the head plus the block before it.

Each test recomputes one model's row and checks it against docs/corpus.md, so the published
table is what the code does today; green cells are checked on their own terms too (forward error
within FORWARD_RTOL, losses falling). Run through tools/ci/corpus.sh, which builds the corpus.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus.rows import (
    cells,
    comparable,
    corpus_dir,
    corpus_models,
    evaluate_row,
    table_rows,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "corpus.md"
CORPUS = corpus_dir()
MODELS = corpus_models(CORPUS) if CORPUS is not None else []
TORCH_MODELS = (
    "tv_resnet18",
    "tv_mobilenet_v2",
    "tv_mobilenet_v3_small",
    "tv_efficientnet_b0",
    "tv_squeezenet1_1",
    "tv_shufflenet_v2_x0_5",
    "tv_regnet_y_400mf",
    "tv_densenet121",
    "timm_convnext_atto",
    "timm_vit_tiny",
    "timm_mobilenetv3_small_050",
    "text_classifier",
)
OTHER_MODELS = ("skl_mlp_classifier", "keras_cnn", "paddleocr_det", "paddleocr_cls", "paddleocr_rec")


def test_the_corpus_holds_every_model_through_both_torch_exporters() -> None:
    assert CORPUS is not None, "set MLSPEC_CORPUS to the directory tools/corpus/build.sh prints"
    expected = {f"{name}.{exporter}" for name in TORCH_MODELS for exporter in ("script", "dynamo")}
    assert sorted(expected | set(OTHER_MODELS)) == MODELS


@pytest.mark.parametrize("model", MODELS)
def test_row_is_what_the_docs_table_says(model: str) -> None:
    assert CORPUS is not None
    row = evaluate_row(CORPUS, model)
    if row.imported == "yes":
        assert row.forward_error is not None, "an imported model is always run against its original"
    documented = table_rows(DOCS.read_text()).get(model)
    assert documented is not None, f"{model} is missing from docs/corpus.md; run tools/corpus/report.sh"
    assert comparable(cells(row)) == comparable(documented)
