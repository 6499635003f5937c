//! `tuneprint`: every command. Those that train a network (`train`, `recommend --evaluate`) run
//! in `tuneprint-torch`, which this executable starts with the same arguments; everything else
//! runs here, without loading libtorch.

use clap::Parser;
use std::process::ExitCode;
use tuneprint::cli::{delegate_to_torch, needs_torch, run_native, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = if needs_torch(&cli.command) {
        delegate_to_torch()
    } else {
        run_native(cli.command)
    };
    match result.map_err(anyhow::Error::from) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
