# Sourced by run-app.sh and test.sh, from the repository root: make .venv if it is missing and install
# the requirements file named by $1 into it. With TORCH=cpu, PyTorch comes from its CPU-only index first
# (no CUDA libraries: a far smaller .venv; docs/results.md: Installing).
[ -x .venv/bin/python ] || python3 -m venv .venv
if [ "${TORCH:-}" = cpu ]; then
    .venv/bin/python -m pip install -q --index-url https://download.pytorch.org/whl/cpu torch torchvision
fi
.venv/bin/python -m pip install -q -r "$1"
