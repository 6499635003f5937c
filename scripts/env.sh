# Sourced by the other scripts: the environment tch 0.26 builds with, from the torch that
# scripts/setup.sh installed into the project's .venv.
# - The full CUDA set (a machine with an NVIDIA GPU): torch-sys asks that Python's torch for its
#   paths and version (LIBTORCH_USE_PYTORCH=1).
# - The CPU-sized set (torch without its CUDA libraries; `import torch` fails there): torch-sys is
#   pointed at the wheel's folder directly (LIBTORCH); setup.sh has checked its version.
# Usage: source scripts/env.sh
_tp_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VIRTUAL_ENV="$_tp_root/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
# The set installed (.venv/torch-kind), else the one scripts/setup.sh is installing
# ($TUNEPRINT_TORCH).
if [ "$(cat "$VIRTUAL_ENV/torch-kind" 2>/dev/null || echo "${TUNEPRINT_TORCH:-}")" = cpu ]; then
    export LIBTORCH="$VIRTUAL_ENV/lib/$(python3 -c 'import sys; print("python%d.%d" % sys.version_info[:2])')/site-packages/torch"
    export LIBTORCH_CXX11_ABI=1
    unset LIBTORCH_USE_PYTORCH
else
    export LIBTORCH_USE_PYTORCH=1
    unset LIBTORCH LIBTORCH_CXX11_ABI
fi
unset _tp_root
