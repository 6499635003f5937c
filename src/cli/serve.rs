//! `tuneprint serve`: the library in a browser (JSON API and page), on this machine by default.

use super::CliError;
use crate::config::{SERVE_BIND, SERVE_PORT, SERVE_UPLOAD_LIMIT};
use crate::serve::{self, library::LibraryCatalog, AppState};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `tuneprint serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Library database [default: $TUNEPRINT_DB, else tuneprint.db in the current folder].
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = SERVE_PORT)]
    pub port: u16,
    /// Address to listen on; anything but 127.0.0.1 / ::1 opens the library to the network.
    #[arg(long, default_value = SERVE_BIND)]
    pub bind: IpAddr,
    /// Model used to classify uploaded files [default: the model that made most of the
    /// library's predictions; else the model `tuneprint train` saved in
    /// $TUNEPRINT_HOME/models/default, else the built-in model, builtin:default: the default
    /// blend trained on the reference table].
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Largest upload to classify, in bytes.
    #[arg(long, default_value_t = SERVE_UPLOAD_LIMIT, value_name = "BYTES")]
    pub upload_limit: usize,
    /// Seconds a client has to send a request's headers (and an idle kept-alive connection
    /// stays open) before it is disconnected.
    #[arg(long, default_value_t = crate::config::SERVE_HEADER_TIMEOUT_SECS, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,
    /// Seconds a request may take from its headers to the start of its answer (an upload
    /// included); a slower one is answered 408.
    #[arg(long, default_value_t = crate::config::SERVE_REQUEST_TIMEOUT_SECS, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout: u64,
    /// Connections served at once; more wait until one ends.
    #[arg(long, default_value_t = crate::config::SERVE_MAX_CONNECTIONS, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,
}

/// Runs `tuneprint serve` until Ctrl-C.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let catalog = LibraryCatalog::open(args.db.as_deref(), args.model.as_deref())
        .map_err(|e| CliError::Failed(e.to_string()))?;
    if !args.bind.is_loopback() {
        eprintln!(
            "warning: listening on {}: anyone who can reach this machine can browse and play the library",
            args.bind
        );
    }
    let state = AppState::new(Arc::new(catalog), args.upload_limit)
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the server runtime: {e}")))?;
    runtime
        .block_on(serve::run(
            SocketAddr::new(args.bind, args.port),
            state,
            serve::Limits {
                header_timeout: std::time::Duration::from_secs(args.header_timeout),
                request_timeout: std::time::Duration::from_secs(args.request_timeout),
                max_connections: args.max_connections,
            },
        ))
        .map_err(|e| CliError::Failed(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}
