//! The limit server (`--against-limit`): a minimal hyper HTTP/1.1 server that answers every
//! `GET` and every `POST` with the answer `chat-server` gave to the same request, captured
//! once before the load (status, headers and body: the very same bytes but for `date`),
//! from memory. No auth, no core, no database: what this machine's HTTP stack can do at
//! all. It runs as a process of its own (`http_load limit-server FILE`, a runtime of as many
//! workers as cores, like `chat-server`), and every cell is measured against both servers
//! back to back, so the ratio of the two is read within one round.

use crate::builtin::request;
use crate::{Op, Target};
use benches::BoxError;
use benches::child_server::connect;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

/// One captured answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Answer {
    status: u16,
    /// Every header but `date` and `content-length` (hyper writes both).
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The answers the limit server gives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Captured {
    get: Answer,
    post: Answer,
}

/// Asks the real server at `target` once for each request the load sends (a `POST` stores
/// one message, counted by the caller) and keeps the answers.
pub(crate) async fn capture(target: &Target) -> Result<Captured, BoxError> {
    let get = ask(target, Op::Get).await?;
    let post = ask(target, Op::Post).await?;
    if get.status != 200 || post.status != 201 {
        return Err(format!(
            "the answers to capture were {} and {}, wanted 200 and 201",
            get.status, post.status
        )
        .into());
    }
    Ok(Captured { get, post })
}

async fn ask(target: &Target, op: Op) -> Result<Answer, BoxError> {
    let mut sender = connect(target.addr).await?;
    let body = r#"{"content": "the message whose answer the limit server repeats"}"#;
    let request = request(target, op, &target.tokens[0], body.to_owned());
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != http::header::DATE && *name != http::header::CONTENT_LENGTH)
        .map(|(name, value)| {
            Ok((
                name.as_str().to_owned(),
                value.to_str().map_err(|e| e.to_string())?.to_owned(),
            ))
        })
        .collect::<Result<_, String>>()?;
    let body = response.into_body().collect().await?.to_bytes().to_vec();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The limit server as a child process; dropping it stops it (its stdin closes).
pub(crate) struct LimitChild {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    child: Child,
    _answers: tempfile::NamedTempFile,
}

impl LimitChild {
    /// Starts `http_load limit-server FILE` with `captured` in FILE and reads its address.
    pub(crate) fn spawn(captured: &Captured) -> Result<Self, BoxError> {
        let answers = tempfile::NamedTempFile::new()?;
        std::fs::write(answers.path(), serde_json::to_vec(captured)?)?;
        let mut child = Command::new(std::env::current_exe()?)
            .arg("limit-server")
            .arg(answers.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or("the limit server has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        match line.trim().parse() {
            Ok(addr) => Ok(Self {
                addr,
                child,
                _answers: answers,
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("the limit server said {line:?}, not its address").into())
            }
        }
    }
}

impl Drop for LimitChild {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// `http_load limit-server FILE`: serves the answers in FILE on a free loopback port it
/// prints, until stdin closes.
pub(crate) fn limit_main(file: &str) {
    let captured: Captured = serde_json::from_slice(
        &std::fs::read(file).expect("limit-server: the answers file is readable"),
    )
    .expect("limit-server: the answers file holds captured answers");
    let get = Arc::new(response_parts(&captured.get));
    let post = Arc::new(response_parts(&captured.post));
    let runtime = tokio::runtime::Runtime::new().expect("the limit server's runtime starts");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        println!("{}", listener.local_addr().expect("a bound address"));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            let _ = stop.send(());
        });
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(_) => continue,
                },
                _ = &mut stopped => return,
            };
            let _ = stream.set_nodelay(true);
            let (get, post) = (get.clone(), post.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let answer = if request.method() == http::Method::POST {
                        post.clone()
                    } else {
                        get.clone()
                    };
                    async move {
                        // The request's body is read, as the real server reads it.
                        let _ = request.into_body().collect().await;
                        Ok::<_, hyper::Error>(answer.response())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// An [`Answer`] ready to be sent again and again.
struct Parts {
    status: http::StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Parts {
    fn response(&self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body.clone()));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        response
    }
}

fn response_parts(answer: &Answer) -> Parts {
    let mut headers = http::HeaderMap::new();
    for (name, value) in &answer.headers {
        let name = http::HeaderName::try_from(name.as_str()).expect("a captured header name");
        let value = http::HeaderValue::try_from(value.as_str()).expect("a captured header value");
        headers.append(name, value);
    }
    Parts {
        status: http::StatusCode::from_u16(answer.status).expect("a captured status"),
        headers,
        body: Bytes::from(answer.body.clone()),
    }
}
