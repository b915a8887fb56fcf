//! The fake Argo CD API (demo and tests). OWNER: fake helper (H2).
