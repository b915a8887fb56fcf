//! The team relay as a list source, pure: which source the list comes from ([`choose`]),
//! the relay's URLs, what its answers mean ([`list_answer`], [`failure`]), the
//! Server-Sent Events of `/v1/events` cut into frames as their bytes arrive ([`SseParser`],
//! after the WHATWG "event stream interpretation" rules the relay's events need: `event`,
//! `data`, `id`, comments, CR/LF line ends), and what a frame means ([`interpret`]).
//! `web/` fetches, streams and decodes JSON (with the browser's `JSON.parse`, so the wasm
//! carries no second JSON decoder); this decides.

use protocol::messages::ErrorBody;
use protocol::relay::{EVENTS_PATH, PREVIEWS_PATH, RelayChanges, RelayList};

use super::listing::Listed;
use crate::failure::{Failure, LocalError};
use crate::settings::{Managed, Settings};

/// Where the list comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The native companion (`preview-switch` on this machine).
    Companion,
    /// The team relay at this base URL (no trailing slash).
    Relay(String),
}

/// A relay the user set in the options is used (unless the team locked its settings); a
/// relay the team preset (managed storage) is used when the local companion is missing, so
/// developers with their own companion keep it (it can also sync and refresh).
pub fn choose(settings: &Settings, managed: Option<&Managed>, companion_missing: bool) -> Source {
    let locked = managed.is_some_and(|m| m.locks(crate::settings::Field::Relay));
    if let Some(url) = settings.relay().filter(|_| !locked) {
        return Source::Relay(url);
    }
    match managed.and_then(Managed::relay) {
        Some(url) if companion_missing => Source::Relay(url),
        _ => Source::Companion,
    }
}

pub fn previews_url(relay: &str) -> String {
    format!("{relay}{PREVIEWS_PATH}")
}

pub fn events_url(relay: &str) -> String {
    format!("{relay}{EVENTS_PATH}")
}

/// An HTTP answer as `web/` read it: a 200's body as the list, another status's as the
/// relay's error, or why the body was neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    List(RelayList),
    Error(ErrorBody),
    /// Not the relay's JSON (a proxy's error page, a newer shape): why.
    Unreadable(String),
}

/// Why the relay gave no usable answer: its own error (an [`ErrorBody`], shown as it
/// says), or that it could not be reached or read.
pub fn failure(relay: &str, answer: Result<&HttpAnswer, &str>) -> Failure {
    match answer {
        Ok(HttpAnswer {
            body: Body::Error(body),
            ..
        }) => Failure::Companion(body.clone()),
        Ok(answer) => LocalError::Relay {
            url: relay.to_owned(),
            detail: crate::text!("relay_why_http_status", answer.status),
        }
        .into(),
        Err(network) => LocalError::Relay {
            url: relay.to_owned(),
            detail: crate::text!("relay_why_unreachable", network),
        }
        .into(),
    }
}

/// `GET /v1/previews` read as a listing, and the id to follow events from.
pub fn list_answer(
    relay: &str,
    answer: Result<HttpAnswer, String>,
) -> Result<(Listed, String), Failure> {
    let answer = match answer {
        Ok(a) => a,
        Err(network) => return Err(failure(relay, Err(&network))),
    };
    let list = match answer.body {
        Body::List(list) if answer.status == 200 => list,
        Body::Unreadable(why) if answer.status == 200 => {
            return Err(LocalError::Relay {
                url: relay.to_owned(),
                detail: crate::text!("relay_why_unreadable", why),
            }
            .into());
        }
        _ => return Err(failure(relay, Ok(&answer))),
    };
    Ok((
        Listed {
            previews: list.previews,
            failures: list.failures,
            age_ms: list.age_ms,
            fetched_at_ms: list.fetched_at_ms,
            stale: list.stale,
        },
        list.last_event_id,
    ))
}

/// One complete event of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Streamed {
    /// `previews_changed`: the changes, and the event's id to resume after.
    Changed {
        changes: RelayChanges,
        id: Option<String>,
    },
    /// The relay no longer holds the events after our last id: read the list again.
    Reset,
    /// An event the extension cannot read (a newer relay); skipped.
    Unknown { event: String },
}

/// One event of the stream as it was framed, before its data is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

/// What a frame means; `decode` reads a `previews_changed` event's JSON data.
pub fn interpret(frame: Frame, decode: impl FnOnce(&str) -> Option<RelayChanges>) -> Streamed {
    match frame.event.as_str() {
        protocol::relay::PREVIEWS_CHANGED => match decode(&frame.data) {
            Some(changes) => Streamed::Changed {
                changes,
                id: frame.id,
            },
            None => Streamed::Unknown { event: frame.event },
        },
        protocol::relay::RESET => Streamed::Reset,
        _ => Streamed::Unknown { event: frame.event },
    }
}

/// Cuts a byte stream's text into frames. Text may arrive split anywhere.
#[derive(Debug, Default, Clone)]
pub struct SseParser {
    line: String,
    event: String,
    data: Vec<String>,
    id: Option<String>,
    /// The last chunk ended in `\r`: a `\n` starting the next one belongs to it.
    after_cr: bool,
}

impl SseParser {
    /// Feeds more text; returns the frames it completed.
    pub fn feed(&mut self, text: &str) -> Vec<Frame> {
        let mut out = Vec::new();
        for c in text.chars() {
            match c {
                '\n' if self.after_cr => self.after_cr = false,
                '\r' | '\n' => {
                    self.after_cr = c == '\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&line) {
                        out.push(event);
                    }
                }
                c => {
                    self.after_cr = false;
                    self.line.push(c);
                }
            }
        }
        out
    }

    fn line_done(&mut self, line: &str) -> Option<Frame> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None; // a comment: the relay's keep-alive
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = value.to_owned(),
            "data" => self.data.push(value.to_owned()),
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Frame> {
        let event = std::mem::take(&mut self.event);
        let data = std::mem::take(&mut self.data).join("\n");
        if data.is_empty() && event.is_empty() {
            return None;
        }
        Some(Frame {
            // The spec's default event type.
            event: if event.is_empty() {
                "message".into()
            } else {
                event
            },
            id: self.id.clone(),
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::testing::english;
    use crate::state::tests::en;
    use protocol::messages::ErrorCode;

    fn settings(relay: Option<&str>) -> Settings {
        Settings {
            relay_url: relay.map(str::to_owned),
            ..Settings::default()
        }
    }

    /// What `web/` makes of an answer: the relay's JSON for its status, else why not.
    pub(super) fn http(status: u16, text: &str) -> HttpAnswer {
        let body = if status == 200 {
            serde_json::from_str(text).map(Body::List)
        } else {
            serde_json::from_str(text).map(Body::Error)
        };
        HttpAnswer {
            status,
            body: body.unwrap_or_else(|e| Body::Unreadable(e.to_string())),
        }
    }

    #[test]
    fn a_users_relay_wins_a_teams_relay_stands_in_for_a_missing_companion() {
        let team = Managed {
            relay_url: Some("https://relay.corp.test/".into()),
            ..Managed::default()
        };
        assert_eq!(choose(&settings(None), None, true), Source::Companion);
        assert_eq!(
            choose(&settings(None), Some(&team), false),
            Source::Companion
        );
        assert_eq!(
            choose(&settings(None), Some(&team), true),
            Source::Relay("https://relay.corp.test".into())
        );
        assert_eq!(
            choose(
                &settings(Some("http://relay.test:8080/previews")),
                Some(&team),
                false
            ),
            Source::Relay("http://relay.test:8080/previews".into())
        );
        // A preset that is not a relay URL is not trusted.
        let junk = Managed {
            relay_url: Some("javascript:alert(1)".into()),
            ..Managed::default()
        };
        assert_eq!(
            choose(&settings(None), Some(&junk), true),
            Source::Companion
        );
        // Locked, the team's relay (or its companion) is the source, whatever the user set.
        let locked = Managed {
            allow_user_override: Some(false),
            ..team
        };
        assert_eq!(
            choose(
                &settings(Some("http://relay.test:8080")),
                Some(&locked),
                true
            ),
            Source::Relay("https://relay.corp.test".into())
        );
        assert_eq!(
            choose(
                &settings(Some("http://relay.test:8080")),
                Some(&locked),
                false
            ),
            Source::Companion
        );
    }

    #[test]
    fn events_are_cut_wherever_the_bytes_split() {
        let data = r#"{"changes":[],"fetched_at_ms":5,"failures":[]}"#;
        let stream = format!(
            ": keep-alive\n\nevent: previews_changed\nid: 9-1\ndata: {data}\n\nevent:reset\r\ndata: {{}}\r\n\r\nevent: later_kind\ndata: x\n\n"
        );
        // Every split point gives the same events.
        for cut in 0..stream.len() {
            if !stream.is_char_boundary(cut) {
                continue;
            }
            let mut parser = SseParser::default();
            let mut frames = parser.feed(&stream[..cut]);
            frames.extend(parser.feed(&stream[cut..]));
            let events: Vec<Streamed> = frames
                .into_iter()
                .map(|f| interpret(f, |d| serde_json::from_str(d).ok()))
                .collect();
            assert_eq!(
                events,
                vec![
                    Streamed::Changed {
                        changes: serde_json::from_str(data).unwrap(),
                        id: Some("9-1".into())
                    },
                    Streamed::Reset,
                    Streamed::Unknown {
                        event: "later_kind".into()
                    },
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn the_relays_answers_become_a_listing_or_a_failure() {
        let relay = "https://relay.test";
        let body = r#"{"previews":[],"fetched_at_ms":7,"age_ms":3,"stale":true,"failures":[],"last_event_id":"1-4"}"#;
        let (listed, id) = list_answer(relay, Ok(http(200, body))).unwrap();
        assert_eq!(
            (listed.fetched_at_ms, listed.age_ms, listed.stale),
            (7, 3, true)
        );
        assert_eq!(id, "1-4");

        let refused = list_answer(
            relay,
            Ok(http(401, r#"{"code":"unauthenticated","message":"the team relay needs you to sign in","fix":"sign in"}"#)),
        )
        .unwrap_err();
        assert!(matches!(&refused, Failure::Companion(b) if b.code == ErrorCode::Unauthenticated));

        let proxy_page = list_answer(relay, Ok(http(502, "<html>Bad Gateway</html>"))).unwrap_err();
        assert!(
            en(&proxy_page.message()).contains("HTTP 502"),
            "{}",
            en(&proxy_page.message())
        );
        assert!(en(&proxy_page.message()).contains(relay));

        let down = list_answer(relay, Err("Failed to fetch".into())).unwrap_err();
        assert!(en(&down.message()).contains("could not be reached (Failed to fetch)"));
        assert!(en(&down.fix().unwrap()).contains("options"));
    }

    /// The worker on a relay, end to end in events and effects.
    mod flows {
        use protocol::Preview;
        use protocol::messages::{Change, ChangeKind, Reply};

        use super::*;
        use crate::state::Companion;
        use crate::state::tests::fe;
        use crate::worker::{Effect, Event, Stored, Worker};

        const RELAY: &str = "https://relay.corp.test/previews";

        fn with_relay() -> Settings {
            Settings {
                relay_url: Some(RELAY.into()),
                ..Settings::default()
            }
        }

        fn list_body(previews: &[Preview], last_event_id: &str, stale: bool) -> HttpAnswer {
            HttpAnswer {
                status: 200,
                body: Body::List(RelayList {
                    previews: previews.to_vec(),
                    fetched_at_ms: 1_795_000_000_000,
                    age_ms: 1_000,
                    stale,
                    failures: vec![],
                    last_event_id: last_event_id.into(),
                }),
            }
        }

        /// A chunk of stream `id` as `web/` reports it: alive, then each event read.
        fn text(w: &mut Worker, id: u64, parser: &mut SseParser, text: &str) -> Vec<Effect> {
            let mut fx = w.update(Event::StreamAlive { id });
            for frame in parser.feed(text) {
                let streamed = interpret(frame, |d| serde_json::from_str(d).ok());
                fx.extend(w.update(Event::Streamed { id, streamed }));
            }
            fx
        }

        fn event(kind: ChangeKind, p: Preview, id: &str) -> String {
            let data = serde_json::to_string(&RelayChanges {
                changes: vec![Change {
                    change: kind,
                    preview: p,
                }],
                fetched_at_ms: 1_795_000_001_000,
                failures: vec![],
            })
            .unwrap();
            format!("event: previews_changed\nid: {id}\ndata: {data}\n\n")
        }

        fn fetch_of(fx: &[Effect]) -> Vec<(u64, String)> {
            fx.iter()
                .filter_map(|e| match e {
                    Effect::Fetch { id, url } => Some((*id, url.clone())),
                    _ => None,
                })
                .collect()
        }

        fn follow_of(fx: &[Effect]) -> Vec<(u64, String, Option<String>)> {
            fx.iter()
                .filter_map(|e| match e {
                    Effect::Follow {
                        id,
                        url,
                        last_event_id,
                    } => Some((*id, url.clone(), last_event_id.clone())),
                    _ => None,
                })
                .collect()
        }

        /// A popup opened on `https://app.test/` with `stored`, and its first effects.
        fn popup_with(stored: Stored) -> (Worker, Vec<Effect>) {
            let mut popup = Worker::default();
            let fx = popup.update(Event::PopupStarted {
                tab: Some(crate::worker::TabInfo {
                    id: 7,
                    url: "https://app.test/".into(),
                }),
                stored: Box::new(stored),
                brands: vec![],
                platform: String::new(),
                now_ms: 1_795_000_000_000,
            });
            (popup, fx)
        }

        fn prs(w: &Worker) -> Vec<u64> {
            w.state().previews().iter().map(|p| p.pr).collect()
        }

        /// A service worker following the relay, seeded with `previews` as of event `1-0`.
        fn following(previews: &[Preview]) -> (Worker, u64) {
            let mut w = Worker::default();
            let fx = w.update(Event::WorkerStarted);
            assert!(
                fx.iter().any(|e| matches!(e, Effect::Subscribe(_))),
                "the companion until the settings are read"
            );
            let fx = w.update(Event::SettingsLoaded {
                settings: Some(with_relay()),
                managed: None,
            });
            assert_eq!(
                fx[0],
                Effect::ClosePort,
                "the relay replaces the native port"
            );
            let follow = follow_of(&fx);
            assert_eq!(
                follow,
                vec![(follow[0].0, format!("{RELAY}/v1/events"), None)],
                "{fx:?}"
            );
            assert!(
                !fx.iter().any(|e| matches!(e, Effect::Subscribe(_))),
                "no native port"
            );
            let stream = follow[0].0;
            let fx = w.update(Event::StreamOpened { id: stream });
            let fetch = fetch_of(&fx);
            assert_eq!(fetch[0].1, format!("{RELAY}/v1/previews"));
            w.update(Event::Fetched {
                id: fetch[0].0,
                answer: Ok(list_body(previews, "1-0", false)),
            });
            (w, stream)
        }

        #[test]
        fn the_worker_follows_the_relay_and_resumes_after_its_last_event() {
            let (mut w, stream) = following(&[fe(1), fe(2)]);
            assert_eq!(prs(&w), [1, 2]);

            // An event split across two chunks: applied once whole.
            let mut parser = SseParser::default();
            let whole = event(ChangeKind::Deleted, fe(1), "1-1");
            let (head, tail) = whole.split_at(20);
            let fx = text(&mut w, stream, &mut parser, head);
            assert_eq!(
                fx,
                vec![Effect::StayAwake],
                "a chunk keeps the worker awake"
            );
            let fx = text(&mut w, stream, &mut parser, tail);
            assert_eq!(prs(&w), [2]);
            assert!(
                fx.iter()
                    .any(|e| matches!(e, Effect::RememberList(l) if l.previews.len() == 1)),
                "{fx:?}"
            );

            // The stream breaks: reconnect after a pause, from the last event, no re-read.
            let fx = w.update(Event::StreamClosed {
                id: stream,
                answer: None,
                why: "network error".into(),
            });
            assert!(fx.contains(&Effect::ReconnectAfter { ms: 1_000 }), "{fx:?}");
            let fx = w.update(Event::ReconnectDue);
            let again = follow_of(&fx);
            assert_eq!(again[0].2.as_deref(), Some("1-1"));
            let fx = w.update(Event::StreamOpened { id: again[0].0 });
            assert!(fetch_of(&fx).is_empty(), "resumed, not reseeded: {fx:?}");
            // A late chunk of the closed stream is not news.
            let fx = text(
                &mut w,
                stream,
                &mut SseParser::default(),
                &event(ChangeKind::Deleted, fe(2), "1-9"),
            );
            assert!(fx.is_empty() && prs(&w) == [2], "{fx:?}");

            // The relay lost our place: read the list again.
            let fx = text(
                &mut w,
                again[0].0,
                &mut SseParser::default(),
                "event: reset\ndata: {}\n\n",
            );
            let reseed = fetch_of(&fx);
            assert_eq!(reseed.len(), 1, "{fx:?}");
            w.update(Event::Fetched {
                id: reseed[0].0,
                answer: Ok(list_body(&[fe(2), fe(3)], "1-2", false)),
            });
            assert_eq!(prs(&w), [2, 3]);
        }

        #[test]
        fn a_refused_stream_shows_the_relays_words_and_retries() {
            let (mut w, stream) = following(&[fe(1)]);
            let fx = w.update(Event::StreamClosed {
                id: stream,
                answer: Some(http(401, r#"{"code":"unauthenticated","message":"the team relay needs you to sign in: the request carried no credentials","fix":"sign in"}"#)),
                why: "HTTP 401".into(),
            });
            assert!(matches!(
                &w.state().companion,
                Companion::Failed(f) if f.code() == Some(protocol::messages::ErrorCode::Unauthenticated)
            ));
            assert!(fx.contains(&Effect::ReconnectAfter { ms: 1_000 }));
        }

        #[test]
        fn a_teams_relay_takes_over_when_the_companion_is_missing() {
            let team = Managed {
                relay_url: Some(RELAY.into()),
                ..Managed::default()
            };
            let mut w = Worker::default();
            let fx = w.update(Event::WorkerStarted);
            assert!(
                fx.iter().any(|e| matches!(e, Effect::Subscribe(_))),
                "the companion first"
            );
            let fx = w.update(Event::SettingsLoaded {
                settings: None,
                managed: Some(team.clone()),
            });
            assert_eq!(
                fx,
                [],
                "a team's relay only stands in for a missing companion"
            );
            let fx = w.update(Event::PortClosed {
                browser_said: "Specified native messaging host not found.".into(),
            });
            assert!(
                !fx.iter()
                    .any(|e| matches!(e, Effect::ReconnectAfter { .. })),
                "{fx:?}"
            );
            assert_eq!(follow_of(&fx)[0].1, format!("{RELAY}/v1/events"));
            assert!(
                !fx.contains(&Effect::ClosePort),
                "that port is already closed"
            );

            // The popup: the companion's list fails the same way, the relay answers.
            let (mut popup, fx) = popup_with(Stored {
                managed: Some(team),
                ..Stored::default()
            });
            let id = fx
                .iter()
                .find_map(|e| match e {
                    Effect::Send(r) => Some(r.id),
                    _ => None,
                })
                .unwrap();
            let fx = popup.update(Event::Answered {
                id,
                reply: Err(LocalError::unreachable(
                    "Specified native messaging host not found.",
                )),
            });
            let fetch = fetch_of(&fx);
            assert_eq!(fetch[0].1, format!("{RELAY}/v1/previews"));
            assert_eq!(popup.state().config.relay.as_deref(), Some(RELAY));
            // Stale on a relay: shown as it is, no refresh asked of anyone.
            let fx = popup.update(Event::Fetched {
                id: fetch[0].0,
                answer: Ok(list_body(&[fe(4)], "1-0", true)),
            });
            assert!(fetch_of(&fx).is_empty() && !fx.iter().any(|e| matches!(e, Effect::Send(_))));
            assert_eq!(prs(&popup), [4]);
            // Nor the environments: they need the companion this browser does not have.
            assert_eq!(
                popup.envs().failed,
                Some(crate::worker::no_local_companion())
            );
            let view = crate::view::view(popup.state(), english());
            assert!(
                view.source
                    .as_deref()
                    .unwrap()
                    .contains("Sync and refresh need the local companion"),
                "{view:?}"
            );
        }

        #[test]
        fn changing_the_setting_moves_the_worker_between_sources() {
            let (mut w, _) = following(&[fe(1)]);
            let fx = w.update(Event::SettingsChanged);
            assert_eq!(fx, vec![Effect::LoadSettings]);
            let fx = w.update(Event::SettingsLoaded {
                settings: None,
                managed: None,
            });
            assert_eq!(fx[0], Effect::Unfollow, "{fx:?}");
            assert!(matches!(&fx[1], Effect::Subscribe(_)), "{fx:?}");
            assert_eq!(w.state().config.relay, None);
            // Port words count again; stream words no longer do.
            let fx = w.update(Event::PortMessage(Ok(Reply::Error(
                protocol::messages::ErrorReply {
                    id: None,
                    error: protocol::messages::ErrorBody {
                        code: protocol::messages::ErrorCode::Config,
                        message: "no server".into(),
                        fix: "configure one".into(),
                    },
                },
            ))));
            assert!(!fx.is_empty());
            let fx = w.update(Event::SettingsLoaded {
                settings: Some(with_relay()),
                managed: None,
            });
            assert_eq!(fx[0], Effect::ClosePort, "{fx:?}");
            assert_eq!(
                follow_of(&fx)[0].2,
                None,
                "a new relay: read the list first"
            );
        }

        #[test]
        fn the_popup_on_a_relay_fetches_and_names_the_relay_in_its_failures() {
            let (mut popup, fx) = popup_with(Stored {
                settings: Some(with_relay()),
                ..Stored::default()
            });
            assert!(!fx.iter().any(|e| matches!(e, Effect::Send(_))), "{fx:?}");
            let view = crate::view::view(popup.state(), english());
            assert_eq!(
                view.notice.as_ref().map(|n| n.text.as_str()),
                Some("Asking the team relay for previews…")
            );
            let fetch = fetch_of(&fx);
            popup.update(Event::Fetched {
                id: fetch[0].0,
                answer: Ok(http(401, r#"{"code":"unauthenticated","message":"the team relay needs you to sign in: the request carried no credentials","fix":"sign in through your team's single sign-on: open the relay's address in a browser tab, then try again"}"#)),
            });
            let notice = crate::view::view(popup.state(), english()).notice.unwrap();
            assert_eq!(
                notice.text,
                "The team relay failed (unauthenticated): the team relay needs you to sign in: the request carried no credentials"
            );
            assert!(notice.detail.unwrap().starts_with("sign in through"));
            assert_eq!(
                notice.command.as_deref(),
                Some(RELAY),
                "the address to open"
            );
        }
    }
}
