#!/usr/bin/env bash
# Idempotent set-up on a fresh machine (Rust toolchain and python3 present): creates .venv with
# torch 2.13.0 (what tch 0.26 links against) and what the Python package needs
# (python/requirements-dev.txt), builds the workspace in release mode once: `tuneprint` (no
# libtorch; built while torch downloads) and `tuneprint-torch` (torch/: the commands that
# train, the only crate that links libtorch; `tuneprint` starts it for them), then the Python
# package's abi3 wheel (maturin, into target/wheels) and installs it into .venv.
# `--browser` instead installs only Debian's chromium, for the browser test of `tuneprint serve`.
#
# Which torch: without an NVIDIA GPU (no working `nvidia-smi`), the CPU-sized set: the exact
# torch wheel without its CUDA dependencies, plus the two CUDA libraries libtorch_cpu itself
# links (cudart, cupti): about 1.3 GB instead of 4.7 GB; training runs on the CPU. With a GPU,
# the full CUDA set. Force either: `bash scripts/setup.sh --cuda` or `--cpu` (or
# TUNEPRINT_TORCH=cuda|cpu); switching replaces .venv's torch.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VERSION=2.13.0
kind="${TUNEPRINT_TORCH:-}"
for arg in "$@"; do
    case "$arg" in
        --cuda) kind=cuda ;;
        --cpu) kind=cpu ;;
        --browser) browser_only=1 ;;
        *) echo "usage: scripts/setup.sh [--cpu | --cuda] | --browser" >&2; exit 2 ;;
    esac
done
if [ "${browser_only:-0}" = 1 ]; then
    # Headless Chromium for the browser test of `tuneprint serve` (Debian's package, nothing
    # downloaded from elsewhere); only scripts/test.sh asks for it.
    if ! command -v chromium >/dev/null 2>&1; then
        echo "setup: installing chromium (apt-get) for the browser test" >&2
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium >/dev/null
    fi
    exit 0
fi
if [ -z "$kind" ]; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        kind=cuda
    else
        kind=cpu
    fi
fi
installed_version() {
    .venv/bin/python -c 'import importlib.metadata as m; print(m.version("torch").split("+")[0])' 2>/dev/null
}
pip_q() { .venv/bin/pip install -q --disable-pip-version-check "$@"; }
install_torch() {
    python3 -m venv .venv
    if [ "$kind" = cuda ]; then
        echo "setup: installing torch==$TORCH_VERSION with its CUDA libraries into .venv (about 4.7 GB, once)" >&2
        pip_q "torch==$TORCH_VERSION"
    else
        echo "setup: installing the CPU-sized torch==$TORCH_VERSION into .venv (about 1.3 GB, once; no NVIDIA GPU found — \`bash scripts/setup.sh --cuda\` installs the CUDA set)" >&2
        pip_q --no-deps "torch==$TORCH_VERSION"
        # torch's own requirements, less the CUDA ones, plus the two CUDA libraries that
        # libtorch_cpu.so links (its NEEDED entries: libcudart, libcupti), at the versions this
        # torch names.
        mapfile -t reqs < <(.venv/bin/python - <<'PY'
import importlib.metadata as m, re
for r in m.requires("torch"):
    if "extra ==" in r:
        continue
    name = re.split(r"[\s\[<>=;!~]", r, 1)[0]
    spec = r.split(";")[0].strip()
    if name == "cuda-toolkit":
        print("cuda-toolkit[cudart,cupti]" + re.sub(r"^cuda-toolkit(\[[^\]]*\])?", "", spec))
    elif not name.startswith(("nvidia-", "cuda-", "triton")):
        print(spec)
PY
)
        pip_q --no-warn-conflicts "${reqs[@]}"
    fi
    echo "$kind" > .venv/torch-kind
}
# The Python package's build and test requirements, installed after torch (one pip at a time in
# .venv); skipped when the requirements file has not changed since they were installed.
py_reqs=python/requirements-dev.txt
py_reqs_installed() { cmp -s "$py_reqs" .venv/python-requirements.txt; }
install_python_reqs() {
    echo "setup: installing the Python package's requirements into .venv ($py_reqs)" >&2
    pip_q -r "$py_reqs" && cp "$py_reqs" .venv/python-requirements.txt
}
# The download of torch and the build of the workspace run side by side: everything but the
# crates that link libtorch compiles meanwhile (`--keep-going`; its log is shown only if the
# final build fails), then one more build finishes those. Both builds select the same packages,
# so cargo resolves the same features and nothing is compiled twice.
if [ "$(installed_version)" != "$TORCH_VERSION" ] || [ "$(cat .venv/torch-kind 2>/dev/null)" != "$kind" ]; then
    rm -f .venv/torch-kind
    (install_torch && { py_reqs_installed || install_python_reqs; }) &
    torch_pid=$!
    echo "setup: building tuneprint and tuneprint-torch (release) while torch installs" >&2
    early_log=$(mktemp)
    (TUNEPRINT_TORCH="$kind" && source scripts/env.sh && cargo build --release --quiet --workspace --keep-going) >"$early_log" 2>&1 || true
    wait "$torch_pid" || { echo "setup: installing torch into .venv failed (see above)" >&2; exit 1; }
fi
echo "setup: torch $TORCH_VERSION ($kind set) in .venv: $(du -sh .venv | cut -f1)" >&2
py_reqs_installed || install_python_reqs
source scripts/env.sh
echo "setup: building tuneprint and tuneprint-torch (release, one build of the workspace)" >&2
if ! cargo build --release --quiet --workspace; then
    [ -n "${early_log:-}" ] && { echo "setup: the log of the build made while torch installed:" >&2; cat "$early_log" >&2; }
    exit 1
fi
rm -f "${early_log:-/nonexistent}"
# The Python package: maturin builds the wheel from the same target folder (only the module
# itself and pyo3 are compiled again), pip installs it into .venv.
echo "setup: building the Python package (python/, an abi3 wheel) and installing it into .venv" >&2
rm -f target/wheels/tuneprint-*.whl
maturin_log=$(mktemp)
if ! maturin build --release -m python/Cargo.toml -o target/wheels >"$maturin_log" 2>&1; then
    cat "$maturin_log" >&2
    exit 1
fi
rm -f "$maturin_log"
wheel=(target/wheels/tuneprint-*-abi3-*.whl)
[ -f "${wheel[0]}" ] || { echo "setup: maturin built no abi3 wheel" >&2; exit 1; }
pip_q --force-reinstall --no-deps "${wheel[0]}"
echo "setup: ready: target/release/tuneprint (and tuneprint-torch, which it starts for training), the Python package tuneprint in .venv (${wheel[0]})" >&2
