//! How the SDK reads an HTTP answer: the body under a size cap, the two headers it keeps
//! (`Retry-After`, `x-request-id`), and the decoding of a 2xx body into the promised type.
//! A body that does not decode gives an error naming its length and where parsing failed,
//! never its text: a login answer carries the token.

use crate::answer_meta::AnswerMeta;
use crate::error::{Error, Result, api_error};
use bytes::{Bytes, BytesMut};
use serde::de::DeserializeOwned;

/// An answer read whole (up to the cap).
#[derive(Debug)]
pub(crate) struct Answer {
    /// The status code.
    pub(crate) status: u16,
    /// The headers the SDK keeps.
    pub(crate) meta: AnswerMeta,
    /// The body.
    pub(crate) body: Bytes,
}

impl Answer {
    /// Reads `response` whole, refusing a success body over `limit` bytes (without reading
    /// further when its length is announced). An error body is cut at `limit`: its start is
    /// enough to say what went wrong.
    pub(crate) async fn read(
        mut response: reqwest::Response,
        limit: usize,
        context: &str,
    ) -> Result<Answer> {
        let status = response.status().as_u16();
        let meta = AnswerMeta::from_headers(response.headers());
        let success = (200..300).contains(&status);
        let too_large = |length: usize, meta: &AnswerMeta| {
            Error::decode(
                context,
                Some(status),
                format!("the body is over the SDK's limit of {limit} bytes"),
                length,
                meta.request_id.clone(),
            )
        };
        if success
            && let Some(length) = response.content_length()
            && length > limit as u64
        {
            return Err(too_large(
                usize::try_from(length).unwrap_or(usize::MAX),
                &meta,
            ));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > limit {
                if success {
                    return Err(too_large(body.len() + chunk.len(), &meta));
                }
                body.extend_from_slice(&chunk[..limit - body.len()]);
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            meta,
            body: body.freeze(),
        })
    }

    /// True for a 2xx status.
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The answer as an error, when its status is not a success.
    pub(crate) fn error(&self) -> Option<Error> {
        (!self.is_success()).then(|| api_error(self.status, &self.meta, &self.body))
    }

    /// A 2xx body as `T`; any other status as the error it carries.
    pub(crate) fn decode<T: DeserializeOwned>(&self, context: &str) -> Result<T> {
        if let Some(e) = self.error() {
            return Err(e);
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::decode(
                context,
                Some(self.status),
                json_failure(&e),
                self.body.len(),
                self.meta.request_id.clone(),
            )
        })
    }
}

/// Why JSON did not decode, and where, without quoting any of it: serde's own messages
/// carry the offending value (`invalid type: string "…"`) or key (`unknown field`). Only a
/// missing field is named, since its name comes from the SDK's type, not from the body.
pub(crate) fn json_failure(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Syntax => "not valid JSON".to_owned(),
        Category::Eof => "the JSON ends too early".to_owned(),
        Category::Io => "the body could not be read".to_owned(),
        Category::Data => {
            let text = e.to_string();
            let message = text.split(" at line ").next().unwrap_or_default();
            if message.starts_with("missing field `") {
                message.to_owned()
            } else {
                "the JSON does not have the expected shape".to_owned()
            }
        }
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}
