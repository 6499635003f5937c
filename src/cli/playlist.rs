//! `tuneprint playlist`: a playlist from the library, each song close to the one before.

use super::library::DbArg;
use super::CliError;
use crate::library::{relative_path, SongSummary};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `tuneprint playlist`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The first song: its path, file name or stem in the library.
    #[arg(required_unless_present = "genre", conflicts_with = "genre")]
    pub song: Option<String>,
    /// A playlist of one genre instead (predicted, or the genre tag), from its most typical song.
    #[arg(long)]
    pub genre: Option<String>,
    /// Songs in the playlist (the first song included).
    #[arg(short = 'n', long = "count", default_value_t = crate::config::PLAYLIST_LENGTH)]
    pub n: usize,
    #[command(flatten)]
    pub db: DbArg,
    /// Write an M3U8 playlist here (paths relative to it; written atomically) instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Print the playlist as JSON instead of M3U8.
    #[arg(long)]
    pub json: bool,
}

/// The M3U8 text of a playlist, paths relative to the folder `base` (absolute).
pub fn m3u8(songs: &[SongSummary], base: &Path) -> String {
    let mut s = String::from("#EXTM3U\n");
    for song in songs {
        let secs = song.duration.map_or(-1, |d| d.round() as i64);
        let title = song.display_name().replace(['\n', '\r'], " ");
        s.push_str(&format!("#EXTINF:{secs},{title}\n"));
        s.push_str(&relative_path(&song.path, base).to_string_lossy());
        s.push('\n');
    }
    s
}

/// Runs `tuneprint playlist`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let lib = args.db.open(true)?;
    let songs = match (&args.song, &args.genre) {
        (Some(name), _) => {
            let id = lib.find(name)?;
            lib.playlist(id, args.n)?
        }
        (None, Some(g)) => lib.genre_playlist(g, args.n)?,
        (None, None) => return Err(CliError::Failed("give a SONG or --genre G".into())),
    };
    if args.json {
        let out = serde_json::to_string(&songs)
            .map_err(|e| CliError::Failed(format!("cannot encode JSON: {e}")))?;
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    match &args.output {
        Some(out) => {
            let dir = match out.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            std::fs::create_dir_all(&dir)?;
            let base = std::fs::canonicalize(&dir)?;
            crate::table::write_atomic(out, m3u8(&songs, &base).as_bytes())?;
            eprintln!("{} songs → {}", songs.len(), out.display());
        }
        None => {
            let base = std::env::current_dir()?;
            print!("{}", m3u8(&songs, &base));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m3u8_lines() {
        let song = |path: &str, title: Option<&str>, artist: Option<&str>, d: f64| SongSummary {
            id: 1,
            path: PathBuf::from(path),
            title: title.map(String::from),
            artist: artist.map(String::from),
            album: None,
            genre: None,
            year: None,
            duration: Some(d),
            predicted: None,
            error: None,
        };
        let text = m3u8(
            &[
                song("/m/jazz/a.mp3", Some("So What"), Some("Miles Davis"), 545.4),
                song("/m/rock/b.flac", None, None, 30.0),
            ],
            Path::new("/m/lists"),
        );
        assert_eq!(
            text,
            "#EXTM3U\n#EXTINF:545,Miles Davis - So What\n../jazz/a.mp3\n#EXTINF:30,b\n../rock/b.flac\n"
        );
    }
}
