//! The companion's integration tests, linked once (one binary, one module per concern).

mod cli; // the built binary against the fake Argo CD: sources, errors, exit codes
mod host; // the real binary in native-messaging host mode, spoken to in frames
mod login; // expired tokens refreshed through the argocd CLI; token_command
mod support; // isolated HOME for the binary, the fake Argo CD on 127.0.0.1:0
mod tidy; // architecture invariants from ARCHITECTURE.md, checked over the source tree
