#!/usr/bin/env bash
# CI's Flower deployment suite: a real flower-superlink and three flower-supernode processes on
# 127.0.0.1 train 3 rounds through `flwr run` (tests/deployment/), then must all exit cleanly.
# Flower comes with the dev extra (mlspec[federated]); nothing is built or cached.
source "$(dirname "${BASH_SOURCE[0]}")/../_venv.sh"
install_venv dev dev
start=$SECONDS
MLSPEC_FLOWER_DEPLOYMENT=1 .venv/bin/python -m pytest -q -s tests/deployment
echo "== Flower deployment suite ran in $((SECONDS - start)) s"
