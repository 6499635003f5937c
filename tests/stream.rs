//! Long files in bounded memory (issue 29): `audio::stream` hands on exactly the samples of
//! `audio::load` for every container and fixture; `extract` and `library scan` give the same
//! bytes and rows when every file is streamed (`TUNEPRINT_STREAM_MIN_SECONDS=0`) as when it is
//! decoded whole. The memory and time figures are benchmarks (`scripts/bench_long.sh`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every audio fixture the decoders are tested on, of every container.
fn fixtures() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        "audio",
        "mp3",
        "mp3-wild",
        "music",
        "tags",
        "long",
        "resample/in",
    ] {
        for e in std::fs::read_dir(root().join("tests/fixtures").join(dir)).unwrap() {
            let p = e.unwrap().path();
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ["wav", "mp3", "flac", "ogg", "aiff", "au"].contains(&ext) {
                files.push(p);
            }
        }
    }
    files.extend(
        ["blues.00000.wav", "blues.00000.au", "rock.00000.wav"]
            .iter()
            .map(|f| root().join("audio").join(f)),
    );
    files.sort();
    files
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The samples `stream` hands on, in pieces, and what it reports.
fn streamed(path: &Path) -> Result<(tuneprint::audio::Streamed, Vec<f32>), String> {
    let mut y = Vec::new();
    let mut pieces = 0usize;
    let info = tuneprint::audio::stream(path, &mut |x| {
        pieces += 1;
        y.extend_from_slice(x);
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    assert!(pieces >= 1);
    Ok((info, y))
}

#[test]
fn stream_hands_on_the_samples_of_load_for_every_fixture() {
    let files = fixtures();
    assert_eq!(files.len(), 58, "the decoder fixtures");
    let mut containers = std::collections::BTreeSet::new();
    for f in &files {
        let whole = tuneprint::audio::load(f).unwrap_or_else(|e| panic!("{e}"));
        let (info, y) = streamed(f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.format, whole.format, "{}", f.display());
        assert_eq!(info.source_rate, whole.source_rate, "{}", f.display());
        assert_eq!(info.channels, whole.channels, "{}", f.display());
        assert_eq!(info.samples, y.len(), "{}", f.display());
        assert_eq!(y.len(), whole.samples.len(), "{}", f.display());
        assert!(
            bits(&y) == bits(&whole.samples),
            "{}: other samples",
            f.display()
        );
        containers.insert(info.format);
    }
    let all: Vec<&str> = containers.iter().map(String::as_str).collect();
    assert_eq!(all, ["aiff", "au", "flac", "mp3", "ogg", "wav"]);
}

#[test]
fn stream_of_a_long_file_is_handed_on_in_pieces() {
    // Three minutes of 44.1 kHz stereo MP3: decoded packet by packet and resampled batch by
    // batch, so the sink sees many pieces (never the whole signal at once).
    let f = root().join("tests/fixtures/long/three_minutes_44k_stereo.mp3");
    let mut pieces = Vec::new();
    let info = tuneprint::audio::stream(&f, &mut |x| {
        pieces.push(x.len());
        Ok(())
    })
    .unwrap();
    assert_eq!(pieces.iter().sum::<usize>(), info.samples);
    assert!(pieces.len() >= 3, "{pieces:?}");
    assert!(pieces.iter().all(|&n| n < info.samples / 2), "{pieces:?}");
}

#[test]
fn stream_errors_name_the_file_like_load() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.mp3");
    std::fs::write(&text, b"these are not audio bytes at all, just text").unwrap();
    let truncated = dir.path().join("cut.flac");
    let flac = std::fs::read(root().join("tests/fixtures/audio/excerpt.flac")).unwrap();
    std::fs::write(&truncated, &flac[..60]).unwrap();
    let missing = dir.path().join("missing.wav");
    for f in [
        &empty,
        &text,
        &truncated,
        &missing,
        &dir.path().to_path_buf(),
    ] {
        let a = tuneprint::audio::load(f)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        let b = streamed(f).map(|_| ()).unwrap_err();
        assert_eq!(a, b, "{}", f.display());
        assert!(b.starts_with(&f.display().to_string()), "{b}");
    }
    // The sink's own failure is one line naming the file.
    let f = root().join("audio/blues.00000.wav");
    let e = tuneprint::audio::stream(&f, &mut |_| Err("disk full".into())).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: cannot keep the decoded signal: disk full", f.display())
    );
}

fn tuneprint(args: &[&str], stream_all: bool) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tuneprint"));
    c.args(args).env_remove("TUNEPRINT_STREAM_MIN_SECONDS");
    if stream_all {
        c.env("TUNEPRINT_STREAM_MIN_SECONDS", "0");
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn extract_streamed_gives_the_same_csv_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = [
        root().join("audio").display().to_string(),
        root()
            .join("tests/fixtures/long/three_minutes_44k_stereo.mp3")
            .display()
            .to_string(),
        root()
            .join("tests/fixtures/music/metal_pop.44k.flac")
            .display()
            .to_string(),
    ];
    for window in [None, Some("30"), Some("100")] {
        let mut csv = Vec::new();
        for stream_all in [false, true] {
            let out = dir.path().join(format!("{stream_all}.csv"));
            let mut args: Vec<&str> = vec!["extract", "--jobs", "2"];
            if let Some(w) = window {
                args.extend(["--window", w]);
            }
            args.extend(inputs.iter().map(String::as_str));
            let o = out.display().to_string();
            args.extend(["-o", &o]);
            tuneprint(&args, stream_all);
            csv.push(std::fs::read(&out).unwrap());
        }
        let rows = csv[0].iter().filter(|&&b| b == b'\n').count();
        assert!(rows > 10, "{window:?}: {rows} rows");
        assert!(csv[0] == csv[1], "{window:?}: the streamed CSV differs");
    }
}

#[test]
fn library_scan_streamed_stores_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir(&music).unwrap();
    for f in [
        "long/three_minutes_44k_stereo.mp3",
        "music/rock_jazz.44k.wav",
    ] {
        let src = root().join("tests/fixtures").join(f);
        std::fs::copy(&src, music.join(src.file_name().unwrap())).unwrap();
    }
    let mut dumps = Vec::new();
    for stream_all in [false, true] {
        let db = dir.path().join(format!("{stream_all}.db"));
        let m = music.display().to_string();
        let d = db.display().to_string();
        tuneprint(
            &["library", "scan", &m, "--db", &d, "--jobs", "2"],
            stream_all,
        );
        let c = rusqlite::Connection::open(&db).unwrap();
        let mut rows: Vec<String> = Vec::new();
        for sql in [
            "SELECT path, format, sample_rate, channels, samples, duration, error, features FROM songs ORDER BY path",
            "SELECT song_id, idx, start, samples, features FROM windows ORDER BY song_id, idx",
        ] {
            let mut st = c.prepare(sql).unwrap();
            let n = st.column_count();
            let got = st
                .query_map([], |r| {
                    Ok((0..n)
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join("|"))
                })
                .unwrap()
                .map(Result::unwrap);
            rows.extend(got);
        }
        dumps.push(rows);
    }
    assert_eq!(
        dumps[0].len(),
        2 + 6 + 1,
        "songs and windows: {:?}",
        dumps[0]
    );
    assert_eq!(dumps[0], dumps[1]);
}
