//! `tuneprint-torch`: the commands that train networks through tch (libtorch): `train` and
//! `recommend --evaluate` (it runs the others too). `tuneprint` starts it with its own
//! arguments; libtorch's folder is in its rpath, and the CUDA library is loaded only when a model
//! trains (`device()`). Built by `cargo build --release -p tuneprint-torch`.

use clap::Parser;
use std::process::ExitCode;
use tuneprint::cli::Cli;
use tuneprint_torch::cli::run;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).map_err(anyhow::Error::from) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", tuneprint::cli::error_line(e.as_ref()));
            ExitCode::from(2)
        }
    }
}
