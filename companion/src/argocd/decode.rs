//! Streaming ApplicationList decoder. OWNER: client helper (H3).
