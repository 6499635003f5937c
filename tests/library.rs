//! The song library end to end through the binary: scans (resumed after SIGKILL, incremental,
//! moves, failures), schema migrations, exports checked against `extract` and `check`, shards
//! merged, and predictions and playlists with a small model.

use rusqlite::Connection;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

mod common;
use common::{library_dump as dump, CLIP_GENRES};

const BIN: &str = env!("CARGO_BIN_EXE_tuneprint");
const SR: usize = 22050;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tuneprint_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("TUNEPRINT_DB")
        // No default model from the user's data folder: tests say which model they use.
        .env("TUNEPRINT_HOME", dir.join("no-home"))
        .output()
        .expect("run tuneprint")
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// The committed clips, decoded once (16-bit mono 22 050 Hz WAVs).
fn clip(genre: &str) -> Vec<i16> {
    static CLIPS: OnceLock<std::collections::HashMap<String, Vec<i16>>> = OnceLock::new();
    CLIPS.get_or_init(|| {
        CLIP_GENRES
            .iter()
            .map(|g| {
                let mut r =
                    hound::WavReader::open(root().join(format!("audio/{g}.00000.wav"))).unwrap();
                (
                    g.to_string(),
                    r.samples::<i16>().map(|s| s.unwrap()).collect(),
                )
            })
            .collect()
    })[genre]
        .clone()
}

/// `seconds` of a committed clip (repeated as needed, starting `offset` seconds in) as a WAV.
fn write_clip(path: &Path, genre: &str, seconds: f64, offset: usize) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let base = clip(genre);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SR as u32,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in base
        .iter()
        .cycle()
        .skip(offset * SR)
        .take((seconds * SR as f64) as usize)
    {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// Puts a RIFF INFO list (title, artist) in front of a WAV's data chunk.
fn tag_wav(path: &Path, title: &str, artist: &str) {
    let b = std::fs::read(path).unwrap();
    // hound writes RIFF, WAVE, a 16-byte fmt chunk, then data.
    assert_eq!(&b[36..40], b"data");
    let mut info = b"INFO".to_vec();
    for (id, text) in [(b"INAM", title), (b"IART", artist)] {
        let mut t = text.as_bytes().to_vec();
        t.push(0);
        if t.len() % 2 == 1 {
            t.push(0);
        }
        info.extend_from_slice(id);
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

/// A small library: 6 songs of a few seconds in genre folders, one of 70 s (three windows), two
/// that share a file name in different albums.
fn small_library(dir: &Path) -> PathBuf {
    let m = dir.join("music");
    write_clip(&m.join("jazz/take five.wav"), "jazz", 6.0, 0);
    write_clip(&m.join("rock/anthem.wav"), "rock", 5.0, 0);
    write_clip(&m.join("metal/long.wav"), "metal", 70.0, 0);
    write_clip(&m.join("pop/a/01 Intro.wav"), "pop", 4.0, 0);
    write_clip(&m.join("pop/b/01 Intro.wav"), "pop", 4.0, 10);
    write_clip(&m.join("blues.00000.wav"), "blues", 5.0, 0);
    tag_wav(&m.join("jazz/take five.wav"), "Take Five", "Dave Brubeck");
    m
}

fn count_songs(db: &Path) -> i64 {
    // A fresh read-only connection each time: sees what the scan has committed so far.
    match Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) {
        Ok(c) => c
            .query_row("SELECT COUNT(*) FROM songs", [], |r| r.get(0))
            .unwrap_or(0),
        Err(_) => 0,
    }
}

fn scan_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["library", "scan"];
    a.extend_from_slice(args);
    a.push("--json");
    json(&tuneprint_in(dir, &a))
}

#[test]
fn scan_killed_with_sigkill_resumes_to_the_same_database() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("music");
    let genres = CLIP_GENRES;
    for (k, g) in genres.iter().enumerate() {
        write_clip(&m.join(format!("{g}/{k} {g}.wav")), g, 10.0, 0);
        write_clip(&m.join(format!("{g}/{k} {g} b.wav")), g, 10.0, 5);
    }
    let (a, b) = (t.path().join("a.db"), t.path().join("b.db"));
    let full = scan_json(t.path(), &["music", "--db", "a.db", "--jobs", "1"]);
    assert_eq!(full["analysed"], 16, "{full}");

    // The same scan, killed once a few songs are committed.
    let mut child = Command::new(BIN)
        .args(["library", "scan", "music", "--db", "b.db", "--jobs", "1"])
        .current_dir(t.path())
        .env("TUNEPRINT_HOME", t.path().join("no-home"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while count_songs(&b) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "scan made no progress"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    // SIGKILL (what `Child::kill` sends on Unix): no chance to clean up.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the scan finished before it was killed");
    let kept = count_songs(&b);
    assert!((3..16).contains(&kept), "{kept} songs after the kill");

    // The next scan goes on: only the songs not yet stored are analysed.
    let resumed = scan_json(t.path(), &["music", "--db", "b.db", "--jobs", "1"]);
    assert_eq!(resumed["unchanged"], kept, "{resumed}");
    assert_eq!(resumed["analysed"], 16 - kept, "{resumed}");
    assert_eq!(dump(&a), dump(&b));
}

/// Two scans of one database at once (a cron job and a user): both end with exit 0 and every
/// song is analysed once, also when both create the database; reading commands keep working
/// while a scan writes.
#[test]
fn two_scans_of_one_database_at_once() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("music");
    let genres = ["blues", "jazz", "pop", "rock", "metal", "country"];
    for k in 0..12 {
        let g = genres[k % genres.len()];
        write_clip(&m.join(format!("{g}/{k:02}.wav")), g, 4.0, k);
    }
    let scan = |db: &str| {
        Command::new(BIN)
            .args([
                "library", "scan", "music", "--db", db, "--jobs", "1", "--json",
            ])
            .current_dir(t.path())
            .env("TUNEPRINT_HOME", t.path().join("no-home"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Five rounds, each on a new database that both processes create.
    for round in 0..5 {
        let db = format!("r{round}.db");
        let (a, b) = (scan(&db), scan(&db));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for o in [&a, &b] {
            assert_eq!(
                o.status.code(),
                Some(0),
                "round {round}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let (ra, rb) = (json(&a), json(&b));
        let analysed = ra["analysed"].as_u64().unwrap() + rb["analysed"].as_u64().unwrap();
        let unchanged = ra["unchanged"].as_u64().unwrap() + rb["unchanged"].as_u64().unwrap();
        assert_eq!((analysed, unchanged), (12, 12), "round {round}: {ra} {rb}");
        assert_eq!(count_songs(&t.path().join(&db)), 12);
    }
    // status, list and recommend while a scan of new files writes.
    for k in 12..40 {
        let g = genres[k % genres.len()];
        write_clip(&m.join(format!("{g}/{k:02}.wav")), g, 4.0, k);
    }
    let mut running = scan("r0.db");
    let reads = [
        vec!["library", "status", "--db", "r0.db", "--json"],
        vec!["library", "list", "--db", "r0.db", "--json"],
        vec![
            "recommend",
            "blues/00.wav",
            "--db",
            "r0.db",
            "-k",
            "3",
            "--json",
        ],
    ];
    let mut during = 0;
    while running.try_wait().unwrap().is_none() {
        for args in &reads {
            let o = tuneprint_in(t.path(), args);
            assert!(
                o.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        during += 1;
    }
    let o = running.wait_with_output().unwrap();
    assert_eq!(json(&o)["analysed"], 28);
    assert!(during >= 1);
}

#[test]
fn incremental_scans_changes_moves_copies_and_removals() {
    let t = tempfile::tempdir().unwrap();
    let m = small_library(t.path());
    let db = ["--db", "lib.db"];
    let first = scan_json(t.path(), &["music", db[0], db[1]]);
    assert_eq!(first["files"], 6, "{first}");
    assert_eq!(first["analysed"], 6, "{first}");
    assert_eq!(first["failed"], 0, "{first}");

    // Unchanged: nothing analysed.
    let again = scan_json(t.path(), &["music", db[0], db[1]]);
    assert_eq!(again["unchanged"], 6, "{again}");
    assert_eq!(again["analysed"], 0, "{again}");
    assert_eq!(again["reanalysed"], 0, "{again}");

    let show = |name: &str| {
        json(&ok(tuneprint_in(
            t.path(),
            &["library", "show", name, db[0], db[1], "--json"],
        )))
    };
    let anthem = show("anthem.wav");
    // A changed file is analysed again (same row), an unchanged one is not.
    write_clip(&m.join("rock/anthem.wav"), "rock", 5.0, 12);
    let r = scan_json(t.path(), &["music", db[0], db[1]]);
    assert_eq!(
        (r["reanalysed"].as_u64(), r["unchanged"].as_u64()),
        (Some(1), Some(5)),
        "{r}"
    );
    let anthem2 = show("anthem");
    assert_eq!(anthem2["id"], anthem["id"]);
    assert_ne!(anthem2["hash"], anthem["hash"]);

    // A moved (renamed) file is recognised by its content: same row, no analysis.
    let jazz = show("take five");
    std::fs::create_dir_all(m.join("favourites")).unwrap();
    std::fs::rename(m.join("jazz/take five.wav"), m.join("favourites/5.wav")).unwrap();
    let r = scan_json(t.path(), &["music", db[0], db[1]]);
    assert_eq!(
        (
            r["moved"].as_u64(),
            r["analysed"].as_u64(),
            r["removed"].as_u64()
        ),
        (Some(1), Some(0), Some(0)),
        "{r}"
    );
    let moved = show("5.wav");
    assert_eq!(moved["id"], jazz["id"]);
    assert_eq!(moved["title"], "Take Five");
    assert_eq!(moved["artist"], "Dave Brubeck");
    assert!(moved["path"]
        .as_str()
        .unwrap()
        .ends_with("music/favourites/5.wav"));

    // A copy is recognised too (its analysis copied); a touched file only gets its new mtime.
    std::fs::copy(m.join("blues.00000.wav"), m.join("copy.wav")).unwrap();
    touch(&m.join("rock/anthem.wav"));
    let r = scan_json(t.path(), &["music", db[0], db[1]]);
    assert_eq!(
        (
            r["copied"].as_u64(),
            r["touched"].as_u64(),
            r["analysed"].as_u64(),
            r["reanalysed"].as_u64()
        ),
        (Some(1), Some(1), Some(0), Some(0)),
        "{r}"
    );
    assert_eq!(show("copy")["features"], serde_json::Value::Null); // features hidden without --features
    let o = ok(tuneprint_in(
        t.path(),
        &[
            "library",
            "show",
            "copy",
            db[0],
            db[1],
            "--json",
            "--features",
        ],
    ));
    let b = ok(tuneprint_in(
        t.path(),
        &[
            "library",
            "show",
            "blues.00000",
            db[0],
            db[1],
            "--json",
            "--features",
        ],
    ));
    assert_eq!(json(&o)["features"], json(&b)["features"]);

    // Vanished files are removed.
    std::fs::remove_file(m.join("copy.wav")).unwrap();
    let r = scan_json(t.path(), &["music", db[0], db[1]]);
    assert_eq!(r["removed"], 1, "{r}");

    // Two songs share a file name: a name alone is ambiguous, the path is not.
    let o = tuneprint_in(t.path(), &["library", "show", "01 Intro.wav", db[0], db[1]]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("names 2 songs")
            && e.contains("pop/a/01 Intro.wav")
            && e.contains("pop/b/01 Intro.wav"),
        "{e}"
    );
    let a = show("music/pop/a/01 Intro.wav");
    let b = show("b/01 Intro.wav");
    assert_ne!(a["id"], b["id"]);

    // list: search and genre (tag or folder-less songs have no genre until a model predicts one).
    let l = json(&ok(tuneprint_in(
        t.path(),
        &[
            "library",
            "list",
            db[0],
            db[1],
            "--search",
            "brubeck five",
            "--json",
        ],
    )));
    assert_eq!(l["total"], 1, "{l}");
    assert_eq!(l["items"][0]["title"], "Take Five");
    let l = json(&ok(tuneprint_in(
        t.path(),
        &[
            "library", "list", db[0], db[1], "--json", "--limit", "2", "--sort", "duration",
        ],
    )));
    assert_eq!(l["total"], 6);
    assert_eq!(l["items"].as_array().unwrap().len(), 2);
    assert!(
        l["items"][0]["duration"].as_f64().unwrap() <= l["items"][1]["duration"].as_f64().unwrap()
    );
}

#[test]
fn corrupt_files_are_recorded_and_retried_only_when_changed() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("music");
    write_clip(&m.join("good.wav"), "jazz", 4.0, 0);
    write_clip(&m.join("good2.wav"), "rock", 4.0, 0);
    std::fs::write(m.join("garbage.mp3"), b"this is not an mp3 file at all").unwrap();
    let wav = std::fs::read(m.join("good.wav")).unwrap();
    std::fs::write(m.join("truncated.wav"), &wav[..30]).unwrap();

    let o = tuneprint_in(
        t.path(),
        &["library", "scan", "music", "--db", "l.db", "--json"],
    );
    assert_eq!(o.status.code(), Some(1), "failures make exit status 1");
    let r = json(&o);
    assert_eq!(
        (r["analysed"].as_u64(), r["failed"].as_u64()),
        (Some(2), Some(2)),
        "{r}"
    );
    let st = json(&ok(tuneprint_in(
        t.path(),
        &["library", "status", "--db", "l.db", "--json"],
    )));
    assert_eq!(
        (st["songs"].as_u64(), st["failed"].as_u64()),
        (Some(2), Some(2)),
        "{st}"
    );
    let text = String::from_utf8(
        ok(tuneprint_in(
            t.path(),
            &["library", "status", "--db", "l.db"],
        ))
        .stdout,
    )
    .unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("garbage.mp3"))
        .expect(&text);
    assert!(
        line.contains("unsupported or unrecognised format") || line.contains("corrupt"),
        "{line}"
    );
    assert!(text.lines().any(|l| l.contains("truncated.wav:")), "{text}");

    // Unchanged failures are not tried again.
    let r = scan_json(t.path(), &["music", "--db", "l.db"]);
    assert_eq!(
        (
            r["still_failing"].as_u64(),
            r["failed"].as_u64(),
            r["unchanged"].as_u64()
        ),
        (Some(2), Some(0), Some(2)),
        "{r}"
    );
    // A failed file that changes is tried again (and now succeeds).
    std::fs::write(m.join("truncated.wav"), &wav).unwrap();
    let r = scan_json(t.path(), &["music", "--db", "l.db"]);
    assert_eq!(
        (
            r["reanalysed"].as_u64(),
            r["copied"].as_u64(),
            r["still_failing"].as_u64()
        ),
        (Some(1), Some(0), Some(1)),
        "{r}"
    );
}

#[test]
fn older_schema_is_migrated_and_newer_refused() {
    let t = tempfile::tempdir().unwrap();
    // A version-1 database (songs and windows, no predictions yet), from a committed SQL dump.
    let old = t.path().join("old.db");
    let c = Connection::open(&old).unwrap();
    c.execute_batch(
        &std::fs::read_to_string(root().join("tests/fixtures/library/v1.sql")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        1
    );
    drop(c);
    let st = json(&ok(tuneprint_in(
        t.path(),
        &["library", "status", "--db", "old.db", "--json"],
    )));
    assert_eq!(
        (
            st["songs"].as_u64(),
            st["failed"].as_u64(),
            st["schema_version"].as_u64()
        ),
        (Some(1), Some(1), Some(2)),
        "{st}"
    );
    let l = json(&ok(tuneprint_in(
        t.path(),
        &["library", "list", "--db", "old.db", "--json"],
    )));
    assert_eq!(l["items"][0]["title"], "Old Song");
    assert_eq!(l["items"][0]["predicted"], serde_json::Value::Null);
    let c = Connection::open(&old).unwrap();
    assert_eq!(
        c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        2
    );
    assert_eq!(
        c.query_row("SELECT COUNT(*) FROM predictions", [], |r| r
            .get::<_, i64>(0))
            .unwrap(),
        0
    );
    // Marked as tuneprint's from now on.
    assert_eq!(
        c.query_row("PRAGMA application_id", [], |r| r.get::<_, i32>(0))
            .unwrap(),
        0x5450_4e54
    );
    c.pragma_update(None, "application_id", 0).unwrap();

    // A database from a newer tuneprint is refused, untouched.
    c.pragma_update(None, "user_version", 99).unwrap();
    drop(c);
    let o = tuneprint_in(t.path(), &["library", "status", "--db", "old.db"]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("schema version 99 is newer than this tuneprint supports (2)"),
        "{e}"
    );
    let c = Connection::open(&old).unwrap();
    assert_eq!(
        c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        99
    );
    assert_eq!(
        c.query_row("PRAGMA application_id", [], |r| r.get::<_, i32>(0))
            .unwrap(),
        0,
        "the newer database was written to"
    );

    // Not a database at all.
    std::fs::write(
        t.path().join("text.db"),
        "hello, this is not SQLite, just some text padding it out........",
    )
    .unwrap();
    let o = tuneprint_in(t.path(), &["library", "status", "--db", "text.db"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a tuneprint library"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn export_is_exactly_what_extract_writes() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("music");
    write_clip(&m.join("jazz/take five.wav"), "jazz", 6.0, 0);
    write_clip(&m.join("metal/long.wav"), "metal", 70.0, 0);
    write_clip(&m.join("blues.00000.wav"), "blues", 35.0, 0);
    ok(tuneprint_in(
        t.path(),
        &["library", "scan", "music", "--db", "l.db"],
    ));
    ok(tuneprint_in(
        t.path(),
        &["library", "export", "--db", "l.db", "--csv", "lib.csv"],
    ));
    ok(tuneprint_in(
        t.path(),
        &[
            "library",
            "export",
            "--db",
            "l.db",
            "--csv",
            "libw.csv",
            "--windows",
        ],
    ));
    ok(tuneprint_in(
        t.path(),
        &["extract", "music", "-o", "ext.csv"],
    ));
    ok(tuneprint_in(
        t.path(),
        &["extract", "music", "-o", "extw.csv", "--window", "30"],
    ));
    let read = |n: &str| std::fs::read_to_string(t.path().join(n)).unwrap();
    assert_eq!(read("lib.csv"), read("ext.csv"));
    assert_eq!(read("libw.csv"), read("extw.csv"));
    assert_eq!(read("libw.csv").lines().count(), 1 + 1 + 3 + 1);
}

#[test]
fn export_of_the_committed_clips_passes_check() {
    let t = tempfile::tempdir().unwrap();
    let db = t.path().join("clips.db").display().to_string();
    let csv = t.path().join("clips.csv").display().to_string();
    let audio = root().join("audio").display().to_string();
    ok(tuneprint_in(
        &root(),
        &["library", "scan", &audio, "--db", &db],
    ));
    ok(tuneprint_in(
        &root(),
        &["library", "export", "--db", &db, "--csv", &csv],
    ));
    let c = json(&ok(tuneprint_in(&root(), &["check", &csv, "--json"])));
    assert_eq!(
        (c["passed"].as_u64(), c["total"].as_u64()),
        (Some(58), Some(58)),
        "{c}"
    );
}

#[test]
fn three_shards_merged_equal_one_scan() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("music");
    let genres = CLIP_GENRES;
    for (k, g) in genres.iter().enumerate() {
        write_clip(&m.join(format!("{g}/{k}.wav")), g, 3.0, k);
    }
    std::fs::write(m.join("bad.wav"), b"RIFF").unwrap();
    // Exit 1: bad.wav is recorded as failed.
    let o = tuneprint_in(t.path(), &["library", "scan", "music", "--db", "one.db"]);
    assert_eq!(o.status.code(), Some(1));
    let shards: Vec<_> = (0..3)
        .map(|i| {
            Command::new(BIN)
                .args([
                    "library",
                    "scan",
                    "music",
                    "--db",
                    &format!("s{i}.db"),
                    "--shard",
                    &format!("{i}/3"),
                    "--json",
                    "--jobs",
                    "1",
                ])
                .current_dir(t.path())
                .env("TUNEPRINT_HOME", t.path().join("no-home"))
                .stderr(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut files = 0;
    for c in shards {
        let o = c.wait_with_output().unwrap();
        let r = json(&o);
        files += r["files"].as_u64().unwrap();
    }
    assert_eq!(files, 9, "every file in exactly one shard");
    let r = json(&ok(tuneprint_in(
        t.path(),
        &[
            "library", "merge", "s0.db", "s1.db", "s2.db", "-o", "all.db", "--json",
        ],
    )));
    assert_eq!(
        (r["songs"].as_u64(), r["duplicates"].as_u64()),
        (Some(9), Some(0)),
        "{r}"
    );
    let (one, all) = (
        dump(&t.path().join("one.db")),
        dump(&t.path().join("all.db")),
    );
    // 9 rows (one failed), 8 windows and the built-in model's 8 predictions.
    assert_eq!(one.len(), 9 + 8 + 8);
    assert_eq!(one, all);
}

/// `dir/other-model`: the built-in model with one more byte in its description, so another
/// model id with the same predictions.
fn other_model(dir: &Path) -> PathBuf {
    let other = dir.join("other-model");
    std::fs::create_dir_all(&other).unwrap();
    let builtin = root().join("src/model/builtin");
    let mut text = std::fs::read(builtin.join("model.json")).unwrap();
    text.push(b'\n');
    std::fs::write(other.join("model.json"), text).unwrap();
    std::fs::copy(
        builtin.join("model.safetensors"),
        other.join("model.safetensors"),
    )
    .unwrap();
    other
}

/// Gives a file a modification time a minute ahead, its content unchanged.
fn touch(path: &Path) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `--shard auto` from a Kubernetes Indexed Job's and a Slurm array's environment, `{shard}`
/// in `--db`, and the one-line errors when the environment is missing or wrong.
#[test]
fn auto_shards_from_the_scheduler_environment() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("music");
    for (k, g) in ["blues", "jazz", "pop", "rock", "metal"].iter().enumerate() {
        write_clip(&m.join(format!("{g}.wav")), g, 2.0, k);
    }
    let run = |vars: &[(&str, &str)], db: &str| -> Output {
        let mut c = Command::new(BIN);
        c.args(["library", "scan", "music", "--shard", "auto", "--db", db])
            .args(["--json", "--jobs", "1"])
            .current_dir(t.path())
            .env("TUNEPRINT_HOME", t.path().join("no-home"));
        for v in [
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_COUNT",
            "SLURM_ARRAY_TASK_MIN",
            "SLURM_ARRAY_TASK_STEP",
            "JOB_COMPLETION_INDEX",
            "TUNEPRINT_SHARDS",
        ] {
            c.env_remove(v);
        }
        c.envs(vars.iter().copied());
        c.output().unwrap()
    };
    // Kubernetes: indexes 0 and 1 of 2 into k-0.db and k-1.db.
    let mut files = 0;
    for i in ["0", "1"] {
        let o = ok(run(
            &[("JOB_COMPLETION_INDEX", i), ("TUNEPRINT_SHARDS", "2")],
            "k-{shard}.db",
        ));
        files += json(&o)["files"].as_u64().unwrap();
        assert!(t.path().join(format!("k-{i}.db")).is_file());
    }
    assert_eq!(files, 5);
    // Slurm: an array 10-11 is shards 0 and 1 of 2, the same files as above.
    for (id, k) in [("10", "0"), ("11", "1")] {
        ok(run(
            &[
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", "10"),
                ("SLURM_ARRAY_TASK_COUNT", "2"),
            ],
            "s-{shard}.db",
        ));
        assert_eq!(
            dump(&t.path().join(format!("s-{k}.db"))),
            dump(&t.path().join(format!("k-{k}.db")))
        );
    }
    // Errors: one line, exit 2, no database made.
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[],
            "error: --shard auto: no shard index in the environment: run it as a Slurm job \
             array (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX \
             with TUNEPRINT_SHARDS), or give --shard I/N\n",
        ),
        (
            &[("JOB_COMPLETION_INDEX", "2"), ("TUNEPRINT_SHARDS", "2")],
            "error: --shard auto: shard 2 of 2 is out of range: there must be more shards \
             than the highest index; check TUNEPRINT_SHARDS (set it to the Job's \
             completions)\n",
        ),
        (
            &[("SLURM_ARRAY_TASK_ID", "3")],
            "error: --shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is \
             not\n",
        ),
    ];
    for (vars, want) in cases {
        let o = run(vars, "e-{shard}.db");
        assert_eq!((o.status.code(), stderr(&o).as_str()), (Some(2), want));
    }
    let o = tuneprint_in(
        t.path(),
        &["library", "scan", "music", "--db", "e-{shard}.db"],
    );
    assert_eq!(
        (o.status.code(), stderr(&o).as_str()),
        (
            Some(2),
            "error: --db e-{shard}.db: {shard} in the path needs --shard\n"
        )
    );
    assert!(!t.path().join("e-{shard}.db").exists());
    assert!(!t.path().join("e-0.db").exists());
}

/// What `library merge` refuses (with the exact one-line message, exit 2, its inputs
/// untouched and no output written) and how it reports duplicate paths.
#[test]
fn merge_refuses_mixed_inputs_and_reports_duplicates() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let m = dir.join("music");
    write_clip(&m.join("a.wav"), "jazz", 2.0, 0);
    write_clip(&m.join("b.wav"), "rock", 2.0, 1);
    ok(tuneprint_in(
        dir,
        &["library", "scan", "music", "--db", "a.db"],
    ));
    ok(tuneprint_in(
        dir,
        &["library", "scan", "music", "--db", "b.db"],
    ));
    other_model(dir);
    ok(tuneprint_in(
        dir,
        &[
            "library",
            "scan",
            "music",
            "--db",
            "c.db",
            "--model",
            "other-model",
        ],
    ));
    // Duplicates: every path of b.db is already in a.db.
    let o = ok(tuneprint_in(
        dir,
        &["library", "merge", "a.db", "b.db", "-o", "ab.db", "--json"],
    ));
    assert_eq!(
        stderr(&o),
        format!(
            "warning: {0}/a.wav is in a.db and in b.db: kept the first, left out the second\n\
             warning: {0}/b.wav is in a.db and in b.db: kept the first, left out the second\n",
            m.display()
        )
    );
    let r = json(&o);
    assert_eq!(
        (r["songs"].as_u64(), r["duplicates"].as_u64()),
        (Some(2), Some(2)),
        "{r}"
    );
    assert_eq!(dump(&dir.join("ab.db")), dump(&dir.join("a.db")));

    let models = |db: &str| -> String {
        Connection::open(dir.join(db))
            .unwrap()
            .query_row("SELECT model_id FROM predictions LIMIT 1", [], |r| r.get(0))
            .unwrap()
    };
    let (builtin_id, other_id) = (models("a.db"), models("c.db"));
    assert_ne!(builtin_id, other_id);
    // Inputs that cannot be merged.
    std::fs::write(
        dir.join("text.db"),
        "not a database at all, just some text....",
    )
    .unwrap();
    {
        let c = Connection::open(dir.join("theirs.db")).unwrap();
        c.execute_batch("CREATE TABLE notes (x); CREATE TABLE tags (y);")
            .unwrap();
    }
    std::fs::copy(dir.join("b.db"), dir.join("old.db")).unwrap();
    Connection::open(dir.join("old.db"))
        .unwrap()
        .pragma_update(None, "user_version", 1)
        .unwrap();
    std::fs::write(dir.join("empty.db"), b"").unwrap();
    let cases = [
        (
            "c.db",
            format!(
                "its songs were predicted by model {other_id}, but those of a.db by model \
                 {builtin_id}; scan every shard with the same --model"
            ),
        ),
        ("missing.db", "no such file".to_string()),
        (
            "text.db",
            "not a tuneprint library (not an SQLite database)".to_string(),
        ),
        (
            "theirs.db",
            "not a tuneprint library (tables: notes, tags)".to_string(),
        ),
        (
            "empty.db",
            "not a tuneprint library (an empty database)".to_string(),
        ),
        (
            "old.db",
            "schema version 1, but this tuneprint merges version 2 (open it once with \
             `tuneprint library status --db old.db` to migrate it, or scan every shard with one \
             tuneprint)"
                .to_string(),
        ),
    ];
    let before: Vec<Vec<u8>> = ["theirs.db", "old.db", "text.db"]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect();
    for (bad, reason) in cases {
        let o = tuneprint_in(dir, &["library", "merge", "a.db", bad, "-o", "out.db"]);
        assert_eq!(
            (o.status.code(), stderr(&o)),
            (
                Some(2),
                format!("error: {bad}: cannot merge it: {reason}\n")
            ),
            "{bad}"
        );
        assert!(!dir.join("out.db").exists(), "{bad}");
    }
    let after: Vec<Vec<u8>> = ["theirs.db", "old.db", "text.db"]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect();
    assert!(before == after, "a refused input was written to");
    // No temporary file is left beside the output.
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("merge"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A model trained once (3 epochs), shared by the tests.
fn model(dir: &Path) -> PathBuf {
    let out = dir.join("model");
    ok(Command::new(BIN)
        .args([
            "train",
            "--arch",
            "paper",
            "--seeds",
            "0",
            "--max-epochs",
            "3",
            "-o",
        ])
        .arg(&out)
        .current_dir(root())
        .output()
        .unwrap());
    out
}

#[test]
fn predictions_playlists_and_a_new_model_without_decoding() {
    let t = tempfile::tempdir().unwrap();
    let m = small_library(t.path());
    // The same song twice (another file with the same title and artist): never twice in a list.
    write_clip(&m.join("jazz/take five (live).wav"), "jazz", 6.0, 3);
    tag_wav(
        &m.join("jazz/take five (live).wav"),
        "take five",
        "DAVE BRUBECK",
    );
    let model_dir = model(t.path());
    let md = model_dir.display().to_string();
    let r = scan_json(t.path(), &["music", "--db", "l.db", "--model", &md]);
    assert_eq!(r["analysed"], 7, "{r}");
    let st = json(&ok(tuneprint_in(
        t.path(),
        &["library", "status", "--db", "l.db", "--json"],
    )));
    assert_eq!(st["models"][0]["songs"], 7, "{st}");
    let first_model = st["models"][0]["model_id"].as_str().unwrap().to_string();

    let show = json(&ok(tuneprint_in(
        t.path(),
        &["library", "show", "anthem", "--db", "l.db", "--json"],
    )));
    let p = &show["prediction"];
    let probs = p["probabilities"].as_array().unwrap();
    assert_eq!(probs.len(), 10);
    let sum: f64 = probs.iter().map(|x| x[1].as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-4, "{sum}");
    assert_eq!(p["embedding_dim"], 3328); // the paper CNN's own embedding: its flatten layer

    // A playlist from a song: the seed first, each song once, title + artist never twice.
    let o = ok(tuneprint_in(
        t.path(),
        &[
            "playlist",
            "take five",
            "-n",
            "5",
            "--db",
            "l.db",
            "-o",
            "lists/p.m3u8",
        ],
    ));
    assert!(o.stdout.is_empty());
    let text = std::fs::read_to_string(t.path().join("lists/p.m3u8")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "#EXTM3U");
    assert_eq!(lines.len(), 1 + 2 * 5, "{text}");
    assert_eq!(lines[1], "#EXTINF:6,Dave Brubeck - Take Five");
    assert_eq!(lines[2], "../music/jazz/take five.wav");
    assert!(!text.to_lowercase().contains("take five (live)"), "{text}");
    for pair in lines[1..].chunks(2) {
        assert!(pair[0].starts_with("#EXTINF:"));
        assert!(
            t.path().join("lists").join(pair[1]).is_file(),
            "{}",
            pair[1]
        );
    }
    // To stdout, relative to the current folder; asking for more than there is gives them all.
    let o = ok(tuneprint_in(
        t.path(),
        &["playlist", "anthem", "-n", "50", "--db", "l.db"],
    ));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("music/")).count(),
        6,
        "{text}"
    );
    let genre = show["prediction"]["genre"].as_str().unwrap().to_string();
    let g = json(&ok(tuneprint_in(
        t.path(),
        &[
            "playlist", "--genre", &genre, "-n", "30", "--db", "l.db", "--json",
        ],
    )));
    assert!(
        g.as_array()
            .unwrap()
            .iter()
            .all(|s| s["predicted"] == genre.as_str()),
        "{g}"
    );
    assert!(!g.as_array().unwrap().is_empty());
    let all = json(&ok(tuneprint_in(
        t.path(),
        &["library", "list", "--db", "l.db", "--json"],
    )));
    let of_genre = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["predicted"] == genre.as_str())
        .count();
    let l = json(&ok(tuneprint_in(
        t.path(),
        &[
            "library",
            "list",
            "--genre",
            &genre.to_uppercase(),
            "--db",
            "l.db",
            "--json",
        ],
    )));
    assert_eq!(l["total"].as_u64(), Some(of_genre as u64), "{l}");

    // Another model: songs re-classified from their stored features. The audio files are
    // overwritten with zeros (same size and mtime), so any decoding would show.
    let other = t.path().join("model2");
    std::fs::create_dir_all(&other).unwrap();
    for e in std::fs::read_dir(&model_dir).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            std::fs::copy(e.path(), other.join(e.file_name())).unwrap();
        }
    }
    let mut j = std::fs::read_to_string(other.join("model.json")).unwrap();
    j.push('\n');
    std::fs::write(other.join("model.json"), j).unwrap();
    for e in walk(&m) {
        let meta = std::fs::metadata(&e).unwrap();
        std::fs::write(&e, vec![0u8; meta.len() as usize]).unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&e).unwrap();
        f.set_modified(meta.modified().unwrap()).unwrap();
    }
    let r = scan_json(
        t.path(),
        &[
            "music",
            "--db",
            "l.db",
            "--model",
            &other.display().to_string(),
        ],
    );
    assert_eq!(
        (
            r["unchanged"].as_u64(),
            r["reclassified"].as_u64(),
            r["failed"].as_u64()
        ),
        (Some(7), Some(7), Some(0)),
        "{r}"
    );
    let st = json(&ok(tuneprint_in(
        t.path(),
        &["library", "status", "--db", "l.db", "--json"],
    )));
    assert_eq!(st["models"].as_array().unwrap().len(), 1, "{st}");
    assert_ne!(st["models"][0]["model_id"], first_model.as_str());
    let show2 = json(&ok(tuneprint_in(
        t.path(),
        &["library", "show", "anthem", "--db", "l.db", "--json"],
    )));
    // Same weights: the same predictions (up to libtorch's batch-size rounding), now under the
    // new model's id.
    let (p1, p2) = (
        &show["prediction"]["probabilities"],
        &show2["prediction"]["probabilities"],
    );
    for (a, b) in p1.as_array().unwrap().iter().zip(p2.as_array().unwrap()) {
        assert_eq!(a[0], b[0]);
        assert!(
            (a[1].as_f64().unwrap() - b[1].as_f64().unwrap()).abs() < 1e-5,
            "{p1} {p2}"
        );
    }
    assert_eq!(show2["prediction"]["model_id"], st["models"][0]["model_id"]);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// One recording stored twice (the committed `blues.00000.au` and `blues.00000.wav`: other bytes,
/// the same samples) is recognised by its audio: `recommend --db` lists it once with both paths,
/// never as a neighbour of itself, and a playlist holds it once.
#[test]
fn the_same_audio_in_two_files_is_one_recording() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("music");
    std::fs::create_dir_all(&m).unwrap();
    for f in [
        "blues.00000.au",
        "blues.00000.wav",
        "jazz.00000.wav",
        "rock.00000.wav",
        "pop.00000.wav",
    ] {
        std::fs::copy(root().join("audio").join(f), m.join(f)).unwrap();
    }
    let md = model(t.path()).display().to_string();
    let r = scan_json(t.path(), &["music", "--db", "l.db", "--model", &md]);
    assert_eq!(r["analysed"], 5, "{r}");

    let like = |query: &str| -> Vec<serde_json::Value> {
        let v = json(&ok(tuneprint_in(
            t.path(),
            &["recommend", query, "--db", "l.db", "-k", "4", "--json"],
        )));
        v["results"].as_array().unwrap().clone()
    };
    // Four recordings besides jazz: blues once, listed with its other file.
    let hits = like("jazz.00000.wav");
    assert_eq!(hits.len(), 3, "{hits:?}");
    let names: Vec<String> = hits
        .iter()
        .map(|h| {
            Path::new(h["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let blues: Vec<&serde_json::Value> = hits
        .iter()
        .filter(|h| h["path"].as_str().unwrap().contains("blues.00000"))
        .collect();
    assert_eq!(blues.len(), 1, "{names:?}");
    let copies = blues[0]["copies"].as_array().unwrap();
    assert_eq!(copies.len(), 1, "{hits:?}");
    let both: HashSet<String> = [
        blues[0]["path"].as_str().unwrap(),
        copies[0].as_str().unwrap(),
    ]
    .iter()
    .map(|p| {
        Path::new(p)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    })
    .collect();
    assert_eq!(
        both,
        HashSet::from(["blues.00000.au".to_string(), "blues.00000.wav".to_string()])
    );
    // The others have no copies, and no `copies` field.
    assert!(hits
        .iter()
        .filter(|h| !h["path"].as_str().unwrap().contains("blues"))
        .all(|h| h.get("copies").is_none()));

    // The blues recording's neighbours never include its other file.
    for q in ["blues.00000.au", "blues.00000.wav"] {
        let hits = like(q);
        assert_eq!(hits.len(), 3, "{q}: {hits:?}");
        assert!(
            hits.iter()
                .all(|h| !h["path"].as_str().unwrap().contains("blues")),
            "{q}: {hits:?}"
        );
    }

    // A playlist from rock asks for 5 and gets the 4 recordings there are.
    let out = ok(tuneprint_in(
        t.path(),
        &[
            "playlist",
            "rock.00000.wav",
            "-n",
            "5",
            "--db",
            "l.db",
            "-o",
            "p.m3u8",
        ],
    ));
    drop(out);
    let m3u = std::fs::read_to_string(t.path().join("p.m3u8")).unwrap();
    let entries: Vec<&str> = m3u.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(entries.len(), 4, "{m3u}");
    assert_eq!(
        entries.iter().filter(|e| e.contains("blues")).count(),
        1,
        "{m3u}"
    );
}

#[test]
fn a_damaged_database_is_one_line_with_each_cause_once() {
    let t = clips_in_m(&["jazz.00000.wav"]);
    ok(tuneprint_in(
        t.path(),
        &["library", "scan", "m", "--db", "lib.db"],
    ));
    // Damage every page after the first (the header stays valid).
    let db = t.path().join("lib.db");
    let mut bytes = std::fs::read(&db).unwrap();
    for i in (4096..bytes.len()).step_by(997) {
        bytes[i] = 0xff;
    }
    std::fs::write(&db, bytes).unwrap();
    let o = tuneprint_in(t.path(), &["library", "status", "--db", "lib.db"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: library database: database disk image is malformed\n"
    );
}

#[test]
fn another_programs_database_is_refused_untouched() {
    let t = clips_in_m(&["jazz.00000.wav"]);
    for (file, sql, tables) in [
        (
            "notes.db",
            "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('mine');",
            "notes",
        ),
        // A `songs` table of its own, at schema version 0: still not ours.
        (
            "player.db",
            "CREATE TABLE songs (id INTEGER PRIMARY KEY, title TEXT);
             CREATE TABLE albums (id INTEGER PRIMARY KEY);",
            "albums, songs",
        ),
        // Tables named like ours at a schema version, but another program's application id.
        (
            "other-app.db",
            "PRAGMA application_id = 305419896; PRAGMA user_version = 2;
             CREATE TABLE songs (id INTEGER PRIMARY KEY); CREATE TABLE windows (x);",
            "songs, windows",
        ),
    ] {
        let db = t.path().join(file);
        Connection::open(&db).unwrap().execute_batch(sql).unwrap();
        let before = std::fs::read(&db).unwrap();
        for args in [
            &["library", "scan", "m", "--db", file][..],
            &["library", "status", "--db", file],
        ] {
            let o = tuneprint_in(t.path(), args);
            assert_eq!(o.status.code(), Some(2), "{args:?}");
            assert_eq!(
                String::from_utf8_lossy(&o.stderr),
                format!(
                    "error: {file}: cannot open the library: another program's SQLite database \
                     (tables: {tables}), not a tuneprint library; give another --db\n"
                )
            );
        }
        assert_eq!(std::fs::read(&db).unwrap(), before, "{file} was written");
        assert!(!t.path().join(format!("{file}-wal")).exists());
    }
    // Ours carry tuneprint's application id ("TPNT").
    ok(tuneprint_in(
        t.path(),
        &["library", "scan", "m", "--db", "ours.db"],
    ));
    let id: i32 = Connection::open(t.path().join("ours.db"))
        .unwrap()
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(id, 0x5450_4e54);
}

/// `library check`: a sound library passes; each broken invariant is named on its own line,
/// with exit 1.
#[test]
fn library_check_finds_each_broken_invariant() {
    let t = clips_in_m(&["jazz.00000.wav", "metal.00000.wav", "pop.00000.wav"]);
    std::fs::write(t.path().join("m/bad.wav"), b"RIFF").unwrap();
    let o = tuneprint_in(t.path(), &["library", "scan", "m", "--db", "lib.db"]);
    assert_eq!(o.status.code(), Some(1), "bad.wav is recorded as failed");
    let o = ok(tuneprint_in(
        t.path(),
        &["library", "check", "--db", "lib.db"],
    ));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "lib.db: ok (3 songs, 1 failed, 3 windows, 3 predictions)\n"
    );
    let m = std::fs::canonicalize(t.path().join("m")).unwrap();
    let c = Connection::open(t.path().join("lib.db")).unwrap();
    let id = |name: &str| -> i64 {
        c.query_row("SELECT id FROM songs WHERE name = ?", [name], |r| r.get(0))
            .unwrap()
    };
    let (jazz, metal, pop, bad) = (
        id("jazz.00000.wav"),
        id("metal.00000.wav"),
        id("pop.00000.wav"),
        id("bad.wav"),
    );
    c.execute_batch(&format!(
        "PRAGMA foreign_keys = OFF;
         DELETE FROM windows WHERE song_id = {jazz};
         UPDATE songs SET features = x'00' WHERE id = {metal};
         UPDATE predictions SET model_id = 'feedbeef' WHERE song_id = {metal};
         UPDATE predictions SET probabilities = x'0000803f', embedding = x'00' WHERE song_id = {pop};
         INSERT INTO windows SELECT {bad}, idx, start, samples, features FROM windows WHERE song_id = {pop};
         UPDATE windows SET idx = 2 WHERE song_id = {pop};"
    ))
    .unwrap();
    drop(c);
    let o = tuneprint_in(t.path(), &["library", "check", "--db", "lib.db"]);
    assert_eq!(o.status.code(), Some(1));
    let (b, j, me, p) = (
        m.join("bad.wav"),
        m.join("jazz.00000.wav"),
        m.join("metal.00000.wav"),
        m.join("pop.00000.wav"),
    );
    let (b, j, me, p) = (b.display(), j.display(), me.display(), p.display());
    let model: String = Connection::open(t.path().join("lib.db"))
        .unwrap()
        .query_row("SELECT id FROM models", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!(
            "{me}: analysed, but its features are 1 bytes (expected 456 bytes)\n\
             {j}: analysed, but it has no windows\n\
             {p}: its 1 windows are numbered 2 to 2, not from 0 without gaps\n\
             {b}: failed (corrupt audio: truncated while reading the header), but it has windows or a prediction\n\
             {me}: its prediction names model feedbeef, which the library does not know\n\
             {p}: 1 probabilities for the 10 genres of model {model}\n\
             {p}: its embedding has 1 bytes, not the 138 values its row says\n\
             lib.db: 7 problems (3 songs, 1 failed, 3 windows, 3 predictions)\n"
        )
    );
}

#[test]
fn a_backup_is_one_consistent_file_while_the_library_is_open() {
    let t = clips_in_m(&["jazz.00000.wav", "metal.00000.wav"]);
    ok(tuneprint_in(
        t.path(),
        &["library", "scan", "m", "--db", "lib.db"],
    ));
    // Another process holds the library open, with a write of its own still in the WAL.
    let held = Connection::open(t.path().join("lib.db")).unwrap();
    held.execute_batch("PRAGMA wal_autocheckpoint = 0; UPDATE songs SET title = 'held' WHERE name = 'jazz.00000.wav';")
        .unwrap();
    assert!(t.path().join("lib.db-wal").metadata().unwrap().len() > 0);
    let o = ok(tuneprint_in(
        t.path(),
        &["library", "backup", "-o", "copy.db", "--db", "lib.db"],
    ));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("lib.db → copy.db ("), "{out}");
    assert!(!t.path().join("copy.db-wal").exists());
    // The copy alone holds everything, the WAL's write included.
    let copy = t.path().join("copy.db");
    assert_eq!(dump(&copy), dump(&t.path().join("lib.db")));
    let title: String = Connection::open(&copy)
        .unwrap()
        .query_row(
            "SELECT title FROM songs WHERE name = 'jazz.00000.wav'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(title, "held");
    // Onto itself: refused.
    let o = tuneprint_in(
        t.path(),
        &["library", "backup", "-o", "lib.db", "--db", "lib.db"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: lib.db: is the library itself: give another file\n"
    );
    drop(held);
}

/// A temporary folder with a folder `m` holding copies of the committed clips `names`.
fn clips_in_m(names: &[&str]) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("m")).unwrap();
    for f in names {
        std::fs::copy(root().join("audio").join(f), t.path().join("m").join(f)).unwrap();
    }
    t
}

/// Every database a test compares after a kill: rows by path (ids and scan times left out) and
/// the models table (its time left out).
fn dump_all(db: &Path) -> Vec<String> {
    let mut d = dump(db);
    let c = Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT id, dir, arch, genres, embedding FROM models ORDER BY id")
        .unwrap();
    let rows = st
        .query_map([], |r| {
            Ok((0..5)
                .map(|i| r.get::<_, String>(i))
                .collect::<rusqlite::Result<Vec<_>>>()?
                .join("|"))
        })
        .unwrap();
    d.extend(rows.map(Result::unwrap));
    d
}

/// Kill safety at every write: the test hook aborts the process right after its N-th write to
/// a library, for N = 1, 2, … until a run ends by itself, in five situations: a first scan, a
/// rescan with moved, changed, removed, touched and copied files, re-classification with a new
/// model, a migration from schema 1, and a merge. After each abort, running the same command
/// again ends with the database an uninterrupted run makes.
#[test]
fn killed_after_any_write_the_next_run_ends_as_an_uninterrupted_one() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let m = dir.join("music");
    for (k, g) in ["blues", "jazz", "pop", "rock"].iter().enumerate() {
        write_clip(&m.join(format!("{g}.wav")), g, 2.0, k);
    }
    std::fs::copy(m.join("jazz.wav"), m.join("jazz copy.wav")).unwrap();
    std::fs::write(m.join("notes.mp3"), b"not audio").unwrap();
    other_model(dir);

    let run = |args: &[&str], abort_after: Option<usize>| -> Output {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(dir)
            .env("TUNEPRINT_HOME", dir.join("no-home"))
            .env_remove("TUNEPRINT_DB")
            .env_remove(tuneprint::config::TEST_ABORT_ENV);
        if let Some(n) = abort_after {
            c.env(tuneprint::config::TEST_ABORT_ENV, n.to_string());
        }
        c.output().unwrap()
    };
    let files = ["work.db", "work.db-wal", "work.db-shm", "out.db"];
    // Puts `template` (or nothing) in place as work.db.
    let restore = |template: Option<&Path>| {
        for f in files {
            let _ = std::fs::remove_file(dir.join(f));
        }
        if let Some(t) = template {
            std::fs::copy(t, dir.join("work.db")).unwrap();
        }
    };
    let finished = |o: &Output, what: &str| {
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{what}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    // Runs `args` from `template` uninterrupted, then killed after each write in turn.
    // Returns how many writes the command makes.
    let every_write = |name: &str, template: Option<&Path>, args: &[&str], result: &str| -> usize {
        restore(template);
        finished(&run(args, None), name);
        let want = dump_all(&dir.join(result));
        for n in 1.. {
            restore(template);
            let o = run(args, Some(n));
            if o.status.code().is_some() {
                finished(&o, name);
                assert_eq!(dump_all(&dir.join(result)), want, "{name}: not aborted");
                return n - 1;
            }
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains(&format!("aborting after write {n}\n")),
                "{name}, write {n}: {err}"
            );
            let again = run(args, None);
            finished(&again, &format!("{name}, after write {n}"));
            assert_eq!(
                dump_all(&dir.join(result)),
                want,
                "{name}: killed after write {n}, then run again"
            );
        }
        unreachable!()
    };
    let keep = |name: &str| {
        let p = dir.join(name);
        std::fs::copy(dir.join("work.db"), &p).unwrap();
        p
    };
    let scan = ["library", "scan", "music", "--db", "work.db", "--jobs", "1"];

    // 1. A first scan: the database made (application id, two migrations), the model, then
    // five songs and the failed file.
    let writes = every_write("first scan", None, &scan, "work.db");
    assert_eq!(writes, 3 + 1 + 6);
    let scanned = keep("scanned.db");

    // 2. A rescan: blues moved, pop changed, rock removed, jazz touched, a new copy of jazz.
    std::fs::rename(m.join("blues.wav"), m.join("blues moved.wav")).unwrap();
    write_clip(&m.join("pop.wav"), "pop", 3.0, 7);
    std::fs::remove_file(m.join("rock.wav")).unwrap();
    touch(&m.join("jazz.wav"));
    std::fs::copy(m.join("jazz copy.wav"), m.join("jazz again.wav")).unwrap();
    let writes = every_write("rescan", Some(&scanned), &scan, "work.db");
    // touched, moved, copied, removed, pop stored again
    assert_eq!(writes, 5);
    let rescanned = keep("rescanned.db");

    // 3. Re-classification by another model, from the stored features.
    let mut with_other = scan.to_vec();
    with_other.extend(["--model", "other-model"]);
    let writes = every_write(
        "re-classification",
        Some(&rescanned),
        &with_other,
        "work.db",
    );
    assert_eq!(writes, 2); // the model, one batch of predictions

    // 4. A migration from schema 1.
    let old = dir.join("v1.db");
    Connection::open(&old)
        .unwrap()
        .execute_batch(
            &std::fs::read_to_string(root().join("tests/fixtures/library/v1.sql")).unwrap(),
        )
        .unwrap();
    let status = ["library", "status", "--db", "work.db"];
    let writes = every_write("migration", Some(&old), &status, "work.db");
    assert_eq!(writes, 2); // the application id, migration 2

    // 5. A merge of two shards into out.db.
    restore(None);
    for i in 0..2 {
        let shard = format!("{i}/2");
        let db = format!("shard{i}.db");
        finished(
            &run(
                &["library", "scan", "music", "--db", &db, "--shard", &shard],
                None,
            ),
            "shard",
        );
    }
    let merge = ["library", "merge", "shard0.db", "shard1.db", "-o", "out.db"];
    let writes = every_write("merge", None, &merge, "out.db");
    assert_eq!(writes, 3 + 2); // the new database, then one transaction per input
}
