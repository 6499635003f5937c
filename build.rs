//! Embeds an rpath to libtorch's folder so the binaries run without `LD_LIBRARY_PATH`,
//! and keeps libtorch_cuda linked so CUDA is found at run time when a GPU exists.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // torch-sys (links = "tch") exports the folder it linked libtorch from.
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        let cuda = std::path::Path::new(&lib).join("libtorch_cuda.so");
        if cuda.exists() {
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
            println!("cargo:rustc-link-arg={}", cuda.display());
            println!("cargo:rustc-link-arg=-Wl,--as-needed");
        }
    }
}
