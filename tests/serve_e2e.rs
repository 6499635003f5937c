//! `tuneprint serve` end to end: a library scanned from the committed clips, the real binary on
//! an ephemeral port, the API over plain TCP, then the page in headless Chromium (Debian's
//! package, driven over the DevTools protocol): search, open a song, play it (a Range request
//! answered 206 with the right bytes), seek, and walk to a recommended song.
//!
//! The browser part needs `chromium` (scripts/setup.sh installs it with apt-get); set
//! `TUNEPRINT_SCREENSHOT=path.png` to save the song view (the README's screenshot).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tuneprint");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run_ok(args: &[&str]) -> String {
    let o = Command::new(BIN)
        .args(args)
        .current_dir(root())
        .output()
        .expect("run tuneprint");
    assert!(
        o.status.success(),
        "tuneprint {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Kills the child when dropped (the server, the browser).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A small model, a library of the committed WAV clips scanned with it, and the server on it.
struct Server {
    _tmp: tempfile::TempDir,
    lib: PathBuf,
    addr: String,
    _child: Killed,
}

fn start() -> Server {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    run_ok(&[
        "train",
        "--seeds",
        "0",
        "--max-epochs",
        "3",
        "--exclude",
        "features/demo_holdout.txt",
        "-o",
        model.to_str().unwrap(),
    ]);
    let lib = tmp.path().join("music");
    std::fs::create_dir_all(&lib).unwrap();
    for e in std::fs::read_dir(root().join("audio")).unwrap() {
        let p = e.unwrap().path();
        // The WAV clips, and blues.00000.au: the same recording as blues.00000.wav.
        if p.extension().is_some_and(|x| x == "wav")
            || p.file_name().is_some_and(|n| n == "blues.00000.au")
        {
            std::fs::copy(&p, lib.join(p.file_name().unwrap())).unwrap();
        }
    }
    let db = tmp.path().join("lib.db");
    run_ok(&[
        "library",
        "scan",
        lib.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
    ]);
    let (child, addr) = serve(&[
        "--db",
        db.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
    ]);
    Server {
        _tmp: tmp,
        lib: std::fs::canonicalize(lib).unwrap(),
        addr,
        _child: child,
    }
}

/// `tuneprint serve --port 0` with `args`, and the address it says it listens on (this machine
/// only, by default).
fn serve(args: &[&str]) -> (Killed, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tuneprint serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|a| a.strip_suffix('/'))
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "binds localhost: {addr}");
    (Killed(child), addr)
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request over a fresh connection, read to the end (no chunked decoding: every
/// reply of this server carries a Content-Length).
fn http(addr: &str, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let body = raw[split + 4..].to_vec();
    let r = Reply {
        status,
        headers,
        body,
    };
    assert_ne!(
        r.header("transfer-encoding"),
        Some("chunked"),
        "{method} {target} is chunked"
    );
    if method != "HEAD" {
        let len: usize = r
            .header("content-length")
            .expect("content-length")
            .parse()
            .unwrap();
        assert_eq!(r.body.len(), len, "{method} {target}");
    }
    r
}

fn get(addr: &str, target: &str) -> Reply {
    http(addr, "GET", target, &[], b"")
}

fn upload(addr: &str, name: &str, bytes: &[u8]) -> Reply {
    let boundary = "e2eBoundary7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={boundary}");
    http(
        addr,
        "POST",
        "/api/classify",
        &[("Content-Type", &ct)],
        &body,
    )
}

fn id_of(addr: &str, stem: &str) -> i64 {
    let r = get(addr, &format!("/api/songs?q={stem}"));
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["total"], 1, "{stem}: {j}");
    j["songs"][0]["id"].as_i64().unwrap()
}

#[test]
fn serve_end_to_end_api_and_browser() {
    let s = start();
    let addr = s.addr.as_str();

    // The library: 9 files, paged, searched, filtered, sorted.
    let all = get(addr, "/api/songs?limit=500").json();
    assert_eq!(all["total"], 9);
    let songs = all["songs"].as_array().unwrap();
    let titles: Vec<&str> = songs.iter().map(|s| s["title"].as_str().unwrap()).collect();
    let mut sorted = titles.clone();
    sorted.sort();
    assert_eq!(titles, sorted, "sorted by title by default");
    let page2 = get(addr, "/api/songs?limit=3&page=2").json();
    assert_eq!(page2["total"], 9);
    assert_eq!(page2["songs"].as_array().unwrap().len(), 3);
    assert_eq!(page2["songs"][0]["title"], titles[3]);
    let desc = get(addr, "/api/songs?sort=title&order=desc&limit=2").json();
    assert_eq!(desc["songs"][0]["title"], titles[8]);
    assert_eq!(desc["songs"][1]["title"], titles[7]);
    let jazz = id_of(addr, "jazz.00000");
    let genre = songs[0]["genre"]
        .as_str()
        .expect("predicted genre")
        .to_string();
    let by_genre = get(addr, &format!("/api/songs?genre={genre}")).json();
    assert!(by_genre["total"].as_u64().unwrap() >= 1);
    assert!(by_genre["songs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["genre"] == genre.as_str()));
    let status = get(addr, "/api/status").json();
    assert_eq!(status["songs"], 9);
    assert_eq!(status["can_classify"], true);

    // One song, its neighbours, its playlist, its spectrogram.
    let song = get(addr, &format!("/api/songs/{jazz}")).json();
    assert_eq!(song["file_name"], "jazz.00000.wav");
    assert_eq!(
        song["path"],
        s.lib.join("jazz.00000.wav").display().to_string()
    );
    let probs = song["probabilities"].as_array().unwrap();
    assert_eq!(probs.len(), 10);
    let sum: f64 = probs
        .iter()
        .map(|p| p["probability"].as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-4, "{sum}");
    assert_eq!(song["genre"], probs[0]["genre"]);
    let similar = get(addr, &format!("/api/songs/{jazz}/similar?k=3")).json();
    let similar = similar["similar"].as_array().unwrap();
    assert_eq!(similar.len(), 3);
    assert!(similar.iter().all(|x| x["id"] != jazz));
    let sims: Vec<f64> = similar
        .iter()
        .map(|x| x["similarity"].as_f64().unwrap())
        .collect();
    assert!(
        sims.windows(2).all(|w| w[0] >= w[1]) && sims[0] <= 1.0 + 1e-6,
        "{sims:?}"
    );
    let m3u = get(addr, &format!("/api/songs/{jazz}/playlist?n=4"));
    assert_eq!(
        m3u.header("content-type"),
        Some("audio/x-mpegurl; charset=utf-8")
    );
    let text = String::from_utf8(m3u.body).unwrap();
    let paths: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(text.starts_with("#EXTM3U\n#EXTINF:30,"), "{text}");
    assert_eq!(paths.len(), 4);
    assert_eq!(paths[0], s.lib.join("jazz.00000.wav").display().to_string());
    let png = get(addr, &format!("/api/songs/{jazz}/spectrogram.png"));
    assert_eq!(png.status, 200);
    assert_eq!(png.header("content-type"), Some("image/png"));
    assert_eq!(
        tuneprint::report::png_size(&png.body),
        Some(tuneprint::report::spectrogram::MEL_SIZE)
    );

    // Audio over the wire: a Content-Length, never chunked or compressed, Range exact.
    let file = std::fs::read(s.lib.join("jazz.00000.wav")).unwrap();
    let audio = format!("/api/songs/{jazz}/audio");
    let whole = http(addr, "GET", &audio, &[("Accept-Encoding", "gzip")], b"");
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, file);
    assert_eq!(whole.header("content-encoding"), None);
    let part = http(addr, "GET", &audio, &[("Range", "bytes=1000-1999")], b"");
    assert_eq!(part.status, 206);
    assert_eq!(part.body, &file[1000..2000]);
    let n = file.len();
    let tail = http(
        addr,
        "GET",
        &audio,
        &[("Range", &format!("bytes={}-{}", n - 10, n + 5000))],
        b"",
    );
    assert_eq!(tail.status, 206);
    assert_eq!(
        tail.header("content-range"),
        Some(format!("bytes {}-{}/{n}", n - 10, n - 1).as_str())
    );
    assert_eq!(tail.body, &file[n - 10..]);

    // Raw request targets a browser would never send are still 404, and the server goes on.
    for target in [
        "/api/songs/../../../../etc/passwd",
        "/api/songs/%2e%2e%2f%2e%2e%2fetc%2fpasswd/audio",
        "/../../../etc/passwd",
        "//etc/passwd",
        "/assets/../../Cargo.toml",
    ] {
        let r = get(addr, target);
        assert_eq!(r.status, 404, "{target}");
        assert!(r.json()["error"].is_string());
    }

    // Classify an upload: a copy of a library song finds that song first.
    let r = upload(addr, "mystery.wav", &file);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let c = r.json();
    assert_eq!(c["file_name"], "mystery.wav");
    assert_eq!(c["genre"], song["genre"]);
    assert_eq!(c["similar"][0]["id"], jazz);
    assert!(c["similar"][0]["similarity"].as_f64().unwrap() > 0.999);
    let r = upload(addr, "broken.mp3", b"ID3 this is not an mp3 at all");
    assert_eq!(r.status, 422);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .starts_with("broken.mp3: "));
    // A connection dropped mid-request does not hurt the server.
    {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"POST /api/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")
            .unwrap();
    }
    assert_eq!(get(addr, "/api/songs").status, 200);

    if std::env::var_os("TUNEPRINT_SKIP_BROWSER").is_some() {
        tuneprint::config::skip_test(
            "serve_end_to_end_api_and_browser: TUNEPRINT_SKIP_BROWSER set, browser part skipped",
        );
        return;
    }
    browser(addr, jazz, &file);
}

// ---------------------------------------------------------------------------------------------
// Headless Chromium over the DevTools protocol (one WebSocket, flat sessions).

struct Browser {
    ws: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    events: Vec<Value>,
    _child: Killed,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch() -> Browser {
        let chromium = ["chromium", "chromium-browser"]
            .into_iter()
            .find(|c| {
                Command::new(c)
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .expect("chromium is not installed: run scripts/setup.sh (apt-get install chromium)");
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--mute-audio",
                "--autoplay-policy=no-user-gesture-required",
                "--remote-debugging-port=0",
                "--window-size=1200,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().unwrap();
        let child = Killed(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("chromium did not open its DevTools port");
        let (mut ws, _) = tungstenite::connect(url.as_str()).expect("connect to chromium");
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_mut() {
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        }
        let mut b = Browser {
            ws,
            session: String::new(),
            next_id: 0,
            events: Vec::new(),
            _child: child,
            _profile: profile,
        };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = b.call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        b.call("Page.enable", json!({}));
        b.call("Network.enable", json!({}));
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1200, "height": 1000, "deviceScaleFactor": 1, "mobile": false}),
        );
        b
    }

    /// Sends a command (on the page's session once attached) and waits for its result; events
    /// that arrive meanwhile are kept.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(tungstenite::Message::text(msg.to_string()))
            .unwrap();
        loop {
            let m = self.ws.read().expect("read from chromium");
            let tungstenite::Message::Text(t) = m else {
                continue;
            };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    panic!("{method}: {e}");
                }
                return v["result"].clone();
            }
            if v.get("method").is_some() {
                self.events.push(v);
            }
        }
    }

    /// Evaluates JavaScript in the page (promises awaited) and returns its value.
    fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "awaitPromise": true, "returnByValue": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{js}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Waits until `js` is true (polling), or fails with `what`.
    fn wait(&mut self, js: &str, what: &str) {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            if self.eval(js) == json!(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what} ({js})");
    }

    /// A real mouse click at the centre of the element `selector`.
    fn click(&mut self, selector: &str) {
        let r = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null;
                e.scrollIntoView({{block: 'center'}}); const b = e.getBoundingClientRect();
                return [b.x + b.width / 2, b.y + b.height / 2]; }})()",
            sel = json!(selector)
        ));
        let (x, y) = (r[0].as_f64().expect(selector), r[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }
}

fn browser(addr: &str, jazz: i64, file: &[u8]) {
    let mut b = Browser::launch();
    let base = format!("http://{addr}/");
    b.call("Page.navigate", json!({"url": base}));
    b.wait(
        "document.querySelectorAll('#songs tbody tr').length === 9",
        "the library table",
    );
    // Search by typing into the box.
    b.click("#search");
    b.call("Input.insertText", json!({"text": "jazz"}));
    b.wait(
        "document.querySelectorAll('#songs tbody tr').length === 1 && location.hash.includes('q=jazz')",
        "the search result",
    );
    let row = b.eval("document.querySelector('#songs tbody tr').dataset.id");
    assert_eq!(row, json!(jazz.to_string()));
    // Open the song.
    b.click("#songs tbody tr td.title a");
    b.wait(
        &format!("location.hash === '#/song/{jazz}' && document.querySelector('#title') !== null && document.querySelectorAll('#similar li').length === 7"),
        "the song view",
    );
    assert_eq!(
        b.eval("document.querySelector('#title').textContent"),
        json!("jazz.00000")
    );
    assert_eq!(
        b.eval("document.querySelectorAll('#probabilities .bar').length"),
        json!(10)
    );
    // 7 other recordings of 8 files: the blues clip, stored twice, is one entry that names its
    // other file.
    let copies = b.eval(
        "Array.from(document.querySelectorAll('#similar li small.copies')).map(e => e.textContent)",
    );
    let copies: Vec<&str> = copies
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        copies == ["also as blues.00000.au"] || copies == ["also as blues.00000.wav"],
        "{copies:?}"
    );
    // Play it: the audio element streams /audio with Range, and seeking works.
    b.click("#play");
    b.wait(
        "(() => { const p = document.querySelector('#player'); return !p.paused && p.readyState >= 2 && p.currentTime > 0; })()",
        "the audio element to play",
    );
    let audio_url = format!("http://{addr}/api/songs/{jazz}/audio");
    let range_206 = b.events.iter().any(|e| {
        e["method"] == "Network.responseReceived"
            && e["params"]["response"]["url"] == audio_url.as_str()
            && e["params"]["response"]["status"] == 206
    });
    assert!(range_206, "the audio element's request was answered 206");
    b.eval("document.querySelector('#player').currentTime = 20");
    b.wait(
        "(() => { const p = document.querySelector('#player'); return !p.seeking && p.currentTime >= 20; })()",
        "the seek",
    );
    // The same Range request from the page: exactly the file's bytes.
    let got = b.eval(&format!(
        "fetch('/api/songs/{jazz}/audio', {{headers: {{Range: 'bytes=4096-4351'}}}})
           .then(async r => [r.status, r.headers.get('content-range'), Array.from(new Uint8Array(await r.arrayBuffer()))])"
    ));
    assert_eq!(got[0], json!(206));
    assert_eq!(got[1], json!(format!("bytes 4096-4351/{}", file.len())));
    let bytes: Vec<u8> = got[2]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(bytes, &file[4096..4352]);
    // Walk to the first recommendation.
    let next = b.eval("document.querySelector('#similar li').dataset.id");
    let next_title = b.eval("document.querySelector('#similar li a.similar-link').textContent");
    b.click("#similar li a.similar-link");
    b.wait(
        &format!(
            "location.hash === '#/song/{n}' && document.querySelector('#song') && document.querySelector('#song').dataset.id === '{n}'",
            n = next.as_str().unwrap()
        ),
        "the recommended song's view",
    );
    assert_eq!(
        b.eval("document.querySelector('#title').textContent"),
        next_title
    );
    if let Some(out) = std::env::var_os("TUNEPRINT_SCREENSHOT") {
        b.wait(
            "(() => { const i = document.querySelector('img.spectrogram'); return i && i.complete && i.naturalWidth > 0; })()",
            "the spectrogram image",
        );
        let shot = b.call("Page.captureScreenshot", json!({"format": "png"}));
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(Path::new(&out), png).unwrap();
    }
}

/// A library of one committed clip (`jazz.00000.wav`) in `dir`; returns the database.
fn one_song_library(dir: &Path) -> PathBuf {
    let music = dir.join("m");
    std::fs::create_dir(&music).unwrap();
    std::fs::copy(
        root().join("audio/jazz.00000.wav"),
        music.join("jazz.00000.wav"),
    )
    .unwrap();
    let db = dir.join("lib.db");
    run_ok(&[
        "library",
        "scan",
        music.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    db
}

/// Clients that never finish a request are disconnected after `--header-timeout`: 200 that send
/// half a request header and one that sends nothing are all closed by the server, and it goes on
/// answering.
#[test]
fn half_open_connections_are_closed_after_the_header_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let db = one_song_library(tmp.path());
    let (_server, addr) = serve(&["--header-timeout", "1", "--db", db.to_str().unwrap()]);

    let started = Instant::now();
    let mut held: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.write_all(b"GET /api/status HTTP/1.1\r\nHost: x\r\nX-Half: ")
                .unwrap();
            c
        })
        .collect();
    held.push(TcpStream::connect(&addr).unwrap());
    // Each connection is closed by the server: reading ends (EOF or a reset), well before the
    // 10 s this test allows, and long before the client would give up.
    for (i, c) in held.iter_mut().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut rest = Vec::new();
        match c.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(e) => assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "connection {i} is still open after {:?}",
                started.elapsed()
            ),
        }
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(get(&addr, "/api/status").json()["songs"], 1);
}

/// `--max-connections`: at the limit a new client waits (in the socket's queue) until a held
/// connection ends, then is answered. `--request-timeout`: an upload that stops half way is
/// answered 408 with the JSON error, and the server goes on answering.
#[test]
fn connection_limit_and_request_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let db = one_song_library(tmp.path());
    let (_server, addr) = serve(&[
        "--max-connections",
        "3",
        "--header-timeout",
        "2",
        "--request-timeout",
        "1",
        "--db",
        db.to_str().unwrap(),
    ]);
    // A slow upload: its headers and a first part of the body, then nothing.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(
        b"POST /api/classify HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; \
          boundary=XX\r\nContent-Length: 100000\r\n\r\n--XX\r\n",
    )
    .unwrap();
    let started = Instant::now();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while !reply.windows(4).any(|w| w == b"\r\n\r\n") || !reply.ends_with(b"}") {
        let n = slow.read(&mut buf).expect("a reply before 10 s");
        assert!(n > 0, "closed without a reply");
        reply.extend_from_slice(&buf[..n]);
    }
    let waited = started.elapsed();
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(
        text.ends_with("\r\n\r\n{\"error\":\"the request took longer than 1 s\"}"),
        "{text}"
    );
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    drop(slow);

    // Three idle connections hold every slot: a fourth client is answered only once the
    // header timeout (2 s) has closed them.
    std::thread::sleep(Duration::from_millis(200));
    let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let r = get(&addr, "/api/status");
    let waited = started.elapsed();
    assert_eq!(r.json()["songs"], 1);
    assert!(
        waited >= Duration::from_millis(1200),
        "answered after {waited:?}, past the limit"
    );
    assert!(waited < Duration::from_secs(6), "{waited:?}");
    drop(held);
    // With the slots free again, at once.
    let started = Instant::now();
    assert_eq!(get(&addr, "/api/status").json()["songs"], 1);
    assert!(started.elapsed() < Duration::from_secs(1));
}
