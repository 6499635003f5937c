//! Song tags (title, artist, album, genre, year) through symphonia's metadata readers: ID3v2
//! (MP3, also found before other containers), Vorbis comments (Ogg, FLAC), RIFF INFO (WAV) and
//! AIFF text chunks. Text is read lossily (invalid UTF-8 becomes U+FFFD, never an error).
//!
//! Reading tags never fails a song: a file whose tags cannot be read has no tags. Sun `.au`
//! files have no tag format; their tags are empty.

use serde::{Deserialize, Serialize};
use std::path::Path;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::{MetadataOptions, MetadataRevision, StandardTagKey, Value};
use symphonia::core::probe::Hint;

/// The tags of one song; `None` where the file has no such tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub genre: Option<String>,
    pub year: Option<i32>,
}

impl Tags {
    /// Whether no tag is set.
    pub fn is_empty(&self) -> bool {
        *self == Tags::default()
    }

    fn apply(&mut self, rev: &MetadataRevision) {
        for tag in rev.tags() {
            let Some(key) = tag.std_key else { continue };
            let text = value_text(&tag.value);
            let text = text.trim().trim_matches('\0').trim();
            if text.is_empty() {
                continue;
            }
            let slot = match key {
                StandardTagKey::TrackTitle => &mut self.title,
                StandardTagKey::Artist => &mut self.artist,
                StandardTagKey::Album => &mut self.album,
                StandardTagKey::Genre => &mut self.genre,
                StandardTagKey::Date
                | StandardTagKey::ReleaseDate
                | StandardTagKey::OriginalDate => {
                    if self.year.is_none() {
                        self.year = parse_year(text);
                    }
                    continue;
                }
                _ => continue,
            };
            // The first value of a key wins (later revisions fill what is still missing).
            if slot.is_none() {
                *slot = Some(text.to_string());
            }
        }
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SignedInt(i) => i.to_string(),
        Value::UnsignedInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Flag => String::new(),
    }
}

/// The year of a date tag: its first run of four digits (`2003`, `2003-05-01`, `05/2003`).
pub fn parse_year(text: &str) -> Option<i32> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(3))
        .find(|&i| {
            b[i..i + 4].iter().all(u8::is_ascii_digit)
                && (i == 0 || !b[i - 1].is_ascii_digit())
                && (i + 4 == b.len() || !b[i + 4].is_ascii_digit())
        })
        .and_then(|i| text[i..i + 4].parse().ok())
}

/// Reads the tags of a file (empty when it has none or they cannot be read).
pub fn read(path: &Path) -> Tags {
    // The metadata readers run under the decoder's panic guard: garbage never aborts a scan.
    super::decode::guarded(|| read_inner(path)).unwrap_or_default()
}

fn read_inner(path: &Path) -> Tags {
    let mut tags = Tags::default();
    let Ok(file) = std::fs::File::open(path) else {
        return tags;
    };
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let Ok(mut probed) = symphonia::default::get_probe().format(
        &hint,
        mss,
        &FormatOptions::default(),
        &MetadataOptions::default(),
    ) else {
        return tags;
    };
    // Tags inside the container first (Vorbis comments, RIFF INFO), then those found before it
    // (an ID3v2 block in front of the stream).
    if let Some(rev) = probed.format.metadata().skip_to_latest() {
        tags.apply(rev);
    }
    if let Some(mut m) = probed.metadata.get() {
        if let Some(rev) = m.skip_to_latest() {
            tags.apply(rev);
        }
    }
    // Only files named as AIFF are read again for their `ID3 ` chunk.
    let aiff = path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["aif", "aiff", "aifc"]
            .iter()
            .any(|a| e.eq_ignore_ascii_case(a))
    });
    if let Some(rev) = aiff.then(|| aiff_id3(path)).flatten() {
        tags.apply(&rev);
    }
    tags
}

/// Largest `ID3 ` chunk read (tags with embedded pictures included).
const MAX_AIFF_ID3_BYTES: u64 = 16 << 20;

/// The tags of an AIFF file's `ID3 ` chunk (an ID3v2 block, where iTunes and ffmpeg put AIFF
/// tags); `None` for any other file. Reads the chunk headers only, up to that chunk.
fn aiff_id3(path: &Path) -> Option<MetadataRevision> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let mut head = [0u8; 12];
    f.read_exact(&mut head).ok()?;
    if &head[0..4] != b"FORM" || !matches!(&head[8..12], b"AIFF" | b"AIFC") {
        return None;
    }
    loop {
        let mut chunk = [0u8; 8];
        f.read_exact(&mut chunk).ok()?;
        let size = u64::from(u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        if matches!(&chunk[0..4], b"ID3 " | b"id3 ") {
            if size > MAX_AIFF_ID3_BYTES {
                return None;
            }
            let mut data = vec![0u8; size as usize];
            f.read_exact(&mut data).ok()?;
            let mut builder = symphonia::core::meta::MetadataBuilder::new();
            let mut reader = symphonia::core::io::BufReader::new(&data);
            symphonia_metadata::id3v2::read_id3v2(&mut reader, &mut builder).ok()?;
            return Some(builder.metadata());
        }
        // Chunks are padded to an even length.
        f.seek(SeekFrom::Current((size + (size & 1)) as i64)).ok()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years() {
        assert_eq!(parse_year("2003"), Some(2003));
        assert_eq!(parse_year("2003-05-01"), Some(2003));
        assert_eq!(parse_year("05/1999"), Some(1999));
        assert_eq!(parse_year("12345"), None);
        assert_eq!(parse_year("n/a"), None);
        assert_eq!(parse_year(""), None);
    }

    /// A WAV file with a RIFF INFO list (title, artist, album, genre, date; one invalid UTF-8
    /// byte in the artist) before its data chunk.
    fn wav_with_info() -> Vec<u8> {
        fn sub(id: &[u8; 4], text: &[u8]) -> Vec<u8> {
            let mut v = id.to_vec();
            let mut t = text.to_vec();
            t.push(0);
            if t.len() % 2 == 1 {
                t.push(0);
            }
            v.extend_from_slice(&(t.len() as u32).to_le_bytes());
            v.extend_from_slice(&t);
            v
        }
        let mut info = b"INFO".to_vec();
        info.extend(sub(b"INAM", b"So What"));
        info.extend(sub(b"IART", b"Miles Davis \xff"));
        info.extend(sub(b"IPRD", b"Kind of Blue"));
        info.extend(sub(b"IGNR", b"Jazz"));
        info.extend(sub(b"ICRD", b"1959-08-17"));
        let samples = [0i16; 64];
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&1u16.to_le_bytes()); // PCM
        fmt.extend_from_slice(&1u16.to_le_bytes()); // mono
        fmt.extend_from_slice(&22050u32.to_le_bytes());
        fmt.extend_from_slice(&44100u32.to_le_bytes());
        fmt.extend_from_slice(&2u16.to_le_bytes());
        fmt.extend_from_slice(&16u16.to_le_bytes());
        let mut body = b"WAVE".to_vec();
        body.extend_from_slice(b"fmt ");
        body.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        body.extend(fmt);
        body.extend_from_slice(b"LIST");
        body.extend_from_slice(&(info.len() as u32).to_le_bytes());
        body.extend(info);
        body.extend_from_slice(b"data");
        body.extend_from_slice(&(samples.len() as u32 * 2).to_le_bytes());
        for s in samples {
            body.extend_from_slice(&s.to_le_bytes());
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend(body);
        out
    }

    #[test]
    fn riff_info_tags_lossy() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.wav");
        std::fs::write(&p, wav_with_info()).unwrap();
        let t = read(&p);
        assert_eq!(t.title.as_deref(), Some("So What"));
        assert_eq!(t.artist.as_deref(), Some("Miles Davis \u{fffd}"));
        assert_eq!(t.album.as_deref(), Some("Kind of Blue"));
        assert_eq!(t.genre.as_deref(), Some("Jazz"));
        assert_eq!(t.year, Some(1959));
    }

    #[test]
    fn unreadable_files_have_no_tags() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("garbage.mp3");
        std::fs::write(&p, b"not audio at all").unwrap();
        assert!(read(&p).is_empty());
        assert!(read(&dir.path().join("missing.wav")).is_empty());
    }
}
