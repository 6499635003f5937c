//! Feature tables: the CSV layout of `features_30_sec.csv` (filename, length, 57 features, label).

use crate::features::{FeatureVector, FEATURE_COLUMNS, N_FEATURES};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One row of a feature table.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// File name as written in the table, e.g. `blues.00000.au`.
    pub filename: String,
    /// Number of decoded samples.
    pub length: u64,
    /// The 57 features in [`FEATURE_COLUMNS`] order.
    pub features: FeatureVector,
    /// Genre label, or empty when unknown.
    pub label: String,
}

impl Record {
    /// The filename without its extension: `rock.00000.au` → `rock.00000`.
    pub fn stem(&self) -> &str {
        stem(&self.filename)
    }
}

/// Errors reading or writing feature tables; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{path}: cannot read: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: missing column `{column}`")]
    MissingColumn { path: PathBuf, column: String },
    #[error("{path}: row {row}, column `{column}`: {reason}")]
    Cell {
        path: PathBuf,
        row: usize,
        column: String,
        reason: String,
    },
    #[error("{path}: cannot write: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// The header of a feature table, in order.
pub fn header() -> Vec<&'static str> {
    let mut h = vec!["filename", "length"];
    h.extend_from_slice(&FEATURE_COLUMNS);
    h.push("label");
    h
}

/// A filename without directory and last extension: `a/rock.00000.au` → `rock.00000`.
pub fn stem(filename: &str) -> &str {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    match base.rfind('.') {
        Some(i) if i > 0 => &base[..i],
        _ => base,
    }
}

/// The reference table (`features/features_30_sec.csv`, 1000 GTZAN songs) as built into the
/// binary: what every command reads when no table is named.
pub fn reference_records() -> Result<Vec<Record>, TableError> {
    read_csv(Path::new(crate::config::FEATURES_CSV))
}

/// Reads a feature table. Columns are found by name; rows are numbered from 1 (the first data row)
/// in errors. A `builtin:` name ([`crate::config::builtin_file`]) reads the copy built into the
/// binary.
pub fn read_csv(path: &Path) -> Result<Vec<Record>, TableError> {
    let read_err = |e: &dyn std::fmt::Display| TableError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    match crate::config::builtin_file(path) {
        Some(text) => read_csv_from(text.as_bytes(), path),
        None if crate::config::is_builtin(path) => Err(read_err(&"no such built-in file")),
        None => read_csv_from(std::fs::File::open(path).map_err(|e| read_err(&e))?, path),
    }
}

/// [`read_csv`] of an open reader; `path` names it in errors.
fn read_csv_from<R: std::io::Read>(reader: R, path: &Path) -> Result<Vec<Record>, TableError> {
    let read_err = |e: &dyn std::fmt::Display| TableError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let headers = rdr.headers().map_err(|e| read_err(&e))?.clone();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| TableError::MissingColumn {
                path: path.to_path_buf(),
                column: name.to_string(),
            })
    };
    let i_file = find("filename")?;
    let i_len = find("length")?;
    let i_label = find("label")?;
    let mut i_feat = [0usize; N_FEATURES];
    for (k, name) in FEATURE_COLUMNS.iter().enumerate() {
        i_feat[k] = find(name)?;
    }
    let mut out = Vec::new();
    for (r, rec) in rdr.records().enumerate() {
        let row = r + 1;
        let rec = rec.map_err(|e| read_err(&e))?;
        let cell = |i: usize, column: &str| -> Result<&str, TableError> {
            rec.get(i).map(str::trim).ok_or_else(|| TableError::Cell {
                path: path.to_path_buf(),
                row,
                column: column.to_string(),
                reason: "missing cell".into(),
            })
        };
        let bad = |column: &str, v: &str, what: &str| TableError::Cell {
            path: path.to_path_buf(),
            row,
            column: column.to_string(),
            reason: format!("`{v}` is not {what}"),
        };
        let filename = cell(i_file, "filename")?.to_string();
        let len_s = cell(i_len, "length")?;
        let length: u64 = len_s
            .parse()
            .or_else(|_| {
                len_s
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.fract() == 0.0 && *x >= 0.0)
                    .map(|x| x as u64)
                    .ok_or(())
            })
            .map_err(|_| bad("length", len_s, "a whole number"))?;
        let mut features = [0.0f64; N_FEATURES];
        for (k, name) in FEATURE_COLUMNS.iter().enumerate() {
            let s = cell(i_feat[k], name)?;
            let v: f64 = s.parse().map_err(|_| bad(name, s, "a number"))?;
            if !v.is_finite() {
                return Err(bad(name, s, "a finite number"));
            }
            features[k] = v;
        }
        let label = cell(i_label, "label")?.to_string();
        out.push(Record {
            filename,
            length,
            features,
            label,
        });
    }
    Ok(out)
}

/// Serialises records as CSV text with the reference header.
pub fn to_csv_string(records: &[Record]) -> String {
    let mut s = header().join(",");
    s.push('\n');
    for r in records {
        s.push_str(&csv_field(&r.filename));
        s.push(',');
        s.push_str(&r.length.to_string());
        for v in &r.features {
            s.push(',');
            // Debug formatting: shortest round-trip digits, exponent for very small or large values.
            s.push_str(&format!("{v:?}"));
        }
        s.push(',');
        s.push_str(&csv_field(&r.label));
        s.push('\n');
    }
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes `contents` to `path` atomically: a temporary file in the same folder, then a rename.
/// Creates the parent folder when missing.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), TableError> {
    let werr = |e: &dyn std::fmt::Display| TableError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| werr(&e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| werr(&e))?;
    tmp.write_all(contents).map_err(|e| werr(&e))?;
    tmp.as_file().sync_all().map_err(|e| werr(&e))?;
    // Temporary files are created private (0600); results are ordinary files (0644).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| werr(&e))?;
    }
    tmp.persist(path).map_err(|e| werr(&e.error))?;
    Ok(())
}

/// Writes a feature table atomically.
pub fn write_csv(path: &Path, records: &[Record]) -> Result<(), TableError> {
    write_atomic(path, to_csv_string(records).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems() {
        assert_eq!(stem("rock.00000.au"), "rock.00000");
        assert_eq!(stem("dir/blues.00000.0.wav"), "blues.00000.0");
        assert_eq!(stem("noext"), "noext");
        assert_eq!(stem(".hidden"), ".hidden");
    }

    #[test]
    fn builtin_reference_is_the_committed_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let builtin = reference_records().unwrap();
        assert_eq!(builtin.len(), 1000);
        assert_eq!(builtin[0].filename, "blues.00000.au");
        assert_eq!(
            builtin,
            read_csv(&root.join("features/features_30_sec.csv")).unwrap()
        );
        let e = read_csv(Path::new("builtin:nope.csv"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "builtin:nope.csv: cannot read: no such built-in file");
    }

    #[test]
    fn round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        let mut f = [0.0; N_FEATURES];
        f[3] = 1.25e-7;
        f[16] = 123.046875;
        let recs = vec![Record {
            filename: "a,b.wav".into(),
            length: 661794,
            features: f,
            label: "rock".into(),
        }];
        write_csv(&p, &recs).unwrap();
        assert_eq!(read_csv(&p).unwrap(), recs);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }

        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("1.25e-7", "abc");
        std::fs::write(&p, text).unwrap();
        let e = read_csv(&p).unwrap_err().to_string();
        assert!(
            e.contains("row 1") && e.contains("rms_var") && e.contains("`abc`"),
            "{e}"
        );

        std::fs::write(&p, "filename,length,label\nx,1,rock\n").unwrap();
        let e = read_csv(&p).unwrap_err().to_string();
        assert!(e.contains("missing column `chroma_stft_mean`"), "{e}");
    }
}
