//! libtorch is linked and usable from the test binaries of `tuneprint-torch` (set-up
//! problems surface here first), and `tuneprint-torch` links libtorch's CPU library only.
//! Run with `cargo test --release -p tuneprint-torch --test torch` (scripts/test.sh runs the whole
//! workspace).

use std::path::Path;
use std::process::Command;

#[test]
fn libtorch_builds_a_tensor_on_cpu() {
    assert_eq!(tuneprint_torch::libtorch_smoke(), 6.5);
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

/// `tuneprint-torch` links libtorch's CPU library only: the CUDA one (about 400 MB resident) is
/// loaded by `model::device()` when a model trains.
#[test]
fn the_torch_binary_loads_libtorch_cpu_but_not_cuda_at_startup() {
    let listing = loaded_libraries(env!("CARGO_BIN_EXE_tuneprint-torch"));
    assert!(listing.contains("libtorch_cpu.so"), "{listing}");
    assert!(!listing.contains("libtorch_cuda.so"), "{listing}");
    assert!(!listing.contains("not found"), "{listing}");
}

/// `device()` loads the CUDA backend when this libtorch has a usable one (the full pip set does;
/// the CPU-sized set that scripts/setup.sh installs without a GPU lacks the CUDA libraries it
/// needs), then picks CUDA only if a GPU is there.
#[test]
fn device_is_cuda_only_with_a_usable_backend_and_a_gpu() {
    let device = tuneprint_torch::device();
    let usable = tuneprint_torch::load_cuda_backend().is_ok();
    let has_cuda_lib = option_env!("TUNEPRINT_LIBTORCH_LIB")
        .map(|d| Path::new(d).join("libtorch_cuda.so").exists())
        .unwrap_or(false);
    assert!(has_cuda_lib || !usable);
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    assert_eq!(maps.contains("libtorch_cuda.so"), usable);
    assert_eq!(device.is_cuda(), usable && tch::Cuda::is_available());
}

/// Training never fails for want of the CUDA libraries or a GPU: it runs on the CPU and says so on
/// stderr exactly once, with the reason.
#[test]
fn training_on_a_machine_without_cuda_says_cpu_once_and_succeeds() {
    let exe = env!("CARGO_BIN_EXE_tuneprint-torch");
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(exe)
        .current_dir(&root)
        .env("CUDA_VISIBLE_DEVICES", "")
        .args([
            "train",
            "--arch",
            "paper",
            "--seeds",
            "1",
            "--max-epochs",
            "2",
            "-o",
        ])
        .arg(dir.path().join("model"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let notes: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("training on the CPU"))
        .collect();
    assert_eq!(notes.len(), 1, "{err}");
    let expected = if tuneprint_torch::load_cuda_backend().is_ok() {
        "training on the CPU: no CUDA GPU found"
    } else {
        "training on the CPU: libtorch's CUDA library is not usable here ("
    };
    assert!(notes[0].starts_with(expected), "{}", notes[0]);
    assert!(dir.path().join("model/model.json").exists());
}
