"""Both backends' ONNX Runtime options, and MLSPEC_ORT_SPINNING, the one a user may change."""

from __future__ import annotations

import pytest

from mlspec.backends.shared import SPINNING_VARIABLE, session_options
from mlspec.spec.errors import MlspecError

SPINNING_ENTRY = "session.intra_op.allow_spinning"


def test_threads_sleep_between_ops_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SPINNING_VARIABLE, raising=False)
    assert session_options().get_session_config_entry(SPINNING_ENTRY) == "0"


@pytest.mark.parametrize(("value", "entry"), [("0", "0"), ("1", "1")])
def test_spinning_follows_the_variable(monkeypatch: pytest.MonkeyPatch, value: str, entry: str) -> None:
    monkeypatch.setenv(SPINNING_VARIABLE, value)
    assert session_options().get_session_config_entry(SPINNING_ENTRY) == entry


@pytest.mark.parametrize("value", ["yes", "", "2", " 1"])
def test_other_values_are_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(SPINNING_VARIABLE, value)
    with pytest.raises(MlspecError, match=rf"{SPINNING_VARIABLE}={value!r}: allowed values are 0 .* and 1"):
        session_options()
