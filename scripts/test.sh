#!/usr/bin/env bash
# Install what the tests need into .venv (made on first use) and run them.
#     bash scripts/test.sh                      # arguments go to pytest: tests/test_ui.py -x, say
#     TORCH=cpu bash scripts/test.sh            # PyTorch without CUDA's libraries
# MNIST is read from $MNIST_ROOT, else downloaded into data/ on first use; the browser tests need Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
