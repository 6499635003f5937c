//! Every default of the analysis in one place (librosa 0.8.1 defaults).

/// Files whose audio lasts at least this long (seconds, as their headers tell) are decoded and
/// analysed as a stream in bounded memory (`features::stream`), their long arrays kept in
/// scratch files in the temporary folder (`TMPDIR`); shorter ones are decoded whole, which is
/// faster and peaks at a few hundred MB at this length.
pub const STREAM_MIN_SECONDS: f64 = 600.0;
/// Files whose headers do not tell their length (an MP3 without a Xing/Info frame, a Sun `.au`
/// file) are streamed from this size on (bytes; about 10 minutes of MP3 at 192 kbit/s).
pub const STREAM_MIN_BYTES_UNKNOWN_LENGTH: u64 = 16 << 20;
/// Environment variable that overrides [`STREAM_MIN_SECONDS`] (tests stream short files).
pub const STREAM_MIN_SECONDS_ENV: &str = "TUNEPRINT_STREAM_MIN_SECONDS";

/// Sample rate every song is decoded to (Hz), as `librosa.load` does.
pub const SAMPLE_RATE: u32 = 22_050;
/// STFT frame length in samples.
pub const N_FFT: usize = 2048;
/// STFT hop length in samples.
pub const HOP_LENGTH: usize = 512;
/// Number of mel bands of the mel spectrogram.
pub const N_MELS: usize = 128;
/// Number of MFCCs kept.
pub const N_MFCC: usize = 20;
/// Number of chroma bins.
pub const N_CHROMA: usize = 12;
/// HPSS median filter length (frames and bins).
pub const HPSS_KERNEL: usize = 31;
/// Spectral rolloff fraction.
pub const ROLL_PERCENT: f64 = 0.85;
/// Genre labels of GTZAN, in alphabetical order (the class index order everywhere).
pub const GENRES: [&str; 10] = [
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
];
/// Audio file extensions that folder walks pick up (lower case).
pub const AUDIO_EXTENSIONS: [&str; 9] = [
    "wav", "au", "snd", "mp3", "flac", "ogg", "oga", "aiff", "aif",
];
/// Folder `tuneprint report` writes its figures and page into.
pub const REPORT_DIR: &str = "report";
/// Clip whose mel spectrogram `tuneprint report` draws (committed with the repository).
pub const REPORT_CLIP: &str = "audio/blues.00000.wav";

// --- Paths (branch `paths`): defaults that work from any folder. ---

/// The reference table every command defaults to: the copy of `features/features_30_sec.csv`
/// built into the binary (see [`builtin_file`]). An explicit path reads that file instead.
pub const FEATURES_CSV: &str = "builtin:features_30_sec.csv";
/// The artist-filtered split lists built into the binary (`features/splits/*.txt`).
pub const SPLITS_DIR: &str = "builtin:splits";
/// Prefix of the names of built-in files.
pub const BUILTIN_PREFIX: &str = "builtin:";
/// Environment variable naming the per-user data folder (models).
pub const HOME_ENV: &str = "TUNEPRINT_HOME";

/// The model every command uses until the user trains one: the default blend, trained from
/// the built-in reference table by `scripts/make_builtin_model.sh` (the committed songs of
/// `audio/` left out) and built into the binary (`src/model/builtin/`).
pub const BUILTIN_MODEL: &str = "builtin:default";

/// The files of the built-in model folder ([`BUILTIN_MODEL`]), by name.
const BUILTIN_MODEL_FILES: [(&str, &[u8]); 6] = [
    ("model.json", include_bytes!("model/builtin/model.json")),
    (
        "model.safetensors",
        include_bytes!("model/builtin/model.safetensors"),
    ),
    (
        "evaluation.json",
        include_bytes!("model/builtin/evaluation.json"),
    ),
    ("history.csv", include_bytes!("model/builtin/history.csv")),
    (
        "confusion.csv",
        include_bytes!("model/builtin/confusion.csv"),
    ),
    (
        "baselines.json",
        include_bytes!("model/builtin/baselines.json"),
    ),
];

/// The built-in copy of a file named `builtin:...` ([`FEATURES_CSV`],
/// `builtin:splits/fault_filtered_{train,valid,test}.txt`, or a file of the built-in model,
/// `builtin:default/model.json`); `None` for every other path.
pub fn builtin_bytes(path: &std::path::Path) -> Option<&'static [u8]> {
    let name = path.to_str()?.strip_prefix(BUILTIN_PREFIX)?;
    let text: &'static str = match name {
        "features_30_sec.csv" => include_str!("../features/features_30_sec.csv"),
        "splits/fault_filtered_train.txt" => {
            include_str!("../features/splits/fault_filtered_train.txt")
        }
        "splits/fault_filtered_valid.txt" => {
            include_str!("../features/splits/fault_filtered_valid.txt")
        }
        "splits/fault_filtered_test.txt" => {
            include_str!("../features/splits/fault_filtered_test.txt")
        }
        _ => {
            let file = name.strip_prefix("default/")?;
            return BUILTIN_MODEL_FILES
                .iter()
                .find(|(n, _)| *n == file)
                .map(|(_, b)| *b);
        }
    };
    Some(text.as_bytes())
}

/// [`builtin_bytes`] as text (every built-in file but the model's weights is UTF-8).
pub fn builtin_file(path: &std::path::Path) -> Option<&'static str> {
    builtin_bytes(path).and_then(|b| std::str::from_utf8(b).ok())
}

/// Whether `path` names a built-in file or folder (`builtin:...`).
pub fn is_builtin(path: &std::path::Path) -> bool {
    path.to_str().is_some_and(|s| s.starts_with(BUILTIN_PREFIX))
}

/// The bytes of a file, built-in (`builtin:...`) or on disk.
pub fn read_bytes(path: &std::path::Path) -> std::io::Result<std::borrow::Cow<'static, [u8]>> {
    match builtin_bytes(path) {
        Some(b) => Ok(std::borrow::Cow::Borrowed(b)),
        None if is_builtin(path) => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such built-in file",
        )),
        None => std::fs::read(path).map(std::borrow::Cow::Owned),
    }
}

/// [`read_bytes`] as UTF-8 text.
pub fn read_text(path: &std::path::Path) -> std::io::Result<String> {
    let bytes = read_bytes(path)?;
    String::from_utf8(bytes.into_owned())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Whether `path` is a file: a built-in one, or one on disk.
pub fn is_file(path: &std::path::Path) -> bool {
    if is_builtin(path) {
        builtin_bytes(path).is_some()
    } else {
        path.is_file()
    }
}

/// Whether `path` is a folder: the built-in model's ([`BUILTIN_MODEL`]), or one on disk.
pub fn is_dir(path: &std::path::Path) -> bool {
    if is_builtin(path) {
        path.to_str() == Some(BUILTIN_MODEL)
    } else {
        path.is_dir()
    }
}

fn env_path(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

/// The per-user data folder: `$TUNEPRINT_HOME`, else `$XDG_DATA_HOME/tuneprint`, else
/// `$HOME/.local/share/tuneprint` (else `.tuneprint` in the current folder when there is no home).
pub fn data_home() -> std::path::PathBuf {
    if let Some(p) = env_path(HOME_ENV) {
        return p;
    }
    if let Some(p) = env_path("XDG_DATA_HOME") {
        return p.join("tuneprint");
    }
    match env_path("HOME") {
        Some(h) => h.join(".local/share/tuneprint"),
        None => std::path::PathBuf::from(".tuneprint"),
    }
}

/// Folder `train` saves the model into: `data_home()/models/default`.
pub fn default_model_dir() -> std::path::PathBuf {
    data_home().join("models").join("default")
}

/// The model `classify`, `embed`, `recommend`, `library scan`, `serve` and `report` use without
/// `--model`: the one `train` saved ([`default_model_dir`]) when there is one, else the built-in
/// model ([`BUILTIN_MODEL`]).
pub fn default_model() -> std::path::PathBuf {
    let dir = default_model_dir();
    if dir.join("model.json").is_file() {
        dir
    } else {
        std::path::PathBuf::from(BUILTIN_MODEL)
    }
}

/// Where `embed` saves the embeddings of `model` when not told: `embeddings.npy` in the model
/// folder; for the built-in model (a folder that cannot be written), in
/// `data_home()/models/builtin/`.
pub fn embeddings_path(model: &std::path::Path) -> std::path::PathBuf {
    if is_builtin(model) {
        data_home()
            .join("models")
            .join("builtin")
            .join("embeddings.npy")
    } else {
        model.join("embeddings.npy")
    }
}

/// The library database commands use without `--db`: `$TUNEPRINT_DB`, else `tuneprint.db` in
/// the current folder.
pub fn default_db_path() -> std::path::PathBuf {
    env_path(LIBRARY_DB_ENV).unwrap_or_else(|| std::path::PathBuf::from(LIBRARY_DB_FILE))
}

// --- End of paths. ---
/// Fraction of the songs (per genre) held out as the test set.
pub const TEST_FRACTION: f64 = 0.30;
/// Fraction of the training songs (per genre) held out for early stopping.
pub const VAL_FRACTION: f64 = 0.15;
/// Adam learning rate of the CNN.
pub const LEARNING_RATE: f64 = 0.002;
/// Mini-batch size of the CNN.
pub const BATCH_SIZE: usize = 32;
/// Dropout probability before the CNN's last dense layer.
pub const DROPOUT: f64 = 0.6;
/// Epochs without a better validation accuracy before training stops.
pub const PATIENCE: usize = 20;
/// Upper bound on the CNN's training epochs.
pub const MAX_EPOCHS: usize = 300;

// --- Library (branch `library`): the SQLite song store, scans and playlists. ---

/// File name of the default library database (in the current folder) when `$TUNEPRINT_DB` is unset.
pub const LIBRARY_DB_FILE: &str = "tuneprint.db";
/// Environment variable naming the default library database.
pub const LIBRARY_DB_ENV: &str = "TUNEPRINT_DB";
/// How long a library connection waits for another writer before giving up (milliseconds).
pub const LIBRARY_BUSY_TIMEOUT_MS: u64 = 10_000;

/// Test hook: the library aborts the process right after this many committed writes (see
/// `library::after_write`); unset in normal use.
pub const TEST_ABORT_ENV: &str = "TUNEPRINT_TEST_ABORT_AFTER_WRITES";
/// Window length (seconds) of the features the library keeps per song (as `extract --window 30`).
pub const LIBRARY_WINDOW_SECONDS: f64 = 30.0;
/// Version of the analysis the library stores; songs analysed by an older one are analysed again.
pub const ANALYSIS_VERSION: i64 = 1;
/// Songs in a playlist when `-n` is not given.
pub const PLAYLIST_LENGTH: usize = 20;
/// Cosine similarity above which two songs of a playlist count as the same recording.
pub const NEAR_DUPLICATE_SIMILARITY: f32 = 0.9999;
/// Songs re-classified per transaction when the model changes.
pub const RECLASSIFY_BATCH: usize = 256;

// ---- serve (`tuneprint serve`: HTTP server and page) ----
/// Address `tuneprint serve` binds by default: this machine only.
pub const SERVE_BIND: &str = "127.0.0.1";
/// Port `tuneprint serve` listens on by default.
pub const SERVE_PORT: u16 = 8080;
/// Seconds a client of `tuneprint serve` has to send a request's headers (also how long an idle
/// kept-alive connection stays open); a slower one is disconnected.
pub const SERVE_HEADER_TIMEOUT_SECS: u64 = 10;
/// Seconds `tuneprint serve` gives a request, from its headers to the start of its answer
/// (reading an upload included); a slower one is answered 408.
pub const SERVE_REQUEST_TIMEOUT_SECS: u64 = 120;
/// Connections `tuneprint serve` holds at once; more wait in the listening socket's queue.
pub const SERVE_MAX_CONNECTIONS: usize = 512;
/// Largest audio file `POST /api/classify` accepts (bytes).
pub const SERVE_UPLOAD_LIMIT: usize = 64 << 20;
/// Songs per page of `GET /api/songs` by default, and the most one page may hold.
pub const SERVE_PAGE: usize = 50;
pub const SERVE_MAX_PAGE: usize = 500;
/// Similar songs returned by default, and the most one request may ask for.
pub const SERVE_SIMILAR_K: usize = 10;
pub const SERVE_MAX_K: usize = 100;
/// Most `similar` requests of `tuneprint serve` answered by one pass over the embedding matrix
/// (the requests that wait while the workers are busy go together).
pub const SERVE_SIMILAR_BATCH: usize = 8;
/// Songs of a downloaded playlist by default, and the most one request may ask for.
pub const SERVE_PLAYLIST: usize = 20;
pub const SERVE_MAX_PLAYLIST: usize = 500;

/// Environment variable naming a file that tests append a line to when they skip for a missing
/// precondition (`scripts/test.sh` counts them in its closing line).
pub const SKIP_LOG_ENV: &str = "TUNEPRINT_SKIP_LOG";

/// For tests: a precondition `what` is missing (a folder beside the checkout, a browser, a CPU
/// feature). Under `CI=true` that is a failure (panics); otherwise the skip is printed and
/// recorded in [`SKIP_LOG_ENV`]'s file, so that it is counted as skipped, not passed.
#[doc(hidden)]
pub fn skip_test(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and a precondition is missing: {what}");
    }
    eprintln!("skipped: {what}");
    if let Some(log) = env_path(SKIP_LOG_ENV) {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{what}");
        }
    }
}
