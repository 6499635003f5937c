//! Every command, the training ones included: what `tuneprint-torch` runs. Compiled only with
//! the `torch` feature (as `train` and `recommend_eval`), so `tuneprint`, built without it,
//! contains no code that reaches libtorch.

use super::{recommend_eval, run_native, train, CliError, Command};
use std::process::ExitCode;

/// Runs one subcommand, any of them; the exit code says whether everything succeeded.
pub fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Train(a) => train::run(&a),
        Command::Recommend(a) if a.evaluate => recommend_eval::run(&a),
        other => run_native(other),
    }
}
