//! Listing orchestration: servers → previews. OWNER: core helper (H1).
