//! The OpenAPI 3.1 document, generated from the route table ([`super::ROUTES`], its REST rows) and
//! the component schemas below (which describe `chatcore::model`'s wire types). Built once
//! with `serde_json`; served at `GET /api/openapi.json`.

use super::{QueryParam, ROUTES, Route, Schema};
use crate::http::ctx::{Access, Ctx};
use crate::http::front::Front;
use crate::http::response::JSON;
use crate::http::{ApiError, Body, full};
use bytes::Bytes;
use http::Response;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// `GET /api/openapi.json` → the OpenAPI 3.1 document (built once).
pub async fn serve(_: Ctx) -> Result<Response<Body>, ApiError> {
    let mut resp = Response::new(full(document_bytes()));
    resp.headers_mut().insert(CONTENT_TYPE, JSON);
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

/// The document as served (built on first use).
pub fn document_bytes() -> Bytes {
    static DOC: OnceLock<Bytes> = OnceLock::new();
    DOC.get_or_init(|| {
        Bytes::from(serde_json::to_vec(&document()).expect("a serde_json::Value always serializes"))
    })
    .clone()
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in rest_routes() {
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        item[route.method.as_str().to_ascii_lowercase()] = operation(route);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "chat-server REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The closed team messenger's REST API, wire-compatible with the original. \
                Every path also answers without its trailing slash. Bodies may be JSON or \
                application/x-www-form-urlencoded (at most 64 KiB). Errors are \
                {\"error\": text, \"code\": kind}; every 401 carries `WWW-Authenticate: Token`. \
                Unsafe requests authenticated by the session cookie need the session's CSRF token \
                (`X-CSRF-Token` header or `csrf_token` form field). Admins may read every chat \
                they can list."
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "tokenAuth": {
                    "type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "`Token <40 hex>` (the keyword is case-insensitive)."
                },
                "basicAuth": { "type": "http", "scheme": "basic" },
                "sessionCookie": {
                    "type": "apiKey", "in": "cookie", "name": "chat_session",
                    "description": "Browser session; unsafe methods also need the CSRF token."
                }
            }
        }
    })
}

fn operation(route: &Route) -> Value {
    let mut op = json!({
        "operationId": route.doc.name,
        "summary": route.doc.summary,
        "description": format!("Who may call it: {}.", route.doc.who),
    });
    let mut parameters: Vec<Value> = path_params(route.path)
        .map(|name| {
            json!({
                "name": name, "in": "path", "required": true,
                "schema": {"type": "integer", "format": "int64"}
            })
        })
        .collect();
    parameters.extend(route.doc.query.iter().map(query_param));
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    if let Some(schema) = schema_json(route.doc.request) {
        op["requestBody"] = json!({
            "required": true,
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": schema},
            }
        });
    }
    let mut responses = Map::new();
    let success = match schema_json(route.doc.response) {
        Some(schema) => json!({
            "description": "Success",
            "content": {"application/json": {"schema": schema}}
        }),
        None if route.doc.status == 204 => json!({"description": "Done, no content"}),
        None => json!({"description": "Success", "content": {"application/json": {}}}),
    };
    responses.insert(route.doc.status.to_string(), success);
    for status in route.answers() {
        responses.insert(
            status.to_string(),
            json!({
                "description": error_description(status),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            }),
        );
    }
    op["responses"] = Value::Object(responses);
    op["security"] = match route.access {
        Access::Public => json!([]),
        Access::Required => json!([{"tokenAuth": []}, {"basicAuth": []}, {"sessionCookie": []}]),
    };
    op
}

/// The rows the document describes: the REST API's.
pub fn rest_routes() -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(|r| r.front == Front::Rest)
}

/// The `{name}` parameters of a path pattern.
pub fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn query_param(p: &QueryParam) -> Value {
    let schema = match p.kind {
        "integer" => json!({"type": "integer"}),
        _ => json!({"type": "string"}),
    };
    json!({"name": p.name, "in": "query", "required": false, "description": p.description, "schema": schema})
}

fn schema_json(schema: Schema) -> Option<Value> {
    match schema {
        Schema::None => None,
        Schema::One(name) => Some(reference(name)),
        Schema::List(name) => Some(json!({"type": "array", "items": reference(name)})),
    }
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn error_description(status: u16) -> &'static str {
    match status {
        400 => "Malformed body or query, or an invalid field",
        401 => "No valid credential (WWW-Authenticate: Token)",
        403 => "Not allowed (not a member, not an admin, registration closed, or CSRF)",
        404 => "No such chat, user or member",
        409 => "Conflicts with the current state (taken username, inactive user, last admin)",
        413 => "Body larger than 64 KiB",
        415 => "Body neither JSON nor a form",
        429 => "Too many failed logins (Retry-After)",
        500 => "A bug on the server (details only in its log)",
        503 => "Overloaded, timed out or the database is unreachable (Retry-After)",
        _ => "Error",
    }
}

fn schemas() -> Value {
    let string = json!({"type": "string"});
    let id = json!({"type": "integer", "format": "int64"});
    let time = json!({"type": "string", "format": "date-time",
        "description": "RFC 3339, UTC, six fractional digits (2026-11-24T09:21:11.386088+00:00)"});
    let user_props = json!({
        "id": id, "first_name": string, "last_name": string, "username": string,
        "email": {"type": "string", "description": "\"\" unless the viewer is this user or an admin"}
    });
    let mut detail_props = user_props.clone();
    detail_props["is_active"] = json!({"type": "boolean"});
    detail_props["is_superuser"] = json!({"type": "boolean"});
    json!({
        "User": object(user_props, &["id", "first_name", "last_name", "username", "email"]),
        "UserDetail": object(detail_props,
            &["id", "first_name", "last_name", "username", "email", "is_active", "is_superuser"]),
        "Chat": object(json!({
            "id": id, "name": string,
            "participants": {"type": "array", "items": reference("User")},
            "created_at": time,
            "last_seq": {"type": "integer", "description": "seq of the newest message, 0 if none"},
            "unread": {"type": "integer", "minimum": 0, "description":
                "Messages after the caller's read marker (last_seq − last_read_seq); 0 for a non-member"},
            "last_message": {"oneOf": [reference("Message"), {"type": "null"}]}
        }), &["id", "name", "participants", "created_at", "last_seq", "unread", "last_message"]),
        "Message": object(json!({
            "id": id, "chat": id, "user": reference("User"),
            "content": string, "timestamp": time,
            "seq": {"type": "integer", "description": "Position in the chat: 1, 2, 3 … without gaps"},
            "client_id": {"type": "string", "description": "The sender's idempotency key, if given"}
        }), &["id", "chat", "user", "content", "timestamp", "seq"]),
        "Registration": object(json!({
            "username": {"type": "string", "maxLength": 150,
                "description": "Letters, digits and @.+-_; unique ignoring case"},
            "password": {"type": "string", "minLength": 8},
            "email": string, "first_name": string, "last_name": string
        }), &["username", "password"]),
        "RegisterResponse": object(json!({
            "token": {"type": "string", "description": "40 lowercase hex"},
            "user": reference("User")
        }), &["token", "user"]),
        "LoginRequest": object(json!({"username": string, "password": string}),
            &["username", "password"]),
        "TokenResponse": object(json!({"token": {"type": "string", "description": "40 lowercase hex"}}),
            &["token"]),
        "PasswordChange": object(json!({"old_password": string, "new_password": string}),
            &["old_password", "new_password"]),
        "ProfileUpdate": object(json!({"first_name": string, "last_name": string, "email": string}), &[]),
        "NewChat": object(json!({
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "participants": {"type": "array", "items": id}
        }), &["name"]),
        "ChatRename": object(json!({"name": {"type": "string", "minLength": 1, "maxLength": 100}}),
            &["name"]),
        "NewMessage": object(json!({
            "content": {"type": "string", "description": "Non-blank after trimming, at most 4096 characters"},
            "client_id": {"type": "string", "minLength": 1, "maxLength": 64,
                "description": "Idempotency key: a retry answers the stored message"}
        }), &["content"]),
        "ReadRequest": object(json!({
            "seq": {"type": "integer", "minimum": 0,
                "description": "seq of the last message read; beyond the newest is the newest"}
        }), &["seq"]),
        "ReadMarker": object(json!({
            "chat": id,
            "last_read_seq": {"type": "integer", "minimum": 0,
                "description": "seq of the last message the caller read; it only moves forward"},
            "unread": {"type": "integer", "minimum": 0,
                "description": "Messages after it (last_seq − last_read_seq)"}
        }), &["chat", "last_read_seq", "unread"]),
        "Notice": object(json!({"message": string}), &["message"]),
        "UserFlagsUpdate": object(json!({
            "is_active": {"type": "boolean"}, "is_superuser": {"type": "boolean"}
        }), &[]),
        "Health": object(json!({"status": {"type": "string", "const": "ok"}}), &["status"]),
        "Error": object(json!({
            "error": {"type": "string", "description": "English text for people"},
            "code": {"type": "string", "enum": [
                "not_found", "forbidden", "unauthenticated", "invalid_credentials", "conflict",
                "invalid", "rate_limited", "unavailable", "internal"
            ]}
        }), &["error", "code"]),
    })
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_in_the_document() {
        let doc = document();
        for route in rest_routes() {
            let op = &doc["paths"][route.path][route.method.as_str().to_ascii_lowercase()];
            assert!(op.is_object(), "{} {} is missing", route.method, route.path);
            assert!(op["responses"][route.doc.status.to_string()].is_object());
            for name in path_params(route.path) {
                let params = op["parameters"].as_array().unwrap();
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path")
                );
            }
        }
        let operations: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(
            operations,
            rest_routes().count(),
            "the document has operations no route serves"
        );
    }

    #[test]
    fn each_operation_lists_exactly_the_answers_its_route_can_give() {
        let doc = document();
        for route in rest_routes() {
            let op = &doc["paths"][route.path][route.method.as_str().to_ascii_lowercase()];
            let mut listed: Vec<u16> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.parse().unwrap())
                .filter(|status| *status != route.doc.status)
                .collect();
            listed.sort_unstable();
            assert_eq!(listed, route.answers(), "{} {}", route.method, route.path);
        }
        let register = rest_routes().find(|r| r.doc.name == "register").unwrap();
        assert!(register.answers().contains(&503), "argon2 may be busy");
        for route in rest_routes().filter(|r| r.access == Access::Required) {
            let answers = route.answers();
            assert!(
                answers.contains(&429) && answers.contains(&503),
                "{}",
                route.path
            );
        }
    }

    #[test]
    fn every_reference_resolves() {
        fn walk(v: &Value, doc: &Value) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        let name = r.strip_prefix("#/components/schemas/").unwrap();
                        assert!(doc["components"]["schemas"][name].is_object(), "{r}");
                    }
                    map.values().for_each(|v| walk(v, doc));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, doc)),
                _ => {}
            }
        }
        let doc = document();
        walk(&doc, &doc);
    }

    #[test]
    fn the_error_codes_are_chatcore_error_kinds() {
        let doc = document();
        for code in doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
        {
            let kind: chatcore::ErrorKind = serde_json::from_value(code.clone()).unwrap();
            assert_eq!(kind.as_str(), code);
        }
    }
}
