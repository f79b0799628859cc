//! The WebSocket protocol's frames that are not chat events (those are `chatcore::model::Event`,
//! serialized once by the core): what a client may send, and the server's `ack` and `error`.
//!
//! Client → server: the original's `{"message": "…"}`, `{"type":"send","content":…,
//! "client_id":…}` (answered with an `ack` once stored), or `{"type":"read","seq":N}` (moves
//! the user's read marker; the user's sockets on the chat, this one too, get the core's
//! `read` event when it moved). Server → client besides events:
//! `{"type":"ack","client_id":…,"id":…,"seq":…}` and `{"type":"error","code":…,"error":…}`
//! (the socket stays open).

use chatcore::model::{MessageId, NewMessage};
use chatcore::{Error, ErrorKind};
use serde::Serialize;
use serde_json::Value;

/// A frame a client sent, understood.
#[derive(Debug, Clone)]
pub enum ClientFrame {
    /// Post a message; `acked` when the client asked for an `ack` (`type: send`), not for the
    /// original's bare `{"message": …}`.
    Send {
        /// What to store.
        message: NewMessage,
        /// Whether to answer with an `ack`.
        acked: bool,
    },
    /// Mark the chat read up to `seq` (its range is the core's rule).
    Read {
        /// The `seq` of the last message read.
        seq: i64,
    },
}

impl ClientFrame {
    /// Parses a text frame. Anything else than the frames above is an `invalid` error
    /// saying what was wrong.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let value: Value = serde_json::from_str(text)
            .map_err(|_| Error::invalid("frame", "must be a JSON object"))?;
        let Value::Object(fields) = value else {
            return Err(Error::invalid("frame", "must be a JSON object"));
        };
        let text_field = |name: &'static str| -> Result<Option<String>, Error> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Error::invalid(name, "must be a string")),
            }
        };
        match fields.get("type") {
            None => {
                let content = text_field("message")?.ok_or_else(|| {
                    Error::invalid("type", "missing: send {\"type\":\"send\",\"content\":…}")
                })?;
                Ok(ClientFrame::Send {
                    message: NewMessage {
                        content,
                        client_id: None,
                    },
                    acked: false,
                })
            }
            Some(Value::String(kind)) if kind == "send" => {
                let content = text_field("content")?
                    .ok_or_else(|| Error::invalid("content", "this field is required"))?;
                Ok(ClientFrame::Send {
                    message: NewMessage {
                        content,
                        client_id: text_field("client_id")?,
                    },
                    acked: true,
                })
            }
            Some(Value::String(kind)) if kind == "read" => {
                let seq = match fields.get("seq") {
                    None | Some(Value::Null) => {
                        return Err(Error::invalid("seq", "this field is required"));
                    }
                    Some(seq) => seq
                        .as_i64()
                        .ok_or_else(|| Error::invalid("seq", "must be an integer"))?,
                };
                Ok(ClientFrame::Read { seq })
            }
            Some(Value::String(kind)) => Err(Error::invalid(
                "type",
                format!(
                    "unknown frame type `{}`",
                    kind.chars().take(32).collect::<String>()
                ),
            )),
            Some(_) => Err(Error::invalid("type", "must be a string")),
        }
    }
}

/// The server's acknowledgement of a `send`: the message is stored.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AckFrame {
    /// Always `"ack"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The `client_id` the message was sent with.
    pub client_id: Option<String>,
    /// The stored message's id.
    pub id: MessageId,
    /// Its place in the chat.
    pub seq: i64,
}

impl AckFrame {
    /// The ack of a stored message.
    pub fn new(client_id: Option<String>, id: MessageId, seq: i64) -> Self {
        Self {
            kind: "ack",
            client_id,
            id,
            seq,
        }
    }
}

/// A refused frame: `{"type":"error","code":…,"error":…}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorFrame {
    /// Always `"error"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The machine-readable kind.
    pub code: ErrorKind,
    /// The human-readable text.
    pub error: String,
}

impl From<&Error> for ErrorFrame {
    fn from(e: &Error) -> Self {
        Self {
            kind: "error",
            code: e.kind(),
            error: e.to_string(),
        }
    }
}

/// A frame as JSON text.
pub fn to_text<T: Serialize>(frame: &T) -> String {
    // Our frames are plain structs of strings and integers: they always serialize.
    serde_json::to_string(frame).unwrap_or_else(|_| {
        r#"{"type":"error","code":"internal","error":"Internal server error"}"#.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> String {
        match ClientFrame::parse(text) {
            Ok(ClientFrame::Send { message, acked }) => format!(
                "send {:?} {:?} acked={acked}",
                message.content, message.client_id
            ),
            Ok(ClientFrame::Read { seq }) => format!("read {seq}"),
            Err(e) => format!("{} {e}", e.kind().as_str()),
        }
    }

    #[test]
    fn the_originals_frame_and_the_send_frame_are_understood() {
        assert_eq!(
            check(r#"{"message":"hi"}"#),
            r#"send "hi" None acked=false"#
        );
        assert_eq!(
            check(r#"{"type":"send","content":"hi","client_id":"c1"}"#),
            r#"send "hi" Some("c1") acked=true"#
        );
        assert_eq!(
            check(r#"{"type":"send","content":"hi"}"#),
            r#"send "hi" None acked=true"#
        );
        assert_eq!(check(r#"{"type":"read","seq":7}"#), "read 7");
        // The range is the core's rule (an `invalid` error from it).
        assert_eq!(check(r#"{"type":"read","seq":-1}"#), "read -1");
    }

    #[test]
    fn anything_else_is_an_invalid_frame_that_says_why() {
        assert_eq!(check("hello"), "invalid frame: must be a JSON object");
        assert_eq!(check("[1]"), "invalid frame: must be a JSON object");
        assert_eq!(
            check(r#"{"message":5}"#),
            "invalid message: must be a string"
        );
        assert_eq!(
            check(r#"{"type":"send"}"#),
            "invalid content: this field is required"
        );
        assert_eq!(
            check(r#"{"type":"send","content":"x","client_id":7}"#),
            "invalid client_id: must be a string"
        );
        assert_eq!(
            check(r#"{"type":"dance"}"#),
            "invalid type: unknown frame type `dance`"
        );
        assert_eq!(check(r#"{"type":1}"#), "invalid type: must be a string");
        assert_eq!(
            check(r#"{"type":"read"}"#),
            "invalid seq: this field is required"
        );
        for bad in [r#""3""#, "1.5", "18446744073709551615", "[3]"] {
            assert_eq!(
                check(&format!(r#"{{"type":"read","seq":{bad}}}"#)),
                "invalid seq: must be an integer",
                "{bad}"
            );
        }
        assert!(check("{}").starts_with("invalid type: missing"));
    }

    #[test]
    fn ack_and_error_frames_have_the_documented_shape() {
        let ack = to_text(&AckFrame::new(Some("c1".into()), MessageId(9), 3));
        assert_eq!(ack, r#"{"type":"ack","client_id":"c1","id":9,"seq":3}"#);
        let error = to_text(&ErrorFrame::from(&Error::invalid("content", "blank")));
        assert_eq!(
            error,
            r#"{"type":"error","code":"invalid","error":"content: blank"}"#
        );
    }
}
