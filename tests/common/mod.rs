//! Helpers shared by the integration tests that run the `tuneprint` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The crate root (committed clips, fixtures).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Stdout of a run that must have succeeded (otherwise both streams are shown).
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// Stdout of a successful run, parsed as JSON.
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(o)).expect("JSON on stdout")
}

/// Runs `tuneprint` in `cwd` with `home` as its data folder and no other location set (no
/// `$TUNEPRINT_DB`, no `$XDG_DATA_HOME`).
#[allow(dead_code)] // not every test binary that shares this module runs the binary this way
pub fn run_at(cwd: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tuneprint"))
        .args(args)
        .current_dir(cwd)
        .env("TUNEPRINT_HOME", home)
        .env_remove("TUNEPRINT_DB")
        .env_remove("XDG_DATA_HOME")
        .output()
        .expect("run tuneprint")
}
