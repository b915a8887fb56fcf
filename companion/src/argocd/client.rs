//! The Argo CD HTTP client. OWNER: client helper (H3).
