//! Tags from every container `tuneprint` reads them in (fixtures by scripts/make_tag_fixtures.sh,
//! all tagged alike by ffmpeg): ID3v2 (MP3), Vorbis comments (FLAC, Ogg), RIFF INFO (WAV), and
//! the ID3 chunk of AIFF.

use std::path::PathBuf;
use tuneprint::audio::tags::{read, Tags};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tags")
        .join(name)
}

fn all_five() -> Tags {
    Tags {
        title: Some("Café Δ blues".into()),
        artist: Some("The Testers".into()),
        album: Some("Fixtures".into()),
        genre: Some("Blues".into()),
        year: Some(1999),
    }
}

#[test]
fn every_container_gives_the_same_tags() {
    for name in [
        "tagged.mp3",
        "tagged.flac",
        "tagged.ogg",
        "tagged.wav",
        "tagged.aiff",
    ] {
        let path = fixture(name);
        assert!(path.is_file(), "{} is missing", path.display());
        assert_eq!(read(&path), all_five(), "{name}");
    }
}

#[test]
fn a_file_without_tags_or_unreadable_gives_none() {
    let untagged = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("audio/blues.00000.wav");
    assert!(read(&untagged).is_empty());
    assert!(read(&fixture("no-such-file.mp3")).is_empty());
}
