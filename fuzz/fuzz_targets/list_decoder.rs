//! Fuzzes the streaming ApplicationList decoder (`argocd::decode`): no panic, and the
//! result (items or error) does not depend on how the body is split into chunks, which is
//! what the network decides.
#![no_main]

use companion::argocd::decode::{ListDecoder, decode_slice};
use libfuzzer_sys::fuzz_target;

fn chunked(data: &[u8], size: usize) -> Result<Vec<String>, String> {
    let mut d = ListDecoder::new();
    for chunk in data.chunks(size.max(1)) {
        d.feed(chunk).map_err(|e| e.to_string())?;
    }
    d.finish()
        .map(|l| l.items.into_iter().map(|a| a.metadata.name).collect())
        .map_err(|e| e.to_string())
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size; the rest is the body.
    let Some((&split, body)) = data.split_first() else {
        return;
    };
    let whole = decode_slice(body)
        .map(|l| l.items.into_iter().map(|a| a.metadata.name).collect::<Vec<_>>())
        .map_err(|e| e.to_string());
    let pieces = chunked(body, usize::from(split % 17) + 1);
    assert_eq!(whole.is_ok(), pieces.is_ok(), "{whole:?} vs {pieces:?}");
    if let (Ok(a), Ok(b)) = (&whole, &pieces) {
        assert_eq!(a, b);
    }
});
