//! Scaling and channel mixing, shared by the decoders: libsndfile's integer scales and numpy's
//! `float32` mean over the channels of each frame (the order of its pairwise sum), applied while
//! the samples are collected.

use crate::features::numpy::pairwise_sum;
use symphonia::core::audio::{AudioBuffer, AudioBufferRef, Signal};
use symphonia::core::sample::Sample;

/// libsndfile's scale of 8-bit samples to `float` (`x / 2^7`).
pub(crate) const S8: f32 = 1.0 / 128.0;
/// ... of 16-bit samples.
pub(crate) const S16: f32 = 1.0 / 32_768.0;
/// ... of 24-bit samples.
pub(crate) const S24: f32 = 1.0 / 8_388_608.0;
/// ... of 32-bit samples (rounded to `f32` first).
pub(crate) const S32: f32 = 1.0 / 2_147_483_648.0;

/// The mean of one frame's channels as `numpy.mean(y, axis=0)` computes it for `float32`.
#[inline]
pub fn numpy_channel_mean(frame: &[f32]) -> f32 {
    (0.0f32 + pairwise_sum(frame)) / frame.len() as f32
}

/// [`numpy_channel_mean`] of a two-channel frame, written out (the same operations in the
/// same order, so the same bits, signed zeros included) so that it vectorises.
#[inline]
pub fn numpy_stereo_mean(l: f32, r: f32) -> f32 {
    (0.0f32 + ((0.0f32 + l) + r)) / 2.0
}

/// Collects decoded audio as mono `f32` (channel mean per frame), or with `keep_channels` as
/// the frames themselves (interleaved), without per-sample allocation.
#[derive(Debug, Default)]
pub(crate) struct MonoMixer {
    pub(crate) out: Vec<f32>,
    frame: Vec<f32>,
    keep_channels: bool,
}

impl MonoMixer {
    pub(crate) fn with_capacity(frames: usize) -> Self {
        Self {
            out: Vec::with_capacity(frames),
            ..Self::default()
        }
    }

    /// A mixer that keeps every channel: `out` holds interleaved frames.
    pub(crate) fn keeping_channels(keep_channels: bool, frames: usize) -> Self {
        Self {
            keep_channels,
            ..Self::with_capacity(frames)
        }
    }

    /// Appends interleaved frames of `channels` samples of `N` bytes each; `conv` turns one
    /// sample's bytes into its scaled value. Trailing bytes short of a frame are ignored.
    pub(crate) fn push_interleaved<const N: usize>(
        &mut self,
        data: &[u8],
        channels: usize,
        conv: impl Fn([u8; N]) -> f32,
    ) {
        let sample = |b: &[u8]| conv(b.try_into().expect("chunks of N bytes"));
        if self.keep_channels && channels > 1 {
            let whole = data.len() / (N * channels) * (N * channels);
            self.out.extend(data[..whole].chunks_exact(N).map(sample));
            return;
        }
        if channels == 1 {
            self.out.extend(data.chunks_exact(N).map(sample));
            return;
        }
        if channels == 2 {
            self.out.extend(
                data.chunks_exact(2 * N)
                    .map(|f| numpy_stereo_mean(sample(&f[..N]), sample(&f[N..]))),
            );
            return;
        }
        self.frame.resize(channels, 0.0);
        self.out.reserve(data.len() / (N * channels));
        for f in data.chunks_exact(N * channels) {
            for (dst, b) in self.frame.iter_mut().zip(f.chunks_exact(N)) {
                *dst = sample(b);
            }
            self.out.push(numpy_channel_mean(&self.frame));
        }
    }

    /// Appends the frames of a planar symphonia buffer; `conv` scales one sample.
    pub(crate) fn push_planar<S: Sample>(&mut self, buf: &AudioBuffer<S>, conv: impl Fn(S) -> f32) {
        let planes = buf.planes();
        let planes = planes.planes();
        let frames = buf.frames();
        if self.keep_channels && planes.len() > 1 {
            self.out.reserve(frames * planes.len());
            for i in 0..frames {
                self.out.extend(planes.iter().map(|plane| conv(plane[i])));
            }
            return;
        }
        match planes.len() {
            0 => {}
            1 => self
                .out
                .extend(planes[0][..frames].iter().map(|&s| conv(s))),
            2 => self.out.extend(
                planes[0][..frames]
                    .iter()
                    .zip(&planes[1][..frames])
                    .map(|(&l, &r)| numpy_stereo_mean(conv(l), conv(r))),
            ),
            c => {
                self.frame.resize(c, 0.0);
                self.out.reserve(frames);
                for i in 0..frames {
                    for (dst, plane) in self.frame.iter_mut().zip(planes) {
                        *dst = conv(plane[i]);
                    }
                    self.out.push(numpy_channel_mean(&self.frame));
                }
            }
        }
    }

    /// Appends a decoded symphonia buffer of any sample type, scaled as libsndfile scales it.
    pub(crate) fn push_buffer(&mut self, buf: &AudioBufferRef<'_>) {
        match buf {
            AudioBufferRef::U8(b) => self.push_planar(b, |s| (i32::from(s) - 128) as f32 * S8),
            AudioBufferRef::S8(b) => self.push_planar(b, |s| f32::from(s) * S8),
            AudioBufferRef::U16(b) => self.push_planar(b, |s| (i32::from(s) - 32_768) as f32 * S16),
            AudioBufferRef::S16(b) => self.push_planar(b, |s| f32::from(s) * S16),
            AudioBufferRef::U24(b) => {
                self.push_planar(b, |s| (s.inner() as i32 - 8_388_608) as f32 * S24)
            }
            AudioBufferRef::S24(b) => self.push_planar(b, |s| s.inner() as f32 * S24),
            AudioBufferRef::U32(b) => {
                self.push_planar(b, |s| (s ^ 0x8000_0000) as i32 as f32 * S32)
            }
            AudioBufferRef::S32(b) => self.push_planar(b, |s| s as f32 * S32),
            AudioBufferRef::F32(b) => self.push_planar(b, |s| s),
            AudioBufferRef::F64(b) => self.push_planar(b, |s| s as f32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_mean_follows_numpy_order() {
        // Values chosen so that summation order changes the f32 result.
        let big = 1.0e8f32;
        assert_eq!(
            numpy_channel_mean(&[big, 1.0, -big]),
            (((big + 1.0) - big) / 3.0)
        );
        assert_eq!(
            numpy_channel_mean(&[-0.0, -0.0]).to_bits(),
            0.0f32.to_bits()
        );
        let v: Vec<f32> = (0..9).map(|i| if i == 0 { big } else { 1.0 }).collect();
        // 8 accumulators, combined pairwise, then the ninth value.
        let want = ((((big + 1.0) + (1.0 + 1.0)) + ((1.0 + 1.0) + (1.0 + 1.0))) + 1.0) / 9.0;
        assert_eq!(numpy_channel_mean(&v), want);
        // The stereo shortcut gives the general mean's bits, signed zeros and odd values included.
        let vals = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            big,
            -big,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE / 4.0,
            0.1,
            -0.3,
            f32::MAX,
            f32::INFINITY,
            f32::NAN,
        ];
        for &l in &vals {
            for &r in &vals {
                assert_eq!(
                    numpy_stereo_mean(l, r).to_bits(),
                    numpy_channel_mean(&[l, r]).to_bits(),
                    "{l} {r}"
                );
            }
        }
    }
}
