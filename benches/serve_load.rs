//! Load test of `tuneprint serve`: `GET /api/songs/{id}/similar?k=10` for random ids of a
//! synthetic library, from 32 concurrent keep-alive clients on 127.0.0.1, bounded in count and
//! time. Prints requests/s and latency percentiles, and the page's first-load size.
//!
//! `cargo bench --bench serve_load`: 100 000 songs with 138-value embeddings (the size of the
//! default model's combined embedding, as in `benches/library.rs`),
//! 20 000 requests or 60 s, whichever comes first. Without `--bench` (as `cargo test` runs it):
//! 2 000 songs and 500 requests, every reply checked. Environment: `SERVE_BENCH_SONGS`,
//! `SERVE_BENCH_REQUESTS`, `SERVE_BENCH_CLIENTS`.
//!
//! The database is written directly in the library's schema (songs, models, predictions) with
//! random embeddings; the server is the real one (`LibraryCatalog` over `Library`).

use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tuneprint::library::Library;
use tuneprint::serve::{self, library::LibraryCatalog, AppState};

const DIM: usize = 138;
const GENRES: [&str; 10] = tuneprint::config::GENRES;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `n` synthetic songs with random unit embeddings and probabilities.
fn synthetic_library(path: &std::path::Path, n: usize) {
    let mut lib = Library::open(path).expect("open the library");
    // Rows written straight into the database file (the library's own API writes only what a
    // scan finds).
    let conn = rusqlite::Connection::open(path).expect("open the database");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    conn.execute_batch("BEGIN").unwrap();
    conn.execute(
        "INSERT INTO models (id, dir, arch, genres, embedding, added_at)
         VALUES ('synthetic0000000', '/nonexistent', 'strong', ?, 'combined', 0)",
        [serde_json::to_string(&GENRES).unwrap()],
    )
    .unwrap();
    {
        let mut song = conn
            .prepare(
                "INSERT INTO songs (id, path, name, size, mtime_ns, hash, error, analysis_version,
                 format, sample_rate, channels, samples, duration, title, artist, album, genre,
                 year, label, features, scanned_at)
                 VALUES (?1, ?2, ?3, 1000, 0, ?4, NULL, 1, 'mp3', 44100, 2, 661500, ?5, ?6, ?7,
                 ?8, NULL, 2000, '', NULL, 0)",
            )
            .unwrap();
        let mut pred = conn
            .prepare(
                "INSERT INTO predictions (song_id, model_id, genre, probabilities, embedding, dim)
                 VALUES (?1, 'synthetic0000000', ?2, ?3, ?4, ?5)",
            )
            .unwrap();
        for i in 1..=n as i64 {
            let path = format!(
                "/music/artist{:04}/album{:02}/track{i:06}.mp3",
                i % 5000,
                i % 7
            );
            let mut probs: Vec<f32> = (0..10).map(|_| rng.gen::<f32>()).collect();
            let s: f32 = probs.iter().sum();
            probs.iter_mut().for_each(|p| *p /= s);
            let best = (0..10).fold(0, |b, k| if probs[k] > probs[b] { k } else { b });
            let emb: Vec<f32> = (0..DIM).map(|_| rng.gen::<f32>() - 0.5).collect();
            let blob = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
            song.execute(rusqlite::params![
                i,
                path.as_bytes(),
                format!("track{i:06}.mp3"),
                format!("{i:016x}").repeat(4),
                180.0 + (i % 120) as f64,
                format!("Track {i}"),
                format!("Artist {}", i % 5000),
                format!("Album {}", i % 7),
            ])
            .unwrap();
            pred.execute(rusqlite::params![
                i,
                GENRES[best],
                blob(&probs),
                blob(&emb),
                DIM as i64
            ])
            .unwrap();
        }
    }
    conn.execute_batch("COMMIT").unwrap();
    let _ = &mut lib;
}

/// One keep-alive client: `count` requests, each latency recorded.
async fn client(
    addr: std::net::SocketAddr,
    songs: usize,
    count: usize,
    deadline: Instant,
    seed: u64,
    check: bool,
) -> (Vec<Duration>, Vec<(i64, Vec<i64>)>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut lat = Vec::with_capacity(count);
    let mut answers = Vec::new();
    for _ in 0..count {
        if Instant::now() > deadline {
            break;
        }
        let id = rng.gen_range(1..=songs);
        let req = format!("GET /api/songs/{id}/similar?k=10 HTTP/1.1\r\nHost: bench\r\n\r\n");
        let t = Instant::now();
        stream.write_all(req.as_bytes()).await.unwrap();
        buf.clear();
        // Headers, then exactly Content-Length bytes of body.
        let (head_end, len) = loop {
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..p]).to_ascii_lowercase();
                assert!(head.starts_with("http/1.1 200"), "{head}");
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .expect("content-length")
                    .trim()
                    .parse()
                    .unwrap();
                break (p + 4, len);
            }
        };
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
        }
        lat.push(t.elapsed());
        if check {
            let v: serde_json::Value =
                serde_json::from_slice(&buf[head_end..head_end + len]).unwrap();
            let similar = v["similar"].as_array().unwrap();
            assert_eq!(similar.len(), 10);
            assert!(similar.iter().all(|s| s["id"] != id as i64));
            answers.push((
                id as i64,
                similar.iter().map(|s| s["id"].as_i64().unwrap()).collect(),
            ));
        }
    }
    (lat, answers)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let songs = env_or("SERVE_BENCH_SONGS", if bench { 100_000 } else { 2_000 });
    let total = env_or("SERVE_BENCH_REQUESTS", if bench { 20_000 } else { 500 });
    let clients = env_or("SERVE_BENCH_CLIENTS", 32);
    let limit = Duration::from_secs(if bench { 60 } else { 30 });

    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("synthetic.db");
    let t = Instant::now();
    synthetic_library(&db, songs);
    eprintln!(
        "serve_load: {songs} synthetic songs ({DIM}-value embeddings) written in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let catalog = LibraryCatalog::open(Some(&db), None).unwrap();
        let state = AppState::new(Arc::new(catalog), 1 << 20).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, serve::router(state)).await.unwrap();
        });
        // Warm-up: every pooled connection loads the embedding matrix once.
        let t = Instant::now();
        let warm: Vec<_> = (0..8)
            .map(|c| {
                tokio::spawn(client(
                    addr,
                    songs,
                    4,
                    Instant::now() + limit,
                    1000 + c,
                    true,
                ))
            })
            .collect();
        for w in warm {
            w.await.unwrap();
        }
        eprintln!(
            "serve_load: warm-up (index loads) {:.2} s",
            t.elapsed().as_secs_f64()
        );

        let deadline = Instant::now() + limit;
        let per = total.div_ceil(clients);
        let t = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|c| tokio::spawn(client(addr, songs, per, deadline, c as u64, !bench)))
            .collect();
        let mut lat = Vec::new();
        let mut answers = Vec::new();
        for task in tasks {
            let (l, a) = task.await.unwrap();
            lat.extend(l);
            answers.extend(a);
        }
        let secs = t.elapsed().as_secs_f64();
        // Checked runs: every batched answer is the library's own answer to that song alone.
        if !answers.is_empty() {
            let lib = Library::open(&db).unwrap();
            for (id, got) in &answers {
                let want: Vec<i64> = lib
                    .nearest_to_song(*id, 10)
                    .unwrap()
                    .iter()
                    .map(|n| n.song.id)
                    .collect();
                assert_eq!(got, &want, "song {id}");
            }
            eprintln!(
                "serve_load: {} answers equal the library's one-song search",
                answers.len()
            );
        }
        lat.sort();
        let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "serve_load: GET /api/songs/{{id}}/similar?k=10, {songs} songs, {clients} clients: \
             {} requests in {secs:.2} s = {:.0} req/s; latency p50 {:.2} ms, p90 {:.2} ms, \
             p99 {:.2} ms, max {:.2} ms",
            lat.len(),
            lat.len() as f64 / secs,
            ms(pct(0.50)),
            ms(pct(0.90)),
            ms(pct(0.99)),
            ms(*lat.last().unwrap()),
        );
        println!(
            "serve_load: page first load {} bytes (HTML, CSS, JS, font)",
            serve::assets::first_load_bytes()
        );
    });
}
