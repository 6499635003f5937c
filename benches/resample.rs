//! Where the time of `audio::load` goes for the files given: decoding (to mono at the file's own
//! rate) and resampling to 22 050 Hz (resampy's `kaiser_best`, bit-exact), each timed once, on
//! one thread, after the filter table is built (its one-off cost per process is printed apart);
//! then the 57 features of the resampled signal, with the time of each stage.
//!
//! `cargo bench --bench resample -- FILE...` (used by `scripts/bench.sh` for the full-song row).

use std::path::Path;
use std::time::Instant;
use tuneprint::audio::{decode, resample};
use tuneprint::config::SAMPLE_RATE;

fn main() {
    let files: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let t = Instant::now();
    let _ = resample::Filter::KaiserBest.half_window();
    println!(
        "filter table (once per process): {:.4} s",
        t.elapsed().as_secs_f64()
    );
    for f in &files {
        let path = Path::new(f);
        let t = Instant::now();
        let d = decode::load_native(path).unwrap_or_else(|e| panic!("{e}"));
        let t_decode = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let y = resample::resample(path, &d.samples, d.source_rate, SAMPLE_RATE)
            .unwrap_or_else(|e| panic!("{e}"));
        let t_resample = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let (_, stages) =
            tuneprint::features::engine::compute_timed(&y).unwrap_or_else(|e| panic!("{f}: {e}"));
        let t_features = t.elapsed().as_secs_f64();
        println!(
            "{f}: {} Hz, {} ch, {:.1} s: decode {t_decode:.4} s, resample {t_resample:.4} s ({} samples), features {t_features:.4} s",
            d.source_rate,
            d.channels,
            d.samples.len() as f64 / f64::from(d.source_rate),
            y.len()
        );
        println!("  feature stages: {stages:?}");
    }
}
