//! Songs as training data: reading a features table (with exclusions), stratified splits that
//! depend only on the seed and the set of songs, and the standard scaler.
//!
//! The splits are shared by `train`, `baselines` and `recommend --evaluate`: the same table, the
//! same exclusions and the same seed always give the same split, whatever the row order.

use super::ModelError;
use crate::config::{GENRES, TEST_FRACTION, VAL_FRACTION};
use crate::features::{FeatureVector, FEATURE_COLUMNS, N_FEATURES};
use crate::table::{self, Record, TableError};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::Path;

/// Labelled songs: features and genre index (into [`Dataset::genres`]) of each, in table order.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The label set, in class index order: [`GENRES`] for GTZAN tables, or the user's own
    /// genres (see [`Dataset::from_any_labels`]).
    pub genres: Vec<String>,
    /// Filename stems, e.g. `rock.00003`.
    pub stems: Vec<String>,
    /// The 57 features of each song.
    pub features: Vec<FeatureVector>,
    /// Genre index of each song (into `genres`).
    pub labels: Vec<usize>,
    /// Stems of the exclusion list that were found in the table and removed.
    pub excluded: Vec<String>,
    /// The fixed part of each song under [`Protocol::Filtered`] (set by
    /// [`Dataset::restrict_to`]); `None` for the seeded protocols.
    pub parts: Option<Vec<Part>>,
}

/// The records of a table split into those kept (with their row index) and the stems of those
/// set aside: whose stem or file name is in `exclude`, or that `drop` rejects. Both in order.
fn set_aside(
    records: Vec<Record>,
    exclude: &[String],
    drop: impl Fn(&Record) -> bool,
) -> (Vec<(usize, Record)>, Vec<String>) {
    let exclude: std::collections::HashSet<&str> = exclude.iter().map(String::as_str).collect();
    let mut kept = Vec::new();
    let mut excluded = Vec::new();
    for (r, rec) in records.into_iter().enumerate() {
        let stem = rec.stem();
        if drop(&rec) || exclude.contains(stem) || exclude.contains(rec.filename.as_str()) {
            excluded.push(stem.to_string());
        } else {
            kept.push((r, rec));
        }
    }
    (kept, excluded)
}

impl Dataset {
    /// Number of songs.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no songs.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The songs at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        Dataset {
            genres: self.genres.clone(),
            stems: idx.iter().map(|&i| self.stems[i].clone()).collect(),
            features: idx.iter().map(|&i| self.features[i]).collect(),
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            excluded: Vec::new(),
            parts: self
                .parts
                .as_ref()
                .map(|p| idx.iter().map(|&i| p[i]).collect()),
        }
    }

    /// Builds a dataset from table records. Rows whose stem is in `exclude` are dropped first;
    /// every other row must carry one of the 10 GTZAN genres as label (else an error naming the
    /// row, counted from 1 as in [`table::read_csv`], and the column). `path` names the table in
    /// errors.
    pub fn from_records(
        records: Vec<Record>,
        exclude: &[String],
        path: &Path,
    ) -> Result<Dataset, ModelError> {
        let (kept, excluded) = set_aside(records, exclude, |_| false);
        let mut data = Dataset {
            genres: gtzan_genres(),
            stems: Vec::new(),
            features: Vec::new(),
            labels: Vec::new(),
            excluded,
            parts: None,
        };
        for (r, rec) in kept {
            let stem = rec.stem().to_string();
            let label = genre_index(&rec.label).ok_or_else(|| TableError::Cell {
                path: path.to_path_buf(),
                row: r + 1,
                column: "label".into(),
                reason: format!(
                    "`{}` is not a GTZAN genre (one of {})",
                    rec.label,
                    GENRES.join(", ")
                ),
            })?;
            data.stems.push(stem);
            data.features.push(rec.features);
            data.labels.push(label);
        }
        Ok(data)
    }

    /// Builds a dataset whose label set is the table's own: the distinct non-empty labels, sorted
    /// (any names, any number from 2 up). Rows without a label are left out, as are rows whose
    /// stem or filename is in `exclude`; both join [`Dataset::excluded`].
    pub fn from_any_labels(
        records: Vec<Record>,
        exclude: &[String],
        path: &Path,
    ) -> Result<Dataset, ModelError> {
        let (kept, excluded) = set_aside(records, exclude, |r| r.label.trim().is_empty());
        let kept: Vec<Record> = kept.into_iter().map(|(_, r)| r).collect();
        let mut genres: Vec<String> = kept.iter().map(|r| r.label.trim().to_string()).collect();
        genres.sort();
        genres.dedup();
        if genres.len() < 2 {
            return Err(ModelError::Data(format!(
                "{}: {} genre{} among the labelled songs ({}): a classifier needs at least 2",
                path.display(),
                genres.len(),
                if genres.len() == 1 { "" } else { "s" },
                kept.len()
            )));
        }
        let index: std::collections::HashMap<&str, usize> = genres
            .iter()
            .enumerate()
            .map(|(i, g)| (g.as_str(), i))
            .collect();
        let labels = kept.iter().map(|r| index[r.label.trim()]).collect();
        Ok(Dataset {
            stems: kept.iter().map(|r| r.stem().to_string()).collect(),
            features: kept.iter().map(|r| r.features).collect(),
            labels,
            genres,
            excluded,
            parts: None,
        })
    }

    /// Reads a features table and drops the songs whose stem is in `exclude`.
    pub fn load(path: &Path, exclude: &[String]) -> Result<Dataset, ModelError> {
        let records = table::read_csv(path)?;
        Dataset::from_records(records, exclude, path)
    }

    /// Reads a features table for `protocol`: drops the songs in `exclude`, and under
    /// [`Protocol::Filtered`] keeps only the songs of the split lists in `splits_dir` (see
    /// [`FixedSplit::locate`] when it is `None`), each tagged with its part.
    pub fn load_for(
        path: &Path,
        exclude: &[String],
        protocol: Protocol,
        splits_dir: Option<&Path>,
    ) -> Result<Dataset, ModelError> {
        let mut data = Dataset::load(path, exclude)?;
        if protocol == Protocol::Filtered {
            let fixed = FixedSplit::read(&FixedSplit::locate(path, splits_dir))?;
            data = data.restrict_to(&fixed);
        }
        Ok(data)
    }

    /// Keeps only the songs named by `fixed` (the others join [`Dataset::excluded`]) and records
    /// the part of each.
    pub fn restrict_to(mut self, fixed: &FixedSplit) -> Dataset {
        let part: std::collections::HashMap<&str, Part> = fixed
            .train
            .iter()
            .map(|s| (s.as_str(), Part::Train))
            .chain(fixed.valid.iter().map(|s| (s.as_str(), Part::Valid)))
            .chain(fixed.test.iter().map(|s| (s.as_str(), Part::Test)))
            .collect();
        let mut keep = Vec::new();
        let mut parts = Vec::new();
        for (i, stem) in self.stems.iter().enumerate() {
            match part.get(stem.as_str()) {
                Some(&p) => {
                    keep.push(i);
                    parts.push(p);
                }
                None => self.excluded.push(stem.clone()),
            }
        }
        let mut out = self.subset(&keep);
        out.excluded = self.excluded;
        out.parts = Some(parts);
        out
    }

    /// Number of songs of each genre.
    pub fn genre_counts(&self) -> Vec<usize> {
        let mut c = vec![0usize; self.genres.len()];
        for &l in &self.labels {
            c[l] += 1;
        }
        c
    }
}

/// [`GENRES`] as owned strings: the label set of GTZAN tables.
pub fn gtzan_genres() -> Vec<String> {
    GENRES.iter().map(|g| g.to_string()).collect()
}

/// The class index of a genre name, if it is one of [`GENRES`].
pub fn genre_index(name: &str) -> Option<usize> {
    GENRES.iter().position(|g| *g == name.trim())
}

/// Reads an exclusion list: one filename stem per line (e.g. `rock.00003`); blank lines and
/// lines starting with `#` are ignored, as is anything after a `#`.
/// A `builtin:` name ([`crate::config::builtin_file`]) reads the copy built into the binary.
pub fn read_exclude(path: &Path) -> Result<Vec<String>, ModelError> {
    if let Some(text) = crate::config::builtin_file(path) {
        return Ok(parse_exclude(text));
    }
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(parse_exclude(&text))
}

/// Parses the text of an exclusion list (see [`read_exclude`]).
pub fn parse_exclude(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Indices of the `*_var` columns (the blend and the strong ensemble take their logarithm).
pub fn variance_columns() -> Vec<usize> {
    FEATURE_COLUMNS
        .iter()
        .enumerate()
        .filter(|(_, c)| c.ends_with("_var"))
        .map(|(i, _)| i)
        .collect()
}

/// How the test set is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// Stratified 70/30 split; 15% of the training part (stratified) drives early stopping;
    /// the test set is used once, at the end. Honest.
    #[default]
    Holdout,
    /// Stratified 70/30 split where the test set also drives early stopping, as in the paper.
    /// Optimistic.
    Paper,
    /// The fixed artist-filtered split (`features/splits/fault_filtered_{train,valid,test}.txt`:
    /// 443/197/290 songs, no artist in two parts, 70 faulty clips left out): train on train,
    /// early-stop and tune on valid, test once. The seed only changes the training's randomness.
    Filtered,
}

impl Protocol {
    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Holdout => "holdout",
            Protocol::Paper => "paper",
            Protocol::Filtered => "filtered",
        }
    }

    /// A warning to print with every result of this protocol, if any.
    pub fn caveat(self) -> Option<&'static str> {
        match self {
            Protocol::Holdout | Protocol::Filtered => None,
            Protocol::Paper => Some(
                "optimistic: the test set also drove early stopping (paper protocol); \
                 use --protocol holdout for an honest estimate",
            ),
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Indices (into a [`Dataset`]) of the songs of each part of one split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Songs the weights are fitted on.
    pub train: Vec<usize>,
    /// Songs that drive early stopping (the test songs under [`Protocol::Paper`]).
    pub val: Vec<usize>,
    /// Songs the accuracy is measured on.
    pub test: Vec<usize>,
}

impl Split {
    /// Every song the model may learn from without touching the test set: train and val
    /// together (under the paper protocol, train alone). The classic baselines fit on this.
    pub fn fit_set(&self, protocol: Protocol) -> Vec<usize> {
        let mut v = self.train.clone();
        if protocol != Protocol::Paper {
            v.extend_from_slice(&self.val);
        }
        v.sort_unstable();
        v
    }
}

/// Splits `idx` by genre: from each genre, `round(n * fraction)` songs (at least one of each part
/// when the genre has two or more songs) go to the second part. Within a genre the songs are
/// ordered by stem before the seeded shuffle, so the result does not depend on row order.
/// Both parts come back sorted.
pub fn stratified_split(
    data: &Dataset,
    idx: &[usize],
    fraction: f64,
    rng: &mut StdRng,
) -> (Vec<usize>, Vec<usize>) {
    let mut keep = Vec::new();
    let mut held = Vec::new();
    for g in 0..data.genres.len() {
        let mut members: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|&i| data.labels[i] == g)
            .collect();
        members.sort_by(|&a, &b| data.stems[a].cmp(&data.stems[b]).then(a.cmp(&b)));
        members.shuffle(rng);
        let n = members.len();
        let mut k = (n as f64 * fraction).round() as usize;
        if n >= 2 {
            k = k.clamp(1, n - 1);
        } else {
            k = k.min(n);
        }
        held.extend_from_slice(&members[..k]);
        keep.extend_from_slice(&members[k..]);
    }
    keep.sort_unstable();
    held.sort_unstable();
    (keep, held)
}

/// The split of one evaluation run: stratified 70/30 train/test, then (holdout) 15% of the
/// training part as validation set, or (paper) the test set as validation set; (filtered) the
/// parts recorded by [`Dataset::restrict_to`], whatever the seed (all empty when the dataset
/// was not restricted: callers then refuse it as too small).
pub fn split(data: &Dataset, protocol: Protocol, seed: u64) -> Split {
    if protocol == Protocol::Filtered {
        return fixed_parts(data);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let all: Vec<usize> = (0..data.len()).collect();
    let (train_all, test) = stratified_split(data, &all, TEST_FRACTION, &mut rng);
    match protocol {
        Protocol::Holdout => {
            let (train, val) = stratified_split(data, &train_all, VAL_FRACTION, &mut rng);
            Split { train, val, test }
        }
        Protocol::Paper => Split {
            train: train_all,
            val: test.clone(),
            test,
        },
        Protocol::Filtered => fixed_parts(data),
    }
}

fn fixed_parts(data: &Dataset) -> Split {
    let of = |want: Part| -> Vec<usize> {
        data.parts
            .iter()
            .flatten()
            .enumerate()
            .filter(|(_, &p)| p == want)
            .map(|(i, _)| i)
            .collect()
    };
    Split {
        train: of(Part::Train),
        val: of(Part::Valid),
        test: of(Part::Test),
    }
}

/// The part of the fixed split a song belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Train,
    Valid,
    Test,
}

/// The artist-filtered split lists: stems of each part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedSplit {
    pub train: Vec<String>,
    pub valid: Vec<String>,
    pub test: Vec<String>,
}

/// File names of the split lists inside their folder (train, valid, test).
pub const FILTERED_FILES: [&str; 3] = [
    "fault_filtered_train.txt",
    "fault_filtered_valid.txt",
    "fault_filtered_test.txt",
];

impl FixedSplit {
    /// Reads the three lists of `dir` ([`FILTERED_FILES`], one stem per line, `#` comments);
    /// refuses a stem listed twice or in two parts.
    pub fn read(dir: &Path) -> Result<FixedSplit, ModelError> {
        let mut lists = Vec::new();
        let mut seen: std::collections::HashMap<String, &str> = Default::default();
        for name in FILTERED_FILES {
            let path = dir.join(name);
            let stems = read_exclude(&path)?;
            for s in &stems {
                if let Some(other) = seen.insert(s.clone(), name) {
                    return Err(ModelError::Data(format!(
                        "{}: `{s}` is also listed in {other}",
                        path.display()
                    )));
                }
            }
            lists.push(stems);
        }
        let test = lists.pop().unwrap_or_default();
        let valid = lists.pop().unwrap_or_default();
        let train = lists.pop().unwrap_or_default();
        Ok(FixedSplit { train, valid, test })
    }

    /// Where the lists are: `explicit` when given, else `splits/` next to the features table
    /// when it holds them, else the lists built into the binary ([`FixedSplit::builtin`]).
    pub fn locate(features: &Path, explicit: Option<&Path>) -> std::path::PathBuf {
        if let Some(d) = explicit {
            return d.to_path_buf();
        }
        let builtin = std::path::PathBuf::from(crate::config::SPLITS_DIR);
        if crate::config::is_builtin(features) {
            return builtin;
        }
        let beside = features
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("splits");
        if beside.join(FILTERED_FILES[0]).is_file() {
            return beside;
        }
        builtin
    }

    /// The lists of `features/splits/` as built into the binary.
    pub fn builtin() -> Result<FixedSplit, ModelError> {
        FixedSplit::read(Path::new(crate::config::SPLITS_DIR))
    }
}

/// The split of the saved model: every song is used, 15% (stratified) of them only for early
/// stopping. Returns `(train, val)`.
pub fn final_split(data: &Dataset, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let all: Vec<usize> = (0..data.len()).collect();
    stratified_split(data, &all, VAL_FRACTION, &mut rng)
}

/// Standardisation of each feature with the mean and (population) standard deviation of the
/// rows it was fitted on. A constant feature gets a scale of 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaler {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Scaler {
    /// Fits mean and standard deviation on `rows`.
    pub fn fit(rows: &[FeatureVector]) -> Scaler {
        let n = rows.len().max(1) as f64;
        let mut mean = vec![0.0; N_FEATURES];
        for r in rows {
            for (m, v) in mean.iter_mut().zip(r) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0; N_FEATURES];
        for r in rows {
            for ((s, v), m) in var.iter_mut().zip(r).zip(&mean) {
                *s += (v - m) * (v - m);
            }
        }
        let std = var
            .into_iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd > 0.0 && sd.is_finite() {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        Scaler { mean, std }
    }

    /// Fits on the rows `idx` of `data`.
    pub fn fit_rows(data: &Dataset, idx: &[usize]) -> Scaler {
        let rows: Vec<FeatureVector> = idx.iter().map(|&i| data.features[i]).collect();
        Scaler::fit(&rows)
    }

    /// Standardises one row.
    pub fn transform(&self, row: &FeatureVector) -> [f64; N_FEATURES] {
        let mut out = [0.0; N_FEATURES];
        for (k, o) in out.iter_mut().enumerate() {
            *o = (row[k] - self.mean[k]) / self.std[k];
        }
        out
    }

    /// Standardises rows into one flat row-major `f32` buffer (the CNN's input).
    pub fn transform_f32(&self, rows: &[FeatureVector]) -> Vec<f32> {
        let mut out = Vec::with_capacity(rows.len() * N_FEATURES);
        for r in rows {
            out.extend(self.transform(r).iter().map(|&v| v as f32));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n_per: usize) -> Dataset {
        let mut d = Dataset {
            genres: gtzan_genres(),
            stems: Vec::new(),
            features: Vec::new(),
            labels: Vec::new(),
            excluded: Vec::new(),
            parts: None,
        };
        for (g, name) in GENRES.iter().enumerate() {
            for k in 0..n_per {
                d.stems.push(format!("{name}.{k:05}"));
                d.features.push([g as f64; N_FEATURES]);
                d.labels.push(g);
            }
        }
        d
    }

    #[test]
    fn exclusion_list_parsing() {
        let v = parse_exclude("# held out\nrock.00003\n\n  jazz.00001  # why\n#x\n");
        assert_eq!(v, vec!["rock.00003".to_string(), "jazz.00001".to_string()]);
    }

    #[test]
    fn builtin_splits_are_the_committed_lists() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let b = FixedSplit::builtin().unwrap();
        assert_eq!(
            (b.train.len(), b.valid.len(), b.test.len()),
            (443, 197, 290)
        );
        assert_eq!(b, FixedSplit::read(&root.join("features/splits")).unwrap());
        assert_eq!(
            FixedSplit::locate(Path::new(crate::config::FEATURES_CSV), None),
            Path::new("builtin:splits")
        );
        // A table in a folder without splits/ falls back to the built-in lists.
        assert_eq!(
            FixedSplit::locate(Path::new("/nonexistent/t.csv"), None),
            Path::new("builtin:splits")
        );
    }

    #[test]
    fn any_label_set_from_the_table() {
        let rec = |f: &str, l: &str, v: f64| Record {
            filename: f.into(),
            length: 1,
            features: [v; N_FEATURES],
            label: l.into(),
        };
        let rows = vec![
            rec("a/x.mp3", "Synthwave", 1.0),
            rec("b/x.mp3", "", 2.0),
            rec("c.mp3", "Ambient", 3.0),
            rec("d.mp3", "Synthwave ", 4.0),
            rec("e.mp3", "Zouk", 5.0),
        ];
        let d = Dataset::from_any_labels(rows.clone(), &["e".into()], Path::new("t")).unwrap();
        assert_eq!(d.genres, ["Ambient", "Synthwave"]);
        assert_eq!(d.stems, ["x", "c", "d"]);
        assert_eq!(d.labels, [1, 0, 1]);
        assert_eq!(d.excluded, ["x", "e"]);
        assert_eq!(d.genre_counts(), [1, 2]);
        let e = Dataset::from_any_labels(rows[..2].to_vec(), &[], Path::new("t"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("t: 1 genre among the labelled songs (1)"), "{e}");
    }

    #[test]
    fn split_sizes_per_genre() {
        let d = toy(100);
        let s = split(&d, Protocol::Holdout, 3);
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (590, 110, 300));
        let p = split(&d, Protocol::Paper, 3);
        assert_eq!(p.val, p.test);
        assert_eq!(p.train.len(), 700);
    }
}
