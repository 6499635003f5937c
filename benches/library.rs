//! Library benchmarks on synthetic data (targets of issue 14, not timed tests):
//!
//! * nearest 10 of 100 000 songs (brute-force cosine over the loaded matrix) ≤ 50 ms;
//! * `playlist -n 50` among 100 000 songs ≤ 1 s;
//! * rescan of an unchanged 10 000-song library ≤ 2 s (walk + stat + one indexed lookup each).
//!
//! The 100 000 songs have random 138-value embeddings (the combined layer's size) and tags; the
//! 10 000 files are small WAV-named files whose rows are written as a finished scan would.
//! Run: `cargo bench --bench library`.

use criterion::{criterion_group, Criterion};
use rand::{Rng, SeedableRng};
use rusqlite::params;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tuneprint::library::{Library, ScanOptions};

const SONGS: usize = 100_000;
const DIM: usize = 138;
const FILES: usize = 10_000;

fn f32_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A library of `n` songs with random embeddings.
fn synthetic(path: &Path, n: usize) -> Library {
    let lib = Library::open(path).unwrap();
    // Rows written straight into the database file (the library's own API writes only what a
    // scan finds).
    let c = rusqlite::Connection::open(path).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    c.execute_batch("BEGIN").unwrap();
    c.execute(
        "INSERT INTO models VALUES ('bench', '/models/bench', 'paper', ?, 'combined', 0)",
        [serde_json::to_string(&tuneprint::config::GENRES).unwrap()],
    )
    .unwrap();
    let features = vec![0u8; 57 * 8];
    {
        let mut song = c
            .prepare(
                "INSERT INTO songs (id, path, name, size, mtime_ns, hash, analysis_version,
                 format, duration, title, artist, label, features, scanned_at)
                 VALUES (?1, ?2, ?3, 1000, 0, ?4, 1, 'mp3', 200.0, ?5, ?6, '', ?7, 0)",
            )
            .unwrap();
        let mut pred = c
            .prepare("INSERT INTO predictions VALUES (?1, 'bench', ?2, ?3, ?4, ?5)")
            .unwrap();
        for i in 1..=n as i64 {
            let path = format!("/music/artist {}/album {}/{i:06}.mp3", i % 997, i % 31);
            song.execute(params![
                i,
                path.as_bytes(),
                format!("{i:06}.mp3"),
                blake3::hash(&i.to_le_bytes()).to_hex().to_string(),
                format!("Song {}", i % 50_000),
                format!("Artist {}", i % 997),
                features
            ])
            .unwrap();
            let e: Vec<f32> = (0..DIM).map(|_| rng.gen::<f32>() - 0.3).collect();
            let p: Vec<f32> = (0..10).map(|_| 0.1).collect();
            let g = tuneprint::config::GENRES[(i % 10) as usize];
            pred.execute(params![i, g, f32_blob(&p), f32_blob(&e), DIM as i64])
                .unwrap();
        }
    }
    c.execute_batch("COMMIT").unwrap();
    lib
}

/// `n` files in 100 folders, with the rows a finished scan would have written for them.
fn unchanged_library(dir: &Path, n: usize) -> (Library, PathBuf) {
    let music = dir.join("music");
    let lib = Library::open(&dir.join("files.db")).unwrap();
    let c = rusqlite::Connection::open(dir.join("files.db")).unwrap();
    c.execute_batch("BEGIN").unwrap();
    let features = vec![0u8; 57 * 8];
    for i in 0..n {
        let folder = music.join(format!("album {:03}", i % 100));
        std::fs::create_dir_all(&folder).unwrap();
        let p = folder.join(format!("{i:05} song.mp3"));
        std::fs::write(&p, i.to_le_bytes()).unwrap();
        let p = std::fs::canonicalize(&p).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        let mtime = m
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        c.execute(
            "INSERT INTO songs (path, name, size, mtime_ns, hash, analysis_version, format,
             samples, duration, label, features, scanned_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'mp3', 661500, 30.0, '', ?7, 0)",
            params![
                p.as_os_str().as_encoded_bytes(),
                format!("{i:05} song.mp3"),
                m.len() as i64,
                mtime,
                blake3::hash(&i.to_le_bytes()).to_hex().to_string(),
                tuneprint::config::ANALYSIS_VERSION,
                features
            ],
        )
        .unwrap();
    }
    c.execute_batch("COMMIT").unwrap();
    (lib, music)
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|k| k.parse::<f64>().ok())
        .map_or(0.0, |k| k / 1024.0)
}

fn library(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let lib = synthetic(&dir.path().join("songs.db"), SONGS);
    eprintln!(
        "built a {SONGS}-song database in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let idx = lib.embeddings().unwrap();
    eprintln!(
        "loaded the {SONGS} × {DIM} embedding matrix in {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(idx.len(), SONGS);

    let mut g = c.benchmark_group("library");
    g.sample_size(20);
    g.bench_function("nearest 10 of 100000 (song id, with summaries)", |b| {
        let mut id = 1i64;
        b.iter(|| {
            id = id % SONGS as i64 + 7919;
            lib.nearest_to_song(id % SONGS as i64 + 1, 10).unwrap()
        })
    });
    let q: Vec<f32> = (0..DIM).map(|i| (i as f32).sin()).collect();
    g.bench_function("nearest 10 of 100000 (vector)", |b| {
        b.iter(|| lib.nearest_to_vector(&q, 10).unwrap())
    });
    g.sample_size(10);
    g.bench_function("playlist -n 50 of 100000", |b| {
        b.iter(|| lib.playlist(4242, 50).unwrap())
    });
    g.bench_function("genre playlist -n 30 of 100000", |b| {
        b.iter(|| lib.genre_playlist("jazz", 30).unwrap())
    });

    let files = tempfile::tempdir().unwrap();
    let (mut flib, music) = unchanged_library(files.path(), FILES);
    let before = peak_rss_mb();
    g.bench_function("rescan of 10000 unchanged files", |b| {
        b.iter(|| {
            let r = flib
                .scan(std::slice::from_ref(&music), &ScanOptions::default(), None)
                .unwrap();
            assert_eq!(r.unchanged, FILES);
            r
        })
    });
    eprintln!(
        "peak RSS {:.0} MB before the rescans, {:.0} MB after",
        before,
        peak_rss_mb()
    );
    g.finish();
}

criterion_group!(benches, library);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
