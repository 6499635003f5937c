//! libtorch is linked and usable from the test binaries built with the `torch` feature (set-up
//! problems surface here first), and `tuneprint-torch` links libtorch's CPU library only.
//! Run with `cargo test --release --features torch --test torch` (scripts/test.sh does).

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

/// `tuneprint-torch` links libtorch's CPU library only: the CUDA one (about 400 MB resident) is
/// loaded by `model::device()` when a model trains.
#[test]
fn the_torch_binary_loads_libtorch_cpu_but_not_cuda_at_startup() {
    let listing = loaded_libraries(env!("CARGO_BIN_EXE_tuneprint-torch"));
    assert!(listing.contains("libtorch_cpu.so"), "{listing}");
    assert!(!listing.contains("libtorch_cuda.so"), "{listing}");
    assert!(!listing.contains("not found"), "{listing}");
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
