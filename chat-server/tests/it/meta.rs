//! Health and the OpenAPI document, served over HTTP.

use crate::assert_wire_snapshot;
use crate::helpers::*;
use async_trait::async_trait;
use chat_server::routes::openapi::rest_routes;
use chatcore::HealthCheck;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn health_is_ok_with_and_without_the_slash() {
    let app = spawn_app().await;
    for path in ["/healthz", "/healthz/"] {
        let answer = app.get(path, As::Anonymous).await;
        answer.expect(200);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert_wire_snapshot!("health_ok", answer.json);
    }
}

struct Down;

#[async_trait]
impl HealthCheck for Down {
    async fn check(&self) -> chatcore::Result<()> {
        Err(chatcore::Error::Unavailable {
            retry_after: std::time::Duration::from_secs(3),
        })
    }
}

#[tokio::test]
async fn health_is_503_with_retry_after_when_the_store_is_down() {
    let app = spawn_app().await;
    // The server is assembled from replaceable services: swap the health check.
    let mut services = app.services.clone();
    services.health = Arc::new(Down);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(chat_server::serve(
        listener,
        services,
        chat_server::Settings::default(),
        shutdown.clone(),
    ));
    let answer = reqwest::get(format!("http://{address}/healthz"))
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 503);
    assert_eq!(answer.headers()["retry-after"], "3");
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_wire_snapshot!("health_down", body);
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = spawn_app().await;
    let answer = app.get("/api/openapi.json", As::Anonymous).await;
    answer.expect(200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let doc = &answer.json;
    assert_eq!(doc["openapi"], "3.1.0");
    for route in rest_routes() {
        let op = &doc["paths"][route.path][route.method.as_str().to_ascii_lowercase()];
        assert!(
            op["operationId"].is_string(),
            "{} {} missing",
            route.method,
            route.path
        );
    }
    insta::assert_json_snapshot!("openapi", doc, {".info.version" => "[version]"});
}

/// Checks that a JSON value has exactly the properties its component schema documents.
fn check_shape(doc: &serde_json::Value, schema: &str, value: &serde_json::Value) {
    let component = &doc["components"]["schemas"][schema];
    let properties = component["properties"].as_object().unwrap();
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{schema}: {value}"));
    for key in object.keys() {
        assert!(
            properties.contains_key(key),
            "{schema} does not document `{key}`"
        );
    }
    for required in component["required"].as_array().unwrap() {
        assert!(
            object.contains_key(required.as_str().unwrap()),
            "{schema}: {required} missing"
        );
    }
    for (key, property) in properties {
        let Some(field) = object.get(key) else {
            continue;
        };
        if let Some(r) = property["$ref"].as_str() {
            check_shape(doc, r.rsplit('/').next().unwrap(), field);
        }
        if let Some(r) = property["items"]["$ref"].as_str() {
            for item in field.as_array().unwrap() {
                check_shape(doc, r.rsplit('/').next().unwrap(), item);
            }
        }
    }
}

#[tokio::test]
async fn real_answers_have_the_documented_shapes() {
    let app = spawn_app().await;
    let doc = app.get("/api/openapi.json", As::Anonymous).await.json;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let chat = app.create_chat(&admin, "general", &[&ann]).await;
    app.post(
        &format!("/api/chat/{}/message/", chat.id),
        &ann,
        serde_json::json!({"content": "hi", "client_id": "k"}),
    )
    .await
    .expect(201);
    let chats = app.get("/api/chat/", &ann).await;
    check_shape(&doc, "Chat", &chats.json[0]);
    check_shape(&doc, "Message", &chats.json[0]["last_message"]);
    let history = app
        .get(&format!("/api/chat/{}/message/", chat.id), &ann)
        .await;
    check_shape(&doc, "Message", &history.json[0]);
    check_shape(
        &doc,
        "UserDetail",
        &app.get("/api/accounts/me/", &ann).await.json,
    );
    check_shape(
        &doc,
        "UserDetail",
        &app.get("/api/users/", &admin).await.json[0],
    );
    check_shape(&doc, "Error", &app.get("/api/users/", &ann).await.json);
    check_shape(&doc, "Health", &app.get("/healthz", &ann).await.json);
}
