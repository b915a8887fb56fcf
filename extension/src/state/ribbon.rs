//! The page ribbon's decisions (issue 14 §4): when a page finishes loading in a tab the
//! extension routed, whether to show "courses-fe PR 123 · back to dev" on it, and what its
//! two buttons may do. Shown only for services this extension routed there (the tab's own
//! rule, or the domain cookie its records say it set; never a cookie set by hand), as the
//! page-marker setting allows (`domain`: the domain cookie only; `always`: tab rules too),
//! on hosts the browser already lets it reach (asked with [`Effect::CheckAccess`], never
//! requested), and not for a service the user hid in that tab until it is routed there
//! again. The ribbon's messages are trusted only from the script the worker injected into
//! the tab's top frame ([`message_event`]), and *back to dev* only for a service this
//! extension routes there when the routing is read again.

use serde::Serialize;

use super::{Active, Choice, Companion, Effect, Event, State, Tab, Then, parse_web_url};
use crate::i18n::{Catalogue, Text};
use crate::settings::PageMarker;
use crate::text;

/// The ribbon for one page: a line per service routing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ribbon {
    /// The page's host: the script shows nothing on a page of another (the tab moved on).
    pub host: String,
    pub lines: Vec<RibbonLine>,
}

/// "courses-fe PR 123", with how it is routed (its tooltip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RibbonLine {
    pub service: String,
    pub pr: u64,
    pub label: Text,
    pub status: Text,
}

/// The ribbon as `ribbon.js` takes it: every word already in the user's language, put into
/// the page with `textContent` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Words {
    pub host: String,
    pub title: String,
    pub back: String,
    pub dismiss: String,
    pub lines: Vec<WordsLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WordsLine {
    pub service: String,
    pub label: String,
    pub status: String,
}

impl Ribbon {
    pub fn words(&self, cat: &dyn Catalogue) -> Words {
        Words {
            host: self.host.clone(),
            title: text!("ext_name").render(cat),
            back: text!("action_back_to_dev").render(cat),
            dismiss: text!("ribbon_dismiss").render(cat),
            lines: self
                .lines
                .iter()
                .map(|l| WordsLine {
                    service: l.service.clone(),
                    label: l.label.render(cat),
                    status: l.status.render(cat),
                })
                .collect(),
        }
    }
}

/// Who sent a runtime message, as the browser says (`runtime.MessageSender`, the fields
/// read; all may be absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sender {
    pub id: Option<String>,
    pub tab: Option<SenderTab>,
    pub frame_id: Option<i64>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SenderTab {
    pub id: Option<i32>,
    pub url: Option<String>,
}

/// What `ribbon.js` sends: `{previewSwitchRibbon: "back_to_dev" | "dismissed", service}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `previewSwitchRibbon`.
    pub kind: String,
    pub service: String,
}

/// The longest service name a ribbon message may carry (it is stored per tab when hidden).
const MAX_SERVICE_BYTES: usize = 256;

/// The event a ribbon message stands for, when it comes from the script this extension
/// injected into a tab: sent by this extension (`own_id`; a web page has no channel to
/// `runtime.onMessage` at all, since the manifest opens none: `tests/hostile.rs`), from a
/// tab's top frame showing a web page of the tab's host (a content script:
/// the extension's own pages are not web pages, and the ribbon is the only script it puts
/// into pages). Anything else is dropped. The service it names is data: *back to dev*
/// applies only if that service is routed there by this extension ([`State`]).
pub fn message_event(own_id: &str, sender: &Sender, message: &Message) -> Option<Event> {
    if sender.id.as_deref() != Some(own_id) || sender.frame_id != Some(0) {
        return None;
    }
    let tab = sender.tab.as_ref()?;
    let (tab_id, tab_url) = (tab.id?, tab.url.as_deref()?);
    let (_, tab_host) = parse_web_url(tab_url)?;
    let (_, page_host) = parse_web_url(sender.url.as_deref()?)?;
    let service = message.service.clone();
    if page_host != tab_host || service.is_empty() || service.len() > MAX_SERVICE_BYTES {
        return None;
    }
    match message.kind.as_str() {
        "back_to_dev" => Some(Event::RibbonBackToDev {
            tab_id,
            url: tab_url.to_owned(),
            service,
        }),
        "dismissed" => Some(Event::RibbonDismissed { tab_id, service }),
        _ => None,
    }
}

/// The stored list of services hidden in a tab after hiding (`hidden`) or showing `service`
/// again; `None` when it does not change (nothing to write).
pub fn merge_hidden(stored: Vec<String>, service: &str, hidden: bool) -> Option<Vec<String>> {
    let has = stored.iter().any(|s| s == service);
    match (has, hidden) {
        (false, true) => {
            let mut out = stored;
            out.push(service.to_owned());
            Some(out)
        }
        (true, false) => Some(stored.into_iter().filter(|s| s != service).collect()),
        _ => None,
    }
}

impl State {
    /// A page finished loading in a tab (the worker): its badge as for
    /// [`Event::TabUpdated`], and its ribbon once its routing and hidden services are read.
    pub(super) fn page_loaded(&mut self, tab_id: i32, url: String) -> Vec<Effect> {
        self.ribbon_access.retain(|(t, ..)| *t != tab_id);
        self.ribbon_due.retain(|(t, _)| *t != tab_id);
        if self.config.page_marker == PageMarker::Off || parse_web_url(&url).is_none() {
            return self.handle(Event::TabUpdated { tab_id, url });
        }
        self.ribbon_due.push((tab_id, url.clone()));
        let mut fx = self.handle(Event::TabUpdated { tab_id, url });
        fx.extend(self.read_hidden(tab_id));
        fx
    }

    fn read_hidden(&mut self, tab_id: i32) -> Vec<Effect> {
        self.hidden_read = None;
        vec![Effect::LoadDismissed { tab_id }]
    }

    pub(super) fn hidden_loaded(&mut self, tab_id: i32, services: Vec<String>) -> Vec<Effect> {
        self.hidden.retain(|(t, _)| *t != tab_id);
        self.hidden.push((tab_id, services));
        if self.tab.as_ref().is_some_and(|t| t.id == tab_id) {
            self.hidden_read = Some(tab_id);
        }
        Vec::new()
    }

    /// Decides the ribbon of the tab read now, if a page load waits for it; then reads the
    /// next tab waiting (pages that loaded while another tab was being read), unless the
    /// state is busy with something else for the current tab.
    pub(super) fn try_ribbon(&mut self) -> Vec<Effect> {
        let Some(tab) = self.tab.clone() else {
            return Vec::new();
        };
        let read = matches!(self.companion, Companion::Ready { .. }) && self.records_read();
        let mut fx = Vec::new();
        if let Some(at) = self.ribbon_due.iter().position(|(t, _)| *t == tab.id) {
            if !read || self.hidden_read != Some(tab.id) {
                return fx;
            }
            self.ribbon_due.remove(at);
            fx.extend(self.ribbon_check(&tab));
        }
        let busy = self.back_to_dev.is_some()
            || self.ribbon_back.is_some()
            || self.resume.is_some()
            || self.pending.is_some();
        if !read || busy {
            return fx;
        }
        if let Some((tab_id, url)) = self.ribbon_due.first().cloned() {
            fx.extend(self.open_tab(tab_id, url));
            fx.extend(self.read_hidden(tab_id));
        }
        fx
    }

    /// The lines of the active tab's ribbon: each service this extension routes it by, as
    /// the setting allows, unless hidden in the tab.
    pub fn ribbon_lines(&self) -> Vec<RibbonLine> {
        let Some(tab) = &self.tab else {
            return Vec::new();
        };
        let marker = self.config.page_marker;
        let hidden = self
            .hidden
            .iter()
            .find(|(t, _)| *t == tab.id)
            .map_or(&[][..], |(_, s)| s.as_slice());
        self.routed_services()
            .into_iter()
            .filter(|(service, _)| !hidden.contains(service))
            .filter_map(|(service, active)| {
                let (pr, status) = match active {
                    Active::Domain { pr, by_hand: false } if marker != PageMarker::Off => {
                        (pr, text!("status_domain", pr))
                    }
                    Active::Tab { pr } if marker == PageMarker::Always => {
                        (pr, text!("status_tab", pr))
                    }
                    _ => return None,
                };
                Some(RibbonLine {
                    label: text!("ribbon_line", &service, pr),
                    service,
                    pr,
                    status,
                })
            })
            .collect()
    }

    /// A ribbon to show on `tab`: first the browser's word that the extension may reach
    /// the page's origin.
    fn ribbon_check(&mut self, tab: &Tab) -> Vec<Effect> {
        let lines = self.ribbon_lines();
        let Some(host) = tab.host.clone().filter(|_| !lines.is_empty()) else {
            return Vec::new();
        };
        let scheme = if tab.https { "https" } else { "http" };
        let origin = format!("{scheme}://{host}/*");
        self.ribbon_access
            .push((tab.id, origin.clone(), Ribbon { host, lines }));
        vec![Effect::CheckAccess {
            tab_id: tab.id,
            origin,
        }]
    }

    pub(super) fn access_checked(
        &mut self,
        tab_id: i32,
        origin: &str,
        granted: bool,
    ) -> Vec<Effect> {
        let Some(at) = self
            .ribbon_access
            .iter()
            .position(|(t, o, _)| *t == tab_id && o == origin)
        else {
            return Vec::new();
        };
        let (_, _, ribbon) = self.ribbon_access.remove(at);
        if granted {
            vec![Effect::ShowRibbon { tab_id, ribbon }]
        } else {
            Vec::new()
        }
    }

    /// The ribbon's ×: the service stays hidden in that tab until routed there again.
    pub(super) fn ribbon_dismissed(&mut self, tab_id: i32, service: String) -> Vec<Effect> {
        match self.hidden.iter_mut().find(|(t, _)| *t == tab_id) {
            Some((_, services)) if !services.contains(&service) => services.push(service.clone()),
            Some(_) => {}
            None => self.hidden.push((tab_id, vec![service.clone()])),
        }
        vec![Effect::SaveDismissed {
            tab_id,
            service,
            hidden: true,
        }]
    }

    /// The ribbon's *back to dev*: the tab's routing is read again first.
    pub(super) fn ribbon_back_to_dev(
        &mut self,
        tab_id: i32,
        url: String,
        service: String,
    ) -> Vec<Effect> {
        let mut fx = self.open_tab(tab_id, url);
        self.ribbon_back = Some((tab_id, service));
        if !matches!(self.companion, Companion::Ready { .. }) {
            fx.push(Effect::RequestList);
        }
        fx
    }

    /// Finishes the ribbon's *back to dev* once the tab's routing and a list are in: as the
    /// popup's *back to dev* for that service, then the page reloads on dev. Only for a
    /// service this extension routes the tab by (the ribbon shows no other).
    pub(super) fn try_ribbon_back(&mut self) -> Vec<Effect> {
        let ready = matches!(self.companion, Companion::Ready { .. }) && self.records_read();
        let Some(tab) = &self.tab else {
            return Vec::new();
        };
        if !ready || self.ribbon_back.as_ref().map(|(t, _)| *t) != Some(tab.id) {
            return Vec::new();
        }
        let Some((_, service)) = self.ribbon_back.take() else {
            return Vec::new();
        };
        match self.active(&service) {
            Active::Tab { .. } | Active::Domain { by_hand: false, .. } => {
                self.apply(&service, Choice::Dev, Then::Reload)
            }
            _ => Vec::new(),
        }
    }

    /// A choice routes `service` in the tab again: its ribbon shows again there.
    pub(super) fn unhide(&mut self, tab_id: i32, service: &str) -> Effect {
        if let Some((_, services)) = self.hidden.iter_mut().find(|(t, _)| *t == tab_id) {
            services.retain(|s| s != service);
        }
        Effect::SaveDismissed {
            tab_id,
            service: service.to_owned(),
            hidden: false,
        }
    }

    /// The tab closed: nothing of its ribbon stays.
    pub(super) fn ribbon_tab_closed(&mut self, tab_id: i32) -> Effect {
        self.hidden.retain(|(t, _)| *t != tab_id);
        self.ribbon_due.retain(|(t, _)| *t != tab_id);
        self.ribbon_access.retain(|(t, ..)| *t != tab_id);
        Effect::ForgetDismissed { tab_id }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::testing::english;
    use crate::routing::SessionRule;
    use crate::state::tests::{fe, granted, ready};
    use crate::state::{Applied, Config, CookieSeen};

    /// The worker with the list, the page marker set to `marker`.
    fn worker(marker: PageMarker) -> State {
        let mut s = State::new(Config {
            page_marker: marker,
            ..Config::default()
        });
        s.update(Event::ListArrived {
            previews: vec![fe(123), fe(124)],
            age_secs: 0,
            stale: false,
        });
        s
    }

    /// What the browser answers for a tab on app.test: the extension's records, the
    /// cookies, the session rules, and the services hidden in the tab.
    #[derive(Default)]
    struct Reads {
        applied: Vec<Applied>,
        cookies: Vec<CookieSeen>,
        rules: Vec<SessionRule>,
        hidden: Vec<String>,
    }

    impl Reads {
        /// courses-fe PR 123 routed for the domain by the extension.
        fn domain() -> Reads {
            Reads {
                applied: vec![applied_123()],
                cookies: vec![cookie_123()],
                ..Reads::default()
            }
        }

        /// The same cookie, set by hand (no record of the extension's).
        fn by_hand() -> Reads {
            Reads {
                cookies: vec![cookie_123()],
                ..Reads::default()
            }
        }

        /// courses-fe PR 123 routed for tab `tab_id` alone.
        fn tab(tab_id: i32) -> Reads {
            Reads {
                rules: vec![crate::routing::tab_rule(
                    tab_id,
                    "courses-fe",
                    None,
                    "team-courses-fe-pr",
                    "123",
                    &["app.test".into(), "www.app.test".into()],
                )],
                ..Reads::by_hand()
            }
        }

        fn hiding(self, service: &str) -> Reads {
            Reads {
                hidden: vec![service.into()],
                ..self
            }
        }

        /// Answers the reads the state asked for in tab `tab_id` on app.test; every effect.
        fn answer(self, s: &mut State, tab_id: i32) -> Vec<Effect> {
            let mut fx = s.update(Event::AppliedLoaded {
                applied: self.applied,
            });
            fx.extend(s.update(Event::RulesRead { rules: self.rules }));
            fx.extend(s.update(Event::CookiesRead {
                host: "app.test".into(),
                cookies: self.cookies,
            }));
            fx.extend(s.update(Event::DismissedLoaded {
                tab_id,
                services: self.hidden,
            }));
            fx
        }
    }

    fn applied_123() -> Applied {
        Applied {
            service: "courses-fe".into(),
            pr: 123,
            name: "team-courses-fe-pr".into(),
            value: "123".into(),
            hosts: vec!["app.test".into(), "www.app.test".into()],
            https: true,
        }
    }

    fn cookie_123() -> CookieSeen {
        CookieSeen {
            name: "team-courses-fe-pr".into(),
            value: "123".into(),
        }
    }

    /// Loads `url` (on app.test unless said) in `tab_id` and answers every read.
    fn load(s: &mut State, tab_id: i32, url: &str, reads: Reads) -> Vec<Effect> {
        let mut fx = s.update(Event::PageLoaded {
            tab_id,
            url: url.into(),
        });
        fx.extend(reads.answer(s, tab_id));
        fx
    }

    fn check(fx: &[Effect]) -> Option<(i32, String)> {
        fx.iter().find_map(|e| match e {
            Effect::CheckAccess { tab_id, origin } => Some((*tab_id, origin.clone())),
            _ => None,
        })
    }

    /// The English words of the ribbon shown after access is granted.
    fn shown(s: &mut State, fx: &[Effect]) -> Option<Words> {
        let (tab_id, origin) = check(fx)?;
        let fx = s.update(Event::AccessChecked {
            tab_id,
            origin,
            granted: true,
        });
        fx.iter().find_map(|e| match e {
            Effect::ShowRibbon { tab_id: t, ribbon } if *t == tab_id => {
                Some(ribbon.words(english()))
            }
            _ => None,
        })
    }

    const PAGE: &str = "https://app.test/courses";

    #[test]
    fn a_page_the_extension_routed_for_the_domain_gets_the_ribbon() {
        let mut s = worker(PageMarker::Domain);
        let fx = load(&mut s, 4, PAGE, Reads::domain());
        assert_eq!(check(&fx), Some((4, "https://app.test/*".into())));
        let words = shown(&mut s, &fx).expect("the ribbon");
        assert_eq!(
            words,
            Words {
                host: "app.test".into(),
                title: "Preview Switch".into(),
                back: "back to dev".into(),
                dismiss: "Hide this ribbon".into(),
                lines: vec![WordsLine {
                    service: "courses-fe".into(),
                    label: "courses-fe PR 123".into(),
                    status: "PR 123 · this domain".into(),
                }],
            }
        );
        // In Korean: the product terms stay.
        let ko = s.ribbon_lines()[0]
            .label
            .render(crate::i18n::testing::korean());
        assert_eq!(ko, "courses-fe PR 123");
    }

    #[test]
    fn no_ribbon_without_access_to_the_page_or_on_a_page_it_did_not_route() {
        let mut s = worker(PageMarker::Always);
        let fx = load(&mut s, 4, "http://app.test/", Reads::domain());
        let (tab_id, origin) = check(&fx).expect("asks");
        assert_eq!(origin, "http://app.test/*", "the page's own scheme");
        let fx = s.update(Event::AccessChecked {
            tab_id,
            origin,
            granted: false,
        });
        assert_eq!(fx, vec![], "no access: nothing injected");
        // A dev page of the routed host.
        let fx = load(&mut s, 5, PAGE, Reads::default());
        assert_eq!(check(&fx), None);
        // A host the route does not name: nothing routes it.
        s.update(Event::PageLoaded {
            tab_id: 5,
            url: "https://other.test/".into(),
        });
        let mut fx = Reads::default().answer(&mut s, 5);
        fx.extend(s.update(Event::CookiesRead {
            host: "other.test".into(),
            cookies: vec![],
        }));
        assert!(s.records_read());
        assert_eq!(check(&fx), None);
        // Not a web page: nothing read for a ribbon.
        let fx = s.update(Event::PageLoaded {
            tab_id: 6,
            url: "chrome://extensions/".into(),
        });
        assert!(!fx.contains(&Effect::LoadDismissed { tab_id: 6 }), "{fx:?}");
    }

    #[test]
    fn a_cookie_set_by_hand_gets_no_ribbon() {
        let mut s = worker(PageMarker::Always);
        let fx = load(&mut s, 4, PAGE, Reads::by_hand());
        assert_eq!(
            s.active("courses-fe"),
            Active::Domain {
                pr: 123,
                by_hand: true
            }
        );
        assert_eq!(check(&fx), None);
    }

    #[test]
    fn a_tab_routed_alone_gets_the_ribbon_only_when_the_setting_says_always() {
        let mut s = worker(PageMarker::Domain);
        let fx = load(&mut s, 4, PAGE, Reads::tab(4));
        assert_eq!(s.active("courses-fe"), Active::Tab { pr: 123 });
        assert_eq!(check(&fx), None, "the default: the domain only");
        let mut s = worker(PageMarker::Always);
        let fx = load(&mut s, 4, PAGE, Reads::tab(4));
        let words = shown(&mut s, &fx).expect("always: tab rules too");
        assert_eq!(words.lines[0].status, "PR 123 · this tab only");
    }

    #[test]
    fn the_setting_off_shows_nothing_and_reads_nothing_for_it() {
        let mut s = worker(PageMarker::Off);
        let fx = load(&mut s, 4, PAGE, Reads::domain());
        assert_eq!(check(&fx), None);
        assert!(!fx.contains(&Effect::LoadDismissed { tab_id: 4 }));
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::SetBadge { text, .. } if text == "123")),
            "the badge still follows: {fx:?}"
        );
    }

    /// The team's `pageMarker`, locked, decides whatever the user chose.
    #[test]
    fn a_locked_team_page_marker_decides() {
        use crate::settings::{Managed, Settings, config};
        let user = Settings {
            page_marker: Some(PageMarker::Always),
            ..Settings::default()
        };
        let team = Managed {
            page_marker: Some(PageMarker::Off),
            allow_user_override: Some(false),
            ..Managed::default()
        };
        let mut s = worker(PageMarker::Domain);
        s.config = config(&user, Some(&team));
        let fx = load(&mut s, 4, PAGE, Reads::domain());
        assert_eq!(check(&fx), None, "locked off");
        let unlocked = Managed {
            allow_user_override: None,
            ..team
        };
        s.config = config(&user, Some(&unlocked));
        let fx = load(&mut s, 4, PAGE, Reads::tab(4));
        assert!(shown(&mut s, &fx).is_some(), "unlocked: the user's always");
    }

    #[test]
    fn hidden_stays_hidden_in_the_tab_until_routed_again() {
        let mut s = worker(PageMarker::Domain);
        let fx = s.update(Event::RibbonDismissed {
            tab_id: 4,
            service: "courses-fe".into(),
        });
        assert_eq!(
            fx,
            vec![Effect::SaveDismissed {
                tab_id: 4,
                service: "courses-fe".into(),
                hidden: true
            }]
        );
        // The next load reads the stored list (the worker may have restarted meanwhile).
        let fx = load(&mut s, 4, PAGE, Reads::domain().hiding("courses-fe"));
        assert_eq!(check(&fx), None, "hidden in tab 4");
        // Another tab on the host still shows it.
        let fx = load(&mut s, 8, PAGE, Reads::domain());
        assert!(shown(&mut s, &fx).is_some());

        // Routed again in tab 4 (the popup's choice): shown again.
        let mut popup = ready(vec![fe(123), fe(124)], vec![]);
        let fx = granted(&mut popup, "courses-fe", Choice::Domain { pr: 124 });
        let tab = popup.tab.as_ref().unwrap().id;
        assert!(
            fx.contains(&Effect::SaveDismissed {
                tab_id: tab,
                service: "courses-fe".into(),
                hidden: false
            }),
            "{fx:?}"
        );
        // What the storage then holds for the tab (read, changed, written).
        let stored = vec!["courses-fe".to_string(), "api".into()];
        assert_eq!(
            merge_hidden(stored.clone(), "courses-fe", false),
            Some(vec!["api".to_string()])
        );
        assert_eq!(merge_hidden(stored, "courses-fe", true), None);
        assert_eq!(merge_hidden(vec![], "courses-fe", false), None);
        let fx = load(&mut s, 4, PAGE, Reads::domain());
        assert!(shown(&mut s, &fx).is_some(), "no longer hidden");
        // Closing the tab forgets it.
        let fx = s.update(Event::TabClosed { tab_id: 4 });
        assert!(
            fx.contains(&Effect::ForgetDismissed { tab_id: 4 }),
            "{fx:?}"
        );
    }

    /// The ribbon's *back to dev* in tab 4 of `PAGE`, the tab read as `reads`.
    fn back_to_dev(marker: PageMarker, reads: Reads) -> Vec<Effect> {
        let mut s = worker(marker);
        let mut fx = s.update(Event::RibbonBackToDev {
            tab_id: 4,
            url: PAGE.into(),
            service: "courses-fe".into(),
        });
        fx.extend(reads.answer(&mut s, 4));
        fx
    }

    #[test]
    fn back_to_dev_from_the_ribbon_clears_the_service_and_reloads_the_page() {
        let fx = back_to_dev(PageMarker::Domain, Reads::domain());
        let removed: Vec<&str> = fx
            .iter()
            .filter_map(|e| match e {
                Effect::RemoveCookie { url, .. } => Some(url.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(removed, ["https://app.test/", "https://www.app.test/"]);
        assert!(fx.contains(&Effect::ReloadTab { tab_id: 4 }), "{fx:?}");
        assert!(fx.contains(&Effect::SaveApplied {
            drop: vec![applied_123()],
            add: vec![]
        }));
        let fx = back_to_dev(PageMarker::Always, Reads::tab(4));
        assert!(fx.contains(&Effect::RemoveSessionRules {
            ids: vec![crate::routing::rule_id(4, "courses-fe")]
        }));
        assert!(fx.contains(&Effect::ReloadTab { tab_id: 4 }), "{fx:?}");
    }

    #[test]
    fn back_to_dev_from_the_ribbon_leaves_what_the_extension_did_not_route() {
        for reads in [Reads::by_hand(), Reads::default()] {
            let fx = back_to_dev(PageMarker::Always, reads);
            assert!(
                !fx.iter().any(|e| matches!(
                    e,
                    Effect::RemoveCookie { .. }
                        | Effect::RemoveSessionRules { .. }
                        | Effect::ReloadTab { .. }
                )),
                "{fx:?}"
            );
        }
    }

    #[test]
    fn pages_that_load_while_another_tab_is_read_get_their_turn() {
        let mut s = worker(PageMarker::Domain);
        s.update(Event::PageLoaded {
            tab_id: 4,
            url: "https://app.test/a".into(),
        });
        // Tab 5 loads before tab 4's routing was read: it takes over the reads.
        s.update(Event::PageLoaded {
            tab_id: 5,
            url: "https://app.test/b".into(),
        });
        let fx = Reads::domain().answer(&mut s, 5);
        assert_eq!(check(&fx), Some((5, "https://app.test/*".into())));
        // Then tab 4 is read again.
        assert!(fx.contains(&Effect::LoadDismissed { tab_id: 4 }), "{fx:?}");
        assert_eq!(s.tab.as_ref().map(|t| t.id), Some(4));
        let fx = Reads::domain().answer(&mut s, 4);
        assert_eq!(check(&fx), Some((4, "https://app.test/*".into())));
        assert!(s.ribbon_due.is_empty());
    }

    fn sender(tab_url: &str, url: &str) -> Sender {
        Sender {
            id: Some("ours".into()),
            tab: Some(SenderTab {
                id: Some(4),
                url: Some(tab_url.into()),
            }),
            frame_id: Some(0),
            url: Some(url.into()),
        }
    }

    fn message(kind: &str, service: &str) -> Message {
        Message {
            kind: kind.into(),
            service: service.into(),
        }
    }

    #[test]
    fn ribbon_messages_are_taken_only_from_its_script_in_a_tabs_top_frame() {
        let from_page = sender(PAGE, PAGE);
        assert_eq!(
            message_event("ours", &from_page, &message("back_to_dev", "courses-fe")),
            Some(Event::RibbonBackToDev {
                tab_id: 4,
                url: PAGE.into(),
                service: "courses-fe".into()
            })
        );
        assert_eq!(
            message_event("ours", &from_page, &message("dismissed", "courses-fe")),
            Some(Event::RibbonDismissed {
                tab_id: 4,
                service: "courses-fe".into()
            })
        );
        let refused = [
            // Another extension.
            Sender {
                id: Some("theirs".into()),
                ..from_page.clone()
            },
            // A frame inside the page.
            Sender {
                frame_id: Some(3),
                ..from_page.clone()
            },
            // One of the extension's own pages opened in a tab (the popup as a page).
            sender(PAGE, "chrome-extension://ours/popup.html"),
            // A page of another host than the tab's (the tab moved on).
            sender(PAGE, "https://other.test/"),
            // Not from a tab at all.
            Sender {
                tab: None,
                ..from_page.clone()
            },
        ];
        for s in &refused {
            assert_eq!(
                message_event("ours", s, &message("back_to_dev", "courses-fe")),
                None,
                "{s:?}"
            );
        }
        for m in [
            message("open", "courses-fe"),
            message("back_to_dev", ""),
            message("dismissed", &"x".repeat(MAX_SERVICE_BYTES + 1)),
        ] {
            assert_eq!(message_event("ours", &from_page, &m), None, "{m:?}");
        }
    }
}
