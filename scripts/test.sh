#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up (idempotent), then every test of the workspace
# in one run (unit, integration, and the criterion benches once each in test mode; the
# library's and `tuneprint`'s, and those of `tuneprint-torch`, the only crate that links
# libtorch), with a single-node Slurm cluster started on this machine for tests/cluster.rs and
# stopped at the end; beside them the Python package's tests (pytest, against the wheel
# setup.sh installed into .venv; a run that collects no test fails); then rustfmt and clippy
# over the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0
bash scripts/setup.sh
source scripts/env.sh
# "test.sh: WHAT after N s" on stderr: where the suite's time goes.
phase() { echo "test.sh: $1 after $SECONDS s" >&2; }
phase "set-up done"
log=$(mktemp)
# Tests that miss a precondition (tuneprint::config::skip_test) record it here; under CI=true
# they fail instead.
export TUNEPRINT_SKIP_LOG
TUNEPRINT_SKIP_LOG=$(mktemp)
slurm_out=$(mktemp)
pylog=$(mktemp)
cleanup() {
    bash scripts/cluster/slurm-local.sh stop >/dev/null 2>&1 || true
    rm -f "$log" "$pylog" "$TUNEPRINT_SKIP_LOG" "$slurm_out" "$slurm_out.failed"
}
trap cleanup EXIT
# While the tests compile: Chromium (for the browser test) is installed, then a single-node
# Slurm cluster (for tests/cluster.rs) is installed and started on this machine; one after the
# other, as both may need apt-get.
(
    rc=0
    bash scripts/setup.sh --browser || rc=$?
    bash scripts/cluster/slurm-local.sh start >"$slurm_out" 2>&1 || touch "$slurm_out.failed"
    exit "$rc"
) &
background=$!
cargo test --release --workspace --all-targets --no-run --quiet
phase "the tests compiled"
wait "$background"
if [ -e "$slurm_out.failed" ]; then
    # tests/cluster.rs then fails under CI=true (skipped, and counted, elsewhere).
    echo "warning: no Slurm cluster for tests/cluster.rs:" >&2
    tail -n 20 "$slurm_out" >&2
else
    eval "$(tail -n 1 "$slurm_out")"
fi
# The Python package's tests (against the wheel setup.sh installed) run beside the Rust ones:
# they need no cargo, and neither set keeps both cores busy. pytest exits 5 when it collects no
# test: that fails this script too.
wheel=(target/wheels/tuneprint-*.whl)
(
    TUNEPRINT_BIN="$PWD/target/release/tuneprint" TUNEPRINT_WHEEL="${wheel[0]}" \
        python -m pytest -p no:cacheprovider python/tests >"$pylog" 2>&1
) &
pytest_pid=$!
cargo test --release --workspace --all-targets 2>&1 | tee "$log"
phase "the Rust tests ran"
py_rc=0
wait "$pytest_pid" || py_rc=$?
cat "$pylog"
[ "$py_rc" = 0 ] || { echo "test.sh: pytest failed (exit $py_rc)" >&2; exit 1; }
phase "the Python tests ran"
cargo fmt --all --check
cargo clippy --release --workspace --all-targets --quiet -- -D warnings
phase "rustfmt and clippy passed"
# One closing line over every test binary: a test that skipped for a missing precondition is
# counted as skipped (and named), not as passed.
missing=$(wc -l <"$TUNEPRINT_SKIP_LOG")
# pytest's last line: "== 29 passed, 1 skipped in 10.9s ==".
read -r py_p py_f py_s < <(tail -n 1 "$pylog" | awk '{ for (k = 2; k <= NF; k++) { if ($k ~ /^passed/) p = $(k-1); if ($k ~ /^failed/) f = $(k-1); if ($k ~ /^skipped/) s = $(k-1) } } END { print p + 0, f + 0, s + 0 }')
awk -v m="$missing" -v pp="$py_p" -v pf="$py_f" -v ps="$py_s" '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed, %d skipped (%d ignored, %d missing a precondition; Rust %d passed, Python %d passed)\n", p - m + pp, f + pf, i + m + ps, i + ps, m, p - m, pp }' "$log"
sed 's/^/  skipped: /' "$TUNEPRINT_SKIP_LOG"
