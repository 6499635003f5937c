//! Helpers shared by the integration tests that run the `tuneprint` binary.

// Each test binary uses some of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The genres of the eight committed clips (`audio/<genre>.00000.wav`).
pub const CLIP_GENRES: [&str; 8] = [
    "blues",
    "classical",
    "country",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "rock",
];

/// The crate root (committed clips, fixtures).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Stdout of a run that must have succeeded (otherwise both streams are shown).
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// Stdout of a successful run, parsed as JSON.
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(o)).expect("JSON on stdout")
}

/// Runs `tuneprint` in `cwd` with `home` as its data folder and no other location set (no
/// `$TUNEPRINT_DB`, no `$XDG_DATA_HOME`).
#[allow(dead_code)] // not every test binary that shares this module runs the binary this way
pub fn run_at(cwd: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tuneprint"))
        .args(args)
        .current_dir(cwd)
        .env("TUNEPRINT_HOME", home)
        .env_remove("TUNEPRINT_DB")
        .env_remove("XDG_DATA_HOME")
        .output()
        .expect("run tuneprint")
}

/// Everything a scan stores, keyed by path (ids and scan times left out), for comparisons.
pub fn library_dump(db: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut out = Vec::new();
    let mut st = c
        .prepare(
            "SELECT path, name, size, mtime_ns, hash, error, analysis_version, format, sample_rate,
                    channels, samples, duration, title, artist, album, genre, year, label,
                    hex(features) FROM songs ORDER BY path",
        )
        .unwrap();
    let n = st.column_count();
    let rows = st
        .query_map([], |r| {
            let mut s = String::new();
            for i in 0..n {
                s.push_str(&format!("{:?}|", r.get_ref(i)?));
            }
            Ok(s)
        })
        .unwrap();
    out.extend(rows.map(Result::unwrap));
    let mut st = c
        .prepare(
            "SELECT s.path, w.idx, w.start, w.samples, hex(w.features) FROM windows w
             JOIN songs s ON s.id = w.song_id ORDER BY s.path, w.idx",
        )
        .unwrap();
    let rows = st
        .query_map([], |r| {
            Ok(format!(
                "{:?}|{}|{}|{}|{}",
                r.get_ref(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?
            ))
        })
        .unwrap();
    out.extend(rows.map(Result::unwrap));
    let mut st = c
        .prepare(
            "SELECT s.path, p.model_id, p.genre, hex(p.probabilities), hex(p.embedding), p.dim
             FROM predictions p JOIN songs s ON s.id = p.song_id ORDER BY s.path",
        )
        .unwrap();
    let rows = st
        .query_map([], |r| {
            Ok(format!(
                "{:?}|{}|{}|{}|{}|{}",
                r.get_ref(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?
            ))
        })
        .unwrap();
    out.extend(rows.map(Result::unwrap));
    out
}

/// Runs a golden comparison once per instruction set the CPU has, the portable code first,
/// and says which ran.
pub fn each_isa(name: &str, f: impl Fn() + Sync) {
    use tuneprint::features::lanes;
    let mut ran = Vec::new();
    for isa in lanes::available_isas() {
        lanes::with_isa(isa, &f);
        ran.push(isa.name());
    }
    eprintln!("{name}: compared on {}", ran.join(", "));
}
