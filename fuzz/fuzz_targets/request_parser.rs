//! Fuzzes the host's request parser (`host::serve::parse_request`, frame body → request or
//! error answer): no panic; a refusal is an `error` reply with a message and a fix; an
//! accepted request is the same one `protocol` reads from the bytes.
#![no_main]

use companion::host::serve::parse_request;
use libfuzzer_sys::fuzz_target;
use protocol::messages::{Reply, Request};

fuzz_target!(|data: &[u8]| {
    match parse_request(data) {
        Ok(request) => {
            let direct: Request = serde_json::from_slice(data).expect("protocol accepts it too");
            assert_eq!(direct, request);
        }
        Err(Reply::Error(e)) => {
            assert!(!e.error.message.is_empty());
            assert!(!e.error.fix.is_empty());
            // The answer must itself fit in one frame.
            let json = serde_json::to_vec(&Reply::Error(e)).expect("serialises");
            assert!(json.len() < 64 * 1024, "error reply of {} bytes", json.len());
        }
        Err(other) => panic!("a refusal that is not an error reply: {other:?}"),
    }
});
