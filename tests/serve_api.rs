//! The HTTP layer of `tuneprint serve`, driven in-process (`tower::ServiceExt::oneshot`) over a
//! small fake catalog: Range answers byte for byte, path safety (`../`, absolute paths, encoded
//! dots, symbolic links out of the library), JSON errors for bad requests, uploads kept out of the
//! library, the page's assets. The real library and binary are tested in `serve_e2e.rs`.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;
use tuneprint::serve::dto::{
    Classified, GenreCount, GenreProbability, ListQuery, PlaylistEntry, SimilarSong, SongDetail,
    SongPage, SongSummary,
};
use tuneprint::serve::{router, AppState, Catalog, ServeError};

const UPLOAD_LIMIT: usize = 200_000;

/// Songs 1..=5 with fixed files; `classify` decodes with the real decoder and remembers the path
/// it was handed.
struct Fake {
    files: Vec<(i64, PathBuf)>,
    uploads: Mutex<Vec<PathBuf>>,
}

fn summary(id: i64) -> SongSummary {
    SongSummary {
        id,
        title: format!("Song {id}"),
        artist: Some("Band".into()),
        album: None,
        duration: Some(30.0),
        genre: Some("jazz".into()),
        file_name: format!("{id}.wav"),
    }
}

impl Catalog for Fake {
    fn list(&self, q: &ListQuery) -> Result<SongPage, ServeError> {
        let all: Vec<SongSummary> = self.files.iter().map(|(id, _)| summary(*id)).collect();
        Ok(SongPage {
            total: all.len() as u64,
            songs: all
                .into_iter()
                .skip(q.offset as usize)
                .take(q.limit as usize)
                .collect(),
            offset: q.offset,
            limit: q.limit,
        })
    }
    fn genres(&self) -> Result<Vec<GenreCount>, ServeError> {
        Ok(vec![GenreCount {
            genre: "jazz".into(),
            songs: self.files.len() as u64,
        }])
    }
    fn counts(&self) -> Result<(u64, u64), ServeError> {
        Ok((self.files.len() as u64, 0))
    }
    fn song(&self, id: i64) -> Result<Option<SongDetail>, ServeError> {
        Ok(self.path(id).map(|p| SongDetail {
            summary: summary(id),
            path: p.display().to_string(),
            encoding: tuneprint::library::Encoding {
                format: Some("wav".into()),
                sample_rate: Some(22050),
                channels: Some(1),
            },
            year: None,
            tag_genre: None,
            probabilities: vec![GenreProbability {
                genre: "jazz".into(),
                probability: 1.0,
            }],
            model: None,
            audio_url: format!("/api/songs/{id}/audio"),
            spectrogram_url: format!("/api/songs/{id}/spectrogram.png"),
            playlist_url: format!("/api/songs/{id}/playlist"),
        }))
    }
    fn similar(&self, id: i64, k: usize) -> Result<Option<Vec<SimilarSong>>, ServeError> {
        Ok(self.path(id).map(|_| {
            self.files
                .iter()
                .filter(|(o, _)| *o != id)
                .take(k)
                .map(|(o, _)| SimilarSong {
                    song: summary(*o),
                    similarity: 0.5,
                    copies: Vec::new(),
                })
                .collect()
        }))
    }
    fn audio_path(&self, id: i64) -> Result<Option<PathBuf>, ServeError> {
        Ok(self.path(id))
    }
    fn playlist(&self, id: i64, n: usize) -> Result<Option<Vec<PlaylistEntry>>, ServeError> {
        Ok(self.path(id).map(|_| {
            self.files
                .iter()
                .take(n)
                .map(|(o, p)| PlaylistEntry {
                    song: summary(*o),
                    path: p.clone(),
                })
                .collect()
        }))
    }
    fn can_classify(&self) -> bool {
        true
    }
    fn classify(&self, path: &Path, file_name: &str, _k: usize) -> Result<Classified, ServeError> {
        self.uploads.lock().unwrap().push(path.to_path_buf());
        let d = tuneprint::audio::load(path)
            .map_err(|e| ServeError::NotAudio(format!("{file_name}: {e}")))?;
        Ok(Classified {
            file_name: file_name.into(),
            genre: "jazz".into(),
            probabilities: vec![],
            duration: d.samples.len() as f64 / 22050.0,
            windows: 1,
            similar: vec![],
        })
    }
}

impl Fake {
    fn path(&self, id: i64) -> Option<PathBuf> {
        self.files
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, p)| p.clone())
    }
}

struct Setup {
    _tmp: tempfile::TempDir,
    lib: PathBuf,
    data: Vec<u8>,
    fake: Arc<Fake>,
    app: Router,
}

/// A library folder with `a.wav` (10 000 known bytes), an empty file, a symbolic link to a file
/// outside the library, a recorded path with `..` in it, and a file that has vanished.
fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(lib.join("a.wav"), &data).unwrap();
    std::fs::write(lib.join("empty.wav"), b"").unwrap();
    std::fs::write(outside.join("secret.wav"), b"secret").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.wav"), lib.join("link.wav")).unwrap();
    let files = vec![
        (1, lib.join("a.wav")),
        (2, lib.join("empty.wav")),
        (3, lib.join("link.wav")),
        (4, lib.join("../outside/secret.wav")),
        (5, lib.join("gone.wav")),
    ];
    let fake = Arc::new(Fake {
        files,
        uploads: Mutex::new(Vec::new()),
    });
    let state = AppState::new(fake.clone(), UPLOAD_LIMIT).unwrap();
    Setup {
        _tmp: tmp,
        lib,
        data,
        fake,
        app: router(state),
    }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    /// The message of a JSON error reply.
    fn error(&self) -> String {
        assert_eq!(
            self.header(header::CONTENT_TYPE),
            Some("application/json"),
            "error replies are JSON"
        );
        self.json()["error"]
            .as_str()
            .expect("error field")
            .to_string()
    }
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut b = Request::builder().uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    send(app, b.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn audio_whole_file_and_ranges() {
    let s = setup();
    // The whole file, never compressed even when the client accepts gzip.
    let r = get(
        &s.app,
        "/api/songs/1/audio",
        &[("accept-encoding", "gzip, br")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, s.data);
    assert_eq!(r.header(header::CONTENT_TYPE), Some("audio/wav"));
    assert_eq!(r.header(header::ACCEPT_RANGES), Some("bytes"));
    assert_eq!(r.header(header::CONTENT_LENGTH), Some("10000"));
    assert_eq!(r.header(header::CONTENT_ENCODING), None);

    for (range, start, end) in [
        ("bytes=100-199", 100usize, 200usize),
        ("bytes=0-0", 0, 1),
        ("bytes=9990-20000", 9990, 10_000), // overshoot clamped
        ("bytes=9000-", 9000, 10_000),
        ("bytes=-10", 9990, 10_000),
        ("bytes=-20000", 0, 10_000),
        ("bytes=0-9,5-19", 0, 20), // overlapping parts merged
    ] {
        let r = get(&s.app, "/api/songs/1/audio", &[("range", range)]).await;
        assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(r.body, &s.data[start..end], "{range}");
        assert_eq!(
            r.header(header::CONTENT_RANGE),
            Some(format!("bytes {start}-{}/10000", end - 1).as_str()),
            "{range}"
        );
        assert_eq!(
            r.header(header::CONTENT_LENGTH),
            Some((end - start).to_string().as_str())
        );
        assert_eq!(r.header(header::CONTENT_TYPE), Some("audio/wav"));
    }

    // Nothing of the file: 416 with the length.
    for range in ["bytes=10000-", "bytes=20000-30000", "bytes=-0"] {
        let r = get(&s.app, "/api/songs/1/audio", &[("range", range)]).await;
        assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(r.header(header::CONTENT_RANGE), Some("bytes */10000"));
        assert!(r.body.is_empty());
    }
    // A header that cannot be parsed, or another unit, is ignored: the whole file.
    for range in ["bytes=abc", "bytes=50-10", "pages=1-2"] {
        let r = get(&s.app, "/api/songs/1/audio", &[("range", range)]).await;
        assert_eq!(r.status, StatusCode::OK, "{range}");
        assert_eq!(r.body, s.data);
    }
    // HEAD: the headers of the whole file, no body.
    let r = send(
        &s.app,
        Request::builder()
            .method(Method::HEAD)
            .uri("/api/songs/1/audio")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header(header::CONTENT_LENGTH), Some("10000"));
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn audio_multi_range_and_empty_file() {
    let s = setup();
    let r = get(
        &s.app,
        "/api/songs/1/audio",
        &[("range", "bytes=500-509, 0-9")],
    )
    .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    let ct = r.header(header::CONTENT_TYPE).unwrap().to_string();
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("multipart reply");
    assert_eq!(
        r.header(header::CONTENT_LENGTH),
        Some(r.body.len().to_string().as_str())
    );
    // Parts in file order, each with its Content-Range and exactly its bytes.
    let mut expected = Vec::new();
    for (a, b) in [(0usize, 10usize), (500, 510)] {
        expected.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Type: audio/wav\r\nContent-Range: bytes {a}-{}/10000\r\n\r\n",
                b - 1
            )
            .as_bytes(),
        );
        expected.extend_from_slice(&s.data[a..b]);
    }
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(r.body, expected);

    // The empty file: 200 with no bytes, and every range unsatisfiable.
    let r = get(&s.app, "/api/songs/2/audio", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header(header::CONTENT_LENGTH), Some("0"));
    assert!(r.body.is_empty());
    let r = get(&s.app, "/api/songs/2/audio", &[("range", "bytes=0-")]).await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.header(header::CONTENT_RANGE), Some("bytes */0"));
}

#[tokio::test]
async fn only_library_files_by_id() {
    let s = setup();
    for uri in [
        "/api/songs/../../etc/passwd/audio",
        "/api/songs/..%2f..%2fetc%2fpasswd/audio",
        "/api/songs/%2e%2e/audio",
        "/api/songs/%2e%2e%2f%2e%2e%2fetc%2fpasswd/audio",
        "/api/songs/%252e%252e/audio",
        "/api/songs//etc/passwd/audio",
        "/api/songs/%2Fetc%2Fpasswd/audio",
        "/api/songs/1/audio/../../../../etc/passwd",
        "/api/songs/1%2f..%2f2/audio",
        "/api/songs/-1/audio",
        "/api/songs/1.0/audio",
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/assets/../Cargo.toml",
        "/assets/..%2f..%2fCargo.toml",
        "/assets/%2e%2e%2f%2e%2e%2fsrc%2flib.rs",
        "/assets//etc/passwd",
        "/etc/passwd",
        // Song 3 is a symbolic link out of the library, song 4 a recorded path with `..`,
        // song 5 a file that has vanished, song 9 does not exist.
        "/api/songs/3/audio",
        "/api/songs/4/audio",
        "/api/songs/5/audio",
        "/api/songs/9/audio",
        "/api/songs/3/spectrogram.png",
        "/api/songs/4/spectrogram.png",
    ] {
        let r = get(&s.app, uri, &[("range", "bytes=0-")]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        let msg = r.error();
        assert!(!r.body.windows(6).any(|w| w == b"secret"), "{uri}: {msg}");
        assert!(!msg.contains("root:"), "{uri}: {msg}");
    }
    // The messages say why, without leaking more than the id.
    let r = get(&s.app, "/api/songs/3/audio", &[]).await;
    assert_eq!(
        r.error(),
        "song 3: its file is not available: it links outside the library's folder"
    );
    assert_eq!(
        get(&s.app, "/api/songs/%2e%2e/audio", &[]).await.error(),
        "no song with id '..'"
    );
    // A link to a file inside the same library folder is still the library's file.
    std::os::unix::fs::symlink(s.lib.join("a.wav"), s.lib.join("alias.wav")).unwrap();
    assert_eq!(
        tuneprint::serve::api::library_file(1, &s.lib.join("alias.wav")).unwrap(),
        std::fs::canonicalize(s.lib.join("a.wav")).unwrap()
    );
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_the_server_carries_on() {
    let s = setup();
    for (method, uri, status, needle) in [
        ("GET", "/api/songs?limit=0", 400, "limit must be"),
        ("GET", "/api/songs?limit=abc", 400, "limit must be"),
        ("GET", "/api/songs?sort=size", 400, "sort must be one of"),
        ("GET", "/api/songs?order=sideways", 400, "order must be"),
        ("GET", "/api/songs?page=0", 400, "page must be"),
        ("GET", "/api/songs/1/similar?k=0", 400, "k must be"),
        ("GET", "/api/songs/1/similar?k=100000", 400, "k must be"),
        ("GET", "/api/songs/1/playlist?n=-3", 400, "n must be"),
        ("GET", "/api/songs/99", 404, "no song with id '99'"),
        ("GET", "/api/songs/abc", 404, "no song with id 'abc'"),
        ("GET", "/api/songs/99/similar", 404, "no song with id '99'"),
        ("GET", "/api/songs/99/playlist", 404, "no song with id '99'"),
        ("GET", "/api/nothing", 404, "not found: /api/nothing"),
        ("POST", "/api/songs", 405, "method POST is not allowed"),
        (
            "DELETE",
            "/api/songs/1",
            405,
            "method DELETE is not allowed",
        ),
        ("GET", "/api/classify", 405, "method GET is not allowed"),
        ("POST", "/api/classify", 400, "multipart/form-data"),
    ] {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let r = send(&s.app, req).await;
        assert_eq!(r.status.as_u16(), status, "{method} {uri}");
        let msg = r.error();
        assert!(msg.contains(needle), "{method} {uri}: {msg}");
    }
    let r = get(&s.app, "/api/songs?limit=2&page=2", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let page: SongPage = serde_json::from_slice(&r.body).unwrap();
    assert_eq!((page.total, page.offset, page.songs.len()), (5, 2, 2));
    assert_eq!(page.songs[0].id, 3);
}

fn multipart(field: &str, file_name: &str, bytes: &[u8]) -> Request<Body> {
    let boundary = "XyZtuneprintTestBoundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::builder()
        .method(Method::POST)
        .uri("/api/classify")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn uploads_are_limited_decoded_and_kept_out_of_the_library() {
    let s = setup();
    // A real (short) WAV made here: 0.5 s of a tone.
    let mut wav = std::io::Cursor::new(Vec::new());
    {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22050,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut wav, spec).unwrap();
        for i in 0..11025 {
            let v = (i as f32 * 440.0 * std::f32::consts::TAU / 22050.0).sin();
            w.write_sample((v * 8000.0) as i16).unwrap();
        }
        w.finalize().unwrap();
    }
    let r = send(
        &s.app,
        multipart("file", "../../lib/evil name.wav", wav.get_ref()),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let c: Classified = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(c.file_name, "evil name.wav");
    assert!((c.duration - 0.5).abs() < 1e-3, "{}", c.duration);
    // The upload went to a temporary file outside the library, deleted after the answer.
    let seen = s.fake.uploads.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].starts_with(&s.lib), "{}", seen[0].display());
    assert!(seen[0].starts_with(std::env::temp_dir()));
    assert!(!seen[0].exists());
    let names: Vec<_> = std::fs::read_dir(&s.lib).unwrap().collect();
    assert_eq!(names.len(), 3, "nothing written into the library folder");

    // Not audio: 422 with the file's name and the reason.
    let r = send(
        &s.app,
        multipart("file", "notes.txt", b"just some text, not audio"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.error().starts_with("notes.txt: "));
    // Empty, wrong field, too large.
    let r = send(&s.app, multipart("file", "e.wav", b"")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error(), "e.wav: the file is empty");
    let r = send(&s.app, multipart("song", "a.wav", wav.get_ref())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "no field named 'file' in the upload");
    let big = vec![0u8; UPLOAD_LIMIT + 100_000];
    let r = send(&s.app, multipart("file", "big.wav", &big)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        r.error(),
        format!("upload too large: the limit is {UPLOAD_LIMIT} bytes")
    );
    // Still serving.
    assert_eq!(
        get(&s.app, "/api/songs/1", &[]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn playlist_is_m3u8_with_the_library_paths() {
    let s = setup();
    let r = get(&s.app, "/api/songs/1/playlist?n=2", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header(header::CONTENT_TYPE),
        Some("audio/x-mpegurl; charset=utf-8")
    );
    assert_eq!(
        r.header(header::CONTENT_DISPOSITION),
        Some("attachment; filename=\"like-Song_1.m3u8\"")
    );
    let text = String::from_utf8(r.body).unwrap();
    let expected = format!(
        "#EXTM3U\n#EXTINF:30,Band - Song 1\n{}\n#EXTINF:30,Band - Song 2\n{}\n",
        s.lib.join("a.wav").display(),
        s.lib.join("empty.wav").display()
    );
    assert_eq!(text, expected);
}

#[tokio::test]
async fn the_page_and_its_assets_are_embedded_and_small() {
    let s = setup();
    let r = get(&s.app, "/", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header(header::CONTENT_TYPE),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(r.body).unwrap();
    // Every asset the page names is served from the binary, with its type; nothing external.
    assert!(!html.contains("http://") && !html.contains("https://"));
    let mut total = html.len();
    for (name, ty) in [
        ("app.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("dejavu-sans-latin.woff2", "font/woff2"),
    ] {
        assert!(html.contains(&format!("/assets/{name}")), "{name}");
        let r = get(&s.app, &format!("/assets/{name}"), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        assert_eq!(r.header(header::CONTENT_TYPE), Some(ty));
        total += r.body.len();
        let text = String::from_utf8_lossy(&r.body);
        assert!(
            !text.contains("https://") && !text.contains("http://"),
            "{name}"
        );
    }
    assert_eq!(total, tuneprint::serve::assets::first_load_bytes());
    assert!(total <= 200_000, "first load is {total} bytes");
    assert_eq!(
        get(&s.app, "/assets/nope.js", &[]).await.error(),
        "not found: no such asset"
    );
}
