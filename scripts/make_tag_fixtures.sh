#!/usr/bin/env bash
# Makes tests/fixtures/tags/: half a second of audio/blues.00000.wav in every container whose
# tags `tuneprint` reads, each tagged with the same title, artist, album, genre and year (the
# title not ASCII) by ffmpeg: ID3v2.3 (MP3), Vorbis comments (FLAC, Ogg), RIFF INFO (WAV), and
# an ID3 chunk (AIFF). tests/tags.rs reads them. The outputs are committed (CI machines lack
# ffmpeg). Needs Debian's ffmpeg:  apt-get install -y ffmpeg
# Usage: bash scripts/make_tag_fixtures.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/tests/fixtures/tags"
src="$root/audio/blues.00000.wav"
command -v ffmpeg >/dev/null || { echo "error: ffmpeg is not installed" >&2; exit 1; }
mkdir -p "$out"
meta=(-metadata "title=Café Δ blues" -metadata "artist=The Testers" -metadata "album=Fixtures"
      -metadata "genre=Blues" -metadata "date=1999")
cut=(-hide_banner -loglevel error -y -i "$src" -t 0.5 -map_metadata -1 -fflags +bitexact)
ffmpeg "${cut[@]}" "${meta[@]}" -c:a libmp3lame -b:a 64k -id3v2_version 3 -write_xing 0 "$out/tagged.mp3"
ffmpeg "${cut[@]}" "${meta[@]}" -c:a flac "$out/tagged.flac"
ffmpeg "${cut[@]}" "${meta[@]}" -c:a libvorbis -q:a 2 "$out/tagged.ogg"
ffmpeg "${cut[@]}" "${meta[@]}" -c:a pcm_s16le "$out/tagged.wav"
ffmpeg "${cut[@]}" "${meta[@]}" -c:a pcm_s16be -write_id3v2 1 "$out/tagged.aiff"
ffmpeg -version | head -1 > "$out/VERSIONS.txt"
ls -l "$out"
