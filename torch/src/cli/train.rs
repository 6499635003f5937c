//! `tuneprint train`: evaluates the paper's CNN over several seeds, then trains and saves the
//! model that `classify`, `embed` and `recommend` use.

use crate::train::{self, evaluation_json, Progress, TrainConfig, TrainOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::process::ExitCode;
use tuneprint::cli::CliError;
use tuneprint::model::dataset::read_exclude;

// The arguments live in a module of their own: `tuneprint` parses them, and is built without
// this one (`torch` feature: it reaches libtorch).
pub use tuneprint::cli::train_args::Args;

/// `T`'s defaults with the settings of the JSON object `text` (named by `flag`) put over them.
fn spec_override<T>(flag: &str, text: Option<&str>) -> Result<Option<T>, CliError>
where
    T: Default + serde::Serialize + serde::de::DeserializeOwned,
{
    let Some(text) = text else { return Ok(None) };
    let bad = |e: String| CliError::Failed(format!("{flag}: {e}"));
    let over: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let mut v = serde_json::to_value(T::default()).map_err(|e| bad(e.to_string()))?;
    let (Some(obj), Some(base)) = (over.as_object(), v.as_object_mut()) else {
        return Err(bad("expected a JSON object".into()));
    };
    for (k, x) in obj {
        if !base.contains_key(k) {
            return Err(bad(format!("unknown setting `{k}`")));
        }
        base.insert(k.clone(), x.clone());
    }
    serde_json::from_value(v)
        .map(Some)
        .map_err(|e| bad(e.to_string()))
}

/// Runs `tuneprint train`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let exclude = match &args.table.exclude {
        Some(p) => read_exclude(p)?,
        None => Vec::new(),
    };
    crate::set_cpu_threads(args.threads);
    let (own_labels, arch) = match &args.db {
        Some(db) => {
            let t = train::from_library(db, args.table.protocol, args.arch)?;
            for note in &t.notes {
                eprintln!("train --db: {note}");
            }
            (Some(t.songs), t.arch)
        }
        None => (None, args.arch),
    };
    let config = TrainConfig {
        max_epochs: args.max_epochs as usize,
        ..TrainConfig::default()
    };
    let opts = TrainOptions {
        features: args
            .db
            .clone()
            .unwrap_or_else(|| args.table.features.clone()),
        own_labels,
        protocol: args.table.protocol,
        seeds: args.seeds,
        seed: args.seed,
        exclude: exclude.clone(),
        splits: args.table.splits.clone(),
        arch,
        strong: spec_override("--strong-spec", args.strong_spec.as_deref())?,
        blend: spec_override("--blend-spec", args.blend_spec.as_deref())?,
        out_dir: tuneprint::cli::output_dir(args.output.as_deref()),
        config,
    };
    let pb =
        ProgressBar::with_draw_target(Some(args.seeds as u64 + 1), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_prefix("training");
    let started = std::time::Instant::now();
    let mut current = String::new();
    let mut progress = |p: Progress| match p {
        Progress::RunStart { seed, .. } => current = format!("seed {seed}"),
        Progress::FinalStart => current = "saved model".into(),
        Progress::Epoch(e) => pb.set_message(format!(
            "{current}: epoch {} val acc {:.3}",
            e.epoch, e.val_accuracy
        )),
        Progress::RunDone { seed, accuracy } => {
            pb.println(format!("seed {seed}: test accuracy {accuracy:.4}"));
            pb.inc(1);
        }
    };
    let summary = train::run(&opts, &mut progress)?;
    pb.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();

    let found = summary.excluded.len();
    if found < exclude.len() {
        eprintln!(
            "warning: {} of the {} excluded stems are not in {}",
            exclude.len() - found,
            exclude.len(),
            opts.features.display()
        );
    }
    print_summary(args, &summary, &config);
    eprintln!("train: {seconds:.1} s");
    Ok(ExitCode::SUCCESS)
}

/// Prints what `train` did: the evaluation and the saved model (JSON with `--json`).
fn print_summary(args: &Args, summary: &train::TrainSummary, config: &TrainConfig) {
    let found = summary.excluded.len();
    let ev = &summary.evaluation;
    if args.json {
        print!("{}", evaluation_json(ev));
    } else {
        println!(
            "protocol {} · arch {} · {} songs ({} excluded) · device {:?}",
            ev.protocol, ev.arch, summary.n_songs, found, config.device
        );
        if let Some(note) = &ev.note {
            println!("note: {note}");
        }
        for (k, r) in summary.runs.iter().enumerate() {
            println!(
                "seed {:>3}: test accuracy {:.4}  (epochs {}, best {})",
                r.seed, r.accuracy, ev.epochs[k], ev.best_epochs[k]
            );
        }
        if !ev.val_accuracies.is_empty() {
            let (m, sd) = train::mean_std(&ev.val_accuracies);
            println!(
                "mean validation accuracy {m:.4} ± {sd:.4} (what the settings were chosen by)"
            );
        }
        if let Some(b) = &ev.blend {
            for f in [&b.filtered, &b.holdout].into_iter().flatten() {
                println!(
                    "{:<8} ({} seeds, {} test songs): valid {:.4} · test {:.4} ± {:.4} · \
                     refit on train+valid: test {:.4} ± {:.4} · ECE {:.4} (untempered {:.4}, \
                     T {:.2}; refit {:.4})",
                    f.protocol,
                    f.seeds.len(),
                    f.test_size,
                    f.validation.val_accuracy,
                    f.test_accuracy,
                    f.test_accuracy_std,
                    f.refit_test_accuracy,
                    f.refit_test_accuracy_std,
                    f.ece,
                    f.ece_uncalibrated,
                    f.temperature,
                    f.refit_ece
                );
            }
            if let Some(note) = &b.note {
                println!("note: {note}");
            }
        }
        if !summary.runs.is_empty() {
            println!(
                "mean accuracy {:.4} ± {:.4} over {} seeds ({} test songs each){}",
                ev.mean_accuracy,
                ev.std_accuracy,
                summary.runs.len(),
                ev.test_size,
                if ev.note.is_some() {
                    " [optimistic]"
                } else {
                    ""
                }
            );
        }
        let info = summary.model.info();
        println!(
            "saved model → {} (trained on {} songs, {} for early stopping; {} epochs, best {})",
            summary.out_dir.display(),
            info.n_train,
            info.n_val,
            info.epochs_trained,
            info.best_epoch
        );
    }
}
