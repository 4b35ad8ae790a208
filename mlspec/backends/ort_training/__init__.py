"""The onnxruntime-training 1.19.2 backend: the only package that imports onnxruntime.training.

Its modules: ort (the import shim, artifact generation, the optimizer model), forms (the graph
spellings its gradient builder needs), artifacts (the spec -> artifacts writer), session (the
TrainingSession over those artifacts) and backend (the BACKEND object the registry returns).
"""
