//! Embeds an rpath to libtorch's folder so the binaries run without `LD_LIBRARY_PATH`, and tells
//! the code where that folder is: `device()` loads libtorch_cuda from it at run time (only
//! commands that train pay for the CUDA libraries).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // torch-sys (links = "tch") exports the folder it linked libtorch from.
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        println!("cargo:rustc-env=TUNEPRINT_LIBTORCH_LIB={lib}");
    }
}
