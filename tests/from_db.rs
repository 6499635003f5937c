//! `classify`, `recommend`, `embed` and `train` with `--db`: the library's stored features,
//! embeddings and genre tags are used, nothing of it decoded again; a file not in the library is
//! analysed; `train --db` learns the user's own genres and the other commands use them.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{json, ok, root};

const BIN: &str = env!("CARGO_BIN_EXE_tuneprint");
const SR: usize = 22_050;

fn run(cwd: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env("TUNEPRINT_HOME", cwd.join("home"))
        .env_remove("TUNEPRINT_DB")
        .output()
        .expect("run tuneprint")
}

/// `seconds` of a committed clip as a 16-bit WAV, with a RIFF INFO list of `tags`.
fn write_song(path: &Path, clip: &str, seconds: usize, tags: &[(&[u8; 4], &str)]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut r = hound::WavReader::open(root().join("audio").join(clip)).unwrap();
    let samples: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SR as u32,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples.iter().take(seconds * SR) {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    if tags.is_empty() {
        return;
    }
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[36..40], b"data");
    let mut info = b"INFO".to_vec();
    for (id, text) in tags {
        let mut t = text.as_bytes().to_vec();
        t.push(0);
        if t.len() % 2 == 1 {
            t.push(0);
        }
        info.extend_from_slice(*id);
        info.extend_from_slice(&(t.len() as u32).to_le_bytes());
        info.extend(t);
    }
    let mut out = b[..36].to_vec();
    out.extend_from_slice(b"LIST");
    out.extend_from_slice(&(info.len() as u32).to_le_bytes());
    out.extend(info);
    out.extend_from_slice(&b[36..]);
    let riff = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    std::fs::write(path, out).unwrap();
}

fn probabilities(v: &serde_json::Value) -> Vec<(String, f64)> {
    let mut p: Vec<(String, f64)> = v
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, x)| (k.clone(), x.as_f64().unwrap()))
        .collect();
    p.sort_by(|a, b| a.0.cmp(&b.0));
    p
}

#[test]
fn commands_read_the_library_and_train_learns_its_own_genres() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let m = d.join("music");
    const NAM: &[u8; 4] = b"INAM";
    const ART: &[u8; 4] = b"IART";
    const GNR: &[u8; 4] = b"IGNR";
    write_song(
        &m.join("a/01 Intro.wav"),
        "blues.00000.wav",
        6,
        &[(NAM, "Intro"), (ART, "Band A"), (GNR, "Dusty")],
    );
    write_song(
        &m.join("b/01 Intro.wav"),
        "metal.00000.wav",
        6,
        &[(NAM, "Intro"), (ART, "Band B"), (GNR, "Loud")],
    );
    write_song(&m.join("c.wav"), "jazz.00000.wav", 6, &[(GNR, "Dusty")]);
    write_song(&m.join("d.wav"), "rock.00000.wav", 6, &[(GNR, "Loud")]);
    write_song(&m.join("e.wav"), "pop.00000.wav", 6, &[]);
    write_song(&d.join("new.wav"), "country.00000.wav", 6, &[]);

    // A GTZAN model (built-in table), then the library scanned with it.
    ok(&run(
        d,
        &["train", "--seeds", "0", "--max-epochs", "2", "-o", "gtzan"],
    ));
    ok(&run(
        d,
        &[
            "library", "scan", "music", "--db", "l.db", "--model", "gtzan",
        ],
    ));

    // recommend: a library song given as its file: itself (and only itself) left out; title
    // and artist from the stored tags.
    let v = json(&run(
        &m,
        &[
            "recommend",
            "a/01 Intro.wav",
            "--db",
            "../l.db",
            "-k",
            "4",
            "--json",
        ],
    ));
    let results = v["results"].as_array().unwrap();
    let paths: Vec<&str> = results
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 4, "{v}");
    assert!(!paths.iter().any(|p| p.ends_with("a/01 Intro.wav")), "{v}");
    let b = results
        .iter()
        .find(|r| r["path"].as_str().unwrap().ends_with("b/01 Intro.wav"))
        .expect("the other 01 Intro.wav is a result");
    assert_eq!(b["title"], "Intro");
    assert_eq!(b["artist"], "Band B");
    // A bare name two songs share is ambiguous.
    let o = run(d, &["recommend", "01 Intro", "--db", "l.db"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("names 2 songs of the library"));
    // A new file: analysed and embedded with the library's model.
    let v = json(&run(
        d,
        &[
            "recommend",
            "new.wav",
            "--db",
            "l.db",
            "-k",
            "2",
            "--model",
            "gtzan",
            "--json",
        ],
    ));
    assert_eq!(v["results"].as_array().unwrap().len(), 2, "{v}");

    // classify --db: every song from its stored windows; a song's probabilities are the ones
    // the scan stored with the same model.
    let all = json(&run(
        d,
        &["classify", "--db", "l.db", "--model", "gtzan", "--json"],
    ));
    assert_eq!(all.as_array().unwrap().len(), 5);
    let one = json(&run(
        d,
        &[
            "classify", "c", "--db", "l.db", "--model", "gtzan", "--json",
        ],
    ));
    let show = json(&run(d, &["library", "show", "c", "--db", "l.db", "--json"]));
    let stored: Vec<(String, f64)> = {
        let mut p: Vec<(String, f64)> = show["prediction"]["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x[0].as_str().unwrap().to_string(), x[1].as_f64().unwrap()))
            .collect();
        p.sort_by(|a, b| a.0.cmp(&b.0));
        p
    };
    let got = probabilities(&one[0]["probabilities"]);
    assert_eq!(got.len(), 10);
    for ((g1, p1), (g2, p2)) in got.iter().zip(&stored) {
        assert_eq!(g1, g2);
        assert!((p1 - p2).abs() < 1e-6, "{g1}: {p1} vs stored {p2}");
    }

    // embed --db: one row per analysed song.
    let v = json(&run(
        d,
        &[
            "embed", "--db", "l.db", "--model", "gtzan", "-o", "e.npy", "--json",
        ],
    ));
    assert_eq!(v["songs"], 5);

    // train --db: the genre tags are the labels (the untagged song left out).
    ok(&run(
        d,
        &[
            "train",
            "--db",
            "l.db",
            "--seeds",
            "0",
            "--max-epochs",
            "2",
            "-o",
            "mine",
        ],
    ));
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("mine/model.json")).unwrap()).unwrap();
    assert_eq!(info["genres"], serde_json::json!(["Dusty", "Loud"]));
    assert_eq!(
        info["n_train"].as_u64().unwrap() + info["n_val"].as_u64().unwrap(),
        4
    );
    // ... and the other commands use that label set.
    let v = json(&run(
        d,
        &["classify", "new.wav", "--model", "mine", "--json"],
    ));
    let p = probabilities(&v[0]["probabilities"]);
    assert_eq!(
        p.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        ["Dusty", "Loud"]
    );
    assert!((p[0].1 + p[1].1 - 1.0).abs() < 1e-5);
    let v = json(&run(
        d,
        &["classify", "--db", "l.db", "--model", "mine", "--json"],
    ));
    assert_eq!(v.as_array().unwrap().len(), 5);
}
