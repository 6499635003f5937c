//! tuneprint: songs to GTZAN features, genre predictions and recommendations.
//!
//! Layers: [`audio`] decodes files to librosa's mono 22.05 kHz signal (no DSP),
//! [`features`] computes the 57 GTZAN features from samples (no files, no tch),
//! [`table`] reads and writes feature CSVs, [`extract`] runs audio + features over many files,
//! [`model`] trains and runs the CNN (the only user of tch), [`recommend`] ranks songs by cosine
//! similarity of embeddings, [`report`] draws figures, and [`cli`] implements the subcommands.

pub mod audio;
pub mod check;
pub mod cli;
pub mod config;
pub mod extract;
pub mod features;
pub mod library;
pub mod model;
pub mod recommend;
pub mod report;
pub mod serve;
pub mod table;
