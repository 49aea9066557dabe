//! No `Debug` or `Display` of the adapter's public types shows a secret: known secrets go
//! in, and the text that comes out is searched for them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use qqgw_proto::webhook::Webhook;
use qqgw_tokio::webhook::WebhookServer;
use qqgw_tokio::{Config, Error};

const SECRET: &str = "SeCrEtAppSecret-0123456789";

fn assert_hidden(what: &str, text: &str) {
    for secret in [SECRET, "SeCrEt"] {
        assert!(!text.contains(secret), "{what} shows {secret:?}: {text}");
    }
}

#[test]
fn configs_and_builders_hide_the_app_secret() {
    let builder = Config::builder("102012345", SECRET).api_base("https://api.sgroup.qq.com");
    let config = builder.clone().build();
    for text in
        [format!("{builder:?}"), format!("{builder:#?}"), format!("{config:?}"), format!("{config:#?}")]
    {
        assert_hidden("config", &text);
        assert!(text.contains("102012345"), "the AppID is no secret: {text}");
    }
}

#[test]
fn the_insecure_endpoint_error_names_the_url_only() {
    let error =
        Error::InsecureEndpoint { endpoint: "token URL", url: "http://x/".into(), expected: "https://" };
    assert_hidden("error", &format!("{error} {error:?}"));
}

#[tokio::test]
async fn the_webhook_server_hides_the_key() {
    let webhook = Webhook::from_secret(SECRET).unwrap();
    let (server, _events) = WebhookServer::builder(webhook).bind("127.0.0.1:0").await.unwrap();
    let text = format!("{server:?} {server:#?}");
    assert_hidden("WebhookServer", &text);
    assert!(text.contains("public_key"), "{text}");
}
