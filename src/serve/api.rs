//! The JSON API handlers. Songs are named by id only; every failure is a JSON error.

use super::catalog::Catalog;
use super::dto::{ListQuery, Order, SimilarReply, SortKey, Status};
use super::error::ServeError;
use super::{range, AppState};
use crate::config::{
    SERVE_MAX_K, SERVE_MAX_PAGE, SERVE_MAX_PLAYLIST, SERVE_PAGE, SERVE_PLAYLIST,
    SERVE_SIMILAR_BATCH, SERVE_SIMILAR_K,
};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Multipart, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;
type IdPath = Result<UrlPath<String>, PathRejection>;

/// Runs a short catalog call on tokio's blocking pool once it is its turn: at most
/// [`Catalog::workers`] run at once and the others wait in arrival order (a first-in,
/// first-out semaphore), so that under load no request waits behind later ones.
pub async fn blocking<T, F>(state: &AppState, f: F) -> Result<T, ServeError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Catalog) -> Result<T, ServeError> + Send + 'static,
{
    let turn = Arc::clone(&state.turns)
        .acquire_owned()
        .await
        .map_err(|e| ServeError::Io(format!("the request queue is closed: {e}")))?;
    let catalog = Arc::clone(&state.catalog);
    tokio::task::spawn_blocking(move || {
        let out = f(catalog.as_ref());
        drop(turn);
        out
    })
    .await
    .map_err(|e| ServeError::Io(format!("a worker failed: {e}")))?
}

/// Runs a long catalog call (classifying an upload) on tokio's blocking pool, outside the
/// queue of [`blocking`] so that it holds up no short request.
async fn blocking_long<T, F>(state: &AppState, f: F) -> Result<T, ServeError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Catalog) -> Result<T, ServeError> + Send + 'static,
{
    let catalog = Arc::clone(&state.catalog);
    tokio::task::spawn_blocking(move || f(catalog.as_ref()))
        .await
        .map_err(|e| ServeError::Io(format!("a worker failed: {e}")))?
}

/// The song id of a URL: a decimal integer; anything else names no song (404).
pub fn song_id(path: IdPath) -> Result<i64, ServeError> {
    let UrlPath(raw) = path.map_err(|e| ServeError::NoSong(e.body_text()))?;
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 19 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ServeError::NoSong(raw.chars().take(80).collect()));
    }
    raw.parse()
        .map_err(|_| ServeError::NoSong(raw.chars().take(80).collect()))
}

fn params(p: Params) -> Result<HashMap<String, String>, ServeError> {
    p.map(|Query(m)| m)
        .map_err(|e| ServeError::BadRequest(format!("bad query string: {}", e.body_text())))
}

/// An integer parameter in `1..=max`, or `default` when absent.
fn count_param(
    map: &HashMap<String, String>,
    name: &str,
    default: usize,
    max: usize,
) -> Result<usize, ServeError> {
    match map.get(name).map(|s| s.trim()) {
        None | Some("") => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(v) if (1..=max).contains(&v) => Ok(v),
            _ => Err(ServeError::BadRequest(format!(
                "{name} must be a whole number from 1 to {max}, not '{}'",
                s.chars().take(40).collect::<String>()
            ))),
        },
    }
}

/// Validates the parameters of `GET /api/songs`.
pub fn list_query(map: &HashMap<String, String>) -> Result<ListQuery, ServeError> {
    let limit = count_param(map, "limit", SERVE_PAGE, SERVE_MAX_PAGE)? as u64;
    let offset = match (map.get("offset"), map.get("page")) {
        (Some(_), Some(_)) => {
            return Err(ServeError::BadRequest(
                "give offset or page, not both".into(),
            ))
        }
        (Some(o), None) => o.trim().parse::<u64>().map_err(|_| {
            ServeError::BadRequest(format!("offset must be a whole number, not '{o}'"))
        })?,
        (None, Some(p)) => match p.trim().parse::<u64>() {
            Ok(p) if p >= 1 => (p - 1).saturating_mul(limit),
            _ => {
                return Err(ServeError::BadRequest(format!(
                    "page must be a whole number from 1, not '{p}'"
                )))
            }
        },
        (None, None) => 0,
    };
    let text = |name: &str| {
        map.get(name)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let sort = match text("sort").as_deref() {
        None => SortKey::default(),
        Some(s) => serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase()))
            .map_err(|_| {
                ServeError::BadRequest(format!(
                    "sort must be one of title, artist, album, year, duration, genre, path, added; not '{s}'"
                ))
            })?,
    };
    let order = match text("order").as_deref() {
        None => Order::default(),
        Some(s) => serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase()))
            .map_err(|_| ServeError::BadRequest(format!("order must be asc or desc, not '{s}'")))?,
    };
    let search = text("q").or_else(|| text("search"));
    if search.as_ref().is_some_and(|s| s.len() > 200) {
        return Err(ServeError::BadRequest(
            "search text is longer than 200 bytes".into(),
        ));
    }
    Ok(ListQuery {
        offset,
        limit,
        search,
        genre: text("genre"),
        sort,
        order,
    })
}

/// `GET /api/songs`.
pub async fn list_songs(State(state): State<AppState>, p: Params) -> Result<Response, ServeError> {
    let query = list_query(&params(p)?)?;
    let page = blocking(&state, move |c| c.list(&query)).await?;
    Ok(Json(page).into_response())
}

/// `GET /api/genres`.
pub async fn genres(State(state): State<AppState>) -> Result<Response, ServeError> {
    let g = blocking(&state, |c| c.genres()).await?;
    Ok(Json(g).into_response())
}

/// `GET /api/status`.
pub async fn status(State(state): State<AppState>) -> Result<Response, ServeError> {
    let s = blocking(&state, |c| {
        let (songs, failed) = c.counts()?;
        Ok(Status {
            songs,
            failed,
            genres: c.genres()?,
            can_classify: c.can_classify(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        })
    })
    .await?;
    Ok(Json(s).into_response())
}

/// `GET /api/songs/{id}`.
pub async fn song(State(state): State<AppState>, id: IdPath) -> Result<Response, ServeError> {
    let id = song_id(id)?;
    let s = blocking(&state, move |c| c.song(id)).await?;
    s.map(|s| Json(s).into_response())
        .ok_or(ServeError::NoSong(id.to_string()))
}

/// `GET /api/songs/{id}/similar?k=10`.
pub async fn similar(
    State(state): State<AppState>,
    id: IdPath,
    p: Params,
) -> Result<Response, ServeError> {
    let id = song_id(id)?;
    let k = count_param(&params(p)?, "k", SERVE_SIMILAR_K, SERVE_MAX_K)?;
    let queue = state.similar_queue.get_or_init(|| {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(similar_batcher(
            Arc::clone(&state.catalog),
            Arc::clone(&state.turns),
            rx,
        ));
        tx
    });
    let (reply, answer) = tokio::sync::oneshot::channel();
    queue
        .send(SimilarJob { id, k, reply })
        .map_err(|_| ServeError::Io("the search queue is closed".into()))?;
    let s = answer
        .await
        .map_err(|_| ServeError::Io("a search worker failed".into()))??;
    s.map(|similar| Json(SimilarReply { id, similar }).into_response())
        .ok_or(ServeError::NoSong(id.to_string()))
}

/// A `similar` request waiting for its batch, and where its answer goes.
pub struct SimilarJob {
    id: i64,
    k: usize,
    reply: tokio::sync::oneshot::Sender<Result<Option<Vec<super::dto::SimilarSong>>, ServeError>>,
}

/// Where `similar` requests wait for [`similar_batcher`].
pub type SimilarQueue = tokio::sync::mpsc::UnboundedSender<SimilarJob>;

/// Answers the queued `similar` requests in batches: once a turn of [`blocking`]'s queue is
/// free, every request waiting then (up to [`SERVE_SIMILAR_BATCH`]) is answered by one
/// [`Catalog::similar_many`] (one pass over the embedding matrix for all of them). Ends when
/// the server's state is dropped.
pub async fn similar_batcher(
    catalog: Arc<dyn Catalog>,
    turns: Arc<tokio::sync::Semaphore>,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<SimilarJob>,
) {
    while let Some(first) = queue.recv().await {
        let Ok(turn) = Arc::clone(&turns).acquire_owned().await else {
            return;
        };
        let mut jobs = vec![first];
        while jobs.len() < SERVE_SIMILAR_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let catalog = Arc::clone(&catalog);
        tokio::task::spawn_blocking(move || {
            let queries: Vec<(i64, usize)> = jobs.iter().map(|j| (j.id, j.k)).collect();
            let answers = catalog.similar_many(&queries);
            drop(turn);
            for (job, answer) in jobs.into_iter().zip(answers) {
                // A client that went away no longer waits for its answer.
                let _ = job.reply.send(answer);
            }
        });
    }
}

/// The file of song `id` to serve, only if it is a regular file that resolves inside the folder
/// the library recorded it in: a recorded path that is not absolute and plain (`..`, `.`), or a
/// file that is (or became) a symbolic link out of its folder, is refused (404).
pub fn library_file(id: i64, path: &Path) -> Result<PathBuf, ServeError> {
    use std::path::Component;
    let gone = |reason: &str| ServeError::FileGone {
        id,
        reason: reason.to_string(),
    };
    let plain = path.is_absolute()
        && path.components().all(|c| {
            matches!(
                c,
                Component::RootDir | Component::Prefix(_) | Component::Normal(_)
            )
        });
    let Some(folder) = path.parent().filter(|_| plain) else {
        return Err(gone("the recorded path is not a plain absolute path"));
    };
    let real = std::fs::canonicalize(path).map_err(|_| gone("missing or unreadable"))?;
    let real_folder = std::fs::canonicalize(folder).map_err(|_| gone("missing or unreadable"))?;
    if real.parent() != Some(real_folder.as_path()) {
        return Err(gone("it links outside the library's folder"));
    }
    let meta = std::fs::metadata(&real).map_err(|_| gone("missing or unreadable"))?;
    if !meta.is_file() {
        return Err(gone("not a regular file"));
    }
    Ok(real)
}

/// The library file of song `id` (a 404 for an unknown id, a refusal for a file that left its
/// folder: see [`library_file`]).
async fn song_file(state: &AppState, id: i64) -> Result<PathBuf, ServeError> {
    blocking(state, move |c| {
        let Some(path) = c.audio_path(id)? else {
            return Err(ServeError::NoSong(id.to_string()));
        };
        library_file(id, &path)
    })
    .await
}

/// `GET /api/songs/{id}/audio`, with HTTP Range.
pub async fn audio(
    State(state): State<AppState>,
    id: IdPath,
    headers: HeaderMap,
) -> Result<Response, ServeError> {
    let id = song_id(id)?;
    let file = song_file(&state, id).await?;
    range::file_response(&file, &headers).await
}

/// `GET /api/songs/{id}/playlist?n=20`: an M3U8 file (absolute paths) to download.
pub async fn playlist(
    State(state): State<AppState>,
    id: IdPath,
    p: Params,
) -> Result<Response, ServeError> {
    let id = song_id(id)?;
    let n = count_param(&params(p)?, "n", SERVE_PLAYLIST, SERVE_MAX_PLAYLIST)?;
    let entries = blocking(&state, move |c| c.playlist(id, n))
        .await?
        .ok_or(ServeError::NoSong(id.to_string()))?;
    let mut m3u = String::from("#EXTM3U\n");
    for e in &entries {
        let s = &e.song;
        let secs = s.duration.map(|d| d.round() as i64).unwrap_or(-1);
        let name = match &s.artist {
            Some(a) => format!("{a} - {}", s.title),
            None => s.title.clone(),
        };
        m3u.push_str(&format!(
            "#EXTINF:{secs},{}\n{}\n",
            one_line(&name),
            one_line(&e.path.display().to_string())
        ));
    }
    let seed = entries
        .first()
        .map(|e| file_safe(&e.song.title))
        .unwrap_or_default();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "audio/x-mpegurl; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"like-{seed}.m3u8\""),
            ),
        ],
        m3u,
    )
        .into_response())
}

/// Text on one line (M3U8 entries are line-based).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A file-name-safe, header-safe version of a title.
fn file_safe(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    if t.is_empty() {
        "song".into()
    } else {
        t
    }
}

/// `GET /api/songs/{id}/spectrogram.png`: drawn once per song, then served from the cache.
pub async fn spectrogram(
    State(state): State<AppState>,
    id: IdPath,
) -> Result<Response, ServeError> {
    let id = song_id(id)?;
    let file = song_file(&state, id).await?;
    let png = state.spectrograms.get(id, file).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        png,
    )
        .into_response())
}

/// A safe extension for the temporary copy of an upload (the decoder may use it as a hint).
fn upload_suffix(file_name: &str) -> String {
    Path::new(file_name)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| e.len() <= 5 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(|e| format!(".{}", e.to_ascii_lowercase()))
        .unwrap_or_default()
}

/// `POST /api/classify` with a multipart field `file`: genres and similar songs. The upload is
/// written to a temporary file in the system's temporary folder (never a library folder) and
/// deleted when the answer is ready.
pub async fn classify(
    State(state): State<AppState>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ServeError> {
    let mut multipart = multipart.map_err(|e| {
        ServeError::BadRequest(format!(
            "send the audio file as multipart/form-data in a field named 'file' ({})",
            e.body_text()
        ))
    })?;
    let limit = state.upload_limit;
    let multipart_err = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ServeError::TooLarge { limit }
        } else {
            ServeError::BadRequest(format!("bad multipart upload: {}", e.body_text()))
        }
    };
    let mut upload = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_err)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field
            .file_name()
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "upload".to_string());
        let bytes = field.bytes().await.map_err(multipart_err)?;
        upload = Some((name, bytes));
        break;
    }
    let Some((name, bytes)) = upload else {
        return Err(ServeError::BadRequest(
            "no field named 'file' in the upload".into(),
        ));
    };
    if bytes.is_empty() {
        return Err(ServeError::NotAudio(format!("{name}: the file is empty")));
    }
    if !state.catalog.can_classify() {
        return Err(ServeError::Unavailable(
            "this server has no model to classify with (see tuneprint serve --model)".into(),
        ));
    }
    let result = blocking_long(&state, move |c| {
        let mut tmp = tempfile::Builder::new()
            .prefix("tuneprint-upload-")
            .suffix(&upload_suffix(&name))
            .tempfile()
            .map_err(|e| ServeError::Io(format!("cannot store the upload: {e}")))?;
        std::io::Write::write_all(&mut tmp, &bytes)
            .map_err(|e| ServeError::Io(format!("cannot store the upload: {e}")))?;
        c.classify(tmp.path(), &name, SERVE_SIMILAR_K)
    })
    .await?;
    Ok(Json(result).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn list_query_defaults_and_paging() {
        let q = list_query(&map(&[])).unwrap();
        assert_eq!(
            q,
            ListQuery {
                offset: 0,
                limit: SERVE_PAGE as u64,
                search: None,
                genre: None,
                sort: SortKey::Title,
                order: Order::Asc
            }
        );
        let q = list_query(&map(&[
            ("page", "3"),
            ("limit", "20"),
            ("q", " Miles "),
            ("genre", "jazz"),
            ("sort", "Duration"),
            ("order", "desc"),
        ]))
        .unwrap();
        assert_eq!(q.offset, 40);
        assert_eq!(q.search.as_deref(), Some("Miles"));
        assert_eq!(q.sort, SortKey::Duration);
        assert_eq!(q.order, Order::Desc);
        assert_eq!(list_query(&map(&[("offset", "7")])).unwrap().offset, 7);
    }

    #[test]
    fn list_query_errors_say_what_is_wrong() {
        for (pairs, needle) in [
            (vec![("limit", "0")], "limit must be"),
            (vec![("limit", "100000")], "limit must be"),
            (vec![("page", "0")], "page must be"),
            (vec![("offset", "-1")], "offset must be"),
            (vec![("offset", "1"), ("page", "2")], "not both"),
            (vec![("sort", "size")], "sort must be"),
            (vec![("order", "up")], "order must be"),
        ] {
            let e = list_query(&map(&pairs)).unwrap_err();
            assert!(matches!(e, ServeError::BadRequest(_)), "{e}");
            assert!(e.to_string().contains(needle), "{e}");
        }
    }

    #[test]
    fn ids_are_decimal_integers_only() {
        let id = |s: &str| song_id(Ok(UrlPath(s.to_string())));
        assert_eq!(id("42").unwrap(), 42);
        for bad in [
            "",
            "-1",
            "1.0",
            "..",
            "../etc",
            "/etc/passwd",
            "99999999999999999999",
            "0x10",
        ] {
            assert!(matches!(id(bad), Err(ServeError::NoSong(_))), "{bad}");
        }
    }

    #[test]
    fn upload_suffixes_are_tame() {
        assert_eq!(upload_suffix("a.MP3"), ".mp3");
        assert_eq!(upload_suffix("../../x.wav"), ".wav");
        assert_eq!(upload_suffix("x.w/v"), "");
        assert_eq!(upload_suffix("noext"), "");
        assert_eq!(upload_suffix("x.toolongext"), "");
    }
}
