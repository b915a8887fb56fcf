//! The worker's decisions, natively: what the popup and the service worker ask of the
//! companion and the browser, for each answer they get.

use protocol::install::InstallMethod;
use protocol::messages::{
    Change, ChangeKind, ErrorCode, HelloReply, ListReply, PreviewsChanged, Subscribed, Unsubscribed,
};

use super::listing::tests::error;
use super::*;
use crate::i18n::testing::english;
use crate::state::tests::{fe, preview};
use crate::state::{Applied, Companion};

/// One update; no state `RequestList` ever reaches `web/`.
fn run(w: &mut Worker, event: impl Into<Event>) -> Vec<Effect> {
    let fx = w.update(event.into());
    assert!(
        !fx.iter()
            .any(|e| matches!(e, Effect::State(state::Effect::RequestList))),
        "{fx:?}"
    );
    fx
}

/// The listing's requests sent (the environments' own, `envs` and `app_links`, are
/// checked in `envs_tests`).
fn sent(fx: &[Effect]) -> Vec<&Request> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Send(r) => Some(r),
            _ => None,
        })
        .filter(|r| !matches!(r.body, RequestBody::Envs { .. } | RequestBody::AppLinks(_)))
        .collect()
}

/// The id of the one request sent, checking its body.
fn one_sent(fx: &[Effect], body: RequestBody) -> u64 {
    let sent = sent(fx);
    assert_eq!(sent.len(), 1, "{fx:?}");
    assert_eq!(sent[0].body, body);
    sent[0].id
}

fn list(cursor: Option<&str>) -> RequestBody {
    RequestBody::List {
        host: None,
        cursor: cursor.map(str::to_string),
    }
}

fn page(previews: Vec<Preview>, next: Option<&str>, stale: bool) -> Reply {
    Reply::List(ListReply {
        id: 0,
        total: previews.len() as u64,
        previews,
        next_cursor: next.map(str::to_string),
        fetched_at_ms: 1_795_000_000_000,
        age_ms: 42_000,
        stale,
        refreshing: false,
        failures: vec![],
    })
}

fn prs(w: &Worker) -> Vec<u64> {
    w.state().previews().iter().map(|p| p.pr).collect()
}

fn remembered(fx: &[Effect]) -> Vec<Vec<u64>> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::RememberList(c) => Some(c.previews.iter().map(|p| p.pr).collect()),
            _ => None,
        })
        .collect()
}

/// A popup opened on tab 7 at `https://app.test/`.
fn popup(stored: Stored, brands: Vec<String>) -> (Worker, Vec<Effect>) {
    let mut w = Worker::default();
    let fx = run(
        &mut w,
        Event::PopupStarted {
            tab: Some(TabInfo {
                id: 7,
                url: "https://app.test/".into(),
            }),
            stored: Box::new(stored),
            brands,
            platform: "Linux x86_64".into(),
            now_ms: 1_795_000_600_000,
        },
    );
    (w, fx)
}

fn answer(w: &mut Worker, id: u64, reply: Reply) -> Vec<Effect> {
    run(
        w,
        Event::Answered {
            id,
            reply: Ok(reply),
        },
    )
}

#[test]
fn the_popup_shows_the_cached_list_at_once_then_the_companions() {
    let (mut w, fx) = popup(
        Stored {
            settings: Some(Settings {
                github_hosts: vec!["git.corp.test".into()],
                cookie_lifetime_hours: Some(2),
                ..Settings::default()
            }),
            last_list: Some(CachedList {
                previews: vec![fe(1)],
                fetched_at_ms: 1_795_000_000_000,
            }),
            managed: None,
            access_granted: None,
        },
        vec!["Chromium".into(), "Microsoft Edge".into()],
    );
    let id = one_sent(&fx, list(None));
    assert_eq!(
        w.state().companion,
        Companion::Ready {
            previews: vec![fe(1)],
            age_secs: 600,
            stale: true
        },
        "the cached rows, with their age"
    );
    assert!(w.state().refreshing);
    assert_eq!(w.state().browser, "edge");
    assert_eq!(w.state().config.cookie_lifetime_secs, 2 * 3600);
    assert!(
        w.state()
            .config
            .github_hosts
            .contains(&"git.corp.test".into())
    );

    let fx = answer(&mut w, id, page(vec![fe(1), fe(2)], None, false));
    assert_eq!(prs(&w), [1, 2]);
    assert!(!w.state().refreshing);
    assert_eq!(remembered(&fx), [vec![1, 2]]);
    assert!(sent(&fx).is_empty(), "a fresh list ends it");
}

#[test]
fn pages_are_followed_by_their_cursor_and_an_expired_cursor_restarts_once() {
    let (mut w, fx) = popup(Stored::default(), vec![]);
    let id = one_sent(&fx, list(None));
    let fx = answer(&mut w, id, page(vec![fe(1)], Some("c-2"), false));
    let next = one_sent(&fx, list(Some("c-2")));
    assert_ne!(next, id, "every request has its own id");
    assert_eq!(
        w.state().companion,
        Companion::Loading,
        "nothing shown before the last page"
    );
    assert_eq!(
        answer(&mut w, id, page(vec![fe(9)], None, false)),
        vec![],
        "an answer to a request already answered is dropped"
    );
    // A refresh replaced the data between two pages: from the start, once.
    let fx = answer(&mut w, next, error(ErrorCode::CursorExpired));
    let again = one_sent(&fx, list(None));
    let fx = answer(&mut w, again, page(vec![fe(3)], Some("c-4"), false));
    let last = one_sent(&fx, list(Some("c-4")));
    answer(&mut w, last, page(vec![fe(4)], None, false));
    assert_eq!(prs(&w), [3, 4], "the pages before the restart are dropped");

    // A second expiry in one listing is shown, not retried.
    let (mut w, fx) = popup(Stored::default(), vec![]);
    let id = one_sent(&fx, list(None));
    let fx = answer(&mut w, id, error(ErrorCode::CursorExpired));
    let id = one_sent(&fx, list(None));
    let fx = answer(&mut w, id, error(ErrorCode::CursorExpired));
    assert!(sent(&fx).is_empty());
    let notice = crate::view::view(w.state(), english()).notice.unwrap();
    assert_eq!(
        notice.text,
        "The companion failed (cursor_expired): cursor_expired happened"
    );
}

#[test]
fn a_stale_list_is_shown_then_refreshed_once() {
    let (mut w, fx) = popup(Stored::default(), vec![]);
    let id = one_sent(&fx, list(None));
    let fx = answer(&mut w, id, page(vec![fe(1)], None, true));
    let refresh = one_sent(&fx, RequestBody::Refresh { host: None });
    assert_eq!(
        w.state().companion,
        Companion::Ready {
            previews: vec![fe(1)],
            age_secs: 42,
            stale: true
        }
    );
    assert!(w.state().refreshing);
    assert_eq!(remembered(&fx), [vec![1]]);
    // The refresh comes back stale too (Argo CD unreachable, cache kept): no loop.
    let fx = answer(&mut w, refresh, page(vec![fe(1), fe(2)], None, true));
    assert!(sent(&fx).is_empty(), "{fx:?}");
    assert_eq!(prs(&w), [1, 2]);
    assert!(!w.state().refreshing);

    // A refresh that fails leaves the stale list shown, and says why beside it.
    let (mut w, fx) = popup(Stored::default(), vec![]);
    let id = one_sent(&fx, list(None));
    let fx = answer(&mut w, id, page(vec![fe(1)], None, true));
    let refresh = one_sent(&fx, RequestBody::Refresh { host: None });
    answer(&mut w, refresh, error(ErrorCode::ArgocdUnauthorized));
    assert_eq!(prs(&w), [1]);
    assert_eq!(
        w.state().refresh_error.as_ref().and_then(|f| f.code()),
        Some(ErrorCode::ArgocdUnauthorized)
    );
}

#[test]
fn a_companion_that_cannot_be_reached_or_read_is_shown_typed() {
    let (mut w, fx) = popup(Stored::default(), vec![]);
    let id = one_sent(&fx, list(None));
    run(
        &mut w,
        Event::Answered {
            id,
            reply: Err(LocalError::NotInstalled {
                browser_said: "Specified native messaging host not found".into(),
            }),
        },
    );
    assert!(matches!(
        w.state().companion,
        Companion::Failed(Failure::Local(LocalError::NotInstalled { .. }))
    ));

    // A reply it cannot read is shown as such when the companion speaks this protocol.
    let (mut w, fx) = popup(Stored::default(), vec![]);
    let id = one_sent(&fx, list(None));
    let fx = answer(&mut w, id, Reply::Unsubscribed(Unsubscribed { id: 1 }));
    let hello = one_sent(&fx, hello_request());
    answer(&mut w, hello, hello_reply(PROTOCOL_VERSION, None));
    assert_eq!(
        w.state().companion,
        Companion::Failed(Failure::Local(LocalError::Unreadable {
            detail: "expected a list, got unsubscribed".into()
        }))
    );
}

fn hello_request() -> RequestBody {
    RequestBody::Hello {
        protocol: PROTOCOL_VERSION,
        extension_version: Some(env!("CARGO_PKG_VERSION").into()),
    }
}

fn hello_reply(protocol: u32, installed: Option<InstallMethod>) -> Reply {
    Reply::Hello(Box::new(HelloReply {
        id: 0,
        protocol,
        companion_version: "0.0.9".into(),
        capabilities: vec!["list".into()],
        servers: vec![],
        installed,
    }))
}

/// A list that an older companion does not understand (or whose answer this extension
/// cannot read) is explained by `hello`: the popup names both versions and the upgrade
/// command for how the companion was installed, instead of a generic error.
#[test]
fn a_companion_of_another_protocol_is_named_with_its_upgrade_command() {
    let (mut w, fx) = popup(Stored::default(), vec![]);
    let id = one_sent(&fx, list(None));
    let fx = answer(&mut w, id, error(ErrorCode::UnknownType));
    assert_eq!(w.state().companion, Companion::Loading, "held for hello");
    let hello = one_sent(&fx, hello_request());
    answer(
        &mut w,
        hello,
        hello_reply(PROTOCOL_VERSION - 1, Some(InstallMethod::Deb)),
    );
    let Companion::Failed(Failure::Local(e)) = &w.state().companion else {
        panic!("{:?}", w.state().companion)
    };
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        e.message().render(english()),
        format!(
            "the companion (preview-switch 0.0.9, protocol {}) is older than this extension {version} needs (protocol {PROTOCOL_VERSION})",
            PROTOCOL_VERSION - 1
        )
    );
    assert_eq!(
        e.upgrade_command(),
        Some(format!(
            "sudo apt install ./preview-switch_{version}-1_amd64.deb"
        ))
    );
    let fix = e.fix().unwrap().render(english());
    assert!(fix.contains("the Debian package"), "{fix}");

    // Newer: the extension is the one to update, and no companion command is offered.
    let (mut w, fx) = popup(Stored::default(), vec![]);
    let id = one_sent(&fx, list(None));
    let fx = run(
        &mut w,
        Event::Answered {
            id,
            reply: Err(LocalError::Unreadable {
                detail: "unknown field `pages`".into(),
            }),
        },
    );
    let hello = one_sent(&fx, hello_request());
    answer(
        &mut w,
        hello,
        hello_reply(
            PROTOCOL_VERSION + 1,
            Some(InstallMethod::Tarball {
                platform: "x86_64-linux".into(),
            }),
        ),
    );
    let Companion::Failed(Failure::Local(e)) = &w.state().companion else {
        panic!("{:?}", w.state().companion)
    };
    let said = e.text().render(english());
    assert!(said.contains("is newer than this extension"), "{said}");
    assert_eq!(e.upgrade_command(), None);
    assert!(
        e.fix()
            .unwrap()
            .render(english())
            .starts_with("update this extension to 0.0.9"),
        "{said}"
    );

    // An error a protocol difference does not explain is shown at once, without hello.
    let (mut w, fx) = popup(Stored::default(), vec![]);
    let id = one_sent(&fx, list(None));
    let fx = answer(&mut w, id, error(ErrorCode::ArgocdUnauthorized));
    assert!(sent(&fx).is_empty(), "{fx:?}");
    assert!(matches!(
        w.state().companion,
        Companion::Failed(Failure::Companion(_))
    ));
}

fn changed(changes: Vec<(ChangeKind, Preview)>) -> Event {
    Event::PortMessage(Ok(Reply::PreviewsChanged(PreviewsChanged {
        subscription: 1,
        changes: changes
            .into_iter()
            .map(|(change, preview)| Change { change, preview })
            .collect(),
        fetched_at_ms: 1_795_000_100_000,
        failures: vec![],
    })))
}

fn subscribed() -> Event {
    Event::PortMessage(Ok(Reply::Subscribed(Subscribed {
        id: 1,
        subscription: 1,
    })))
}

/// A service worker started: it subscribes to the companion at once (its subscription
/// is the first thing that lists), and the default settings change nothing.
fn start_worker(w: &mut Worker) -> Vec<Effect> {
    let fx = run(w, Event::WorkerStarted);
    assert_eq!(fx[0], Effect::LoadSettings);
    let settled = run(
        w,
        Event::SettingsLoaded {
            settings: None,
            managed: None,
        },
    );
    assert_eq!(settled, [], "the companion it follows already");
    fx[1..].to_vec()
}

/// A service worker subscribed and seeded with `previews`.
fn seeded(previews: Vec<Preview>) -> Worker {
    let mut w = Worker::default();
    let fx = start_worker(&mut w);
    assert!(matches!(&fx[0], Effect::Subscribe(r) if r.body == RequestBody::Subscribe));
    let fx = run(&mut w, subscribed());
    let id = one_sent(&fx, list(None));
    answer(&mut w, id, page(previews, None, false));
    w
}

#[test]
fn a_new_subscription_holds_its_events_until_the_seed_is_in() {
    let mut w = Worker::default();
    start_worker(&mut w);
    // The companion's first event is a diff from its disk cache: PR 2 deleted.
    let fx = run(&mut w, changed(vec![(ChangeKind::Deleted, fe(2))]));
    assert!(
        !fx.iter().any(|e| matches!(
            e,
            Effect::State(state::Effect::LoadApplied) | Effect::RememberList(_)
        )),
        "held: {fx:?}"
    );
    assert_eq!(prs(&w), Vec::<u64>::new());
    let fx = run(&mut w, subscribed());
    let id = one_sent(&fx, list(None));
    let fx = answer(&mut w, id, page(vec![fe(1), fe(2)], None, false));
    assert_eq!(prs(&w), [1], "the held deletion applies on top of the seed");
    assert_eq!(remembered(&fx), [vec![1]]);
    let fx = run(&mut w, changed(vec![(ChangeKind::Added, fe(3))]));
    assert_eq!(prs(&w), [1, 3], "seeded: events pass");
    assert_eq!(remembered(&fx), [vec![1, 3]]);
}

#[test]
fn a_seed_of_a_replaced_subscription_does_not_release_the_new_ones_events() {
    let mut w = Worker::default();
    start_worker(&mut w);
    let fx = run(&mut w, subscribed());
    let old_seed = one_sent(&fx, list(None));
    run(
        &mut w,
        Event::PortClosed {
            browser_said: "Native host has exited.".into(),
        },
    );
    let fx = run(&mut w, Event::ReconnectDue);
    assert!(matches!(&fx[..], [Effect::Subscribe(r)] if r.body == RequestBody::Subscribe));
    assert_eq!(
        answer(&mut w, old_seed, page(vec![fe(1), fe(2)], None, false)),
        vec![]
    );
    run(&mut w, changed(vec![(ChangeKind::Deleted, fe(2))]));
    assert_eq!(prs(&w), Vec::<u64>::new(), "still held");
    let fx = run(&mut w, subscribed());
    let id = one_sent(&fx, list(None));
    answer(&mut w, id, page(vec![fe(1), fe(2)], None, false));
    assert_eq!(prs(&w), [1]);
}

#[test]
fn a_closed_port_is_reopened_after_a_pause_doubling_to_a_minute() {
    let mut w = Worker::default();
    start_worker(&mut w);
    let mut pauses = Vec::new();
    for _ in 0..9 {
        let fx = run(
            &mut w,
            Event::PortClosed {
                browser_said: "Native host has exited.".into(),
            },
        );
        let [Effect::Warn(warning), Effect::ReconnectAfter { ms }] = &fx[..] else {
            panic!("{fx:?}")
        };
        assert!(warning.contains("Native host has exited"), "{warning}");
        pauses.push(*ms);
        let fx = run(&mut w, Event::ReconnectDue);
        assert!(matches!(&fx[..], [Effect::Subscribe(_)]), "{fx:?}");
    }
    assert_eq!(
        pauses,
        [
            1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000
        ]
    );
    // Any message proves the companion is back: the next pause is short again.
    run(&mut w, subscribed());
    let fx = run(
        &mut w,
        Event::PortClosed {
            browser_said: String::new(),
        },
    );
    assert_eq!(fx[1], Effect::ReconnectAfter { ms: 1_000 });
}

fn applied(service: &str, pr: u64, name: &str, host: &str) -> Applied {
    Applied {
        service: service.into(),
        pr,
        name: name.into(),
        value: pr.to_string(),
        hosts: vec![host.into()],
        https: true,
    }
}

fn has(fx: &[Effect], wanted: &state::Effect) -> bool {
    fx.contains(&Effect::State(wanted.clone()))
}

fn read_cookies(host: &str) -> state::Effect {
    state::Effect::ReadCookies {
        url: format!("https://{host}/"),
        host: host.into(),
    }
}

/// Answers the reads of the tab the state follows; returns the effects of all three.
fn answer_reads(w: &mut Worker, host: &str, applied: Vec<Applied>) -> Vec<Effect> {
    let mut fx = run(w, state::Event::AppliedLoaded { applied });
    fx.extend(run(w, state::Event::RulesRead { rules: vec![] }));
    fx.extend(run(
        w,
        state::Event::CookiesRead {
            host: host.into(),
            cookies: vec![],
        },
    ));
    fx
}

fn badges(fx: &[Effect]) -> Vec<(i32, String)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::State(state::Effect::SetBadge { tab_id, text, .. }) => {
                Some((*tab_id, text.clone()))
            }
            _ => None,
        })
        .collect()
}

/// A worker that just cleaned up PR 123 of courses-fe, and the effects of that.
fn cleaned_up(records: Vec<Applied>) -> (Worker, Vec<Effect>) {
    let mut w = seeded(vec![
        fe(123),
        preview("api", 45, "team-api-pr", &["api.test"]),
    ]);
    run(&mut w, changed(vec![(ChangeKind::Deleted, fe(123))]));
    run(&mut w, state::Event::RulesRead { rules: vec![] });
    let fx = run(&mut w, state::Event::AppliedLoaded { applied: records });
    (w, fx)
}

#[test]
fn after_a_cleanup_the_worker_badges_every_open_web_tab_in_turn() {
    let (mut w, fx) = cleaned_up(vec![applied(
        "courses-fe",
        123,
        "team-courses-fe-pr",
        "app.test",
    )]);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::State(state::Effect::Notify { .. })))
    );
    assert_eq!(
        fx.iter().filter(|e| **e == Effect::QueryTabs).count(),
        1,
        "{fx:?}"
    );
    let tab = |id, url: &str| TabInfo {
        id,
        url: url.into(),
    };
    let fx = run(
        &mut w,
        Event::TabsListed(vec![
            tab(1, "https://app.test/"),
            tab(2, "chrome://newtab/"),
            tab(3, "https://www.app.test/"),
        ]),
    );
    assert!(has(&fx, &read_cookies("app.test")), "{fx:?}");
    assert!(
        !has(&fx, &read_cookies("www.app.test")),
        "one tab at a time"
    );
    // Tab 1's cookies, rules and records read: its badge, then tab 3 (tab 2 is no web page).
    let fx = answer_reads(&mut w, "app.test", vec![]);
    assert_eq!(badges(&fx), [(1, String::new())]);
    assert!(has(&fx, &read_cookies("www.app.test")), "{fx:?}");
    let fx = answer_reads(&mut w, "www.app.test", vec![]);
    assert_eq!(badges(&fx), [(3, String::new())]);
    assert!(
        !fx.iter().any(|e| matches!(
            e,
            Effect::QueryTabs | Effect::State(state::Effect::ReadCookies { .. })
        )),
        "the walk is over: {fx:?}"
    );
}

#[test]
fn a_read_that_failed_moves_the_walk_on() {
    let (mut w, _) = cleaned_up(vec![applied(
        "courses-fe",
        123,
        "team-courses-fe-pr",
        "app.test",
    )]);
    run(
        &mut w,
        Event::TabsListed(vec![
            TabInfo {
                id: 1,
                url: "https://app.test/".into(),
            },
            TabInfo {
                id: 3,
                url: "https://api.test/".into(),
            },
        ]),
    );
    let fx = run(
        &mut w,
        state::Event::EffectFailed(LocalError::Browser {
            call: BrowserCall::ReadCookies {
                url: "https://app.test/".into(),
            },
            error: "No tab with id: 1".into(),
        }),
    );
    assert!(has(&fx, &read_cookies("api.test")), "{fx:?}");
}

#[test]
fn a_cleanup_during_the_walk_walks_again_and_the_popup_never_walks() {
    let records = vec![
        applied("courses-fe", 123, "team-courses-fe-pr", "app.test"),
        applied("api", 45, "team-api-pr", "api.test"),
    ];
    let (mut w, _) = cleaned_up(records.clone());
    run(
        &mut w,
        Event::TabsListed(vec![TabInfo {
            id: 1,
            url: "https://app.test/".into(),
        }]),
    );
    // While tab 1 is read, the api preview goes too.
    run(
        &mut w,
        changed(vec![(
            ChangeKind::Deleted,
            preview("api", 45, "team-api-pr", &["api.test"]),
        )]),
    );
    let fx = answer_reads(&mut w, "app.test", vec![records[1].clone()]);
    assert!(fx.iter().any(
        |e| matches!(e, Effect::State(state::Effect::Notify { title, .. }) if title.render(english()) == "api PR 45 is gone")
    ));
    assert_eq!(
        fx.iter().filter(|e| **e == Effect::QueryTabs).count(),
        1,
        "tabs visited before this cleanup get another look: {fx:?}"
    );

    // The popup cleans up too, but only the worker walks the tabs.
    let (mut popup, fx) = popup(Stored::default(), vec![]);
    let id = one_sent(&fx, list(None));
    answer_reads(
        &mut popup,
        "app.test",
        vec![applied("courses-fe", 123, "team-courses-fe-pr", "app.test")],
    );
    let fx = answer(&mut popup, id, page(vec![fe(124)], None, false));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::State(state::Effect::Notify { .. })))
    );
    assert!(!fx.contains(&Effect::QueryTabs), "{fx:?}");
}

#[test]
fn errors_on_the_port_reach_the_state() {
    let mut w = seeded(vec![fe(1)]);
    run(&mut w, Event::PortMessage(Ok(error(ErrorCode::Config))));
    assert_eq!(
        crate::view::view(w.state(), english()).notice.unwrap().text,
        "The companion failed (config): config happened"
    );
    run(
        &mut w,
        Event::PortMessage(Err(LocalError::Unreadable {
            detail: "missing field `changes`".into(),
        })),
    );
    assert!(matches!(
        w.state().companion,
        Companion::Failed(Failure::Local(LocalError::Unreadable { .. }))
    ));
}

/// Chromium closes the popup for its permission prompt, so nothing in the popup sees the
/// grant: the service worker finds the stored waiting choice, marks it granted and reopens
/// the popup, which applies it once the tab's routing is read. Unrelated grants, old
/// requests, and a popup still open (it finishes the choice itself) start nothing.
#[test]
fn access_granted_after_the_popup_closed_is_finished_by_a_reopened_popup() {
    let awaiting = state::AwaitingAccess {
        service: "courses-fe".into(),
        choice: state::Choice::Domain { pr: 1 },
        then: state::Then::Stay,
        hosts: vec!["app.test".into(), "www.app.test".into()],
        tab_id: 7,
        since_secs: 1_795_000_590,
    };
    let mut bg = Worker::default();
    run(&mut bg, Event::WorkerStarted);
    let granted = vec!["https://app.test/*".into(), "*://*.app.test/*".into()];
    let load = |bg: &mut Worker, origins: Vec<String>, awaiting, now_ms, popup_open| {
        assert_eq!(
            run(bg, Event::PermissionsAdded { origins }),
            vec![Effect::LoadAwaiting]
        );
        run(
            bg,
            Event::AwaitingLoaded {
                awaiting,
                now_ms,
                popup_open,
            },
        )
    };
    let now = 1_795_000_600_000;
    let other = vec!["https://other.test/*".to_string()];
    for (origins, stored, now_ms, popup_open) in [
        (other, Some(awaiting.clone()), now, false),
        (granted.clone(), None, now, false),
        (
            granted.clone(),
            Some(awaiting.clone()),
            now + 200_000,
            false,
        ),
        (granted.clone(), Some(awaiting.clone()), now, true),
    ] {
        assert_eq!(load(&mut bg, origins, stored, now_ms, popup_open), vec![]);
    }
    assert_eq!(
        load(&mut bg, granted, Some(awaiting.clone()), now, false),
        vec![
            Effect::GrantAwaiting(awaiting.clone()),
            Effect::OpenPopup { tab_id: 7 }
        ]
    );

    // The reopened popup finds it and applies it once the tab's routing is read.
    let (mut w, fx) = popup(
        Stored {
            access_granted: Some(awaiting),
            ..Stored::default()
        },
        vec![],
    );
    let id = one_sent(&fx, list(None));
    answer(&mut w, id, page(vec![fe(1)], None, false));
    run(&mut w, state::Event::AppliedLoaded { applied: vec![] });
    run(&mut w, state::Event::RulesRead { rules: vec![] });
    let fx = run(
        &mut w,
        state::Event::CookiesRead {
            host: "app.test".into(),
            cookies: vec![],
        },
    );
    assert!(
        fx.contains(&Effect::State(state::Effect::RememberAwaiting(None))),
        "nothing left to resume: {fx:?}"
    );
    let set: Vec<_> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::State(state::Effect::SetCookie { url, value, .. }) => {
                Some((url.as_str(), value.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        set,
        [("https://app.test/", "1"), ("https://www.app.test/", "1")]
    );
}

mod envs_tests {
    //! The environments parts: what the popup asks once its list is in, sync after a yes,
    //! notifications shown only for routed previews or opted-in services.

    use protocol::envs::NotificationKind;
    use protocol::messages::{AppActionReply, EnvsReply};

    use super::*;

    fn envs_sent(fx: &[Effect]) -> Vec<&Request> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Send(r) => Some(r),
                _ => None,
            })
            .filter(|r| {
                matches!(
                    r.body,
                    RequestBody::Envs { .. } | RequestBody::AppLinks(_) | RequestBody::SyncApp(_)
                )
            })
            .collect()
    }

    #[test]
    fn the_popup_asks_the_environments_once_then_fresh_ones_when_stale() {
        let (mut w, fx) = popup(Stored::default(), vec![]);
        assert!(fx.contains(&Effect::LoadNotify));
        let id = one_sent(&fx, list(None));
        let fx = answer(&mut w, id, page(vec![fe(1)], None, false));
        let asked = envs_sent(&fx);
        assert_eq!(
            asked[0].body,
            RequestBody::Envs {
                service: None,
                refresh: false
            }
        );
        assert!(matches!(&asked[1].body, RequestBody::AppLinks(a) if a.app == "courses-fe-pr-1"));
        let envs_id = asked[0].id;
        let fx = answer(
            &mut w,
            envs_id,
            Reply::Envs(EnvsReply {
                id: envs_id,
                services: vec![],
                fetched_at_ms: 1,
                stale: true,
                failures: vec![],
                omitted: 0,
            }),
        );
        assert_eq!(
            envs_sent(&fx)[0].body,
            RequestBody::Envs {
                service: None,
                refresh: true
            },
            "a stale answer is followed by a fresh one"
        );
        // Another list (after a refresh) does not ask again.
        let again = run(&mut w, state::Event::Filter { text: "x".into() });
        assert!(envs_sent(&again).is_empty());
    }

    #[test]
    fn a_confirmed_sync_is_sent_and_its_outcome_shown() {
        let (mut w, _) = popup(Stored::default(), vec![]);
        let app = crate::envs::app_ref(&fe(1));
        let fx = run(
            &mut w,
            Event::Envs(crate::envs::Input::AskSync(app.clone())),
        );
        assert!(envs_sent(&fx).is_empty(), "nothing before the yes");
        let fx = run(&mut w, Event::Envs(crate::envs::Input::ConfirmSync));
        let sync = envs_sent(&fx);
        assert_eq!(sync[0].body, RequestBody::SyncApp(app.clone()));
        let id = sync[0].id;
        answer(
            &mut w,
            id,
            Reply::AppAction(Box::new(AppActionReply {
                id,
                action: AppAction::Sync,
                server: app.server.clone(),
                namespace: app.namespace.clone(),
                app: app.app.clone(),
                sync: None,
                health: None,
                revision: None,
                message: "sync of courses-fe-pr-1 started".into(),
            })),
        );
        let shown = crate::envs::actions(w.envs(), &[&fe(1)], english());
        assert_eq!(
            shown[0].outcome,
            Some(("sync of courses-fe-pr-1 started".into(), false))
        );
    }

    fn note(pr: u64) -> Notification {
        Notification {
            subscription: 1,
            kind: NotificationKind::Deployed,
            server: "https://argocd.dev".into(),
            namespace: "argocd".into(),
            app: format!("courses-fe-pr-{pr}"),
            service: "courses-fe".into(),
            pr: Some(pr),
            env: "dev".into(),
            revision: Some("abc".into()),
            title: "courses-fe PR 1 deployed".into(),
            message: "courses-fe PR 1 now runs abc".into(),
            link: Some(format!(
                "https://argocd.dev/applications/argocd/courses-fe-pr-{pr}"
            )),
            key: format!("deployed|https://argocd.dev|argocd|courses-fe-pr-{pr}|abc"),
        }
    }

    #[test]
    fn the_worker_notifies_routed_previews_and_a_click_opens_argo_cd() {
        let mut w = Worker::default();
        run(&mut w, Event::WorkerStarted);
        run(
            &mut w,
            state::Event::AppliedLoaded {
                applied: vec![Applied {
                    service: "courses-fe".into(),
                    pr: 1,
                    name: "team-courses-fe-pr".into(),
                    value: "1".into(),
                    hosts: vec!["app.test".into()],
                    https: false,
                }],
            },
        );
        for pr in [1, 2] {
            let fx = run(
                &mut w,
                Event::PortMessage(Ok(Reply::Notification(Box::new(note(pr))))),
            );
            assert!(fx.contains(&Effect::LoadNotify));
        }
        let fx = run(&mut w, Event::NotifyLoaded(vec![]));
        let shown: Vec<&Effect> = fx
            .iter()
            .filter(|e| matches!(e, Effect::ShowNotification { .. }))
            .collect();
        assert_eq!(shown.len(), 1, "only the routed PR 1: {fx:?}");
        let Effect::ShowNotification { id, message, .. } = shown[0] else {
            unreachable!()
        };
        assert_eq!(message, "courses-fe PR 1 now runs abc");
        let fx = run(&mut w, Event::NotificationClicked(id.clone()));
        assert_eq!(
            fx,
            [Effect::State(state::Effect::OpenTab {
                url: "https://argocd.dev/applications/argocd/courses-fe-pr-1".into()
            })]
        );
        // Opting in the service shows its other previews (and environments) too.
        run(
            &mut w,
            Event::PortMessage(Ok(Reply::Notification(Box::new(note(2))))),
        );
        let fx = run(&mut w, Event::NotifyLoaded(vec!["courses-fe".into()]));
        assert_eq!(
            fx.iter()
                .filter(|e| matches!(e, Effect::ShowNotification { .. }))
                .count(),
            1
        );
    }
}

/// Regression (the relay's merge with deploy notifications): the worker waited for its
/// settings before subscribing, so a tab's `list` could fill the companion's disk cache
/// first; the subscription then started from that cache, saw no preview for the first
/// time, and the next redeploy counted as a first sighting, which is never notified.
#[test]
fn the_service_worker_subscribes_before_anything_lists() {
    let mut w = Worker::default();
    let fx = run(&mut w, Event::WorkerStarted);
    assert!(
        matches!(&fx[..], [Effect::LoadSettings, Effect::Subscribe(r)] if r.body == RequestBody::Subscribe),
        "{fx:?}"
    );
}
