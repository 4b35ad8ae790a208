"""Collection rules for the whole suite.

tests/corpus/ runs over the import corpus that tools/corpus/build.sh builds with torch and
tensorflow in side venvs; it is collected only when $MLSPEC_CORPUS names that build
(tools/ci/corpus.sh sets it), so the default unit run neither needs nor skips it.
"""

from __future__ import annotations

import os

collect_ignore = [] if os.environ.get("MLSPEC_CORPUS") else ["corpus"]
