//! A plain HTTP GET to the engine that hands back the response body untouched.
//!
//! bollard only returns typed values; the inspect files must hold the engine's own bytes (see
//! `json_indent`), so they are fetched here over the same socket or TCP address.

use std::path::PathBuf;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// How long an inspect may take to arrive in full: a reader of an inspect file gets an error
/// rather than hanging on an engine that stopped answering.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where raw requests go; `None` from [`RawEndpoint::from_host`] for schemes served only
/// through bollard.
#[derive(Clone, Debug)]
pub enum RawEndpoint {
    Unix(PathBuf),
    Tcp(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RawError {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("{}", no_answer_within(*.0))]
    Timeout(Duration),
}

/// "no answer within 10 s": how a timed-out request is reported.
pub fn no_answer_within(limit: Duration) -> String {
    format!("no answer within {} s", limit.as_secs_f64())
}

impl RawEndpoint {
    pub fn from_host(host: &str) -> Option<RawEndpoint> {
        if let Some(path) = host.strip_prefix("unix://") {
            return Some(RawEndpoint::Unix(PathBuf::from(path)));
        }
        let address = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"))?;
        let address = address.trim_end_matches('/');
        Some(RawEndpoint::Tcp(address.to_string()))
    }

    /// GETs `path_and_query`; returns the status code and the whole body.
    pub async fn get(&self, path_and_query: &str) -> Result<(u16, Bytes), RawError> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.get_unbounded(path_and_query))
            .await
            .map_err(|_| RawError::Timeout(REQUEST_TIMEOUT))?
    }

    async fn get_unbounded(&self, path_and_query: &str) -> Result<(u16, Bytes), RawError> {
        match self {
            RawEndpoint::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(RawError::Connect)?;
                exchange(TokioIo::new(stream), "docker", path_and_query).await
            }
            RawEndpoint::Tcp(address) => {
                let stream = tokio::net::TcpStream::connect(address.as_str())
                    .await
                    .map_err(RawError::Connect)?;
                exchange(TokioIo::new(stream), address, path_and_query).await
            }
        }
    }
}

async fn exchange<T>(io: T, host: &str, path_and_query: &str) -> Result<(u16, Bytes), RawError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let http = |error: &dyn std::fmt::Display| RawError::Http(error.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
        .await
        .map_err(|error| http(&error))?;
    // The connection future drives the socket; it ends when the response is read.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = hyper::Request::get(path_and_query)
        .header(hyper::header::HOST, host)
        .body(Empty::<Bytes>::new())
        .map_err(|error| http(&error))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| http(&error))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|error| http(&error))?
        .to_bytes();
    Ok((status, body))
}
