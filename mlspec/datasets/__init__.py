"""Small data sources for the examples, the demo and tests: pure numpy, nothing downloaded.

`glyphs` draws the 6x6 digit bitmaps of Apple's BNNS sample at random places in a grid, so a
training run has unlimited fresh examples without shipping a data file; `idx` reads the MNIST
IDX format for users who bring the real files.
"""

from mlspec.datasets.glyphs import (
    DIGIT_GLYPHS,
    GLYPH_SIZE,
    DatasetError,
    GlyphStream,
    draw_glyphs,
    glyph_batch,
)
from mlspec.datasets.idx import IdxFormatError, read_idx, read_idx_pair

__all__ = [
    "DIGIT_GLYPHS",
    "GLYPH_SIZE",
    "DatasetError",
    "GlyphStream",
    "IdxFormatError",
    "draw_glyphs",
    "glyph_batch",
    "read_idx",
    "read_idx_pair",
]
