"""Run a spec's training graph through add_gradients, the way the portable backend will.

The forward graph is build_graph(training=True) plus the loss layers; the trainable initializers
become graph inputs (the portable step model takes parameters as inputs) and the result is run
on a plain onnxruntime InferenceSession.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx
import onnxruntime
from onnx import helper, numpy_helper

from mlspec._proto import model_pb2
from mlspec.backends.portable.autodiff import add_gradients
from mlspec.convert.graph import build_graph
from mlspec.convert.losses import build_losses


def training_graph(spec: model_pb2.Model) -> tuple[onnx.ModelProto, str, dict[str, np.ndarray]]:
    """The forward-and-loss model with trainable tensors as inputs, the loss name, their values."""
    build = build_graph(spec, training=True)
    model = build.onnx_model
    loss = build_losses(spec, build.logits_of).append_to(model.graph)
    model.graph.output.append(helper.make_tensor_value_info(loss, onnx.TensorProto.FLOAT, []))
    parameters: dict[str, np.ndarray] = {}
    kept = []
    for tensor in model.graph.initializer:
        if tensor.name in build.trainable:
            parameters[tensor.name] = numpy_helper.to_array(tensor)
            model.graph.input.append(
                helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims))
            )
        else:
            kept.append(tensor)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return model, loss, parameters


def portable_gradients(
    spec: model_pb2.Model, feeds: Mapping[str, np.ndarray]
) -> tuple[float, dict[str, np.ndarray], onnx.ModelProto]:
    """Loss and gradients of every trainable tensor at the spec's weights, plus the graph used."""
    model, loss, parameters = training_graph(spec)
    with_grads = add_gradients(model, loss, list(parameters))
    onnx.checker.check_model(with_grads, full_check=True)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        with_grads.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    wanted = {value.name for value in with_grads.graph.input}
    inputs = {name: value for name, value in {**feeds, **parameters}.items() if name in wanted}
    names = [loss, *(f"{name}_grad" for name in parameters)]
    values = session.run(names, inputs)
    return float(values[0]), dict(zip(parameters, values[1:], strict=True)), model
