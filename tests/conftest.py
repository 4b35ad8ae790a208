"""Collection rules for the whole suite.

tests/corpus/ runs over the import corpus that tools/corpus/build.sh builds with torch and
tensorflow in side venvs; it is collected only when $MLSPEC_CORPUS names that build
(tools/ci/corpus.sh sets it), so the default unit run neither needs nor skips it.
tests/deployment/ starts a Flower SuperLink and SuperNodes as real processes (minutes on 2
cores); it is collected only when $MLSPEC_FLOWER_DEPLOYMENT is set (tools/ci/flower.sh).
tests/js/ needs Node.js and the npm packages tools/ci/node.sh installs; it is collected when
$MLSPEC_JS is set.
tests/web/ checks a browser run of examples/web; tools/ci/browser.sh sets $MLSPEC_WEB_RUN to it.

Where onnxruntime-training is not installed (Python 3.13 and later, tools/ci/py313.sh), tests of
the ort-training backend skip, saying so: a test module whose import needs
`onnxruntime.training` is reported skipped rather than broken, and a test marked `ort_training`
skips. Where the package is installed both kinds run as any other test.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

from mlspec.backends import ort_training_installed

collect_ignore = [
    *([] if os.environ.get("MLSPEC_CORPUS") else ["corpus"]),
    *([] if os.environ.get("MLSPEC_FLOWER_DEPLOYMENT") else ["deployment"]),
    *([] if os.environ.get("MLSPEC_JS") else ["js"]),
    *([] if os.environ.get("MLSPEC_WEB_RUN") else ["web"]),
]

ORT_TRAINING = ort_training_installed()
WHY = "needs onnxruntime-training, which is not installed (no wheel past Python 3.12)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ort_training: the test drives the ort-training backend")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if ORT_TRAINING:
        return
    for item in items:
        if item.get_closest_marker("ort_training") is not None:
            item.add_marker(pytest.mark.skip(reason=WHY))


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if not ORT_TRAINING and report.failed and "No module named 'onnxruntime.training" in str(report.longrepr):
        report.outcome = "skipped"
        report.longrepr = (str(collector.path), 0, f"Skipped: {WHY}")
    return report
