#!/usr/bin/env bash
# Set up .venv on a fresh machine (if needed) and run the end-to-end demo: build a classifier,
# make it updatable, validate, convert, train on new classes and write the updated spec.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
install_venv base
.venv/bin/mlspec demo "$@"
