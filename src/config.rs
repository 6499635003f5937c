//! Every default of the analysis in one place (librosa 0.8.1 defaults).

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

/// Folder `train` saves the CNN into and `classify`/`embed`/`recommend` load it from.
pub const MODEL_DIR: &str = "models/cnn";
/// Features table `train` and `baselines` read by default.
pub const FEATURES_CSV: &str = "features/features_30_sec.csv";
/// Folder of the artist-filtered split lists (relative to the crate root).
pub const SPLITS_DIR: &str = "features/splits";
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
/// Largest audio file `POST /api/classify` accepts (bytes).
pub const SERVE_UPLOAD_LIMIT: usize = 64 << 20;
/// Songs per page of `GET /api/songs` by default, and the most one page may hold.
pub const SERVE_PAGE: usize = 50;
pub const SERVE_MAX_PAGE: usize = 500;
/// Similar songs returned by default, and the most one request may ask for.
pub const SERVE_SIMILAR_K: usize = 10;
pub const SERVE_MAX_K: usize = 100;
/// Songs of a downloaded playlist by default, and the most one request may ask for.
pub const SERVE_PLAYLIST: usize = 20;
pub const SERVE_MAX_PLAYLIST: usize = 500;
