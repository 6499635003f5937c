# Sourced by the other scripts: the environment tch 0.26 builds with (torch from the project's .venv).
# Usage: source scripts/env.sh
_tp_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VIRTUAL_ENV="$_tp_root/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
unset _tp_root
