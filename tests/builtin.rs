//! The built-in model: right after `cargo install`, with an empty data folder and no torch,
//! `classify`, `embed`, `recommend`, `library scan`, `serve`'s model and `report` use the default
//! blend built into the binary (`builtin:default`); a model the user trains replaces it. The
//! `--help` of each subcommand names the defaults the code uses.

use std::path::Path;

mod common;
use common::{json, ok, root, run_at as run};

fn help(args: &[&str]) -> String {
    let t = tempfile::tempdir().unwrap();
    let mut all = args.to_vec();
    all.push("--help");
    // clap wraps help text to the terminal; one line per sentence is easier to search.
    ok(&run(t.path(), t.path(), &all))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn help_names_the_defaults_the_code_uses() {
    use tuneprint::model::{Arch, Classifier, Layer};
    let builtin = Classifier::load(Path::new(tuneprint::config::BUILTIN_MODEL)).unwrap();
    assert_eq!(tuneprint::config::BUILTIN_MODEL, "builtin:default");
    assert_eq!(builtin.arch(), Arch::default());
    assert_eq!(Arch::default().to_string(), "blend");
    assert_eq!(builtin.default_layer(), Layer::Combined);
    assert!(tuneprint::config::default_model_dir().ends_with("models/default"));

    for cmd in [
        &["classify"][..],
        &["embed"],
        &["recommend"],
        &["report"],
        &["library", "scan"],
        &["serve"],
    ] {
        let h = help(cmd);
        assert!(
            h.contains("$TUNEPRINT_HOME/models/default, else the built-in model, builtin:default: the default blend"),
            "{cmd:?} --help does not name the model location: {h}"
        );
    }
    for cmd in ["embed", "recommend"] {
        let h = help(&[cmd]);
        assert!(
            h.contains("`combined` for the default blend"),
            "{cmd} --help does not name the default embedding: {h}"
        );
    }
    let h = help(&["train"]);
    assert!(h.contains("[default: blend]"), "train --help: {h}");
    assert!(
        h.contains("[default: $TUNEPRINT_HOME/models/default"),
        "train --help: {h}"
    );
    let top = help(&[]);
    assert!(
        top.contains("Train a genre classifier (the default blend;"),
        "{top}"
    );
    assert!(!top.contains("CNN embedding"), "{top}");
}

#[test]
fn an_empty_data_folder_uses_the_builtin_model() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    let cwd = t.path().join("work");
    std::fs::create_dir_all(&cwd).unwrap();
    let rock = root().join("audio/rock.00000.wav");
    let rock = rock.to_str().unwrap();

    // classify: a genre for each file (the committed clips were left out of its training).
    let out = json(&run(&cwd, &home, &["classify", rock, "--json"]));
    let p = &out[0];
    assert_eq!(p["genre"], "rock", "{out}");
    let sum: f64 = p["probabilities"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-5, "{sum}");

    // recommend from the reference table, by name.
    let out = json(&run(
        &cwd,
        &home,
        &["recommend", "jazz.00098", "-k", "3", "--json"],
    ));
    assert_eq!(out["results"].as_array().unwrap().len(), 3, "{out}");

    // embed: the built-in model's folder cannot be written; the embeddings go to the data folder.
    let out = json(&run(&cwd, &home, &["embed", "--json"]));
    assert_eq!(out["songs"], 1000);
    let npy = home.join("models/builtin/embeddings.npy");
    assert_eq!(out["embeddings"], npy.display().to_string());
    assert!(npy.is_file());

    // library scan stores predictions and embeddings by the built-in model; recommend --db.
    let audio = root().join("audio");
    let scan = json(&run(
        &cwd,
        &home,
        &[
            "library",
            "scan",
            audio.to_str().unwrap(),
            "--db",
            "x.db",
            "--json",
        ],
    ));
    assert_eq!(scan["failed"], 0, "{scan}");
    let status = json(&run(
        &cwd,
        &home,
        &["library", "status", "--db", "x.db", "--json"],
    ));
    assert_eq!(status["models"][0]["dir"], "builtin:default", "{status}");
    let out = json(&run(
        &cwd,
        &home,
        &[
            "recommend",
            "jazz.00000",
            "--db",
            "x.db",
            "-k",
            "2",
            "--json",
        ],
    ));
    assert_eq!(out["results"].as_array().unwrap().len(), 2, "{out}");

    // report: figures from the built-in model's evaluation, history and baselines.
    let r = run(&cwd, &home, &["report", "-o", "rep", "--strict"]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        !stderr.contains("history.csv not found"),
        "the built-in model's history is missing: {stderr}"
    );
    assert!(cwd.join("rep/report.md").is_file(), "{stderr}");

    // A model the user names that does not exist is an error naming it, not the built-in one.
    let r = run(&cwd, &home, &["classify", rock, "--model", "nowhere"]);
    assert_eq!(r.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains("no model at nowhere: run `tuneprint train -o nowhere` first"),
        "{stderr}"
    );
}
