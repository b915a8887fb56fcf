//! Fuzzes the native-messaging frame reader (`host::framing::read_frame`) with arbitrary
//! stdin bytes: it must never panic, never hand out a frame over the 1 MiB cap, and never
//! claim more bytes than the stream held.
#![no_main]

use companion::host::framing::{Inbound, MAX_FRAME_BYTES, read_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut r = data;
        let mut consumed = 0usize;
        // At most a few hundred frames per input: a long run of tiny frames is no new path.
        for _ in 0..512 {
            let before = r.len();
            match read_frame(&mut r).await.expect("reading a slice never fails") {
                Inbound::Frame(body) => {
                    assert!(body.len() <= MAX_FRAME_BYTES);
                    assert_eq!(before - r.len(), body.len() + 4);
                }
                Inbound::Skipped { len } => assert!(len > MAX_FRAME_BYTES),
                Inbound::Eof | Inbound::Truncated | Inbound::Garbage { .. } => break,
            }
            consumed += before - r.len();
        }
        assert!(consumed <= data.len());
    });
});
