//! `tuneprint` loads no libtorch: only the workspace member `tuneprint-torch` (`torch/`: the
//! commands that train, and the tests that call tch in process) depends on tch; and without
//! `tuneprint-torch` beside it, the commands that train fail with one line while the others run.

use std::path::Path;
use std::process::Command;

/// What the dynamic loader maps for `exe` at start-up: glibc's loader lists what a binary pulls
/// in when `LD_TRACE_LOADED_OBJECTS` is set (what `ldd` does) and runs nothing.
fn loaded_libraries(exe: &str) -> String {
    let out = Command::new(exe)
        .env("LD_TRACE_LOADED_OBJECTS", "1")
        .output()
        .expect("run the binary under the loader trace");
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(listing.contains("libc.so"), "no loader listing: {listing}");
    listing
}

/// The NEEDED entries of an ELF executable's dynamic section (what `readelf -d` lists).
fn needed_libraries(exe: &str) -> Vec<String> {
    let out = Command::new("readelf")
        .args(["-d", exe])
        .output()
        .expect("run readelf (binutils)");
    assert!(out.status.success(), "readelf -d {exe} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split('[').nth(1)?.trim_end_matches(']').to_string()))
        .collect()
}

/// `tuneprint` runs every command that trains nothing natively (inference included) and its crate
/// does not depend on tch, so it loads no libtorch library at all: none is in what the
/// loader maps, and none is a NEEDED entry of the executable.
#[test]
fn tuneprint_loads_no_libtorch() {
    let listing = loaded_libraries(env!("CARGO_BIN_EXE_tuneprint"));
    for lib in [
        "libtorch_cpu",
        "libtorch.so",
        "libc10",
        "libtorch_cuda",
        "libgomp",
    ] {
        assert!(!listing.contains(lib), "{lib} in\n{listing}");
    }
    let needed = needed_libraries(env!("CARGO_BIN_EXE_tuneprint"));
    assert!(
        needed.iter().any(|l| l.starts_with("libc.so")),
        "{needed:?}"
    );
    assert!(
        !needed
            .iter()
            .any(|l| l.contains("torch") || l.starts_with("libc10")),
        "{needed:?}"
    );
}

/// Without `tuneprint-torch` beside it, `tuneprint train` fails with one line naming the file,
/// and the commands that train nothing still run.
#[test]
fn train_without_the_torch_binary_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("tuneprint");
    std::fs::copy(env!("CARGO_BIN_EXE_tuneprint"), &exe).unwrap();
    let out = Command::new(&exe)
        .args(["train", "--seeds", "0", "-o"])
        .arg(dir.path().join("model"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let missing = dir.path().join("tuneprint-torch");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains(&missing.display().to_string()),
        "{err}"
    );
    assert!(!dir.path().join("model").exists());
    let clip = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio");
    let first = std::fs::read_dir(&clip)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "wav"))
        .unwrap();
    // Its arguments are still known: help needs no tuneprint-torch.
    let out = Command::new(&exe)
        .args(["train", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--max-epochs"));
    let out = Command::new(&exe)
        .arg("decode")
        .arg(&first)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
