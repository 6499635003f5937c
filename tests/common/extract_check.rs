//! `tuneprint extract` of some files, then `tuneprint check` of the result against a reference
//! table: what the tests that compare real music with librosa 0.8.1 share.

use std::path::Path;
use std::process::Command;

/// Extracts `files` (two jobs) and checks them against `reference`; asserts that `rows` rows were
/// matched and every one of the 58 columns passes, naming the failing columns otherwise.
pub fn assert_all_columns_pass(files: &[String], reference: &Path, rows: usize) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ours.csv");
    let out_s = out.display().to_string();
    let mut args = vec!["extract", "--jobs", "2", "-o", &out_s];
    args.extend(files.iter().map(String::as_str));
    let o = Command::new(env!("CARGO_BIN_EXE_tuneprint"))
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reference = reference.display().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_tuneprint"))
        .args(["check", &out_s, "--reference", &reference, "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    let failing: Vec<String> = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["pass"].as_bool().unwrap())
        .map(|c| format!("{} (max rel err {})", c["name"], c["max_rel_err"]))
        .collect();
    assert_eq!(report["rows_matched"], rows, "{report}");
    assert_eq!(report["total"], 58);
    assert_eq!(report["passed"], 58, "failing columns: {failing:?}");
    assert!(o.status.success());
}
