//! The part of tuneprint that trains networks through tch (libtorch): the paper's CNN, the strong
//! ensemble and the default blend, their seed loops and saved model directories, and the commands
//! that run them (`train`, `recommend --evaluate`). This crate is the only one that links
//! libtorch; it sits on top of the `tuneprint` library, which runs every trained model natively.

pub mod cli;
pub mod cnn;
pub mod device;
pub mod train;

pub use train::{blend as blend_train, strong};

pub use device::{device, libtorch_smoke, load_cuda_backend, set_cpu_threads};
