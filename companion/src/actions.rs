//! Refresh and sync, the two things a user may do to a preview (or an environment) with
//! their own token: find the configured server that holds the app, call Argo CD, and say in
//! one line what happened. Shared by `preview-switch refresh|sync` and the host's
//! `refresh_app` / `sync_app`; the token never leaves this process.

use protocol::messages::AppAction;

use crate::argocd::apps::AppId;
use crate::argocd::client::Client;
use crate::argocd::model::Application;
use crate::argocd::refresh;
use crate::core::envs::short;
use crate::error::{Error, Problem};
use crate::server::{ServerTarget, url_key};

/// What an action did: the app as Argo CD answered, and one line for people.
#[derive(Debug, Clone)]
pub struct Done {
    pub app: Application,
    pub message: String,
}

/// The configured server whose base URL is `server`.
pub fn target_for<'a>(
    targets: &'a [ServerTarget],
    server: &str,
) -> Result<&'a ServerTarget, Error> {
    let wanted = url::Url::parse(server).ok().map(|u| url_key(&u));
    targets
        .iter()
        .find(|t| wanted.as_deref() == Some(url_key(&t.url).as_str()))
        .ok_or_else(|| {
            Error::NotFound(Problem::new(
                format!("{server} is not a configured Argo CD server"),
                "list again: the configuration changed",
            ))
        })
}

/// Runs `action` on `name` in `namespace` on `target`.
pub async fn act(
    target: &ServerTarget,
    namespace: &str,
    name: &str,
    action: AppAction,
) -> Result<Done, Error> {
    let refreshed = refresh::with_refreshed_token(target);
    let target = refreshed.as_ref().unwrap_or(target);
    let client = Client::new(target)?;
    let id = AppId {
        name,
        namespace,
        project: "",
    };
    let app = match action {
        AppAction::Refresh => client.refresh_app(id).await?,
        AppAction::Sync => client.sync_app(id).await?,
    };
    let status = &app.status;
    let message = match action {
        AppAction::Refresh => format!(
            "refreshed {name}: {}, {}{}",
            status.sync.status.as_deref().unwrap_or("Unknown"),
            status.health.status.as_deref().unwrap_or("Unknown"),
            status
                .sync
                .revision
                .as_deref()
                .map(|r| format!(" at {}", short(r)))
                .unwrap_or_default()
        ),
        AppAction::Sync => format!(
            "sync of {name} started{}",
            sync_revision(&app)
                .map(|r| format!(" (to {})", short(r)))
                .unwrap_or_default()
        ),
    };
    Ok(Done { app, message })
}

/// The revision a sync goes to (`operation.sync.revision`), else the one it runs.
pub fn sync_revision(app: &Application) -> Option<&str> {
    app.operation
        .as_ref()
        .and_then(|o| o.sync.as_ref())
        .and_then(|s| s.revision.as_deref())
        .or(app.status.sync.revision.as_deref())
        .filter(|r| !r.is_empty())
}
