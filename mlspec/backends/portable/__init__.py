"""The portable backend: the backward pass and the optimizer written as standard ONNX ops."""
