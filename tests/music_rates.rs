//! Real music at 44.1 and 48 kHz: `tuneprint extract` on the fixtures of
//! `scripts/make_music_fixtures.sh` (3 s stereo excerpts of the committed clips, upsampled by sox,
//! as WAV, FLAC and MP3), then `tuneprint check` against librosa 0.8.1's features of exactly those
//! files: every one of the 58 columns must pass on every row.

use std::path::PathBuf;
use std::process::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/music")
}

fn tuneprint(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tuneprint"))
        .args(args)
        .output()
        .expect("run tuneprint")
}

#[test]
fn extract_at_44k_and_48k_passes_check_against_librosa() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ours.csv");
    let out_s = out.display().to_string();
    let files = [
        "rock_jazz.44k.wav",
        "metal_pop.44k.flac",
        "country_blues.48k.wav",
        "classical_hiphop.48k.flac",
        "rock_pop.44k.mp3",
    ];
    let paths: Vec<String> = files
        .iter()
        .map(|f| fixtures().join(f).display().to_string())
        .collect();
    let mut args = vec!["extract", "--jobs", "2", "-o", &out_s];
    args.extend(paths.iter().map(String::as_str));
    let o = tuneprint(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let reference = fixtures()
        .join("librosa_features.csv")
        .display()
        .to_string();
    let o = tuneprint(&["check", &out_s, "--reference", &reference, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    let failing: Vec<String> = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["pass"].as_bool().unwrap())
        .map(|c| format!("{} (max rel err {})", c["name"], c["max_rel_err"]))
        .collect();
    assert_eq!(report["rows_matched"], 5, "{report}");
    assert_eq!(report["total"], 58);
    assert_eq!(report["passed"], 58, "failing columns: {failing:?}");
    assert!(o.status.success());
}
