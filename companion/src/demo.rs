//! `preview-switch demo`. OWNER: fake helper (H2).
