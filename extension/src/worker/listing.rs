//! One `list` over `sendNativeMessage`, as a pure machine: it asks for the first page (or a
//! `refresh`, which answers like `list` with fresh data), follows `next_cursor` until the
//! last page, and restarts once from the first page when the companion says
//! `cursor_expired` (a refresh replaced the data between two pages). Each answer is one
//! [`Listing::answer`] call returning the next request, the joined pages, or the failure.

use protocol::Preview;
use protocol::messages::{ErrorCode, Reply, RequestBody, ServerFailure};

use crate::failure::{Failure, LocalError};

/// The pages of one listing, joined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listed {
    pub previews: Vec<Preview>,
    /// The servers that failed in the fetch behind the list (from its first page).
    pub failures: Vec<ServerFailure>,
    pub age_ms: u64,
    pub fetched_at_ms: u64,
    /// Any page said its data is not from a fetch that just succeeded.
    pub stale: bool,
}

/// What to do after an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this request; its answer goes to [`Listing::answer`].
    Send(RequestBody),
    /// The last page is in.
    Done(Listed),
    Failed(Failure),
}

/// A listing in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// Ask Argo CD now (`refresh`) rather than the companion's cache (`list`).
    refresh: bool,
    /// The one restart after `cursor_expired` was used.
    restarted: bool,
    pages: Listed,
}

impl Listing {
    /// A new listing and its first request.
    pub fn start(refresh: bool) -> (Listing, RequestBody) {
        let listing = Listing {
            refresh,
            restarted: false,
            pages: Listed::default(),
        };
        let first = listing.first_request();
        (listing, first)
    }

    /// Whether this is the `refresh` that follows a stale list.
    pub fn is_refresh(&self) -> bool {
        self.refresh
    }

    fn first_request(&self) -> RequestBody {
        if self.refresh {
            RequestBody::Refresh { host: None }
        } else {
            RequestBody::List {
                host: None,
                cursor: None,
            }
        }
    }

    /// The companion's answer to the last request (or why there is none).
    pub fn answer(&mut self, reply: Result<Reply, LocalError>) -> Step {
        match reply {
            Ok(Reply::List(page)) => {
                if self.pages.previews.is_empty() {
                    self.pages.age_ms = page.age_ms;
                    self.pages.fetched_at_ms = page.fetched_at_ms;
                    self.pages.failures = page.failures;
                }
                self.pages.stale |= page.stale;
                self.pages.previews.extend(page.previews);
                match page.next_cursor {
                    Some(cursor) => Step::Send(RequestBody::List {
                        host: None,
                        cursor: Some(cursor),
                    }),
                    None => Step::Done(std::mem::take(&mut self.pages)),
                }
            }
            Ok(Reply::Error(e)) if e.error.code == ErrorCode::CursorExpired && !self.restarted => {
                self.restarted = true;
                self.pages.previews.clear();
                self.pages.stale = false;
                Step::Send(self.first_request())
            }
            Ok(Reply::Error(e)) => Step::Failed(e.error.into()),
            Ok(other) => Step::Failed(
                LocalError::Unreadable {
                    detail: format!("expected a list, got {}", kind(&other)),
                }
                .into(),
            ),
            Err(local) => Step::Failed(local.into()),
        }
    }
}

/// The `type` of a reply, for saying which one came instead of a list.
fn kind(reply: &Reply) -> &'static str {
    reply.kind()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use protocol::messages::{ErrorBody, ErrorReply, ListReply, Subscribed};

    pub(crate) fn preview(app: &str) -> Preview {
        Preview {
            app: app.into(),
            service: "courses-fe".into(),
            ..Default::default()
        }
    }

    pub(crate) fn page(apps: &[&str], next: Option<&str>, stale: bool) -> Reply {
        Reply::List(ListReply {
            id: 0,
            previews: apps.iter().map(|a| preview(a)).collect(),
            next_cursor: next.map(str::to_string),
            total: 0,
            fetched_at_ms: 1_000,
            age_ms: 5_000,
            stale,
            refreshing: false,
            failures: vec![],
        })
    }

    pub(crate) fn error(code: ErrorCode) -> Reply {
        Reply::Error(ErrorReply {
            id: Some(0),
            error: ErrorBody {
                code,
                message: format!("{} happened", code.as_str()),
                fix: "do something".into(),
            },
        })
    }

    fn apps(listed: &Listed) -> Vec<&str> {
        listed.previews.iter().map(|p| p.app.as_str()).collect()
    }

    #[test]
    fn pages_are_followed_by_their_cursor_and_joined() {
        let (mut l, first) = Listing::start(false);
        assert_eq!(
            first,
            RequestBody::List {
                host: None,
                cursor: None
            }
        );
        let step = l.answer(Ok(page(&["a", "b"], Some("c-2"), false)));
        assert_eq!(
            step,
            Step::Send(RequestBody::List {
                host: None,
                cursor: Some("c-2".into())
            })
        );
        let Step::Done(listed) = l.answer(Ok(page(&["c"], None, true))) else {
            panic!("the last page ends the listing")
        };
        assert_eq!(apps(&listed), ["a", "b", "c"]);
        assert!(listed.stale, "a stale page makes the list stale");
        assert_eq!((listed.age_ms, listed.fetched_at_ms), (5_000, 1_000));
    }

    #[test]
    fn an_expired_cursor_restarts_the_listing_once() {
        let (mut l, _) = Listing::start(false);
        l.answer(Ok(page(&["a"], Some("c-2"), true)));
        let step = l.answer(Ok(error(ErrorCode::CursorExpired)));
        assert_eq!(
            step,
            Step::Send(RequestBody::List {
                host: None,
                cursor: None
            }),
            "from the first page"
        );
        l.answer(Ok(page(&["a2"], Some("c-3"), false)));
        let Step::Failed(f) = l.answer(Ok(error(ErrorCode::CursorExpired))) else {
            panic!("a second expiry is not retried")
        };
        assert_eq!(f.code(), Some(ErrorCode::CursorExpired));

        // The restart drops the pages read before it, and their staleness.
        let (mut l, _) = Listing::start(false);
        l.answer(Ok(page(&["old"], Some("c-2"), true)));
        l.answer(Ok(error(ErrorCode::CursorExpired)));
        let Step::Done(listed) = l.answer(Ok(page(&["new"], None, false))) else {
            panic!()
        };
        assert_eq!(apps(&listed), ["new"]);
        assert!(!listed.stale);
    }

    #[test]
    fn a_refresh_starts_with_refresh_and_restarts_with_it() {
        let (mut l, first) = Listing::start(true);
        assert!(l.is_refresh());
        assert_eq!(first, RequestBody::Refresh { host: None });
        l.answer(Ok(page(&["a"], Some("c-2"), false)));
        assert_eq!(
            l.answer(Ok(error(ErrorCode::CursorExpired))),
            Step::Send(RequestBody::Refresh { host: None })
        );
    }

    #[test]
    fn errors_and_unexpected_replies_end_the_listing_typed() {
        let (mut l, _) = Listing::start(false);
        let Step::Failed(f) = l.answer(Ok(error(ErrorCode::ArgocdUnauthorized))) else {
            panic!()
        };
        assert_eq!(f.code(), Some(ErrorCode::ArgocdUnauthorized));

        let (mut l, _) = Listing::start(false);
        let step = l.answer(Ok(Reply::Subscribed(Subscribed {
            id: 1,
            subscription: 1,
        })));
        assert_eq!(
            step,
            Step::Failed(Failure::Local(LocalError::Unreadable {
                detail: "expected a list, got subscribed".into()
            }))
        );

        let (mut l, _) = Listing::start(false);
        let gone = LocalError::NotInstalled {
            browser_said: "Specified native messaging host not found".into(),
        };
        assert_eq!(l.answer(Err(gone.clone())), Step::Failed(gone.into()));
    }
}
