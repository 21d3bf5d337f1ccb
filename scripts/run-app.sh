#!/usr/bin/env bash
# Install what the app needs into .venv (made on first use) and serve it at http://127.0.0.1:7860.
#     bash scripts/run-app.sh              # arguments go to app.py: --share for a public link too
#     TORCH=cpu bash scripts/run-app.sh    # PyTorch without CUDA's libraries
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh requirements.txt
exec .venv/bin/python app.py "$@"
