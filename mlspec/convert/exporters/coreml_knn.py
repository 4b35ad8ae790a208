"""mlspec k-NN spec -> Core ML KNearestNeighborsClassifier, alone or after a feature extractor.

The inverse of `importers/coreml_knn.py`, field for field (see proto/mlspec/v1/knn.proto): the
stored examples become floatSamples with a label per sample, k keeps its default and allowed
range or set, the weighting and default label carry over, and Euclidean distance is written as
Core ML's squared Euclidean distance (the same neighbours in the same order). With a feature
extractor the file is a pipelineClassifier of two stages: the extractor as a NeuralNetwork
model, then the k-NN reading its output. The model is updatable in Core ML's sense when the
spec is (isUpdatable, and training inputs holding the compared feature and the true label), so
MLUpdateTask adds examples on the device as `mlspec add-examples` does here.

What Core ML cannot hold: cosine distance is refused; a vote-tie rule is not stored (Core ML
does not say how it breaks a tied vote); labels with no stored example are left out, since
Core ML lists a label per sample. The last two are listed as left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlspec._proto import knn_pb2, model_pb2
from mlspec.convert.exporters.coreml_training import Findings, int_parameter
from mlspec.spec import knn as spec_knn

# Spec version of Core ML 3 (iOS 13): the first with k-NN classifiers and updatable models.
KNN_SPEC_VERSION = 4
_FLOAT32 = 65568  # ArrayFeatureType.FLOAT32
NetworkExport = Callable[[model_pb2.Model, Any, Findings], Any]


def knn_model(model: model_pb2.Model, coreml: Any, findings: Findings, network: NetworkExport) -> Any:
    """The Core ML model of a k-NN spec; `network` writes the extractor, if there is one."""
    stage = _knn_stage(model, coreml, findings)
    extractor = spec_knn.extractor_model(model)
    if extractor is None:
        return stage
    front = network(extractor, coreml, findings)
    out = coreml.Model(specificationVersion=KNN_SPEC_VERSION, isUpdatable=model.is_updatable)
    out.description.input.extend(front.description.input)
    out.description.output.extend(stage.description.output)
    out.description.predictedFeatureName = stage.description.predictedFeatureName
    out.description.predictedProbabilitiesName = stage.description.predictedProbabilitiesName
    if model.is_updatable:
        out.description.trainingInput.extend(front.description.input)
        out.description.trainingInput.append(stage.description.trainingInput[-1])
    stages = out.pipelineClassifier.pipeline.models
    stages.add().CopyFrom(front)
    stages.add().CopyFrom(stage)
    return out


def _knn_stage(model: model_pb2.Model, coreml: Any, findings: Findings) -> Any:
    knn = model.knn_classifier
    stage = coreml.Model(specificationVersion=KNN_SPEC_VERSION, isUpdatable=model.is_updatable)
    if knn.distance != knn_pb2.KNN_DISTANCE_EUCLIDEAN:
        findings.refuse(
            "knn_classifier.distance", "cosine; Core ML's k-NN measures squared Euclidean distance only"
        )
    if knn.vote_tie != knn_pb2.KNN_VOTE_TIE_SMALLEST_LABEL:
        findings.narrow(
            "knn_classifier.vote_tie",
            "first_label is not stored; Core ML does not say how it breaks a tied vote",
        )
    _describe(model, stage.description)
    body = stage.kNearestNeighborsClassifier
    index = body.nearestNeighborsIndex
    index.numberOfDimensions = knn.dimensions
    index.linearIndex.SetInParent()
    index.squaredEuclideanDistance.SetInParent()
    for row in spec_knn.examples(model):
        index.floatSamples.add().vector.extend(row.tolist())
    labels = spec_knn.label_values(model)
    used = spec_knn.example_labels(model).tolist()
    per_sample = [labels[i] for i in used]
    unused = [label for i, label in enumerate(labels) if i not in set(used)]
    if unused:
        findings.narrow(
            "classifier labels " + ", ".join(repr(label) for label in unused),
            "no stored example has them and Core ML lists a label per example, so they are left out",
        )
    if spec_knn.has_string_labels(model):
        body.stringClassLabels.vector.extend(str(label) for label in per_sample)
        body.defaultStringLabel = knn.default_string_label
    else:
        body.int64ClassLabels.vector.extend(int(label) for label in per_sample)
        body.defaultInt64Label = knn.default_int64_label
    int_parameter(knn.number_of_neighbors, body.numberOfNeighbors)
    if knn.weighting == knn_pb2.KNN_WEIGHTING_INVERSE_DISTANCE:
        body.inverseDistanceWeighting.SetInParent()
    else:
        body.uniformWeighting.SetInParent()
    return stage


def _describe(model: model_pb2.Model, description: Any) -> None:
    """The compared feature in, label and probabilities out; training inputs: feature and label."""
    knn = model.knn_classifier
    string = spec_knn.has_string_labels(model)
    feature = description.input.add(name=knn.feature_name)
    feature.type.multiArrayType.dataType = _FLOAT32
    feature.type.multiArrayType.shape.append(knn.dimensions)
    label_name = model.classifier.predicted_feature_name
    probabilities_name = model.classifier.predicted_probabilities_name
    label = description.output.add(name=label_name)
    (label.type.stringType if string else label.type.int64Type).SetInParent()
    probabilities = description.output.add(name=probabilities_name)
    key = probabilities.type.dictionaryType
    (key.stringKeyType if string else key.int64KeyType).SetInParent()
    description.predictedFeatureName = label_name
    description.predictedProbabilitiesName = probabilities_name
    if model.is_updatable:
        description.trainingInput.add().CopyFrom(feature)
        description.trainingInput.add().CopyFrom(label)
