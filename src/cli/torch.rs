//! Every command, the training ones included: what `tuneprint-torch` runs. A module of its
//! own (as `train` and `recommend_eval`): `tuneprint` links none of the code that reaches
//! libtorch, since the linker pulls code in module by module.

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
