//! Real music at 44.1 and 48 kHz: `tuneprint extract` on the fixtures of
//! `scripts/make_music_fixtures.sh` (3 s stereo excerpts of the committed clips, upsampled by sox,
//! as WAV, FLAC and MP3), then `tuneprint check` against librosa 0.8.1's features of exactly those
//! files: every one of the 58 columns must pass on every row.

#[path = "common/extract_check.rs"]
mod extract_check;

use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/music")
}

#[test]
fn extract_at_44k_and_48k_passes_check_against_librosa() {
    let files = [
        "rock_jazz.44k.wav",
        "metal_pop.44k.flac",
        "country_blues.48k.wav",
        "classical_hiphop.48k.flac",
        "rock_pop.44k.mp3",
    ];
    let paths: Vec<String> = files
        .iter()
        .map(|f| fixtures().join(f).display().to_string())
        .collect();
    extract_check::assert_all_columns_pass(&paths, &fixtures().join("librosa_features.csv"), 5);
}
