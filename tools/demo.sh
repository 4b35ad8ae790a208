#!/usr/bin/env bash
# Set up .venv on a fresh machine (if needed) and run the end-to-end demo: build a classifier,
# make it updatable, validate, convert, train on new classes and write the updated spec.
# The examples extra (scikit-learn's bundled digits) comes along, so that every command in the
# examples' READMEs runs as written afterwards.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
install_venv demo examples
.venv/bin/mlspec demo "$@"
