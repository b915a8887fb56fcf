//! What runs where, in the extension, pure: the companion's `envs` answers and the
//! popup's own choices about them ([`Envs`]), turned into what the popup shows: the
//! environment line of a service (one cell per environment: its version and a marker when
//! it differs, went backwards or needs attention), the environments page (every service,
//! filterable), the Refresh and Sync (with confirmation) buttons and deep links of the
//! previews shown, and which deploy notifications to show and what a click on one opens.

use protocol::Preview;
use protocol::envs::{DeepLink, EnvStatus, Notification, ServiceEnvs};
use protocol::messages::{AppAction, AppRef};

use crate::i18n::{Catalogue, Text};
use crate::{t, text};

/// Notification ids start with this; the rest is the app's Argo CD page and the change's
/// key, so a click opens the page even after the service worker restarted, and the same
/// change shown twice replaces itself.
pub const NOTIFICATION_PREFIX: &str = "preview-switch-deploy|";

/// Which page the popup shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Page {
    /// The tab's previews (with the environment line of their services).
    #[default]
    Main,
    /// Every service's environments.
    Environments,
}

/// The environments known to the popup and what the user is doing with them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Envs {
    pub services: Vec<ServiceEnvs>,
    /// `None` until the first answer.
    pub fetched_at_ms: Option<u64>,
    pub stale: bool,
    /// Why the last `envs` failed (message and fix).
    pub failed: Option<Text>,
    /// Servers whose environments are missing, as shown.
    pub failures: Vec<Text>,
    pub page: Page,
    pub filter: String,
    /// Deep links per app key.
    pub links: Vec<(String, Vec<DeepLink>)>,
    /// The preview whose sync waits for the user's confirmation.
    pub confirming: Option<AppRef>,
    /// Actions running, by app key.
    pub busy: Vec<String>,
    /// The last outcome per app key: its words and whether it failed.
    pub outcomes: Vec<(String, Text, bool)>,
    /// Services whose environments the user wants notifications for.
    pub notify_services: Vec<String>,
}

/// The key an app is known by (server, namespace, name).
pub fn key(server: &str, namespace: &str, app: &str) -> String {
    format!("{}|{namespace}|{app}", server.trim_end_matches('/'))
}

pub fn app_ref(p: &Preview) -> AppRef {
    AppRef {
        server: p.server.clone(),
        namespace: p.namespace.clone(),
        app: p.app.clone(),
    }
}

fn ref_key(r: &AppRef) -> String {
    key(&r.server, &r.namespace, &r.app)
}

/// What the user did on the envs parts of the popup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    ShowPage(Page),
    Filter(String),
    /// Sync pressed: ask first.
    AskSync(AppRef),
    ConfirmSync,
    CancelSync,
    Refresh(AppRef),
    /// Notifications for a service's environments on or off.
    ToggleNotify(String),
}

/// What the worker must do for an [`Input`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Todo {
    Nothing,
    Act(AppRef, AppAction),
    SaveNotify(Vec<String>),
}

impl Envs {
    /// Applies what the user did; says what the worker must send or store.
    pub fn input(&mut self, input: Input) -> Todo {
        match input {
            Input::ShowPage(page) => self.page = page,
            Input::Filter(text) => self.filter = text,
            Input::AskSync(app) => self.confirming = Some(app),
            Input::CancelSync => self.confirming = None,
            Input::ConfirmSync => {
                if let Some(app) = self.confirming.take() {
                    return self.start(app, AppAction::Sync);
                }
            }
            Input::Refresh(app) => return self.start(app, AppAction::Refresh),
            Input::ToggleNotify(service) => {
                if let Some(at) = self.notify_services.iter().position(|s| *s == service) {
                    self.notify_services.remove(at);
                } else {
                    self.notify_services.push(service);
                    self.notify_services.sort();
                }
                return Todo::SaveNotify(self.notify_services.clone());
            }
        }
        Todo::Nothing
    }

    fn start(&mut self, app: AppRef, action: AppAction) -> Todo {
        let k = ref_key(&app);
        if self.busy.contains(&k) {
            return Todo::Nothing;
        }
        self.busy.push(k.clone());
        self.outcomes.retain(|(o, _, _)| *o != k);
        let verb = match action {
            AppAction::Refresh => text!("envs_refreshing"),
            AppAction::Sync => text!("envs_syncing"),
        };
        self.outcomes.push((k, verb, false));
        Todo::Act(app, action)
    }

    /// An action ended: its words (the companion's message, or the error and its fix).
    pub fn finished(&mut self, app: &AppRef, text: Text, failed: bool) {
        let k = ref_key(app);
        self.busy.retain(|b| *b != k);
        self.outcomes.retain(|(o, _, _)| *o != k);
        self.outcomes.push((k, text, failed));
    }

    pub fn arrived(
        &mut self,
        services: Vec<ServiceEnvs>,
        fetched_at_ms: u64,
        stale: bool,
        failures: Vec<Text>,
    ) {
        self.services = services;
        self.fetched_at_ms = Some(fetched_at_ms);
        self.stale = stale;
        self.failed = None;
        self.failures = failures;
    }

    pub fn links_arrived(&mut self, app: &AppRef, links: Vec<DeepLink>) {
        let k = ref_key(app);
        self.links.retain(|(l, _)| *l != k);
        self.links.push((k, links));
    }
}

/// One environment as a cell of a service's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvCell {
    pub env: String,
    pub version: String,
    /// `↓` went backwards, `≠` differs from the others, `!` needs attention.
    pub marker: Option<&'static str>,
    /// `ok`, `warn` or `bad`.
    pub class: &'static str,
    /// Everything about it in words, for the tooltip and screen readers.
    pub title: String,
    pub argocd: Option<String>,
}

/// A service's environments side by side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvLine {
    pub service: String,
    pub cells: Vec<EnvCell>,
    /// What differs, when not in step: ` (not in step: …)` around the companion's words.
    pub differs: Option<String>,
    pub notify: bool,
    /// DOM id of the notify toggle.
    pub notify_id: String,
}

fn safe(link: Option<&str>) -> Option<String> {
    link.filter(|l| l.starts_with("https://") || l.starts_with("http://"))
        .map(str::to_owned)
}

fn dom_id(prefix: &str, text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{prefix}-{clean}")
}

/// The version most environments run (ties: the first seen), compared loosely.
fn majority(s: &ServiceEnvs) -> Option<&str> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for v in s.envs.iter().filter_map(|e| e.version.as_deref()) {
        let norm = v.trim_start_matches('v');
        match counts
            .iter_mut()
            .find(|(c, _)| c.trim_start_matches('v') == norm)
        {
            Some((_, n)) => *n += 1,
            None => counts.push((v, 1)),
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max()?;
    counts.iter().find(|(_, n)| *n == best).map(|(v, _)| *v)
}

fn cell(s: &ServiceEnvs, e: &EnvStatus, majority: Option<&str>, cat: &dyn Catalogue) -> EnvCell {
    let version = e.version.clone().unwrap_or_else(|| "?".into());
    let differs = !s.in_step
        && e.version
            .as_deref()
            .zip(majority)
            .is_some_and(|(v, m)| v.trim_start_matches('v') != m.trim_start_matches('v'));
    let attention: Vec<&String> = e
        .notes
        .iter()
        .filter(|n| !n.starts_with("went backwards"))
        .collect();
    let marker = if e.went_backwards {
        Some("↓")
    } else if differs {
        Some("≠")
    } else if !attention.is_empty() {
        Some("!")
    } else {
        None
    };
    let bad = matches!(e.health.as_deref(), Some("Degraded" | "Missing"))
        || matches!(e.phase.as_deref(), Some("Failed" | "Error"))
        || e.rollout.as_ref().is_some_and(|r| r.aborted);
    let class = if bad {
        "bad"
    } else if marker.is_some() {
        "warn"
    } else {
        "ok"
    };
    // Argo CD's health and sync words stay as Argo CD says them.
    let mut title = t!(cat, "envs_runs", &e.env, &version);
    if let Some(h) = &e.health {
        title.push_str(&format!(", {h}"));
    }
    if let Some(sync) = e.sync.as_deref().filter(|s| *s != "Synced") {
        title.push_str(&format!(", {sync}"));
    }
    if differs && let Some(m) = majority {
        title.push_str("; ");
        title.push_str(&t!(cat, "envs_others_run", m));
    }
    for n in &e.notes {
        title.push_str(&format!("; {n}"));
    }
    EnvCell {
        env: e.env.clone(),
        version,
        marker,
        class,
        title,
        argocd: safe(e.links.argocd.as_deref()),
    }
}

fn env_line(envs: &Envs, s: &ServiceEnvs, cat: &dyn Catalogue) -> EnvLine {
    let m = majority(s);
    EnvLine {
        service: s.service.clone(),
        cells: s.envs.iter().map(|e| cell(s, e, m, cat)).collect(),
        differs: s.differs.as_ref().map(|d| t!(cat, "envs_not_in_step", d)),
        notify: envs.notify_services.contains(&s.service),
        notify_id: dom_id("notify", &s.service),
    }
}

/// The environment line of `service`, when the companion knows its environments.
pub fn line(envs: &Envs, service: &str, cat: &dyn Catalogue) -> Option<EnvLine> {
    envs.services
        .iter()
        .find(|s| s.service == service)
        .map(|s| env_line(envs, s, cat))
}

/// The environments page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvsPage {
    pub lines: Vec<EnvLine>,
    /// Loading, nothing known, nothing matching, or why it failed.
    pub notice: Option<String>,
    pub failures: Vec<String>,
    pub filter: String,
}

/// Every service whose name, an environment, version or note matches the filter.
pub fn page(envs: &Envs, cat: &dyn Catalogue) -> EnvsPage {
    let f = envs.filter.trim().to_ascii_lowercase();
    let matches = |s: &ServiceEnvs| {
        f.is_empty()
            || s.service.to_ascii_lowercase().contains(&f)
            || s.envs.iter().any(|e| {
                [Some(&e.env), e.version.as_ref(), e.health.as_ref()]
                    .into_iter()
                    .flatten()
                    .chain(e.notes.iter())
                    .any(|t| t.to_ascii_lowercase().contains(&f))
            })
    };
    let lines: Vec<EnvLine> = envs
        .services
        .iter()
        .filter(|s| matches(s))
        .map(|s| env_line(envs, s, cat))
        .collect();
    let notice = if let Some(why) = &envs.failed {
        Some(t!(cat, "envs_failed", why.clone()))
    } else if envs.fetched_at_ms.is_none() {
        Some(t!(cat, "envs_loading"))
    } else if envs.services.is_empty() {
        Some(t!(cat, "envs_none"))
    } else if lines.is_empty() {
        Some(t!(cat, "envs_no_match", envs.filter.trim()))
    } else {
        None
    };
    EnvsPage {
        lines,
        notice,
        failures: envs.failures.iter().map(|f| f.render(cat)).collect(),
        filter: envs.filter.clone(),
    }
}

/// Refresh, Sync and deep links of one preview shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewActions {
    pub app: AppRef,
    pub pr: u64,
    pub service: String,
    pub refresh_id: String,
    pub sync_id: String,
    pub confirm_id: String,
    pub cancel_id: String,
    /// The sync waits for a yes: the question to show.
    pub confirm: Option<String>,
    pub busy: bool,
    /// The last outcome and whether it failed.
    pub outcome: Option<(String, bool)>,
    pub links: Vec<DeepLink>,
}

/// The actions of the previews shown in the popup.
pub fn actions(envs: &Envs, previews: &[&Preview], cat: &dyn Catalogue) -> Vec<PreviewActions> {
    previews
        .iter()
        .map(|p| {
            let app = app_ref(p);
            let k = ref_key(&app);
            let id = |what: &str| dom_id(what, &format!("{}-{}", p.service, p.pr));
            PreviewActions {
                refresh_id: id("refresh"),
                sync_id: id("sync"),
                confirm_id: id("sync-yes"),
                cancel_id: id("sync-no"),
                confirm: (envs.confirming.as_ref() == Some(&app))
                    .then(|| t!(cat, "envs_confirm_sync", &p.service, p.pr, &p.app)),
                busy: envs.busy.contains(&k),
                outcome: envs
                    .outcomes
                    .iter()
                    .find(|(o, _, _)| *o == k)
                    .map(|(_, t, failed)| (t.render(cat), *failed)),
                links: envs
                    .links
                    .iter()
                    .find(|(l, _)| *l == k)
                    .map(|(_, l)| {
                        l.iter()
                            .filter(|d| safe(Some(&d.url)).is_some())
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default(),
                pr: p.pr,
                service: p.service.clone(),
                app,
            }
        })
        .collect()
}

/// Everything of this module the popup shows for its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopupEnvs {
    pub page: Page,
    /// The environment line of each service shown on the main page.
    pub lines: Vec<EnvLine>,
    /// Refresh, Sync and deep links of each preview shown on the main page.
    pub actions: Vec<PreviewActions>,
    /// The environments page, when it is the one shown.
    pub all: Option<EnvsPage>,
    pub labels: EnvsLabels,
}

/// The fixed words of the environments parts, in the user's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvsLabels {
    pub refresh: String,
    pub sync: String,
    pub sync_now: String,
    pub cancel: String,
    pub environments: String,
    pub back_to_previews: String,
    pub filter: String,
    pub filter_placeholder: String,
    pub notify: String,
    /// `PR 123:` before a preview's actions: the words with `$1` for the number.
    pub pr: String,
}

impl EnvsLabels {
    pub fn new(cat: &dyn Catalogue) -> EnvsLabels {
        EnvsLabels {
            refresh: t!(cat, "envs_refresh"),
            sync: t!(cat, "envs_sync"),
            sync_now: t!(cat, "envs_sync_now"),
            cancel: t!(cat, "envs_cancel"),
            environments: t!(cat, "envs_heading"),
            back_to_previews: t!(cat, "envs_back"),
            filter: t!(cat, "envs_filter"),
            filter_placeholder: t!(cat, "envs_filter_placeholder"),
            notify: t!(cat, "envs_notify"),
            pr: t!(cat, "envs_pr", "$1"),
        }
    }
}

/// The popup's envs parts for `state` (the tab's services and previews).
pub fn popup(envs: &Envs, state: &crate::state::State, cat: &dyn Catalogue) -> PopupEnvs {
    let services = state.services_on_host();
    let previews: Vec<&Preview> = state
        .tab
        .as_ref()
        .and_then(|t| t.host.as_deref())
        .map(|h| crate::hosts::previews_for_host(state.previews(), h))
        .unwrap_or_default();
    PopupEnvs {
        page: envs.page,
        lines: services.iter().filter_map(|s| line(envs, s, cat)).collect(),
        actions: actions(envs, &previews, cat),
        all: (envs.page == Page::Environments).then(|| page(envs, cat)),
        labels: EnvsLabels::new(cat),
    }
}

/// Whether to show a notification: for a preview the user is routed to (`routed`:
/// service and PR) or whose service they opted in to, and for the environments of the
/// services they opted in to.
pub fn should_show(n: &Notification, notify_services: &[String], routed: &[(String, u64)]) -> bool {
    notify_services.contains(&n.service)
        || n.pr
            .is_some_and(|pr| routed.iter().any(|(s, p)| *s == n.service && *p == pr))
}

/// The browser notification's id: the prefix, the app's page (http(s) only), the key.
pub fn notification_id(n: &Notification) -> String {
    let link = safe(n.link.as_deref()).unwrap_or_default();
    format!("{NOTIFICATION_PREFIX}{link}|{}", n.key)
}

/// The page a click on notification `id` opens: only one of ours, only http(s).
pub fn clicked(id: &str) -> Option<String> {
    let rest = id.strip_prefix(NOTIFICATION_PREFIX)?;
    let (link, _) = rest.split_once('|')?;
    safe(Some(link)).filter(|l| !l.contains(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use protocol::envs::{EnvLinks, NotificationKind, Rollout};

    use super::*;
    use crate::i18n::testing::english;

    fn env(name: &str, version: &str) -> EnvStatus {
        EnvStatus {
            env: name.into(),
            server: format!("https://argocd.{name}"),
            app: "search-ui".into(),
            version: Some(version.into()),
            health: Some("Healthy".into()),
            sync: Some("Synced".into()),
            links: EnvLinks {
                argocd: Some(format!(
                    "https://argocd.{name}/applications/argocd/search-ui"
                )),
                deep_links: Vec::new(),
            },
            ..Default::default()
        }
    }

    fn services() -> Vec<ServiceEnvs> {
        let mut back = env("prod", "v5.3.0");
        back.went_backwards = true;
        back.notes = vec!["went backwards from v5.33.0".into()];
        let mut paused = env("prod", "v3.2.0");
        paused.health = Some("Suspended".into());
        paused.rollout = Some(Rollout {
            paused: true,
            ..Default::default()
        });
        paused.notes = vec!["rollout paused at step 1 of 4, canary weight 25%".into()];
        vec![
            ServiceEnvs {
                service: "checkout-api".into(),
                in_step: false,
                envs: vec![
                    env("dev", "v2.8.0"),
                    env("stag", "2.8.0"),
                    env("prod", "v2.7.3"),
                ],
                differs: Some("prod runs v2.7.3; dev, stag run v2.8.0".into()),
            },
            ServiceEnvs {
                service: "payments-api".into(),
                in_step: true,
                envs: vec![env("dev", "v3.2.0"), paused],
                differs: None,
            },
            ServiceEnvs {
                service: "search-ui".into(),
                in_step: false,
                envs: vec![env("dev", "v5.33.0"), back],
                differs: Some("dev runs v5.33.0; prod runs v5.3.0".into()),
            },
        ]
    }

    fn loaded() -> Envs {
        let mut e = Envs::default();
        e.arrived(services(), 1, false, Vec::new());
        e
    }

    #[test]
    fn a_line_marks_what_differs_what_went_backwards_and_what_needs_attention() {
        let e = loaded();
        let checkout = line(&e, "checkout-api", english()).unwrap();
        let marks: Vec<_> = checkout
            .cells
            .iter()
            .map(|c| (c.env.as_str(), c.marker))
            .collect();
        assert_eq!(marks, [("dev", None), ("stag", None), ("prod", Some("≠"))]);
        assert_eq!(
            checkout.cells[2].title,
            "prod runs v2.7.3, Healthy; the others run v2.8.0"
        );
        let search = line(&e, "search-ui", english()).unwrap();
        assert_eq!(search.cells[1].marker, Some("↓"));
        assert!(
            search.cells[1]
                .title
                .ends_with("went backwards from v5.33.0")
        );
        let payments = line(&e, "payments-api", english()).unwrap();
        assert_eq!(
            (payments.cells[1].marker, payments.cells[1].class),
            (Some("!"), "warn")
        );
        assert_eq!(line(&e, "courses-fe", english()), None);
    }

    #[test]
    fn the_page_filters_by_service_environment_version_or_note() {
        let mut e = Envs::default();
        assert_eq!(
            page(&e, english()).notice.as_deref(),
            Some("Asking the companion for the environments…")
        );
        e.arrived(services(), 1, false, Vec::new());
        assert_eq!(page(&e, english()).lines.len(), 3);
        e.input(Input::Filter("PAUSED".into()));
        assert_eq!(page(&e, english()).lines[0].service, "payments-api");
        e.input(Input::Filter("5.3.0".into()));
        assert_eq!(page(&e, english()).lines.len(), 1);
        e.input(Input::Filter("nothing-like-it".into()));
        assert_eq!(
            page(&e, english()).notice.as_deref(),
            Some("No service matches “nothing-like-it”")
        );
    }

    fn preview() -> Preview {
        Preview {
            server: "https://argocd.dev".into(),
            namespace: "argocd".into(),
            app: "courses-fe-pr-123".into(),
            service: "courses-fe".into(),
            pr: 123,
            ..Default::default()
        }
    }

    #[test]
    fn sync_asks_first_and_runs_once_until_it_ends() {
        let mut e = Envs::default();
        let p = preview();
        let app = app_ref(&p);
        assert_eq!(e.input(Input::AskSync(app.clone())), Todo::Nothing);
        let shown = actions(&e, &[&p], english());
        assert_eq!(
            shown[0].confirm.as_deref(),
            Some("Sync courses-fe PR 123 (courses-fe-pr-123) to its target revision now?")
        );
        assert_eq!(e.input(Input::CancelSync), Todo::Nothing);
        assert_eq!(actions(&e, &[&p], english())[0].confirm, None);
        e.input(Input::AskSync(app.clone()));
        assert_eq!(
            e.input(Input::ConfirmSync),
            Todo::Act(app.clone(), AppAction::Sync)
        );
        assert!(actions(&e, &[&p], english())[0].busy);
        assert_eq!(
            e.input(Input::Refresh(app.clone())),
            Todo::Nothing,
            "one at a time"
        );
        e.finished(&app, Text::plain("permission denied: ask an admin"), true);
        let shown = actions(&e, &[&p], english());
        assert!(!shown[0].busy);
        assert_eq!(
            shown[0].outcome,
            Some(("permission denied: ask an admin".into(), true))
        );
        assert_eq!(
            e.input(Input::Refresh(app.clone())),
            Todo::Act(app, AppAction::Refresh)
        );
    }

    #[test]
    fn deep_links_show_only_when_http() {
        let mut e = Envs::default();
        let p = preview();
        e.links_arrived(
            &app_ref(&p),
            vec![
                DeepLink {
                    title: "Logs".into(),
                    url: "https://logs/x".into(),
                    description: None,
                },
                DeepLink {
                    title: "Evil".into(),
                    url: "javascript:alert(1)".into(),
                    description: None,
                },
            ],
        );
        let titles: Vec<String> = actions(&e, &[&p], english())[0]
            .links
            .iter()
            .map(|l| l.title.clone())
            .collect();
        assert_eq!(titles, ["Logs"]);
    }

    fn note(pr: Option<u64>, service: &str) -> Notification {
        Notification {
            subscription: 1,
            kind: NotificationKind::Deployed,
            server: "https://argocd.dev".into(),
            namespace: "argocd".into(),
            app: "courses-fe-pr-123".into(),
            service: service.into(),
            pr,
            env: "dev".into(),
            revision: Some("abc".into()),
            title: "t".into(),
            message: "m".into(),
            link: Some("https://argocd.dev/applications/argocd/courses-fe-pr-123".into()),
            key: "deployed|https://argocd.dev|argocd|courses-fe-pr-123|abc".into(),
        }
    }

    #[test]
    fn notifications_show_for_routed_previews_and_opted_in_services_and_open_argo_cd() {
        let routed = [("courses-fe".to_owned(), 123)];
        assert!(should_show(&note(Some(123), "courses-fe"), &[], &routed));
        assert!(!should_show(&note(Some(124), "courses-fe"), &[], &routed));
        assert!(!should_show(&note(None, "search-ui"), &[], &routed));
        assert!(should_show(
            &note(None, "search-ui"),
            &["search-ui".into()],
            &[]
        ));
        let id = notification_id(&note(Some(123), "courses-fe"));
        assert_eq!(
            clicked(&id).as_deref(),
            Some("https://argocd.dev/applications/argocd/courses-fe-pr-123")
        );
        assert_eq!(clicked("preview-switch-deploy|javascript:x|k"), None);
        assert_eq!(clicked("someone-else|https://x|k"), None);
        let mut e = Envs::default();
        assert_eq!(
            e.input(Input::ToggleNotify("search-ui".into())),
            Todo::SaveNotify(vec!["search-ui".into()])
        );
        assert_eq!(
            e.input(Input::ToggleNotify("search-ui".into())),
            Todo::SaveNotify(vec![])
        );
    }
}
