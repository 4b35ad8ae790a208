"""Training backends: each turns a spec into artifacts and runs training steps on them."""
