//! The table walk: every route has a handler and a doc line.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

#[test]
fn every_route_of_the_table_has_a_handler_and_a_doc_line() {
    for &route in Route::ALL {
        assert!(!route.doc().is_empty(), "{route} has no doc line");
        let mut qq = OpenApi::new(ApiConfig::default());
        let params: Vec<String> = route.params().iter().map(|_| "X".to_owned()).collect();
        let path = route.path(&params).unwrap();
        let answer = qq.handle(Instant::ZERO, route.method().as_str(), &path, true, b"{}");
        assert!(!matches!(answer.status, 404 | 405 | 501), "{route}: {} {:?}", answer.status, answer.json());
        let call = &qq.calls()[0];
        assert_eq!(call.route, Some(route));
    }
}

#[test]
fn unknown_paths_wrong_methods_and_bad_tokens_are_refused() {
    let mut qq = OpenApi::new(ApiConfig::default());
    assert_eq!(qq.handle(Instant::ZERO, "GET", "/nowhere", true, b"").status, 404);
    assert_eq!(qq.handle(Instant::ZERO, "PATCH", "/v2/groups/G/messages", true, b"{}").status, 405);
    let refused = qq.handle(Instant::ZERO, "GET", "/users/@me", false, b"");
    assert_eq!((refused.status, refused.code()), (401, Some(11244)));
    assert!(refused.headers.iter().any(|(k, _)| *k == "X-Tps-trace-ID"));
}
