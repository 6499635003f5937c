//! Every command, the training ones included: what `tuneprint-torch` runs. `train` and
//! `recommend --evaluate` are here; every other command is the `tuneprint` library's.

pub mod recommend_eval;
pub mod train;

use std::process::ExitCode;
use tuneprint::cli::{run_native, CliError, Command};

/// Runs one subcommand, any of them; the exit code says whether everything succeeded.
pub fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Train(a) => train::run(&a),
        Command::Recommend(a) if a.evaluate => recommend_eval::run(&a),
        other => run_native(other),
    }
}
