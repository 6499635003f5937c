//! The page's assets, compiled into the binary: nothing is fetched from elsewhere, and the page
//! works offline.

use axum::extract::Path as UrlPath;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::ServeError;

/// The page.
pub const INDEX_HTML: &str = include_str!("assets/index.html");

/// Every asset under `/assets/`: name, content type, bytes.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/app.js"),
    ),
    (
        "dejavu-sans-latin.woff2",
        "font/woff2",
        include_bytes!("assets/dejavu-sans-latin.woff2"),
    ),
];

/// Bytes the browser fetches on a first load of the page before any API call: the HTML and every
/// asset it references.
pub fn first_load_bytes() -> usize {
    INDEX_HTML.len() + ASSETS.iter().map(|(_, _, b)| b.len()).sum::<usize>()
}

/// `GET /`.
pub async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX_HTML,
    )
        .into_response()
}

/// `GET /assets/{name}`: an embedded asset, looked up by exact name.
pub async fn asset(
    name: Result<UrlPath<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    let found = name
        .ok()
        .and_then(|UrlPath(n)| ASSETS.iter().find(|(a, _, _)| *a == n));
    match found {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "max-age=300"),
            ],
            *bytes,
        )
            .into_response(),
        None => ServeError::NotFound("no such asset".into()).into_response(),
    }
}
