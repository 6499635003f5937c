//! The built binary run from a temporary folder, far from the checkout: the reference table and
//! the split lists come from inside the binary, the model from `$TUNEPRINT_HOME`. Songs that share
//! a file name in two folders are two songs: `extract` names them by path, and `recommend` leaves
//! the query out by identity, not by name.

mod common;
use common::{json, ok, root, run_at as run};

fn filenames(v: &serde_json::Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["filename"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn commands_work_from_any_folder_and_songs_are_told_apart_by_path() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    let cwd = t.path().join("elsewhere");
    let top = cwd.join("top");
    for d in ["a", "b"] {
        std::fs::create_dir_all(top.join(d)).unwrap();
    }
    let clip = |name: &str| root().join("audio").join(name);
    // Two albums, each with its own `01 Intro.wav`, and one GTZAN clip.
    std::fs::copy(clip("blues.00000.wav"), top.join("a/01 Intro.wav")).unwrap();
    std::fs::copy(clip("metal.00000.wav"), top.join("b/01 Intro.wav")).unwrap();
    std::fs::copy(clip("jazz.00000.wav"), top.join("jazz.00000.wav")).unwrap();

    // extract: a shared file name becomes the path relative to the scanned folder.
    ok(&run(&cwd, &home, &["extract", "top", "-o", "lib.csv"]));
    let rows = tuneprint::table::read_csv(&cwd.join("lib.csv")).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.filename.as_str()).collect();
    assert_eq!(
        names,
        ["a/01 Intro.wav", "b/01 Intro.wav", "jazz.00000.wav"]
    );

    // check: against the reference built into the binary (no features/ folder here); the GTZAN
    // stem still matches, the two intros have no reference row.
    let o = run(&cwd, &home, &["check", "lib.csv"]);
    let text = ok(&o);
    assert!(
        text.contains("58 of 58 columns pass on 1 matched rows"),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 rows have no reference row"));

    // No model trained yet: the built-in one classifies.
    let v = json(&run(
        &cwd,
        &home,
        &["classify", "top/jazz.00000.wav", "--json"],
    ));
    // (A close call: jazz 0.483, classical 0.485.)
    let p = v[0]["probabilities"].as_object().unwrap();
    assert!(p["jazz"].as_f64().unwrap() > 0.48, "{v}");
    let best = p
        .iter()
        .max_by(|a, b| a.1.as_f64().unwrap().total_cmp(&b.1.as_f64().unwrap()))
        .unwrap();
    assert_eq!(v[0]["genre"], best.0.as_str(), "{v}");
    assert!(!home.join("models/default").exists());

    // train: the built-in table (and, under `filtered`, the built-in split lists) into the
    // default model folder.
    ok(&run(
        &cwd,
        &home,
        &[
            "train",
            "--protocol",
            "filtered",
            "--seeds",
            "0",
            "--max-epochs",
            "2",
        ],
    ));
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(home.join("models/default/model.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(info["features_csv"], "builtin:features_30_sec.csv");
    assert_eq!(
        info["n_train"].as_u64().unwrap() + info["n_val"].as_u64().unwrap(),
        640
    );

    // recommend from the built-in library with the default model.
    let v = json(&run(
        &cwd,
        &home,
        &["recommend", "jazz.00098", "-k", "3", "--json"],
    ));
    let got = filenames(&v);
    assert_eq!(got.len(), 3);
    assert!(!got.contains(&"jazz.00098.au".to_string()), "{got:?}");

    // The case: the query file is left out by identity, not by name, so the other
    // `01 Intro.wav` is still a result.
    let v = json(&run(
        &top,
        &home,
        &[
            "recommend",
            "a/01 Intro.wav",
            "--library",
            "../lib.csv",
            "-k",
            "1",
            "--json",
        ],
    ));
    assert_eq!(filenames(&v).len(), 1);
    assert_ne!(filenames(&v)[0], "a/01 Intro.wav");
    let v = json(&run(
        &top,
        &home,
        &[
            "recommend",
            "a/01 Intro.wav",
            "--library",
            "../lib.csv",
            "-k",
            "5",
            "--json",
        ],
    ));
    let mut all = filenames(&v);
    all.sort();
    assert_eq!(all, ["b/01 Intro.wav", "jazz.00000.wav"]);

    // A library song named by its path (not a file from here): only that row is left out.
    let v = json(&run(
        &cwd,
        &home,
        &[
            "recommend",
            "b/01 Intro.wav",
            "--library",
            "lib.csv",
            "--json",
        ],
    ));
    let mut all = filenames(&v);
    all.sort();
    assert_eq!(all, ["a/01 Intro.wav", "jazz.00000.wav"]);
    // A bare name two songs share is ambiguous.
    let o = run(
        &cwd,
        &home,
        &["recommend", "01 Intro", "--library", "lib.csv"],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains(
        "`01 Intro` names several songs of the library (a/01 Intro.wav, b/01 Intro.wav)"
    ));
}
