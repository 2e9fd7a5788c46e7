//! A plain HTTP GET to the engine that hands back the response body untouched.
//!
//! bollard only returns typed values; the inspect files must hold the engine's own bytes (see
//! `json_indent`), so they are fetched here over the same socket or TCP address.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// How long an inspect may take to arrive in full: a reader of an inspect file gets an error
/// rather than hanging on an engine that stopped answering.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where raw requests go; `None` from [`RawEndpoint::from_host`] for schemes served only
/// through bollard. Connections are kept open and reused: a start inspects every image, and a
/// connection per request cost both sides a connect, an accept and a close each time.
#[derive(Debug)]
pub struct RawEndpoint {
    address: Address,
    idle: Mutex<Vec<SendRequest<Empty<Bytes>>>>,
}

#[derive(Clone, Debug)]
enum Address {
    Unix(PathBuf),
    Tcp(String),
}

/// Idle connections kept for reuse: as many as requests run at once while loading.
const IDLE_CONNECTIONS: usize = 8;

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
        let address = if let Some(path) = host.strip_prefix("unix://") {
            Address::Unix(PathBuf::from(path))
        } else {
            let address = host
                .strip_prefix("tcp://")
                .or_else(|| host.strip_prefix("http://"))?;
            Address::Tcp(address.trim_end_matches('/').to_string())
        };
        Some(RawEndpoint {
            address,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// GETs `path_and_query`; returns the status code and the whole body.
    pub async fn get(&self, path_and_query: &str) -> Result<(u16, Bytes), RawError> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.get_unbounded(path_and_query))
            .await
            .map_err(|_| RawError::Timeout(REQUEST_TIMEOUT))?
    }

    async fn get_unbounded(&self, path_and_query: &str) -> Result<(u16, Bytes), RawError> {
        // A kept connection may have been closed by the engine meanwhile (a restart): such a
        // failure is retried once on a new connection.
        if let Some(sender) = self.take_idle() {
            if let Ok(answer) = self.exchange(sender, path_and_query).await {
                return Ok(answer);
            }
        }
        let sender = self.connect().await?;
        self.exchange(sender, path_and_query).await
    }

    fn take_idle(&self) -> Option<SendRequest<Empty<Bytes>>> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    fn keep(&self, sender: SendRequest<Empty<Bytes>>) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_CONNECTIONS && !sender.is_closed() {
            idle.push(sender);
        }
    }

    async fn connect(&self) -> Result<SendRequest<Empty<Bytes>>, RawError> {
        match &self.address {
            Address::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(RawError::Connect)?;
                handshake(TokioIo::new(stream)).await
            }
            Address::Tcp(address) => {
                let stream = tokio::net::TcpStream::connect(address.as_str())
                    .await
                    .map_err(RawError::Connect)?;
                handshake(TokioIo::new(stream)).await
            }
        }
    }

    fn host_header(&self) -> &str {
        match &self.address {
            Address::Unix(_) => "docker",
            Address::Tcp(address) => address,
        }
    }

    /// One request on `sender`'s connection, which is kept for reuse once the body is read.
    async fn exchange(
        &self,
        mut sender: SendRequest<Empty<Bytes>>,
        path_and_query: &str,
    ) -> Result<(u16, Bytes), RawError> {
        let http = |error: &dyn std::fmt::Display| RawError::Http(error.to_string());
        sender.ready().await.map_err(|error| http(&error))?;
        let request = hyper::Request::get(path_and_query)
            .header(hyper::header::HOST, self.host_header())
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
        self.keep(sender);
        Ok((status, body))
    }
}

async fn handshake<T>(io: T) -> Result<SendRequest<Empty<Bytes>>, RawError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
        .await
        .map_err(|error| RawError::Http(error.to_string()))?;
    // The connection future drives the socket; it ends when the connection closes (the sender
    // and every kept copy dropped, or the engine hanging up).
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixListener;

    use super::*;

    /// A minimal HTTP server on a Unix socket: answers `{"n":COUNT}` to every request, and
    /// hangs up after `answers_per_connection` answers. Counts the connections it accepted.
    fn serve(listener: UnixListener, answers_per_connection: usize) -> Arc<AtomicUsize> {
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            let mut answered = 0usize;
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                for _ in 0..answers_per_connection {
                    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(read) => request.extend_from_slice(&buffer[..read]),
                        }
                    }
                    if request.is_empty() {
                        break;
                    }
                    request.clear();
                    answered += 1;
                    let body = format!("{{\"n\":{answered}}}");
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        break;
                    }
                }
            }
        });
        accepted
    }

    #[tokio::test]
    async fn requests_reuse_a_kept_connection_and_survive_its_loss() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let accepted = serve(UnixListener::bind(&socket).unwrap(), usize::MAX);
        let endpoint =
            RawEndpoint::from_host(&format!("unix://{}", socket.display())).expect("unix");
        for expected in 1..=5 {
            let (status, body) = endpoint.get("/images/x/json").await.unwrap();
            assert_eq!(status, 200);
            assert_eq!(body.as_ref(), format!("{{\"n\":{expected}}}").as_bytes());
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for all");

        // An engine that hangs up after every answer: each request still gets its answer.
        let socket = dir.path().join("restarting.sock");
        let accepted = serve(UnixListener::bind(&socket).unwrap(), 1);
        let endpoint =
            RawEndpoint::from_host(&format!("unix://{}", socket.display())).expect("unix");
        for expected in 1..=3 {
            let (status, body) = endpoint.get("/images/x/json").await.unwrap();
            assert_eq!(status, 200);
            assert_eq!(body.as_ref(), format!("{{\"n\":{expected}}}").as_bytes());
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }
}
