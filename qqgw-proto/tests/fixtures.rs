//! The frames under `fixtures/frames/` are the project's own copy of QQ's real-shaped
//! frames: every file there must be read by name by some test, so a frame added without a
//! test that uses it fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

mod common;
use common::files_under;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn every_fixture_frame_is_read_by_name_by_a_test() {
    let dir = repository().join("fixtures/frames");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 22, "{} frames under {}", names.len(), dir.display());

    let mut files = Vec::new();
    for tests in ["qqgw-proto/tests", "qqgw-tokio/tests", "qqgw-async-std/tests", "tests/tests", "tests/src"]
    {
        let sources = files_under(&repository().join(tests)).into_iter();
        files.extend(
            sources.filter(|p| p.extension().is_some_and(|e| e == "rs") && !p.ends_with("tests/fixtures.rs")),
        );
    }
    let text: String = files.iter().map(|f| fs::read_to_string(f).unwrap()).collect();
    let unused: Vec<&String> = names.iter().filter(|n| !text.contains(&format!("(\"{n}\""))).collect();
    assert!(unused.is_empty(), "fixture frames no test reads by name: {unused:?}");
}

#[test]
fn every_fixture_frame_is_one_json_object() {
    let dir = repository().join("fixtures/frames");
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(value.is_object(), "{}", path.display());
    }
}
