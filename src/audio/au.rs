//! A small native reader of Sun/NeXT `.au` (`.snd`) files, the format GTZAN ships.
//!
//! Layout: a header of six 32-bit words (magic `.snd`, data offset, data size, encoding, sample
//! rate, channels), optionally followed by an annotation up to the data offset, then interleaved
//! samples. Words and samples are big-endian; the DEC variant (magic `dns.`) is little-endian.
//! A data size of `0xffffffff` means "unknown: up to the end of the file", and a size larger
//! than what the file holds is cut to what it holds, as libsndfile does.
//!
//! Samples are scaled as libsndfile scales them when soundfile reads `float32`: n-bit linear PCM
//! is divided by 2^(n-1) (32-bit is first rounded to `f32`), floats are taken as they are
//! (doubles rounded to `f32`), µ-law and A-law go through the G.711 16-bit expansion and are
//! divided by 32768.

use super::mix::{MonoMixer, S16, S24, S32, S8};
use super::AudioError;
use std::path::Path;

/// Magic of big-endian files.
const MAGIC_BE: &[u8; 4] = b".snd";
/// Magic of little-endian (DEC) files.
const MAGIC_LE: &[u8; 4] = b"dns.";
/// Length of the fixed header.
const HEADER_LEN: usize = 24;
/// Data size meaning "unknown".
const UNKNOWN_SIZE: u32 = 0xffff_ffff;
/// Upper bound on the channel count (anything above is a damaged header).
const MAX_CHANNELS: u32 = 1024;

/// Sample encodings of the format that this reader decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 8-bit G.711 µ-law (code 1).
    MuLaw,
    /// 8-bit signed linear PCM (code 2).
    Pcm8,
    /// 16-bit linear PCM (code 3).
    Pcm16,
    /// 24-bit linear PCM (code 4).
    Pcm24,
    /// 32-bit linear PCM (code 5).
    Pcm32,
    /// 32-bit IEEE float (code 6).
    Float32,
    /// 64-bit IEEE float (code 7).
    Float64,
    /// 8-bit G.711 A-law (code 27).
    ALaw,
}

impl Encoding {
    fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            1 => Self::MuLaw,
            2 => Self::Pcm8,
            3 => Self::Pcm16,
            4 => Self::Pcm24,
            5 => Self::Pcm32,
            6 => Self::Float32,
            7 => Self::Float64,
            27 => Self::ALaw,
            _ => return None,
        })
    }

    /// Bytes per sample.
    pub fn bytes(self) -> usize {
        match self {
            Self::MuLaw | Self::ALaw | Self::Pcm8 => 1,
            Self::Pcm16 => 2,
            Self::Pcm24 => 3,
            Self::Pcm32 | Self::Float32 => 4,
            Self::Float64 => 8,
        }
    }
}

/// The parsed header of an `.au` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Byte offset of the first sample.
    pub data_offset: usize,
    /// Bytes of sample data actually present (header size cut to the file, whole frames only).
    pub data_len: usize,
    /// Sample encoding.
    pub encoding: Encoding,
    /// Sample rate (Hz).
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: usize,
    /// Whether words and samples are little-endian (`dns.` files).
    pub little_endian: bool,
}

impl Header {
    /// Number of whole frames in the data.
    pub fn frames(&self) -> usize {
        self.data_len / (self.encoding.bytes() * self.channels)
    }
}

/// Whether `bytes` start with an `.au` magic (either byte order).
pub fn has_magic(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && (&bytes[..4] == MAGIC_BE || &bytes[..4] == MAGIC_LE)
}

/// Parses and checks the header of the `.au` file `bytes` (read from `path`, for errors).
pub fn parse_header(path: &Path, bytes: &[u8]) -> Result<Header, AudioError> {
    let corrupt = |reason: String| AudioError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    if !has_magic(bytes) {
        return Err(AudioError::Unsupported {
            path: path.to_path_buf(),
            reason: "not a Sun .au file (no `.snd` magic)".into(),
        });
    }
    let little_endian = &bytes[..4] == MAGIC_LE;
    if bytes.len() < HEADER_LEN {
        return Err(corrupt(format!(
            "truncated .au header ({} of {HEADER_LEN} bytes)",
            bytes.len()
        )));
    }
    let word = |i: usize| {
        let b = [
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ];
        if little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let (offset, size, code, rate, channels) = (word(1), word(2), word(3), word(4), word(5));
    let encoding = Encoding::from_code(code).ok_or_else(|| AudioError::Unsupported {
        path: path.to_path_buf(),
        reason: format!("unsupported .au encoding {code}"),
    })?;
    if (offset as usize) < HEADER_LEN {
        return Err(corrupt(format!(
            ".au data offset {offset} is inside the {HEADER_LEN}-byte header"
        )));
    }
    let data_offset = offset as usize;
    if data_offset > bytes.len() {
        return Err(corrupt(format!(
            "truncated .au header (data offset {data_offset} is past the end of the {}-byte file)",
            bytes.len()
        )));
    }
    if rate == 0 {
        return Err(corrupt(".au sample rate is 0".into()));
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(corrupt(format!(".au channel count {channels} is invalid")));
    }
    let available = bytes.len() - data_offset;
    let declared = if size == UNKNOWN_SIZE {
        available
    } else {
        (size as usize).min(available)
    };
    let frame = encoding.bytes() * channels as usize;
    Ok(Header {
        data_offset,
        data_len: declared - declared % frame,
        encoding,
        sample_rate: rate,
        channels: channels as usize,
        little_endian,
    })
}

/// Expands a G.711 µ-law byte to 16-bit linear PCM (range ±32124).
pub fn ulaw_to_i16(u: u8) -> i16 {
    let u = !u;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0f);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    (if u & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

/// Expands a G.711 A-law byte to 16-bit linear PCM (range ±32256).
pub fn alaw_to_i16(a: u8) -> i16 {
    let a = a ^ 0x55;
    let segment = (a & 0x70) >> 4;
    let mut t = i32::from(a & 0x0f) << 4;
    match segment {
        0 => t += 8,
        1 => t += 0x108,
        s => t = (t + 0x108) << (s - 1),
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// Decodes the `.au` file `bytes` into `mixer` (mono by channel mean); returns the header.
pub(crate) fn decode_into(
    path: &Path,
    bytes: &[u8],
    mixer: &mut MonoMixer,
) -> Result<Header, AudioError> {
    let h = parse_header(path, bytes)?;
    let data = &bytes[h.data_offset..h.data_offset + h.data_len];
    let c = h.channels;
    macro_rules! run {
        ($n:literal, $conv:expr) => {
            mixer.push_interleaved::<$n>(data, c, $conv)
        };
    }
    match (h.encoding, h.little_endian) {
        (Encoding::MuLaw, _) => run!(1, |b: [u8; 1]| f32::from(ulaw_to_i16(b[0])) * S16),
        (Encoding::ALaw, _) => run!(1, |b: [u8; 1]| f32::from(alaw_to_i16(b[0])) * S16),
        (Encoding::Pcm8, _) => run!(1, |b: [u8; 1]| f32::from(b[0] as i8) * S8),
        (Encoding::Pcm16, false) => run!(2, |b: [u8; 2]| f32::from(i16::from_be_bytes(b)) * S16),
        (Encoding::Pcm16, true) => run!(2, |b: [u8; 2]| f32::from(i16::from_le_bytes(b)) * S16),
        (Encoding::Pcm24, false) => run!(3, |b: [u8; 3]| {
            (i32::from_be_bytes([b[0], b[1], b[2], 0]) >> 8) as f32 * S24
        }),
        (Encoding::Pcm24, true) => run!(3, |b: [u8; 3]| {
            (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 * S24
        }),
        (Encoding::Pcm32, false) => run!(4, |b: [u8; 4]| i32::from_be_bytes(b) as f32 * S32),
        (Encoding::Pcm32, true) => run!(4, |b: [u8; 4]| i32::from_le_bytes(b) as f32 * S32),
        (Encoding::Float32, false) => run!(4, f32::from_be_bytes),
        (Encoding::Float32, true) => run!(4, f32::from_le_bytes),
        (Encoding::Float64, false) => run!(8, |b: [u8; 8]| f64::from_be_bytes(b) as f32),
        (Encoding::Float64, true) => run!(8, |b: [u8; 8]| f64::from_le_bytes(b) as f32),
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g711_tables_match_the_reference_expansions() {
        // Known values of the standard expansion tables (libsndfile's ulaw/alaw decode tables).
        assert_eq!(ulaw_to_i16(0x00), -32124);
        assert_eq!(ulaw_to_i16(0x80), 32124);
        assert_eq!(ulaw_to_i16(0x7f), 0);
        assert_eq!(ulaw_to_i16(0xff), 0);
        assert_eq!(ulaw_to_i16(0x0f), -16764);
        assert_eq!(alaw_to_i16(0x00), -5504);
        assert_eq!(alaw_to_i16(0x80), 5504);
        assert_eq!(alaw_to_i16(0x55), -8);
        assert_eq!(alaw_to_i16(0xd5), 8);
        assert_eq!(alaw_to_i16(0x2a), -32256);
        assert_eq!(alaw_to_i16(0xaa), 32256);
    }

    fn header(offset: u32, size: u32, enc: u32, rate: u32, ch: u32) -> Vec<u8> {
        let mut v = b".snd".to_vec();
        for w in [offset, size, enc, rate, ch] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v.resize(offset as usize, 0);
        v
    }

    #[test]
    fn header_sizes_and_unknown_length() {
        let p = Path::new("x.au");
        let mut b = header(32, 0xffff_ffff, 3, 8000, 2);
        b.extend_from_slice(&[0u8; 4 * 5 + 3]); // 5 frames and a partial one
        let h = parse_header(p, &b).unwrap();
        assert_eq!((h.data_offset, h.data_len, h.frames()), (32, 20, 5));
        assert_eq!(
            (h.sample_rate, h.channels, h.encoding),
            (8000, 2, Encoding::Pcm16)
        );
        // A declared size larger than the file is cut to the file.
        let mut b = header(24, 1000, 3, 8000, 1);
        b.extend_from_slice(&[0u8; 10]);
        assert_eq!(parse_header(p, &b).unwrap().data_len, 10);
        // A smaller declared size wins.
        let mut b = header(24, 4, 3, 8000, 1);
        b.extend_from_slice(&[0u8; 10]);
        assert_eq!(parse_header(p, &b).unwrap().data_len, 4);
    }

    #[test]
    fn bad_headers_are_typed_errors() {
        let p = Path::new("bad.au");
        let e = parse_header(p, b".snd\0\0\0\x18").unwrap_err();
        assert!(matches!(e, AudioError::Corrupt { .. }), "{e}");
        let e = parse_header(p, &header(24, 0, 99, 8000, 1)).unwrap_err();
        assert!(matches!(e, AudioError::Unsupported { .. }), "{e}");
        let mut b = header(24, 0, 3, 8000, 1);
        b[7] = 8; // offset 8 < 24
        assert!(matches!(
            parse_header(p, &b).unwrap_err(),
            AudioError::Corrupt { .. }
        ));
        let e = parse_header(p, &header(24, 0, 3, 0, 1)).unwrap_err();
        assert!(matches!(e, AudioError::Corrupt { .. }), "{e}");
        let e = parse_header(p, &header(24, 0, 3, 8000, 0)).unwrap_err();
        assert!(matches!(e, AudioError::Corrupt { .. }), "{e}");
        let mut b = header(24, 0, 3, 8000, 1);
        b[4..8].copy_from_slice(&100u32.to_be_bytes());
        let e = parse_header(p, &b).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
    }
}
