//! `tuneprint._tuneprint`: the native half of the Python package. Each function does one
//! library call with the GIL released, on a pool of `jobs` threads made for the call, while the
//! calling thread waits with the GIL released and looks for Ctrl-C between waits (a pending
//! `KeyboardInterrupt` stops the batch before its next file and is raised). The pure-Python
//! half (`tuneprint/__init__.py`) turns the plain values returned here into pandas objects.

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;
use tuneprint::audio::{self, LoadOptions};
use tuneprint::extract::{self, Control, ExtractError, Options};
use tuneprint::features::{FEATURE_COLUMNS, N_FEATURES};
use tuneprint::library::{self, ListQuery, ScanOptions};
use tuneprint::model::predict;
use tuneprint::table::Record;

pyo3::create_exception!(
    _tuneprint,
    TuneprintError,
    pyo3::exceptions::PyRuntimeError,
    "A file or library that tuneprint cannot use; the message names it and says why."
);

fn error(e: impl std::fmt::Display) -> PyErr {
    TuneprintError::new_err(e.to_string())
}

/// Runs `work` on a thread of its own while this thread waits with the GIL released, checking
/// for signals every 100 ms; on a pending signal (Ctrl-C), `cancel` is set, the work is waited
/// for (it stops before its next file) and the signal's exception is returned.
fn interruptible<T: Send>(
    py: Python<'_>,
    cancel: &AtomicBool,
    work: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        s.spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = tx.send(r);
        });
        let rx = Mutex::new(rx);
        let wait = |timeout: Option<Duration>| {
            let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
            match timeout {
                Some(t) => rx.recv_timeout(t).ok(),
                None => rx.recv().ok(),
            }
        };
        loop {
            if let Some(r) = py.detach(|| wait(Some(Duration::from_millis(100)))) {
                return r.map_err(|_| PyRuntimeError::new_err("tuneprint: internal error"));
            }
            if let Err(e) = py.check_signals() {
                cancel.store(true, Ordering::Relaxed);
                py.detach(|| wait(None));
                return Err(e);
            }
        }
    })
}

/// Runs `work` on a pool of one thread made for the call: the functions without `jobs` (one
/// file, or samples in memory) never spread over the cores of a worker process.
fn one_thread<T: Send>(work: impl FnOnce() -> T + Send) -> PyResult<T> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))?;
    Ok(pool.install(work))
}

/// The cancel flag of one call, and the [`Control`] that carries it.
fn control(cancel: &AtomicBool) -> Control<'_> {
    Control {
        cancel: Some(cancel),
        ..Control::default()
    }
}

/// Rows as columns: file names, lengths, an (n, 57) matrix of features and labels.
type Columns<'py> = (
    Vec<String>,
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray2<f64>>,
    Vec<String>,
);

fn columns<'py>(py: Python<'py>, rows: Vec<Record>) -> Columns<'py> {
    let n = rows.len();
    let mut names = Vec::with_capacity(n);
    let mut lengths = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    let mut flat = Vec::with_capacity(n * N_FEATURES);
    for r in rows {
        flat.extend_from_slice(&r.features);
        names.push(r.filename);
        lengths.push(r.length);
        labels.push(r.label);
    }
    let matrix = Array2::from_shape_vec((n, N_FEATURES), flat).expect("n rows of 57");
    (
        names,
        lengths.into_pyarray(py),
        matrix.into_pyarray(py),
        labels,
    )
}

/// The 57 feature columns, in the table's order.
#[pyfunction]
fn feature_columns() -> Vec<&'static str> {
    FEATURE_COLUMNS.to_vec()
}

/// `librosa.load(path, sr, mono, offset, duration)`: a list of channels (one when mono) and
/// their rate.
#[pyfunction]
#[pyo3(signature = (path, sr, mono, offset, duration))]
fn load<'py>(
    py: Python<'py>,
    path: PathBuf,
    sr: Option<u32>,
    mono: bool,
    offset: f64,
    duration: Option<f64>,
) -> PyResult<(Vec<Bound<'py, PyArray1<f32>>>, u32)> {
    let opts = LoadOptions {
        sr,
        mono,
        offset,
        duration,
    };
    let cancel = AtomicBool::new(false);
    let loaded = interruptible(py, &cancel, || {
        one_thread(|| audio::load_with(&path, &opts))
    })??
    .map_err(error)?;
    let channels = loaded
        .channels
        .into_iter()
        .map(|c| c.into_pyarray(py))
        .collect();
    Ok((channels, loaded.rate))
}

/// A failed file or folder: its path and the one-line message.
type Failure = (PathBuf, String);

/// Files and folders to the sorted list of audio files, each with its name in a table, and
/// the paths that could not be walked.
#[pyfunction]
fn collect(paths: Vec<PathBuf>) -> (Vec<PathBuf>, Vec<String>, Vec<Failure>) {
    let (files, errors) = extract::collect_inputs(&paths);
    let names = extract::table_names(&paths, &files);
    let errors = errors
        .into_iter()
        .map(|e| match &e {
            ExtractError::Walk { path, .. } => (path.clone(), e.to_string()),
            _ => (PathBuf::new(), e.to_string()),
        })
        .collect();
    (files, names, errors)
}

/// The table rows of `files` named `names` (as columns) and the failures as (path, message).
#[pyfunction]
#[pyo3(signature = (files, names, jobs, window))]
fn extract_files<'py>(
    py: Python<'py>,
    files: Vec<PathBuf>,
    names: Vec<String>,
    jobs: usize,
    window: Option<f64>,
) -> PyResult<(Columns<'py>, Vec<Failure>)> {
    if files.len() != names.len() {
        return Err(PyValueError::new_err("one name per file"));
    }
    let opts = Options {
        window_seconds: window,
    };
    let cancel = AtomicBool::new(false);
    // A cancelled batch never gets here: `interruptible` returns the signal's error instead.
    let done = interruptible(py, &cancel, || {
        extract::extract_named(&files, &names, &opts, jobs, control(&cancel))
    })?
    .map_err(error)?;
    let failed = done
        .failed
        .into_iter()
        .map(|(p, e)| (p, e.to_string()))
        .collect();
    Ok((columns(py, done.rows), failed))
}

/// The whole-song row of samples `y` at `sr` Hz (resampled to 22 050 Hz first when `sr`
/// differs): its length and its 57 features.
#[pyfunction]
fn features_of<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f32>,
    sr: u32,
) -> PyResult<(u64, Bound<'py, PyArray1<f64>>)> {
    let y = y
        .as_slice()
        .map_err(|e| PyValueError::new_err(e.to_string()))?
        .to_vec();
    let cancel = AtomicBool::new(false);
    let record = interruptible(py, &cancel, || {
        one_thread(|| {
            let name = Path::new("<samples>");
            let y = if sr == tuneprint::config::SAMPLE_RATE {
                y
            } else {
                audio::resample::resample(name, &y, sr, tuneprint::config::SAMPLE_RATE)
                    .map_err(ExtractError::from)?
            };
            extract::record_of("<samples>", &y)
        })
    })??
    .map_err(error)?;
    Ok((record.length, record.features.to_vec().into_pyarray(py)))
}

/// The whole-song row of a file image: (filename, length, features, label).
#[pyfunction]
fn features_from_bytes<'py>(
    py: Python<'py>,
    name: String,
    data: &Bound<'py, PyBytes>,
) -> PyResult<(String, u64, Bound<'py, PyArray1<f64>>, String)> {
    let bytes = data.as_bytes().to_vec();
    let cancel = AtomicBool::new(false);
    let record = interruptible(py, &cancel, || {
        one_thread(|| {
            let decoded = audio::decode::load_bytes(Path::new(&name), bytes)?;
            extract::record_of(&name, &decoded.samples)
        })
    })??
    .map_err(error)?;
    Ok((
        record.filename,
        record.length,
        record.features.to_vec().into_pyarray(py),
        record.label,
    ))
}

/// Genres of `files` as the JSON of `classify --json` (a list), and the failures.
#[pyfunction]
#[pyo3(signature = (files, jobs, model))]
fn classify(
    py: Python<'_>,
    files: Vec<PathBuf>,
    jobs: usize,
    model: Option<PathBuf>,
) -> PyResult<(String, Vec<Failure>)> {
    let clf = predict::load_model(model.as_deref()).map_err(error)?;
    let cancel = AtomicBool::new(false);
    let results = interruptible(py, &cancel, || {
        predict::classify_files(&clf, &files, jobs, control(&cancel))
    })?
    .map_err(error)?;
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for (path, r) in files.iter().zip(results) {
        match r {
            Ok(p) => ok.push(p),
            Err(e) => failed.push((path.clone(), e.to_string())),
        }
    }
    Ok((serde_json::to_string(&ok).map_err(error)?, failed))
}

/// A library database (`tuneprint library scan`).
#[pyclass(module = "tuneprint._tuneprint")]
struct Library {
    inner: Mutex<library::Library>,
    path: PathBuf,
}

impl Library {
    fn with<T>(&self, f: impl FnOnce(&mut library::Library) -> T) -> T {
        let mut lib = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut lib)
    }

    /// A song by id, or by path, file name or stem.
    fn song_id(&self, song: &Bound<'_, PyAny>) -> PyResult<i64> {
        if let Ok(id) = song.extract::<i64>() {
            return Ok(id);
        }
        let name: String = song.str()?.extract()?;
        self.with(|lib| lib.find(&name)).map_err(error)
    }
}

/// Song ids and their embeddings, one row each.
type Embeddings<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray2<f32>>);

fn json<T: serde::Serialize>(v: &T) -> PyResult<String> {
    serde_json::to_string(v).map_err(error)
}

#[pymethods]
impl Library {
    #[new]
    fn new(path: PathBuf) -> PyResult<Self> {
        let lib = library::Library::open(&path).map_err(error)?;
        Ok(Library {
            inner: Mutex::new(lib),
            path,
        })
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Every song (failed files included) as the JSON of `library list --json`'s songs.
    fn songs(&self) -> PyResult<String> {
        let q = ListQuery {
            include_failed: true,
            ..ListQuery::default()
        };
        json(&self.with(|lib| lib.list(&q)).map_err(error)?.items)
    }

    /// The stored rows (whole songs, or their windows) as columns.
    fn features<'py>(&self, py: Python<'py>, windows: bool) -> PyResult<Columns<'py>> {
        let rows = self.with(|lib| lib.records(windows)).map_err(error)?;
        Ok(columns(py, rows))
    }

    /// Song ids and their embeddings (one row each), from the library's model.
    fn embeddings<'py>(&self, py: Python<'py>) -> PyResult<Embeddings<'py>> {
        let idx = self.with(|lib| lib.embeddings()).map_err(error)?;
        let (n, dim) = (idx.len(), idx.dim());
        let ids: Vec<i64> = (0..n).map(|r| idx.id(r)).collect();
        let flat: Vec<f32> = (0..n).flat_map(|r| idx.vector(r).to_vec()).collect();
        let matrix = Array2::from_shape_vec((n, dim), flat).expect("n rows of dim");
        Ok((ids.into_pyarray(py), matrix.into_pyarray(py)))
    }

    /// The `k` songs most like `song`, as JSON.
    fn similar(&self, song: &Bound<'_, PyAny>, k: usize) -> PyResult<String> {
        let id = self.song_id(song)?;
        json(&self.with(|lib| lib.nearest_to_song(id, k)).map_err(error)?)
    }

    /// A playlist of `n` songs from `song`, as JSON.
    fn playlist(&self, song: &Bound<'_, PyAny>, n: usize) -> PyResult<String> {
        let id = self.song_id(song)?;
        json(&self.with(|lib| lib.playlist(id, n)).map_err(error)?)
    }

    /// Scans folders into the library with the default model (one commit per song); the
    /// report as the JSON of `library scan --json`.
    #[pyo3(signature = (folders, jobs, model))]
    fn scan(
        &self,
        py: Python<'_>,
        folders: Vec<PathBuf>,
        jobs: usize,
        model: Option<PathBuf>,
    ) -> PyResult<String> {
        let dir = model.unwrap_or_else(tuneprint::config::default_model);
        let model = library::Model::load(&dir).map_err(error)?;
        let cancel = std::sync::Arc::new(AtomicBool::new(false));
        let opts = ScanOptions {
            jobs,
            cancel: Some(cancel.clone()),
            ..ScanOptions::default()
        };
        let report = interruptible(py, &cancel, || {
            self.with(|lib| lib.scan(&folders, &opts, Some(&model)))
        })?
        .map_err(error)?;
        json(&report)
    }
}

/// The native module.
#[pymodule]
fn _tuneprint(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Raised as `tuneprint.TuneprintError` (its public home), which is also where pickle finds
    // it: a Dask worker's error arrives on the client as this class.
    let err = m.py().get_type::<TuneprintError>();
    err.setattr("__module__", "tuneprint")?;
    m.add("TuneprintError", err)?;
    m.add("SAMPLE_RATE", tuneprint::config::SAMPLE_RATE)?;
    m.add("VERSION", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(feature_columns, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(collect, m)?)?;
    m.add_function(wrap_pyfunction!(extract_files, m)?)?;
    m.add_function(wrap_pyfunction!(features_of, m)?)?;
    m.add_function(wrap_pyfunction!(features_from_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(classify, m)?)?;
    m.add_class::<Library>()?;
    Ok(())
}
