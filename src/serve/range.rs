//! Serving one audio file with HTTP Range (RFC 9110 §14): `206` with exactly the asked bytes,
//! ranges that overshoot the end clamped, `416` with `Content-Range: bytes */len` when nothing can be
//! served, several ranges as `multipart/byteranges`, and a `Range` header that cannot be parsed (or
//! uses another unit) ignored with a plain `200`. Audio is streamed from the file with an explicit
//! `Content-Length`: never compressed, never chunked.

use super::error::ServeError;
use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use std::io::SeekFrom;
use std::ops::Range;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// More ranges than this in one request are answered with the whole file (`200`).
pub const MAX_RANGES: usize = 16;
/// A multi-range reply is built in memory; above this many bytes the whole file is sent instead.
pub const MAX_MULTIPART_BYTES: u64 = 8 << 20;
/// Boundary of `multipart/byteranges` replies.
const BOUNDARY: &str = "tuneprint-byteranges-3d6b6a416f9d";

/// What a `Range` header asks of a file of a given length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No header, another unit, a malformed header or too many ranges: the whole file, `200`.
    Full,
    /// One satisfiable range (byte offsets, end exclusive), clamped to the file: `206`.
    Single(Range<u64>),
    /// Several disjoint satisfiable ranges, sorted and merged: `206 multipart/byteranges`.
    Multi(Vec<Range<u64>>),
    /// Well-formed but nothing in the file: `416`.
    Unsatisfiable,
}

/// Parses a `Range` header value against a file of `len` bytes.
pub fn parse_range(value: Option<&str>, len: u64) -> RangeAnswer {
    let Some(value) = value else {
        return RangeAnswer::Full;
    };
    let value = value.trim();
    let Some((unit, specs)) = value.split_once('=') else {
        return RangeAnswer::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeAnswer::Full;
    }
    let mut ranges = Vec::new();
    let mut count = 0usize;
    for spec in specs.split(',') {
        let spec = spec.trim();
        if spec.is_empty() {
            continue;
        }
        count += 1;
        if count > MAX_RANGES {
            return RangeAnswer::Full;
        }
        let Some((first, last)) = spec.split_once('-') else {
            return RangeAnswer::Full;
        };
        let (first, last) = (first.trim(), last.trim());
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if first.is_empty() {
            // Suffix range: the last N bytes.
            if !digits(last) {
                return RangeAnswer::Full;
            }
            let Ok(n) = last.parse::<u64>() else {
                // More digits than u64 holds: the whole file is the suffix.
                if len > 0 {
                    ranges.push(0..len);
                }
                continue;
            };
            if n > 0 && len > 0 {
                ranges.push(len - n.min(len)..len);
            }
            continue;
        }
        if !digits(first) || !(last.is_empty() || digits(last)) {
            return RangeAnswer::Full;
        }
        let Ok(start) = first.parse::<u64>() else {
            continue; // beyond any file: unsatisfiable
        };
        let end = if last.is_empty() {
            len
        } else {
            match last.parse::<u64>() {
                Ok(l) if l < start => return RangeAnswer::Full, // invalid spec
                Ok(l) => l.saturating_add(1).min(len),
                Err(_) => len, // overshoots: clamped
            }
        };
        if start < len {
            ranges.push(start..end);
        }
    }
    if count == 0 {
        return RangeAnswer::Full;
    }
    if ranges.is_empty() {
        return RangeAnswer::Unsatisfiable;
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(m) if r.start <= m.end => m.end = m.end.max(r.end),
            _ => merged.push(r),
        }
    }
    if merged.len() == 1 {
        RangeAnswer::Single(merged.pop().expect("one range"))
    } else {
        RangeAnswer::Multi(merged)
    }
}

/// The `Content-Type` of an audio file, from its extension.
pub fn audio_content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "wav" | "wave" => "audio/wav",
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/opus",
        "au" | "snd" => "audio/basic",
        "aif" | "aiff" => "audio/aiff",
        "m4a" | "mp4" | "aac" => "audio/mp4",
        _ => "application/octet-stream",
    }
}

fn io_err(path: &Path, e: std::io::Error) -> ServeError {
    ServeError::Io(format!("{}: cannot read: {e}", path.display()))
}

/// The reply to a GET/HEAD of the audio file at `path` with the request's `headers`.
pub async fn file_response(path: &Path, headers: &HeaderMap) -> Result<Response, ServeError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| io_err(path, e))?;
    let len = file.metadata().await.map_err(|e| io_err(path, e))?.len();
    let content_type = audio_content_type(path);
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let builder = Response::builder()
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "no-cache");
    let mut answer = parse_range(range, len);
    if let RangeAnswer::Multi(ranges) = &answer {
        if ranges.iter().map(|r| r.end - r.start).sum::<u64>() > MAX_MULTIPART_BYTES {
            answer = RangeAnswer::Full;
        }
    }
    let response = match answer {
        RangeAnswer::Full => builder
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CONTENT_LENGTH, len)
            .body(stream(file, len)),
        RangeAnswer::Unsatisfiable => builder
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{len}"))
            .header(header::CONTENT_LENGTH, 0)
            .body(Body::empty()),
        RangeAnswer::Single(r) => {
            file.seek(SeekFrom::Start(r.start))
                .await
                .map_err(|e| io_err(path, e))?;
            builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_TYPE, content_type)
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes {}-{}/{len}", r.start, r.end - 1),
                )
                .header(header::CONTENT_LENGTH, r.end - r.start)
                .body(stream(file, r.end - r.start))
        }
        RangeAnswer::Multi(ranges) => {
            let mut body = Vec::new();
            for r in &ranges {
                body.extend_from_slice(
                    format!(
                        "\r\n--{BOUNDARY}\r\nContent-Type: {content_type}\r\n\
                         Content-Range: bytes {}-{}/{len}\r\n\r\n",
                        r.start,
                        r.end - 1
                    )
                    .as_bytes(),
                );
                file.seek(SeekFrom::Start(r.start))
                    .await
                    .map_err(|e| io_err(path, e))?;
                let at = body.len();
                body.resize(at + (r.end - r.start) as usize, 0);
                file.read_exact(&mut body[at..])
                    .await
                    .map_err(|e| io_err(path, e))?;
            }
            body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
            builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/byteranges; boundary={BOUNDARY}"),
                )
                .header(header::CONTENT_LENGTH, body.len())
                .body(Body::from(body))
        }
    };
    response.map_err(|e| ServeError::Io(format!("cannot build the reply: {e}")))
}

/// Streams `len` bytes from the file's current position.
fn stream(file: tokio::fs::File, len: u64) -> Body {
    Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        file.take(len),
        64 * 1024,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeAnswer::*;

    #[test]
    fn single_ranges_and_clamping() {
        assert_eq!(parse_range(None, 100), Full);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Single(0..10));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Single(90..100));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Single(90..100));
        assert_eq!(parse_range(Some("bytes=-1000"), 100), Single(0..100));
        // An end past the file is clamped, not refused.
        assert_eq!(parse_range(Some("bytes=50-5000"), 100), Single(50..100));
        assert_eq!(
            parse_range(Some("bytes=50-99999999999999999999999"), 100),
            Single(50..100)
        );
        assert_eq!(parse_range(Some("BYTES = 0-0"), 100), Single(0..1));
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        assert_eq!(parse_range(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=200-300"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), Unsatisfiable);
        // Empty file: any range is unsatisfiable, no range is a 200 of nothing.
        assert_eq!(parse_range(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-5"), 0), Unsatisfiable);
        assert_eq!(parse_range(None, 0), Full);
        // Malformed headers and other units are ignored.
        for bad in [
            "bytes=",
            "bytes=abc",
            "bytes=5-2",
            "bytes=1-2-3",
            "items=0-5",
            "0-5",
            "bytes=--5",
            "bytes=+1-5",
        ] {
            assert_eq!(parse_range(Some(bad), 100), Full, "{bad}");
        }
        let many = format!("bytes={}", vec!["0-1"; MAX_RANGES + 1].join(","));
        assert_eq!(parse_range(Some(&many), 100), Full);
    }

    #[test]
    fn multi_ranges_sorted_and_merged() {
        assert_eq!(
            parse_range(Some("bytes=50-59, 0-9"), 100),
            Multi(vec![0..10, 50..60])
        );
        assert_eq!(parse_range(Some("bytes=0-9,5-19"), 100), Single(0..20));
        assert_eq!(parse_range(Some("bytes=0-9,10-19"), 100), Single(0..20));
        // Unsatisfiable parts are dropped when another part can be served.
        assert_eq!(parse_range(Some("bytes=0-9,500-600"), 100), Single(0..10));
    }

    #[test]
    fn content_types() {
        assert_eq!(audio_content_type(Path::new("a/b.WAV")), "audio/wav");
        assert_eq!(audio_content_type(Path::new("x.mp3")), "audio/mpeg");
        assert_eq!(audio_content_type(Path::new("x.flac")), "audio/flac");
        assert_eq!(audio_content_type(Path::new("x.oga")), "audio/ogg");
        assert_eq!(
            audio_content_type(Path::new("noext")),
            "application/octet-stream"
        );
    }
}
