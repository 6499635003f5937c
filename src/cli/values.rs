//! How the command line spells the lower layers' choices (`--layer`, `--arch`, `--protocol`,
//! `--sort`): each value's name and the help shown for it. The types themselves live in
//! `model/` and `library/`, which know nothing of clap.

use crate::library::Sort;
use crate::model::dataset::Protocol;
use crate::model::{Arch, Layer};
use clap::builder::PossibleValue;

/// `clap::ValueEnum` for a type of a lower layer: each variant with its name and help.
macro_rules! value_enum {
    ($ty:ty { $($variant:path => $name:literal $(: $help:literal)?),+ $(,)? }) => {
        impl clap::ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($variant),+]
            }
            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(match self {
                    $($variant => PossibleValue::new($name)$(.help($help))?),+
                })
            }
        }
    };
}

value_enum!(Layer {
    Layer::Flatten => "flatten": "The flatten layer (128 channels × 26 positions = 3328 values): the paper's embedding. (The strong ensemble has none: its members' last hidden layers, as `dense`.)",
    Layer::Dense => "dense": "The 128-unit dense layer after it (the strong ensemble: its members' last hidden layers side by side)",
    Layer::Probabilities => "probabilities": "The 10 class probabilities: songs the model hears the same way, genre by genre",
    Layer::Combined => "combined": "The dense layer and the class probabilities side by side, each scaled to unit length: timbre and genre in equal parts (the best embedding of `recommend --evaluate` on validation queries, with a strong model)",
});

value_enum!(Arch {
    Arch::Blend => "blend": "The default: shrunk LDA and an MLP averaged on log-variance features, calibrated; chosen on artist-disjoint validation songs (issue 13)",
    Arch::Paper => "paper": "The paper's 1-D CNN, exactly as published",
    Arch::Strong => "strong": "An ensemble of small MLPs on log-variance features, chosen on validation data only",
});

value_enum!(Protocol {
    Protocol::Holdout => "holdout": "Stratified 70/30 split; 15% of the training part (stratified) drives early stopping; the test set is used once, at the end. Honest",
    Protocol::Paper => "paper": "Stratified 70/30 split where the test set also drives early stopping, as in the paper. Optimistic",
    Protocol::Filtered => "filtered": "The fixed artist-filtered split (`features/splits/fault_filtered_{train,valid,test}.txt`: 443/197/290 songs, no artist in two parts, 70 faulty clips left out): train on train, early-stop and tune on valid, test once. The seed only changes the training's randomness",
});

value_enum!(Sort {
    Sort::Path => "path",
    Sort::Title => "title",
    Sort::Artist => "artist",
    Sort::Album => "album",
    Sort::Year => "year",
    Sort::Duration => "duration",
    Sort::Genre => "genre",
    Sort::Added => "added": "Most recently scanned first",
});
