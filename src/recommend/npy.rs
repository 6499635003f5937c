//! Minimal NumPy `.npy` (format 1.0) reading and writing for little-endian `float32` arrays.

const MAGIC: &[u8] = b"\x93NUMPY";

/// Serialises a C-ordered `float32` array of the given shape.
pub fn to_bytes_f32(data: &[f32], shape: &[usize]) -> Vec<u8> {
    let dims = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}");
    // Pad so that magic + version + length + header (+ newline) is a multiple of 64.
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + header.len() + data.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Parses a little-endian `float32` C-ordered `.npy` file: data and shape.
pub fn from_bytes_f32(bytes: &[u8]) -> Result<(Vec<f32>, Vec<usize>), String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file".into());
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = bytes
        .get(start..start + hlen)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or("truncated .npy header")?;
    if !header.contains("'<f4'") {
        return Err("only little-endian float32 arrays are supported".into());
    }
    if header.contains("'fortran_order': True") {
        return Err("Fortran-ordered arrays are not supported".into());
    }
    let shape_str = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split(')').next())
        .ok_or("no shape in .npy header")?;
    let shape: Vec<usize> = shape_str
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad shape `{shape_str}`"))
        })
        .collect::<Result<_, _>>()?;
    let n: usize = shape.iter().product();
    let body = &bytes[start + hlen..];
    if body.len() != n * 4 {
        return Err(format!(
            "expected {} data bytes for shape {shape:?}, found {}",
            n * 4,
            body.len()
        ));
    }
    let data = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((data, shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_alignment() {
        let data = [1.5f32, -2.0, 3.25, 0.0, 1e-8, 7.0];
        let b = to_bytes_f32(&data, &[2, 3]);
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        assert_eq!(from_bytes_f32(&b).unwrap(), (data.to_vec(), vec![2, 3]));
        let b1 = to_bytes_f32(&data, &[6]);
        assert_eq!(from_bytes_f32(&b1).unwrap().1, vec![6]);
        assert_eq!(
            from_bytes_f32(&b[..b.len() - 1]).unwrap_err(),
            "expected 24 data bytes for shape [2, 3], found 23"
        );
        assert_eq!(
            from_bytes_f32(b"hello world").unwrap_err(),
            "not a .npy file"
        );
    }
}
