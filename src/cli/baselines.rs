//! `tuneprint baselines`: classic models (linfa) on the very splits `train` uses.

use super::train_args::TableArgs;
use super::CliError;
use crate::model::baselines::{self, NAMES};
use crate::model::dataset::{read_exclude, Dataset};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `tuneprint baselines`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub table: TableArgs,
    /// Number of splits (seeds S, S+1, ...).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Model directory to write `baselines.json` into.
    /// [default: $TUNEPRINT_HOME/models/default, where the other commands look]
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Print the results as JSON on stdout (what `baselines.json` holds).
    #[arg(long)]
    pub json: bool,
}

/// Runs `tuneprint baselines`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let exclude = match &args.table.exclude {
        Some(p) => read_exclude(p)?,
        None => Vec::new(),
    };
    let data = Dataset::load_for(
        &args.table.features,
        &exclude,
        args.table.protocol,
        args.table.splits.as_deref(),
    )?;
    let seeds: Vec<u64> = (0..args.seeds).map(|k| args.seed.wrapping_add(k)).collect();
    let pb = ProgressBar::with_draw_target(Some(seeds.len() as u64), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_prefix("baselines");
    let started = std::time::Instant::now();
    let report = baselines::run(&data, args.table.protocol, &seeds, &mut |seed, acc| {
        let parts: Vec<String> = NAMES
            .iter()
            .zip(acc)
            .map(|(n, a)| format!("{n} {a:.4}"))
            .collect();
        pb.println(format!("seed {seed}: {}", parts.join(", ")));
        pb.inc(1);
    })
    .map_err(|e| e.in_table(&args.table.features))?;
    pb.finish_and_clear();
    let mut text = serde_json::to_string_pretty(&report)
        .map_err(|e| CliError::Failed(format!("cannot serialise the baselines: {e}")))?;
    text.push('\n');
    let path = super::output_dir(args.output.as_deref()).join("baselines.json");
    crate::table::write_atomic(&path, text.as_bytes())?;
    if args.json {
        print!("{text}");
    } else {
        println!(
            "protocol {} · {} songs · {} seeds",
            report.protocol,
            data.len(),
            seeds.len()
        );
        if let Some(n) = &report.note {
            println!("note: {n}");
        }
        for m in &report.models {
            println!(
                "{:<14} {:.4} ± {:.4}",
                m.name, m.mean_accuracy, m.std_accuracy
            );
        }
        println!("wrote {}", path.display());
    }
    eprintln!("baselines: {:.1} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
