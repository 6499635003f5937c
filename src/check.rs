//! Column-by-column comparison of a feature table with the reference table.

use crate::features::FEATURE_COLUMNS;
use crate::table::Record;
use serde::Serialize;
use std::collections::HashMap;

/// Relative part of the tolerance: |ours − ref| ≤ REL_TOL·|ref| + SIGMA_TOL·σ.
pub const REL_TOL: f64 = 1e-4;
/// Part of the tolerance proportional to the column's standard deviation over the reference.
pub const SIGMA_TOL: f64 = 1e-3;
/// Columns that must match exactly.
pub const EXACT_COLUMNS: [&str; 2] = ["length", "tempo"];

/// The verdict on one column.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ColumnResult {
    pub name: String,
    pub max_abs_err: f64,
    pub max_rel_err: f64,
    pub pass: bool,
    /// Stem of the row with the largest error relative to the tolerance (not in the JSON).
    #[serde(skip)]
    pub worst_row: Option<String>,
}

/// The verdict on a whole table.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckReport {
    pub rows_matched: usize,
    pub passed: usize,
    pub total: usize,
    pub columns: Vec<ColumnResult>,
    /// Stems of our rows that have no reference row (not in the JSON).
    #[serde(skip)]
    pub unmatched: Vec<String>,
}

impl CheckReport {
    /// Whether every column passed and at least one row matched.
    pub fn ok(&self) -> bool {
        self.rows_matched > 0 && self.passed == self.total
    }
}

fn values(r: &Record) -> Vec<f64> {
    let mut v = Vec::with_capacity(58);
    v.push(r.length as f64);
    v.extend_from_slice(&r.features);
    v
}

/// Compares `ours` with `reference`, matching rows by filename stem (`rock.00000.wav` ↔
/// `rock.00000.au`). Checks `length` and the 57 features.
pub fn compare(ours: &[Record], reference: &[Record]) -> CheckReport {
    let mut names = vec!["length"];
    names.extend_from_slice(&FEATURE_COLUMNS);
    let ncol = names.len();

    // Population standard deviation of each column over the reference rows.
    let n = reference.len().max(1) as f64;
    let ref_vals: Vec<Vec<f64>> = reference.iter().map(values).collect();
    let mut sigma = vec![0.0; ncol];
    for (j, s) in sigma.iter_mut().enumerate() {
        let mean = ref_vals.iter().map(|v| v[j]).sum::<f64>() / n;
        *s = (ref_vals.iter().map(|v| (v[j] - mean).powi(2)).sum::<f64>() / n).sqrt();
    }
    let by_stem: HashMap<&str, usize> = reference
        .iter()
        .enumerate()
        .map(|(i, r)| (r.stem(), i))
        .collect();

    let mut cols: Vec<ColumnResult> = names
        .iter()
        .map(|n| ColumnResult {
            name: n.to_string(),
            max_abs_err: 0.0,
            max_rel_err: 0.0,
            pass: true,
            worst_row: None,
        })
        .collect();
    let mut worst_ratio = vec![0.0f64; ncol];
    let mut matched = 0;
    let mut unmatched = Vec::new();
    for r in ours {
        let Some(&i) = by_stem.get(r.stem()) else {
            unmatched.push(r.stem().to_string());
            continue;
        };
        matched += 1;
        let ov = values(r);
        for j in 0..ncol {
            let (o, e) = (ov[j], ref_vals[i][j]);
            let abs = (o - e).abs();
            let rel = if e != 0.0 {
                abs / e.abs()
            } else if abs == 0.0 {
                0.0
            } else {
                f64::INFINITY
            };
            let c = &mut cols[j];
            c.max_abs_err = c.max_abs_err.max(abs);
            c.max_rel_err = c.max_rel_err.max(rel);
            let exact = EXACT_COLUMNS.contains(&c.name.as_str());
            let tol = if exact {
                0.0
            } else {
                REL_TOL * e.abs() + SIGMA_TOL * sigma[j]
            };
            let ok = abs <= tol && o.is_finite();
            if !ok {
                c.pass = false;
            }
            let ratio = if tol > 0.0 {
                abs / tol
            } else if abs > 0.0 {
                f64::INFINITY
            } else {
                0.0
            };
            if ratio >= worst_ratio[j] && (ratio > 0.0 || c.worst_row.is_none()) {
                worst_ratio[j] = ratio;
                c.worst_row = Some(r.stem().to_string());
            }
        }
    }
    if matched == 0 {
        for c in &mut cols {
            c.pass = false;
        }
    }
    let passed = cols.iter().filter(|c| c.pass).count();
    CheckReport {
        rows_matched: matched,
        passed,
        total: ncol,
        columns: cols,
        unmatched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, length: u64, f0: f64, tempo: f64) -> Record {
        let mut features = [1.0; 57];
        features[0] = f0;
        features[16] = tempo;
        Record {
            filename: name.into(),
            length,
            features,
            label: String::new(),
        }
    }

    #[test]
    fn tolerance_rule_and_exact_columns() {
        // Reference column 0: values 1 and 3 → σ = 1; tolerance at ref 3 is 3e-4 + 1e-3.
        let reference = vec![rec("a.au", 10, 1.0, 120.0), rec("b.au", 10, 3.0, 99.0)];
        let ok = vec![
            rec("a.wav", 10, 1.0 + 1.0e-3, 120.0),
            rec("b.wav", 10, 3.0 + 1.2e-3, 99.0),
        ];
        let r = compare(&ok, &reference);
        assert_eq!(r.rows_matched, 2);
        assert!(r.ok(), "{:?}", r.columns[1]);
        assert!((r.columns[1].max_abs_err - 1.2e-3).abs() < 1e-12);

        let bad = vec![rec("b.wav", 10, 3.0 + 1.4e-3, 99.0)];
        let r = compare(&bad, &reference);
        assert!(!r.columns[1].pass);
        assert_eq!(r.passed, r.total - 1);

        // Tempo and length must be exact.
        let r = compare(&[rec("a.wav", 10, 1.0, 120.000001)], &reference);
        assert!(!r.columns.iter().find(|c| c.name == "tempo").unwrap().pass);
        let r = compare(&[rec("a.wav", 11, 1.0, 120.0)], &reference);
        assert!(!r.columns[0].pass);
        assert_eq!(r.columns[0].max_abs_err, 1.0);
    }

    #[test]
    fn no_match_fails() {
        let reference = vec![rec("a.au", 10, 1.0, 120.0)];
        let r = compare(&[rec("zzz.wav", 10, 1.0, 120.0)], &reference);
        assert_eq!(r.rows_matched, 0);
        assert!(!r.ok());
        assert_eq!(r.unmatched, vec!["zzz".to_string()]);
    }
}
