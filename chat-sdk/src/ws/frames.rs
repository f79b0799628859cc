//! The frames of the chat WebSocket: what the server sends ([`ServerFrame`]: events,
//! acknowledgements, refusals), parsed by `type`, and what the client sends.

use crate::answer::json_failure;
use crate::error::{Error, Result};
use chatcore::ErrorKind;
use chatcore::model::{EVENT_TYPES, Event, MessageId};
use serde::{Deserialize, Serialize};

/// The server's acknowledgement of a sent message: it is stored (and fanned out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The stored message's global id.
    pub id: MessageId,
    /// Its place in the chat.
    pub seq: i64,
    /// The `client_id` the message was sent with.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// The server's refusal of a frame: `{"type":"error","code":…,"error":…}`. The socket stays
/// open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// The machine-readable kind as sent (`"invalid"`, `"forbidden"`…).
    #[serde(default)]
    pub code: Option<String>,
    /// The human-readable text.
    pub error: String,
}

impl ErrorFrame {
    /// The kind, when `code` is one the SDK knows.
    pub fn kind(&self) -> Option<ErrorKind> {
        let code = self.code.as_deref()?;
        serde_json::from_value(serde_json::Value::String(code.to_owned())).ok()
    }

    /// This refusal as an [`Error::Rejected`].
    pub fn into_error(self) -> Error {
        Error::Rejected {
            kind: self.kind(),
            message: self.error,
        }
    }
}

/// One text frame from the server, by its `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    /// A chat event (`message`, membership changes, rename, deletion, `lagged`), boxed
    /// because it is much larger than the other frames.
    Event(Box<Event>),
    /// A sent message was stored.
    Ack(Ack),
    /// A frame was refused.
    Error(ErrorFrame),
    /// A `type` this SDK does not know yet (a newer server); skipped by the connection.
    Unknown(String),
}

impl ServerFrame {
    /// Parses one text frame. A frame that is not a JSON object with a string `type`, or
    /// whose fields do not fit its type, is an [`Error::Decode`].
    pub fn parse(text: &str) -> Result<ServerFrame> {
        #[derive(Deserialize)]
        struct Tag {
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        let fail =
            |reason: String| Error::decode("WebSocket frame", None, reason, text.len(), None);
        let json = |e: serde_json::Error| fail(json_failure(&e));
        let tag: Tag = serde_json::from_str(text).map_err(json)?;
        let kind = tag
            .kind
            .ok_or_else(|| fail("the frame has no `type`".to_owned()))?;
        let frame = match kind.as_str() {
            "ack" => ServerFrame::Ack(serde_json::from_str(text).map_err(json)?),
            "error" => ServerFrame::Error(serde_json::from_str(text).map_err(json)?),
            known if EVENT_TYPES.contains(&known) => {
                ServerFrame::Event(Box::new(serde_json::from_str(text).map_err(json)?))
            }
            _ => ServerFrame::Unknown(kind),
        };
        Ok(frame)
    }
}

/// What the client sends.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ClientFrame<'a> {
    /// Post a message.
    Send {
        content: &'a str,
        client_id: &'a str,
    },
    /// Mark the chat read up to `seq`.
    Read { seq: i64 },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::fixtures::{message, removed, text, user};
    use chatcore::model::{ChatId, RemovalReason, UserId};

    #[test]
    fn a_message_event_with_the_originals_flat_fields_parses() {
        let frame = r#"{"type":"message","id":5,"chat":1,
            "user":{"id":2,"first_name":"Ann","last_name":"Lee","username":"user1","email":""},
            "content":"Привет","timestamp":"2026-11-24T09:21:11.386088+00:00","seq":3,
            "message":"Привет","username":"user1","first_name":"Ann","last_name":"Lee"}"#;
        let ServerFrame::Event(event) = ServerFrame::parse(frame).unwrap() else {
            panic!("not an event")
        };
        let Event::Message(m) = *event else {
            panic!("not a message event")
        };
        assert_eq!(m.message.id, MessageId(5));
        assert_eq!(m.message.seq, 3);
        assert_eq!(m.message.content, "Привет");
        assert_eq!(m.compat.username, "user1");
        assert_eq!(m.message.timestamp.microsecond(), 386_088);
    }

    #[test]
    fn every_event_the_core_serializes_parses_back() {
        let events = [
            message(1),
            Event::MemberAdded {
                chat: ChatId(1),
                user: user(3, "new"),
                at_seq: 4,
            },
            removed(3, RemovalReason::Left),
            Event::ChatRenamed {
                chat: ChatId(1),
                name: "renamed".into(),
                at_seq: 4,
            },
            Event::ChatDeleted {
                chat: ChatId(1),
                at_seq: 4,
            },
            Event::Lagged {
                chat: ChatId(1),
                last_seq: 4,
            },
            Event::Read {
                chat: ChatId(1),
                user: UserId(3),
                seq: 4,
                unread: 0,
            },
        ];
        for event in events {
            assert_eq!(
                ServerFrame::parse(&text(&event)).unwrap(),
                ServerFrame::Event(Box::new(event.clone()))
            );
        }
    }

    #[test]
    fn an_ack_parses_with_or_without_client_id() {
        assert_eq!(
            ServerFrame::parse(r#"{"type":"ack","id":9,"seq":4,"client_id":"c-1"}"#).unwrap(),
            ServerFrame::Ack(Ack {
                id: MessageId(9),
                seq: 4,
                client_id: Some("c-1".into())
            })
        );
        assert_eq!(
            ServerFrame::parse(r#"{"type":"ack","id":9,"seq":4}"#).unwrap(),
            ServerFrame::Ack(Ack {
                id: MessageId(9),
                seq: 4,
                client_id: None
            })
        );
    }

    #[test]
    fn an_error_event_becomes_a_rejected_error_with_its_kind() {
        let ServerFrame::Error(refusal) = ServerFrame::parse(
            r#"{"type":"error","code":"invalid","error":"content: must not be blank"}"#,
        )
        .unwrap() else {
            panic!("not an error frame")
        };
        assert_eq!(refusal.kind(), Some(ErrorKind::Invalid));
        let e = refusal.into_error();
        assert_eq!(e.kind(), Some(ErrorKind::Invalid));
        assert_eq!(e.server_message(), Some("content: must not be blank"));
    }

    #[test]
    fn an_error_event_with_an_unknown_code_keeps_its_text() {
        let ServerFrame::Error(refusal) =
            ServerFrame::parse(r#"{"type":"error","code":"bad_frame","error":"expected JSON"}"#)
                .unwrap()
        else {
            panic!("not an error frame")
        };
        assert_eq!(refusal.kind(), None);
        assert_eq!(refusal.error, "expected JSON");
    }

    #[test]
    fn an_unknown_type_is_reported_as_unknown_not_as_an_error() {
        assert_eq!(
            ServerFrame::parse(r#"{"type":"read_receipt","seq":3}"#).unwrap(),
            ServerFrame::Unknown("read_receipt".into())
        );
    }

    #[test]
    fn frames_that_break_the_protocol_are_decode_errors() {
        for bad in [
            "not json",
            "[1,2]",
            r#"{"message":"hi"}"#,
            r#"{"type":7}"#,
            r#"{"type":"message","id":"x"}"#,
            r#"{"type":"ack","seq":1}"#,
        ] {
            let err = ServerFrame::parse(bad).unwrap_err();
            assert!(
                matches!(&err, Error::Decode { context, status: None, .. } if context == "WebSocket frame"),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn a_send_frame_is_tagged_send() {
        let frame = serde_json::to_value(ClientFrame::Send {
            content: "hi",
            client_id: "c-1",
        })
        .unwrap();
        assert_eq!(
            frame,
            serde_json::json!({"type": "send", "content": "hi", "client_id": "c-1"})
        );
    }

    #[test]
    fn a_read_frame_is_tagged_read() {
        let frame = serde_json::to_value(ClientFrame::Read { seq: 7 }).unwrap();
        assert_eq!(frame, serde_json::json!({"type": "read", "seq": 7}));
    }
}
