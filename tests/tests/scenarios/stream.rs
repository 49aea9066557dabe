//! The two hard flows end to end: a streamed C2C answer and a chunked upload.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use qqgw_client::Runtime;
use qqgw_client::api::{CallError, ErrorKind, FileType, Outgoing, ReplyTo, UploadSource};
use qqgw_client::openapi::Route;
use qqgw_mock::MockGateway;
use serde_json::json;

use super::{WAIT, bounded, config, mock, started, stop};

fn c2c_message(mock: &MockGateway, id: &str) {
    mock.dispatch(
        0,
        "C2C_MESSAGE_CREATE",
        json!({"id": id, "content": "ask", "author": {"user_openid": "USER1"}}),
    );
}

pub(crate) async fn a_thousand_chunk_stream_arrives_in_order_and_ends_once<R: Runtime + Default>() {
    bounded::<R, _>(WAIT * 3, async {
        let mock = mock();
        let (client, events) = started::<R>(&mock, config(&mock).build()).await;
        c2c_message(&mock, "C-1");
        let api = client.api();
        let mut stream = api.user("USER1").stream("C-1").interval(Duration::ZERO);
        let mut expected = String::new();
        for i in 0..1000 {
            let chunk = format!("{i} ");
            expected.push_str(&chunk);
            stream.push(&chunk).await.unwrap();
        }
        let id = stream.stream_msg_id().unwrap().to_owned();
        stream.finish().await.unwrap();
        let state = mock.openapi(|qq| qq.stream(&id).cloned()).unwrap();
        // The final chunk has no new text: it carries a newline more, as clients found QQ
        // needs.
        assert!(
            state.text == format!("{expected}\n"),
            "the whole text, in order ({} bytes)",
            state.text.len()
        );
        assert_eq!(state.ended, 1, "ended once");
        assert_eq!(state.indices.len(), 1001, "a chunk per push, then the final one");
        assert!(state.indices.windows(2).all(|w| w[0] < w[1]), "indices rise");
        let record = mock.record();
        let chunks = record.calls_of(Route::SendC2cStream);
        assert!(chunks.iter().all(|c| c.accepted() && c.body["msg_seq"] == json!(1)));
        assert_eq!(chunks.last().unwrap().body["input_state"], json!(10));

        // A stream QQ refuses ends cleanly: the error, then nothing more is sent.
        mock.expire_replies();
        let mut refused = api.user("USER1").stream("C-1");
        let error = refused.push("too late").await.unwrap_err();
        assert_eq!(error.kind(), Some(ErrorKind::Reply), "{error}");
        let calls = mock.record().api_calls.len();
        assert!(matches!(refused.push("more").await, Err(CallError::Qq(_))));
        assert!(refused.finish().await.is_err());
        assert_eq!(mock.record().api_calls.len(), calls);
        stop(client, events).await.unwrap();
    })
    .await;
}

pub(crate) async fn a_dropped_stream_is_closed_in_the_background<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let (client, events) = started::<R>(&mock, config(&mock).build()).await;
        c2c_message(&mock, "C-2");
        let api = client.api();
        let id = {
            let mut stream = api.user("USER1").stream("C-2").interval(Duration::from_millis(1));
            stream.push("partial answer").await.unwrap();
            stream.stream_msg_id().unwrap().to_owned()
            // Dropped here, as a handler returning early with `?` would.
        };
        let record = mock
            .wait_until(
                |r| r.calls_of(Route::SendC2cStream).iter().any(|c| c.body["input_state"] == json!(10)),
                WAIT,
            )
            .await
            .unwrap();
        let state = mock.openapi(|qq| qq.stream(&id).cloned()).unwrap();
        assert_eq!((state.ended, state.text.trim_end()), (1, "partial answer"));
        assert_eq!(record.calls_of(Route::SendC2cStream).len(), 2);
        stop(client, events).await.unwrap();
    })
    .await;
}

pub(crate) async fn a_64_mib_upload_in_parts_survives_a_failed_part_and_resumes<R: Runtime + Default>() {
    bounded::<R, _>(WAIT * 6, async {
        let mock = mock();
        let (client, events) = started::<R>(&mock, config(&mock).build()).await;
        mock.dispatch(
            0,
            "GROUP_AT_MESSAGE_CREATE",
            json!({"id": "G-UP", "group_openid": "GROUP1", "content": "file?"}),
        );
        mock.openapi(|qq| qq.config_mut().upload_retry_delay = 0);
        let api = client.api();
        let group = api.group("GROUP1");

        // 64 MiB in 10 MiB parts, three at a time; one PUT fails once.
        let size = 64 * 1024 * 1024;
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        mock.fail_upload_parts(1);
        let reports = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&reports);
        let mut upload =
            group.upload_file(FileType::File, "big.bin", UploadSource::bytes(data)).on_progress(move |_| {
                counted.fetch_add(1, Ordering::Relaxed);
            });
        let media = upload.run().await.unwrap();
        let progress = upload.progress();
        assert_eq!((progress.parts_done, progress.parts, progress.bytes_done), (7, 7, size as u64));
        assert_eq!(reports.load(Ordering::Relaxed), 7);
        let record = mock.record();
        let upload_id =
            record.calls_of(Route::PrepareGroupUpload)[0].answer["upload_id"].as_str().unwrap().to_owned();
        let state = mock.openapi(|qq| qq.upload(&upload_id).cloned()).unwrap();
        assert!(state.merged && state.parts.iter().all(|p| p.finished));
        let puts: Vec<u32> = state.parts.iter().map(|p| p.puts).collect();
        assert!(puts.iter().all(|&n| (1..=2).contains(&n)), "each part sent at most twice: {puts:?}");
        assert_eq!(puts.iter().sum::<u32>(), 8, "one retry: {puts:?}");
        let sent =
            group.send(Outgoing::media(media).reply_to(ReplyTo::Message("G-UP".into()))).await.unwrap();
        assert!(sent.id.is_some());

        // A part that fails beyond its retries: the others go on, and a second run
        // sends only that part.
        mock.openapi(|qq| {
            qq.config_mut().upload_block_size = 1024 * 1024;
            qq.config_mut().upload_concurrency = 1;
        });
        mock.fail_upload_parts(5);
        let mut upload =
            group.upload_file(FileType::File, "small.bin", UploadSource::bytes(vec![1u8; 3 * 1024 * 1024]));
        let error = upload.run().await.unwrap_err();
        assert!(matches!(error, CallError::Upload(_)), "{error}");
        assert_eq!(upload.progress().parts_done, 2);
        upload.run().await.unwrap();
        let record = mock.record();
        let upload_id =
            record.calls_of(Route::PrepareGroupUpload)[1].answer["upload_id"].as_str().unwrap().to_owned();
        let state = mock.openapi(|qq| qq.upload(&upload_id).cloned()).unwrap();
        assert_eq!(state.parts.iter().map(|p| p.puts).collect::<Vec<_>>(), [6, 1, 1]);
        assert_eq!(record.calls_of(Route::PrepareGroupUpload).len(), 2, "resuming does not prepare again");
        stop(client, events).await.unwrap();
    })
    .await;
}
