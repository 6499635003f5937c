//! Resampling to the analysis rate with rubato's windowed-sinc resampler, aligned in time and cut
//! to the length `librosa.resample` returns.
//!
//! librosa 0.8.1 resamples with resampy's `kaiser_best` filter (64 zero crossings each side) and
//! then fixes the length to `ceil(n · sr_out / sr_in)`. Here a 256-tap Blackman-Harris² windowed
//! sinc (the same span: 64 zero crossings each side when halving the rate) is used. Output sample
//! `k` is centred on input time `k · sr_in / sr_out`, as resampy's are.
//!
//! rubato's `SincFixedIn` centres its output `k` on input time `(k + 1)/r − 1 + 1/F`
//! (`r` = `sr_out/sr_in`, `F` the oversampling factor of its filter table). When `r = p/q` in
//! lowest terms has a small numerator, the table is built with exactly `F = p` phases and read
//! without interpolation, which makes every output an exact polyphase filter output; then
//! `P` leading zeros and `M` dropped outputs with `(M + 1)·q + 1 − p = P·p` align the result
//! exactly. For rates whose ratio has a large numerator, a 256-phase table with cubic
//! interpolation is used and the alignment is rounded to the nearest input sample.

use super::AudioError;
use rubato::{
    calculate_cutoff, Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};
use std::path::Path;

/// Length of the sinc filter in input samples (at the lower of the two rates).
const SINC_LEN: usize = 256;
/// Largest ratio numerator for which the exact polyphase table is built.
const MAX_EXACT_PHASES: u64 = 512;
/// Oversampling of the interpolated table for other ratios.
const INTERPOLATED_PHASES: usize = 256;
/// Input frames per call to the resampler.
const CHUNK: usize = 8192;
/// Lowest source rate accepted (Hz).
pub const MIN_RATE: u32 = 1_000;
/// Highest source rate accepted (Hz).
pub const MAX_RATE: u32 = 768_000;

/// Number of samples `librosa.resample` returns for `n` input samples: `ceil(n · to / from)`,
/// computed in `f64` as Python does.
pub fn output_len(n: usize, from: u32, to: u32) -> usize {
    let ratio = f64::from(to) / f64::from(from);
    (n as f64 * ratio).ceil() as usize
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// How the resampler is set up for one rate pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    /// Phases of the filter table.
    phases: usize,
    /// Whether the table is read at exact phases (no interpolation between them).
    exact: bool,
    /// Zeros fed before the signal.
    lead_in: usize,
    /// Outputs dropped at the start.
    skip: usize,
}

fn plan(from: u32, to: u32) -> Plan {
    let g = gcd(u64::from(from), u64::from(to));
    let (p, q) = (u64::from(to) / g, u64::from(from) / g);
    if p <= MAX_EXACT_PHASES {
        // Smallest m ≥ 1 with (m·q + 1) ≡ 0 (mod p); it exists because gcd(p, q) = 1.
        let m = (1..=p)
            .find(|m| (m * q + 1) % p == 0)
            .expect("q is invertible modulo p");
        Plan {
            phases: p as usize,
            exact: true,
            lead_in: ((m * q + 1 - p) / p) as usize,
            skip: (m - 1) as usize,
        }
    } else {
        let offset = q as f64 / p as f64 - 1.0 + 1.0 / INTERPOLATED_PHASES as f64;
        Plan {
            phases: INTERPOLATED_PHASES,
            exact: false,
            lead_in: offset.round().max(0.0) as usize,
            skip: 0,
        }
    }
}

/// Resamples mono `x` from `from` Hz to `to` Hz; the result has [`output_len`] samples.
/// `path` only names the file in errors.
pub fn resample(path: &Path, x: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    let err = |reason: String| AudioError::Resample {
        path: path.to_path_buf(),
        reason,
    };
    if from == to {
        return Ok(x.to_vec());
    }
    for rate in [from, to] {
        if !(MIN_RATE..=MAX_RATE).contains(&rate) {
            return Err(err(format!(
                "sample rate {rate} Hz is outside {MIN_RATE}..={MAX_RATE} Hz"
            )));
        }
    }
    let n_out = output_len(x.len(), from, to);
    if x.is_empty() {
        return Ok(Vec::new());
    }
    let plan = plan(from, to);
    let window = WindowFunction::BlackmanHarris2;
    let params = SincInterpolationParameters {
        sinc_len: SINC_LEN,
        f_cutoff: calculate_cutoff(SINC_LEN, window),
        interpolation: if plan.exact {
            SincInterpolationType::Nearest
        } else {
            SincInterpolationType::Cubic
        },
        oversampling_factor: plan.phases,
        window,
    };
    let ratio = f64::from(to) / f64::from(from);
    let mut rs =
        SincFixedIn::<f32>::new(ratio, 1.0, params, CHUNK, 1).map_err(|e| err(e.to_string()))?;

    // The signal as rubato sees it: `lead_in` zeros, `x`, then zeros for as long as needed.
    let wanted = plan.skip + n_out;
    let mut out = Vec::with_capacity(wanted + rs.output_frames_max());
    let mut in_buf = vec![0.0f32; CHUNK];
    let mut out_buf = vec![vec![0.0f32; rs.output_frames_max()]];
    let mut pos = 0usize; // index into the virtual signal
    while out.len() < wanted {
        in_buf.fill(0.0);
        // Virtual index v holds x[v - lead_in].
        let lo = pos.max(plan.lead_in);
        let hi = (pos + CHUNK).min(plan.lead_in + x.len());
        if lo < hi {
            in_buf[lo - pos..hi - pos].copy_from_slice(&x[lo - plan.lead_in..hi - plan.lead_in]);
        }
        let (_, produced) = rs
            .process_into_buffer(&[&in_buf[..]], &mut out_buf, None)
            .map_err(|e| err(e.to_string()))?;
        out.extend_from_slice(&out_buf[0][..produced]);
        pos += CHUNK;
    }
    out.drain(..plan.skip);
    out.truncate(n_out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_librosa() {
        assert_eq!(output_len(44_100, 44_100, 22_050), 22_050);
        assert_eq!(output_len(44_101, 44_100, 22_050), 22_051);
        assert_eq!(output_len(48_000, 48_000, 22_050), 22_050);
        assert_eq!(output_len(1, 48_000, 22_050), 1);
        assert_eq!(output_len(1000, 8_000, 22_050), 2757);
    }

    #[test]
    fn plans_align_exactly() {
        // Output k + skip is centred on (k + skip + 1)·q/p − 1 + 1/p − lead_in = k·q/p.
        for (from, to) in [
            (44_100, 22_050),
            (48_000, 22_050),
            (8_000, 22_050),
            (11_025, 22_050),
            (96_000, 22_050),
        ] {
            let pl = plan(from, to);
            assert!(pl.exact);
            let g = gcd(from as u64, to as u64);
            let (p, q) = ((to as u64 / g) as f64, (from as u64 / g) as f64);
            let centre = (pl.skip as f64 + 1.0) * q / p - 1.0 + 1.0 / p - pl.lead_in as f64;
            assert!(centre.abs() < 1e-9, "{from}->{to}: {pl:?} centre {centre}");
        }
        assert_eq!(
            plan(44_100, 22_050),
            Plan {
                phases: 1,
                exact: true,
                lead_in: 2,
                skip: 0
            }
        );
    }

    /// A sine resampled to 22 050 Hz equals the sine sampled at 22 050 Hz, away from the edges.
    fn check_sine(from: u32, freq: f64, tol: f32) {
        let n = from as usize; // one second
        let w = 2.0 * std::f64::consts::PI * freq;
        let x: Vec<f32> = (0..n)
            .map(|i| (w * i as f64 / f64::from(from)).sin() as f32)
            .collect();
        let y = resample(Path::new("t.wav"), &x, from, 22_050).unwrap();
        assert_eq!(y.len(), output_len(n, from, 22_050));
        let mut worst = 0.0f32;
        for (k, &v) in y.iter().enumerate().take(y.len() - 400).skip(400) {
            let want = (w * k as f64 / 22_050.0).sin() as f32;
            worst = worst.max((v - want).abs());
        }
        assert!(worst < tol, "{from} Hz, {freq} Hz: worst error {worst}");
    }

    #[test]
    fn sines_survive_common_rates() {
        check_sine(44_100, 1000.0, 1e-5);
        check_sine(48_000, 440.0, 5e-5);
        check_sine(8_000, 300.0, 5e-5);
        check_sine(44_056, 1000.0, 1e-3); // ratio numerator too large: interpolated table
    }

    #[test]
    fn bad_rates_are_errors() {
        let e = resample(Path::new("r.wav"), &[0.0; 10], 10, 22_050).unwrap_err();
        assert!(matches!(e, AudioError::Resample { .. }), "{e}");
        assert!(e.to_string().contains("r.wav"));
    }
}
