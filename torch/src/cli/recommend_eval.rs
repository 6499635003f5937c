//! `tuneprint recommend --evaluate`: genre precision@k of recommendations for songs the model
//! never saw.
//!
//! For each seed: the holdout split of `train` (stratified 70/30, 15% of the training part for
//! early stopping), a CNN and the strong ensemble (`--arch strong`) trained on the training
//! part, then every test song queries the whole library but itself; a recommendation counts
//! when its genre equals the query's. The baseline ranks by the raw features standardized with
//! the training songs' mean and deviation. Each model is scored with each `--layer` it offers:
//! the CNN's flatten and dense layers and class probabilities; the strong ensemble's hidden
//! layers (its members' last ones side by side) and class probabilities, and each model's
//! `combined` layer. Validation songs (which only stopped training) query too: their precision
//! is what an embedding is chosen by; the test songs' precision is the measurement.
//!
//! Then the artist-filtered split (songs by artists the models never heard): per seed the
//! default `blend` fitted on its train list (temperature on its valid list); the library is the
//! train and valid songs, the queries are the test list (the measurement) and the valid list
//! (what the default embedding is chosen by); raw standardized features as the baseline.

use crate::train::strong::{self, StrongSpec};
use crate::train::DevData;
use crate::train::{fit, mean_std, TrainConfig};
use serde_json::json;
use std::process::ExitCode;
use tuneprint::cli::embed::{combined, embed_records};
use tuneprint::cli::recommend::Args;
use tuneprint::cli::CliError;
use tuneprint::model::dataset::{split, Dataset, Protocol};
use tuneprint::model::Layer;
use tuneprint::recommend::Embeddings;
use tuneprint::table::{self, Record};

fn subset(lib: &Embeddings, idx: &[usize]) -> Embeddings {
    Embeddings {
        filenames: idx.iter().map(|&i| lib.filenames[i].clone()).collect(),
        labels: idx.iter().map(|&i| lib.labels[i].clone()).collect(),
        vectors: idx.iter().map(|&i| lib.vectors[i].clone()).collect(),
    }
}

/// Runs the evaluation.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let k = args.k.max(1);
    // One libtorch thread: on a small network two threads mostly wait on each other (as `train`).
    crate::set_cpu_threads(1);
    let rows: Vec<Record> = table::read_csv(&args.library)?;
    let data = Dataset::from_records(rows.clone(), &[], &args.library)?;
    // Dataset keeps every row (nothing excluded), so its indices are the table's.
    let names = [
        "raw features (standardized)",
        "CNN flatten layer",
        "CNN dense layer",
        "CNN probabilities",
        "CNN combined",
        "strong ensemble hidden layers",
        "strong ensemble probabilities",
        "strong ensemble combined",
    ];
    // Per embedding: precision of the validation queries (songs that only stopped training: what
    // an embedding is chosen by) and of the test queries (never seen).
    let mut val_scores: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut scores: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let pb = tuneprint::cli::progress_bar(args.seeds as usize, "training");
    for seed in 0..args.seeds {
        let sp = split(&data, Protocol::Holdout, seed);
        let libs = seed_embeddings(&data, &rows, &sp, seed)?;
        for ((v, s), lib) in val_scores.iter_mut().zip(scores.iter_mut()).zip(&libs) {
            v.push(lib.precision_at_k(&subset(lib, &sp.val), k)?);
            s.push(lib.precision_at_k(&subset(lib, &sp.test), k)?);
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let filtered = filtered_precision(args, &rows, k)?;
    let summary: Vec<_> = names
        .iter()
        .zip(scores.iter().zip(&val_scores))
        .map(|(n, (s, v))| {
            let (m, sd) = mean_std(s);
            let (vm, _) = mean_std(v);
            json!({"embedding": n, "precision": s, "mean": m, "std": sd,
                   "validation_precision": v, "validation_mean": vm})
        })
        .collect();
    if args.json {
        println!(
            "{}",
            json!({"protocol": "holdout", "k": k, "seeds": args.seeds, "results": summary,
                   "filtered": filtered.iter().map(|(n, v, s)| {
                       let (m, sd) = mean_std(s);
                       json!({"embedding": n, "precision": s, "mean": m, "std": sd,
                              "validation_precision": v, "validation_mean": mean_std(v).0})
                   }).collect::<Vec<_>>()})
        );
    } else {
        println!(
            "genre precision@{k} of recommendations ({} seed{}; test queries: songs the models never saw):",
            args.seeds,
            if args.seeds == 1 { "" } else { "s" }
        );
        println!("  {:<30} {:>10}  test queries", "embedding", "validation");
        for (n, (s, v)) in names.iter().zip(scores.iter().zip(&val_scores)) {
            let (m, sd) = mean_std(s);
            let (vm, _) = mean_std(v);
            println!("  {n:<30} {vm:>10.3}  {m:.3} ± {sd:.3}");
        }
        println!(
            "artist-filtered split (library: train + valid lists; queries: valid list to choose \
             by, test list to measure, artists never heard):"
        );
        println!("  {:<30} {:>10}  test queries", "embedding", "validation");
        for (n, v, s) in &filtered {
            let (m, sd) = mean_std(s);
            println!("  {n:<30} {:>10.3}  {m:.3} ± {sd:.3}", mean_std(v).0);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The eight embeddings of every row for one seed: the raw features standardised by the CNN's
/// scaler, the CNN's four layers and the strong ensemble's three (both fitted on the seed's
/// training part), in the order of the names `run` prints.
fn seed_embeddings(
    data: &Dataset,
    rows: &[Record],
    sp: &tuneprint::model::dataset::Split,
    seed: u64,
) -> Result<[Embeddings; 8], CliError> {
    let fitted = fit(
        data,
        &sp.train,
        &sp.val,
        seed,
        &TrainConfig::default(),
        &mut |_| {},
    )?;
    let clf = fitted.into_classifier(Protocol::Holdout, seed, sp.val.len())?;
    let scaler = clf.scaler();
    let raw = Embeddings {
        filenames: rows.iter().map(|r| r.filename.clone()).collect(),
        labels: rows.iter().map(|r| r.label.clone()).collect(),
        vectors: rows
            .iter()
            .map(|r| {
                scaler
                    .transform(&r.features)
                    .iter()
                    .map(|&v| v as f32)
                    .collect()
            })
            .collect(),
    };
    let dev = DevData::new(data, &sp.train, &sp.val);
    let strong = strong::fit(
        &dev,
        seed,
        &StrongSpec::default(),
        &TrainConfig::default(),
        &mut |_| {},
    )?;
    let feats: Vec<_> = rows.iter().map(|r| r.features).collect();
    let with = |vectors: Vec<Vec<f32>>| Embeddings {
        filenames: rows.iter().map(|r| r.filename.clone()).collect(),
        labels: rows.iter().map(|r| r.label.clone()).collect(),
        vectors,
    };
    let (hidden, proba) = (strong.embed_rows(&feats), strong.proba_rows(&feats));
    Ok([
        raw,
        embed_records(&clf, Layer::Flatten, rows),
        embed_records(&clf, Layer::Dense, rows),
        embed_records(&clf, Layer::Probabilities, rows),
        embed_records(&clf, Layer::Combined, rows),
        with(hidden.clone()),
        with(proba.clone()),
        with(combined(hidden, proba)),
    ])
}

/// Genre precision@k on the artist-filtered split, per embedding: (name, validation-query
/// precision per seed, test-query precision per seed). Per seed the default blend is fitted on
/// the train list and tempered on the valid list; the library is train + valid.
fn filtered_precision(args: &Args, rows: &[Record], k: usize) -> Result<Vec<Scored>, CliError> {
    use crate::train::blend as blend_train;
    use tuneprint::model::blend::BlendSpec;
    let data = Dataset::from_records(rows.to_vec(), &[], &args.library)?;
    let fixed = tuneprint::model::dataset::FixedSplit::read(
        &tuneprint::model::dataset::FixedSplit::locate(&args.library, None),
    )?;
    let data = data.restrict_to(&fixed);
    let sp = split(&data, Protocol::Filtered, 0);
    let lib_idx: Vec<usize> = sp.train.iter().chain(&sp.val).copied().collect();
    let library_of = |vectors: &[Vec<f32>]| Embeddings {
        filenames: lib_idx
            .iter()
            .map(|&i| format!("{}.au", data.stems[i]))
            .collect(),
        labels: lib_idx
            .iter()
            .map(|&i| GENRE_NAMES[data.labels[i]].to_string())
            .collect(),
        vectors: lib_idx.iter().map(|&i| vectors[i].clone()).collect(),
    };
    let queries_of = |vectors: &[Vec<f32>], idx: &[usize]| Embeddings {
        filenames: idx
            .iter()
            .map(|&i| format!("{}.au", data.stems[i]))
            .collect(),
        labels: idx
            .iter()
            .map(|&i| GENRE_NAMES[data.labels[i]].to_string())
            .collect(),
        vectors: idx.iter().map(|&i| vectors[i].clone()).collect(),
    };
    let names = [
        "raw features (standardized)",
        "blend probabilities",
        "blend MLP hidden layer",
        "blend combined",
    ];
    let mut out: Vec<Scored> = names.iter().map(|n| (*n, Vec::new(), Vec::new())).collect();
    let scaler = tuneprint::model::dataset::Scaler::fit_rows(&data, &sp.train);
    let raw: Vec<Vec<f32>> = data
        .features
        .iter()
        .map(|r| scaler.transform(r).iter().map(|&v| v as f32).collect())
        .collect();
    let pb = tuneprint::cli::progress_bar(args.seeds as usize, "filtered split");
    for seed in 0..args.seeds {
        let dev = DevData::new(&data, &sp.train, &sp.val);
        let fitted = blend_train::fit(
            &dev,
            seed,
            &BlendSpec::default(),
            &TrainConfig::default(),
            false,
            &mut |_| {},
        )?;
        let proba = fitted.proba(&data.features);
        let hidden = fitted.hidden(&data.features);
        let both = combined(hidden.clone(), proba.clone());
        for ((_, v, t), vectors) in out.iter_mut().zip([&raw, &proba, &hidden, &both]) {
            let lib = library_of(vectors);
            v.push(lib.precision_at_k(&queries_of(vectors, &sp.val), k)?);
            t.push(lib.precision_at_k(&queries_of(vectors, &sp.test), k)?);
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(out)
}

/// An embedding's name with its validation-query and test-query precision per seed.
type Scored = (&'static str, Vec<f64>, Vec<f64>);

/// Genre names by class index.
const GENRE_NAMES: [&str; 10] = tuneprint::config::GENRES;
