//! `tuneprint serve`: an HTTP server on the library, with a JSON API and a page to browse, listen
//! and follow "more like this".
//!
//! [`router`] builds the whole application from a [`Catalog`] (so tests drive it in-process);
//! [`run`] binds a socket and serves it. URLs name songs by id only; audio is served from the
//! library's own files with HTTP Range ([`range`]); uploads to classify go to a temporary file,
//! never into the library's folders. Every failure is a JSON `{"error": ...}` with its status.

pub mod api;
pub mod assets;
pub mod catalog;
pub mod dto;
pub mod error;
pub mod library;
pub mod range;
pub mod spectrogram;

pub use catalog::Catalog;
pub use error::ServeError;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub catalog: Arc<dyn Catalog>,
    pub spectrograms: Arc<spectrogram::SpectrogramCache>,
    /// Largest upload `POST /api/classify` takes (bytes).
    pub upload_limit: usize,
    /// Turns of the short catalog calls ([`api::blocking`]): [`Catalog::workers`] permits,
    /// granted first in, first out.
    pub turns: Arc<tokio::sync::Semaphore>,
    /// The queue of `similar` requests, batched by [`api::similar_batcher`] (started by the
    /// first request, inside the runtime).
    pub similar_queue: Arc<std::sync::OnceLock<api::SimilarQueue>>,
}

impl AppState {
    /// State over `catalog` with a fresh spectrogram cache.
    pub fn new(catalog: Arc<dyn Catalog>, upload_limit: usize) -> Result<AppState, ServeError> {
        let turns = Arc::new(tokio::sync::Semaphore::new(catalog.workers().max(1)));
        Ok(AppState {
            catalog,
            spectrograms: Arc::new(spectrogram::SpectrogramCache::new()?),
            upload_limit,
            turns,
            similar_queue: Arc::new(std::sync::OnceLock::new()),
        })
    }
}

/// The whole application: page, assets and API.
pub fn router(state: AppState) -> Router {
    // The multipart body limit sits a little above the file limit (headers, boundaries); the
    // handler reports the file limit.
    let body_limit = state.upload_limit.saturating_add(64 * 1024);
    Router::new()
        .route("/", get(assets::index))
        .route("/index.html", get(assets::index))
        .route("/assets/{name}", get(assets::asset))
        .route("/api/status", get(api::status))
        .route("/api/genres", get(api::genres))
        .route("/api/songs", get(api::list_songs))
        .route("/api/songs/{id}", get(api::song))
        .route("/api/songs/{id}/similar", get(api::similar))
        .route("/api/songs/{id}/audio", get(api::audio))
        .route("/api/songs/{id}/playlist", get(api::playlist))
        .route("/api/songs/{id}/spectrogram.png", get(api::spectrogram))
        .route(
            "/api/classify",
            post(api::classify).layer(DefaultBodyLimit::max(body_limit)),
        )
        .fallback(|uri: axum::http::Uri| async move {
            ServeError::NotFound(uri.path().chars().take(200).collect())
        })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            (
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                axum::Json(error::ErrorBody {
                    error: format!("method {method} is not allowed here"),
                }),
            )
        })
        .with_state(state)
}

/// How much of the server one client can hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A client that has not sent a request's headers this long after the connection opened
    /// (or after its last response) is disconnected, so half-open connections do not pile up.
    pub header_timeout: std::time::Duration,
    /// From a request's headers to the start of its answer (an upload read included); a
    /// slower request is answered 408.
    pub request_timeout: std::time::Duration,
    /// Connections served at once; more wait in the listening socket's queue until one ends.
    pub max_connections: usize,
}

/// Answers 408 when the rest of the application takes longer than `limit` to start an answer.
async fn time_limit(
    limit: std::time::Duration,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ServeError::Timeout(limit.as_secs()).into_response(),
    }
}

/// Binds `addr` and serves `state` until Ctrl-C, within `limits`. The first line on stdout says
/// where: `listening on http://ADDR/` (with the real port when `addr` asks for port 0).
pub async fn run(addr: SocketAddr, state: AppState, limits: Limits) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| ServeError::Bind {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
    let local = listener.local_addr().map_err(|e| ServeError::Bind {
        addr: addr.to_string(),
        reason: e.to_string(),
    })?;
    println!("listening on http://{local}/");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let app = router(state).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            time_limit(limits.request_timeout, req, next)
        },
    ));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    loop {
        // A free slot first: at the limit, new clients wait in the socket's queue.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = &mut ctrl_c => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors, or a connection reset before it was accepted: wait a
                // moment and go on serving the others.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut ctrl_c => break,
        };
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(
                hyper_util::rt::TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(app.clone()),
            );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
