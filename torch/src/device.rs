//! Process-wide libtorch set-up (tch): only `tuneprint-torch` and the tests call these; a
//! module of its own so that nothing `tuneprint` links reaches libtorch.

use tch::Device;

/// Whether libtorch is linked and usable (tch): builds a small tensor and sums it.
pub fn libtorch_smoke() -> f64 {
    let t = tch::Tensor::from_slice(&[1.0f64, 2.0, 3.5]);
    t.sum(tch::Kind::Double).double_value(&[])
}

/// Where models run: CUDA when a GPU and CUDA-enabled libtorch exist, else the CPU.
///
/// The binary does not link libtorch's CUDA library (about 400 MB resident once loaded, which
/// `extract` and `check` never need), so the first call loads it here, from the libtorch folder the
/// build linked against (then the dynamic loader's search path), before asking libtorch for a GPU.
/// When training runs on the CPU, the first call says so on stderr, once, with the reason: no
/// CUDA libraries (the CPU-sized torch that scripts/setup.sh installs without a GPU), or no GPU.
pub fn device() -> Device {
    static DEVICE: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    *DEVICE.get_or_init(|| {
        let (device, note) = choose_device();
        if let Some(note) = note {
            eprintln!("{note}");
        }
        device
    })
}

/// The device and, when it is the CPU, the line that says why.
fn choose_device() -> (Device, Option<String>) {
    if let Err(why) = load_cuda_backend() {
        return (Device::Cpu, Some(format!("training on the CPU: {why}")));
    }
    match Device::cuda_if_available() {
        Device::Cpu => (
            Device::Cpu,
            Some("training on the CPU: no CUDA GPU found".to_string()),
        ),
        cuda => (cuda, None),
    }
}

/// Loads `libtorch_cuda.so` into the process (global symbols), so that libtorch registers its
/// CUDA backend. A CPU-only libtorch has no such file, and a torch installed without its CUDA
/// libraries cannot load it: the error says which, in one line.
pub fn load_cuda_backend() -> Result<(), String> {
    const NAME: &str = "libtorch_cuda.so";
    let mut candidates = Vec::new();
    if let Some(dir) = option_env!("TUNEPRINT_LIBTORCH_LIB") {
        candidates.push(format!("{dir}/{NAME}"));
    }
    candidates.push(NAME.to_string());
    let mut last_error = String::new();
    for path in candidates {
        let Ok(c_path) = std::ffi::CString::new(path) else {
            continue;
        };
        // SAFETY: dlopen with a valid NUL-terminated path; the handle is kept open for the
        // life of the process (never dlclose'd), as libtorch's registrations require. dlerror
        // returns the thread's last loader error as a NUL-terminated string (or null).
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        if !handle.is_null() {
            return Ok(());
        }
        let err = unsafe { libc::dlerror() };
        if !err.is_null() {
            last_error = unsafe { std::ffi::CStr::from_ptr(err) }
                .to_string_lossy()
                .into_owned();
        }
    }
    Err(format!(
        "libtorch's CUDA library is not usable here ({})",
        if last_error.is_empty() {
            "not found"
        } else {
            &last_error
        }
    ))
}

/// Sets the number of CPU threads libtorch uses in this process (0 leaves its default, one per
/// core). The CNN's mini-batches are small: one thread is about as fast as two on an idle
/// machine and far faster on a busy one, where libtorch's threads wait on each other.
pub fn set_cpu_threads(n: usize) {
    if n > 0 {
        tch::set_num_threads(n.min(i32::MAX as usize) as i32);
    }
}
