use clap::Parser;
use std::process::ExitCode;
use tuneprint::cli::{run, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<ExitCode> = run(cli.command).map_err(anyhow::Error::from);
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
