//! `tuneprint check`: compare a features CSV with the reference, column by column.

use super::CliError;
use crate::check::{self, REL_TOL, SIGMA_TOL};
use crate::table;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `tuneprint check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CSV to check (e.g. the output of `tuneprint extract`).
    pub csv: PathBuf,
    /// The reference table; rows are matched on the filename stem.
    /// [default: the copy of features/features_30_sec.csv built into tuneprint].
    #[arg(long, default_value = crate::config::FEATURES_CSV)]
    pub reference: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `tuneprint check`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let ours = table::read_csv(&args.csv)?;
    let reference = table::read_csv(&args.reference)?;
    let report = check::compare(&ours, &reference);
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| CliError::Failed(e.to_string()))?
        );
    } else {
        println!(
            "{:<26} {:>12} {:>12}  {:<6} worst row",
            "column", "max abs err", "max rel err", "result"
        );
        for c in &report.columns {
            println!(
                "{:<26} {:>12.3e} {:>12.3e}  {:<6} {}",
                c.name,
                c.max_abs_err,
                c.max_rel_err,
                if c.pass { "pass" } else { "FAIL" },
                c.worst_row.as_deref().unwrap_or("-")
            );
        }
        println!(
            "{} of {} columns pass on {} matched rows (tolerance |ours-ref| <= {REL_TOL:e}*|ref| + {SIGMA_TOL:e}*sigma; length and tempo exact)",
            report.passed, report.total, report.rows_matched
        );
    }
    if !report.unmatched.is_empty() {
        eprintln!(
            "note: {} rows have no reference row (e.g. {})",
            report.unmatched.len(),
            report.unmatched[0]
        );
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
