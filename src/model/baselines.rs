//! Classic baselines (linfa) on exactly the splits of the CNN ([`super::dataset::split`]):
//! an RBF-kernel SVM (one-vs-rest over Platt-calibrated binary SVMs), multinomial logistic
//! regression and a random forest. Each is fitted on the split's training songs (under the holdout
//! protocol, training and validation songs together: nothing here stops early) with the scaler
//! fitted on those songs, and scored once on the test songs.
//!
//! The SVM and the logistic regression are deterministic. The random forest is not quite:
//! linfa-trees 0.8.1 sums class weights out of a `HashMap` (random iteration order) when it
//! scores splits, so splits that tie exactly are broken differently from run to run, and its
//! accuracy moves by about ±0.005 between runs of the same seed.

use super::dataset::{split, Dataset, Protocol, Scaler};
use super::evaluation::mean_std;
use super::ModelError;
use crate::features::N_FEATURES;
use linfa::composing::MultiClassModel;
use linfa::prelude::*;
use linfa_ensemble::{RandomForest, RandomForestParams};
use linfa_logistic::MultiLogisticRegression;
use linfa_svm::Svm;
use linfa_trees::DecisionTree;
use ndarray::{Array1, Array2, Axis};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// SVM regularisation (as scikit-learn's `C`).
pub const SVM_C: f64 = 10.0;
/// RBF width: linfa's kernel is `exp(-|x-y|² / eps)`, so `eps = 1/gamma`; scikit-learn's
/// `gamma="scale"` is `1 / (n_features · var(X)) = 1/57` on standardised features.
pub const SVM_EPS: f64 = N_FEATURES as f64;
/// L2 weight of the logistic regression (scikit-learn's `C = 1`).
pub const LOGISTIC_ALPHA: f64 = 1.0;
/// Trees of the random forest.
pub const FOREST_TREES: usize = 100;
/// Fraction of the features each tree of the forest sees (linfa draws them once per tree).
pub const FOREST_FEATURES: f64 = 0.5;

/// The baselines, by name, in output order.
pub const NAMES: [&str; 3] = ["svm_rbf", "logistic", "random_forest"];

/// Scores of one baseline over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelScores {
    pub name: String,
    pub accuracies: Vec<f64>,
    pub mean_accuracy: f64,
    /// Population standard deviation (ddof 0).
    pub std_accuracy: f64,
}

/// `baselines.json`: what `baselines --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselinesReport {
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub seeds: Vec<u64>,
    pub models: Vec<ModelScores>,
}

fn matrix(data: &Dataset, idx: &[usize], scaler: &Scaler) -> Array2<f64> {
    let mut x = Array2::zeros((idx.len(), N_FEATURES));
    for (r, &i) in idx.iter().enumerate() {
        let row = scaler.transform(&data.features[i]);
        for (k, v) in row.iter().enumerate() {
            x[[r, k]] = *v;
        }
    }
    x
}

fn accuracy(pred: &Array1<usize>, truth: &Array1<usize>) -> f64 {
    if truth.is_empty() {
        return 0.0;
    }
    let right = pred.iter().zip(truth).filter(|(p, t)| p == t).count();
    right as f64 / truth.len() as f64
}

fn fail(model: &str, e: impl std::fmt::Display) -> ModelError {
    ModelError::Baseline {
        model: model.into(),
        reason: e.to_string(),
    }
}

/// Test accuracy of each baseline (in [`NAMES`] order) on the split of `seed`.
pub fn evaluate_seed(
    data: &Dataset,
    protocol: Protocol,
    seed: u64,
) -> Result<[f64; 3], ModelError> {
    let s = split(data, protocol, seed);
    let fit_idx = s.fit_set(protocol);
    if fit_idx.is_empty() || s.test.is_empty() {
        return Err(ModelError::Data("too few songs for the baselines".into()));
    }
    let scaler = Scaler::fit_rows(data, &fit_idx);
    let x_train = matrix(data, &fit_idx, &scaler);
    let y_train: Array1<usize> = fit_idx.iter().map(|&i| data.labels[i]).collect();
    let x_test = matrix(data, &s.test, &scaler);
    let y_test: Array1<usize> = s.test.iter().map(|&i| data.labels[i]).collect();
    let train = Dataset_::new(x_train, y_train);

    // SVM: one binary Platt-calibrated SVM per genre, the most probable wins.
    let params = Svm::<f64, Pr>::params()
        .pos_neg_weights(SVM_C, SVM_C)
        .gaussian_kernel(SVM_EPS);
    let svm = train
        .one_vs_all()
        .map_err(|e| fail("svm_rbf", e))?
        .into_iter()
        .map(|(l, d)| params.fit(&d).map(|m| (l, m)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail("svm_rbf", e))?
        .into_iter()
        .collect::<MultiClassModel<Array2<f64>, usize>>();
    let acc_svm = accuracy(&svm.predict(&x_test), &y_test);

    let logistic = MultiLogisticRegression::default()
        .alpha(LOGISTIC_ALPHA)
        .max_iterations(1000)
        .fit(&train)
        .map_err(|e| fail("logistic", e))?;
    let acc_log = accuracy(&logistic.predict(&x_test), &y_test);

    let forest = RandomForestParams::new_fixed_rng(
        DecisionTree::params(),
        StdRng::seed_from_u64(seed ^ 0x0f0f_f0f0),
    )
    .ensemble_size(FOREST_TREES)
    .bootstrap_proportion(1.0)
    .feature_proportion(FOREST_FEATURES)
    .fit(&train)
    .map_err(|e| fail("random_forest", e))?;
    let acc_rf = accuracy(&forest_vote(&forest, &x_test), &y_test);

    Ok([acc_svm, acc_log, acc_rf])
}

/// Majority vote of the forest's trees, ties to the lowest class index (linfa-ensemble breaks
/// them in `HashMap` order, which changes from run to run).
fn forest_vote(forest: &RandomForest<f64, usize>, x: &Array2<f64>) -> Array1<usize> {
    let mut votes = vec![[0u32; 10]; x.nrows()];
    for (tree, features) in forest.models.iter().zip(&forest.model_features) {
        let pred: Array1<usize> = tree.predict(&x.select(Axis(1), features));
        for (v, &p) in votes.iter_mut().zip(&pred) {
            if p < 10 {
                v[p] += 1;
            }
        }
    }
    votes
        .iter()
        .map(|v| {
            (0..10)
                .fold(
                    (0usize, 0u32),
                    |b, c| if v[c] > b.1 { (c, v[c]) } else { b },
                )
                .0
        })
        .collect()
}

type Dataset_ = linfa::DatasetBase<Array2<f64>, Array1<usize>>;

/// Runs every baseline on the splits of each seed; `progress` sees each seed's accuracies.
pub fn run(
    data: &Dataset,
    protocol: Protocol,
    seeds: &[u64],
    progress: &mut dyn FnMut(u64, &[f64; 3]),
) -> Result<BaselinesReport, ModelError> {
    let mut acc: [Vec<f64>; 3] = Default::default();
    for &seed in seeds {
        let a = evaluate_seed(data, protocol, seed)?;
        progress(seed, &a);
        for (v, x) in acc.iter_mut().zip(a) {
            v.push(x);
        }
    }
    let models = NAMES
        .iter()
        .zip(acc)
        .map(|(name, accuracies)| {
            let (m, s) = mean_std(&accuracies);
            ModelScores {
                name: name.to_string(),
                accuracies,
                mean_accuracy: m,
                std_accuracy: s,
            }
        })
        .collect();
    Ok(BaselinesReport {
        protocol: protocol.name().into(),
        note: (protocol == Protocol::Paper).then(|| {
            "the baselines never see the test set before scoring (no early stopping): \
             both protocols fit them on the same 70% of the songs"
                .to_string()
        }),
        seeds: seeds.to_vec(),
        models,
    })
}
