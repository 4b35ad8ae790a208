"""Values folded out of shape arithmetic: the sentinels that stand for run-time sizes, and
writing folded shape values back into the graph so the next round of inference can use them.

Shape() of a tensor whose leading dim is known only at run time folds with a sentinel there:
BATCH_SENTINEL when that dim is the batch (the symbol a graph input's axis 0 has), LEAD_SENTINEL
when inference named it otherwise (batch x heads in dynamo's attention, or the batch behind an
op inference could not follow). Both move through value-moving ops; only the first may be taken
for the batch by a mapper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import numpy_helper

if TYPE_CHECKING:
    from mlspec.convert.importers.onnx_graph import PreparedGraph

BATCH_SENTINEL = -7_340_033
"""Stands for the batch size inside folded shape tensors; fits int32 so Cast keeps it."""
LEAD_SENTINEL = -7_340_035
"""Stands for a leading size known only at run time that inference named apart from the batch
(batch x heads in attention, or the batch behind an op inference could not follow): it moves
through folding like the batch, but no mapper takes it for the batch."""
_SENTINELS = (BATCH_SENTINEL, LEAD_SENTINEL)
MAX_SHAPE_VALUE = 64
"""Largest folded integer tensor written back for inference: shapes and bounds, not weights."""


def has_sentinel(value: np.ndarray) -> bool:
    """Whether a folded value still stands for something known only at run time (the batch)."""
    return value.dtype.kind == "i" and bool(np.any(np.isin(value, _SENTINELS)))


def inferable_target(target: np.ndarray) -> np.ndarray | None:
    """A Reshape target with its one run-time entry (a sentinel) as -1, when every other entry is
    a fixed size (no -1 or 0 of its own), so the element count alone determines it; else None."""
    flat = target.reshape(-1).astype(np.int64)
    run_time = np.isin(flat, _SENTINELS)
    if int(run_time.sum()) != 1 or not np.all(flat[~run_time] > 0):
        return None
    return np.where(run_time, -1, flat).reshape(target.shape)


def materialise_shape_values(prepared: PreparedGraph) -> bool:
    """Write small integer values that folding computed (shapes, Slice bounds) into the graph.

    ONNX shape inference cannot follow arithmetic on shapes (TorchScript's channel shuffle divides
    Shape entries, its chunk multiplies them), so the output of such a Reshape or Slice, and
    everything after it, has unknown dims, and the next Shape cannot fold: TorchScript's ShuffleNet
    imported 444 frozen nodes. Once folding knows the value, an initializer holding it lets the
    next round of inference see the shapes. A Reshape target's batch entry is spelled 0 ("copy")
    when the input's axis 0 is the batch, else -1 when the rest fixes it. Returns whether any
    value was written.
    """
    graph, written = prepared.graph, False
    names = {init.name for init in graph.initializer}
    for node in prepared.nodes:
        if all(_fully_known(prepared, output) for output in node.output if output):
            continue
        for index, source in enumerate(node.input):
            value = prepared.constants.get(source) if source in prepared.folded_by else None
            if value is None or value.dtype.kind not in "iu" or value.size > MAX_SHAPE_VALUE:
                continue
            if has_sentinel(value):
                reshape_target = node.op_type == "Reshape" and index == 1
                value = _static_target(prepared, node, value) if reshape_target else None
                if value is None:
                    continue
            name = f"{source}__static"
            while name in names:
                name += "_"
            names.add(name)
            graph.initializer.append(numpy_helper.from_array(value, name))
            node.input[index] = name
            written = True
    if written:  # inference keeps what value_info says; let it redo the dims it could not know
        known = [value for value in graph.value_info if _fully_known(prepared, value.name)]
        del graph.value_info[:]
        graph.value_info.extend(known)
    return written


def _fully_known(prepared: PreparedGraph, name: str) -> bool:
    dims = prepared.dims(name)
    return dims is not None and all(isinstance(dim, int) or prepared.is_batch(dim) for dim in dims)


def _static_target(prepared: PreparedGraph, node: onnx.NodeProto, target: np.ndarray) -> np.ndarray | None:
    """The folded target without sentinels, meaning the same at every batch; or None.

    The batch first, on an input whose axis 0 is the batch, becomes 0 ("copy"), so inference
    keeps the batch symbol; otherwise -1 where the rest of the target fixes it.
    """
    flat = target.reshape(-1).astype(np.int64)
    allow_zero = any(attr.name == "allowzero" and attr.i for attr in node.attribute)
    dims = prepared.dims(node.input[0])
    batch_first = flat.size > 0 and flat[0] == BATCH_SENTINEL and not has_sentinel(flat[1:])
    if batch_first and not allow_zero and dims and prepared.is_batch(dims[0]):
        return np.concatenate([[0], flat[1:]])
    return inferable_target(flat)
