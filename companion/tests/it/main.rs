//! The companion's integration tests, linked once (one binary, one module per concern).

mod cli; // the built binary against the fake Argo CD: sources, errors, exit codes
#[path = "../../../tests/doc_counts.rs"]
mod doc_counts; // the counts README.md and SECURITY.md quote, checked against the tests' data
mod envs; // envs over dev, stag and prod; refresh and sync with the user's RBAC
mod faults; // every injected Argo CD fault, through `list` and through a long-lived host
mod host; // the real binary in native-messaging host mode, spoken to in frames
mod hostile; // crafted Argo CD data and extension requests: refused, nothing routable, host serving
mod login; // expired tokens refreshed through the argocd CLI; token_command
mod package; // the .deb in a scratch root with dpkg --root, the tarball through install.sh
mod policy; // dist/policy templates: shipped ids, only values the managed-storage schema declares
mod relay; // the team relay over HTTP: list, events, auth, CORS, limits, metrics, TLS
mod share; // the examples/ share rule, translated to real nginx, followed by curl with a cookie jar
mod support; // isolated HOME, token scans on every output and file, the fake on 127.0.0.1:0
mod tidy; // architecture invariants from ARCHITECTURE.md, checked over the source tree
mod upstream; // Argo CD as it really is: held watch, reconciles, per-app 403/404, anonymous, appsets, TLS, CLI refresh
