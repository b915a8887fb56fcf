//! Per-Application calls beyond the listing: revision metadata (the git tags of a deployed
//! commit), the admin-defined deep links, an app's Argo Rollouts (their live objects), and
//! the two actions a user may take on a preview with their own token: refresh
//! (`?refresh=normal`) and sync. Each passes `appNamespace` and `project` where known, as
//! the real server's per-app RBAC check (`getAppEnforceRBAC`) expects, and a sync's 403
//! is read for the permission it names.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};

pub use crate::argocd::client::AppId;
use crate::argocd::client::{Client, with_app_query};
use crate::argocd::model::{
    Application, LinkInfo, LinksResponse, ManagedResource, ManagedResources, RevisionMetadata,
};
use crate::error::{Denied, Error, Result};

/// What a 403 body says was missing: `permission denied: applications, sync,
/// default/guestbook, sub: alice, iat: …` (util/rbac `EnforceErr`) gives
/// (`applications, sync`, `default/guestbook`); the bare `permission denied` of the
/// get check (`getAppEnforceRBAC`) gives nothing.
pub fn denied_permission(detail: &str) -> Option<(String, String)> {
    let rest = detail.trim().strip_prefix("permission denied: ")?;
    let mut parts = rest.split(", ");
    let resource = parts.next()?.trim();
    let action = parts.next()?.trim();
    let object = parts.next()?.trim();
    if resource.is_empty() || action.is_empty() || resource.contains(':') {
        return None;
    }
    Some((format!("{resource}, {action}"), object.to_owned()))
}

impl Client {
    /// `GET /api/v1/applications/{name}/revisions/{revision}/metadata`: the commit's
    /// author, date, message and tags (the repo server requires a resolved commit).
    pub async fn revision_metadata(
        &self,
        app: AppId<'_>,
        revision: &str,
    ) -> Result<RevisionMetadata> {
        let what = format!(
            "GET /api/v1/applications/{}/revisions/{revision}/metadata",
            app.name
        );
        let mut url = self.url(&[
            "api",
            "v1",
            "applications",
            app.name,
            "revisions",
            revision,
            "metadata",
        ]);
        with_app_query(&mut url, &app, "appNamespace");
        let body = self.get_body(url, &what).await?;
        self.parse(&body, &format!("the metadata of revision {revision}"))
    }

    /// `GET /api/v1/applications/{name}/links` (its namespace parameter is `namespace`).
    pub async fn app_links(&self, app: AppId<'_>) -> Result<Vec<LinkInfo>> {
        let what = format!("GET /api/v1/applications/{}/links", app.name);
        let mut url = self.url(&["api", "v1", "applications", app.name, "links"]);
        with_app_query(&mut url, &app, "namespace");
        let body = self.get_body(url, &what).await?;
        let links: LinksResponse = self.parse(&body, &format!("the links of {}", app.name))?;
        Ok(links.items)
    }

    /// The app's `argoproj.io` Rollouts with their live objects: `managed-resources`
    /// filtered by group and kind, so the answer holds nothing else.
    pub async fn rollouts(&self, app: AppId<'_>) -> Result<Vec<ManagedResource>> {
        let what = format!(
            "GET /api/v1/applications/{}/managed-resources?kind=Rollout",
            app.name
        );
        let mut url = self.url(&["api", "v1", "applications", app.name, "managed-resources"]);
        with_app_query(&mut url, &app, "appNamespace");
        url.query_pairs_mut()
            .append_pair("group", "argoproj.io")
            .append_pair("kind", "Rollout");
        let body = self.get_body(url, &what).await?;
        let parsed: ManagedResources =
            self.parse(&body, &format!("the Rollouts of {}", app.name))?;
        Ok(parsed.items)
    }

    /// `GET /api/v1/applications/{name}?refresh=normal`: Argo CD answers once its
    /// controller has reconciled the app (bounded by the request timeout).
    pub async fn refresh_app(&self, app: AppId<'_>) -> Result<Application> {
        let what = format!("GET /api/v1/applications/{}?refresh=normal", app.name);
        let mut url = self.url(&["api", "v1", "applications", app.name]);
        with_app_query(&mut url, &app, "appNamespace");
        url.query_pairs_mut().append_pair("refresh", "normal");
        let resp = self.send_action(self.http.get(url), &what).await?;
        let resp = self.action_status(resp, &app, "refresh", &what).await?;
        let body = self.read_body(resp, &what).await?;
        self.parse(&body, &format!("the application {}", app.name))
    }

    /// `POST /api/v1/applications/{name}/sync` to the target revision: Argo CD answers
    /// the Application with its new `operation` once the sync is started.
    pub async fn sync_app(&self, app: AppId<'_>) -> Result<Application> {
        let what = format!("POST /api/v1/applications/{}/sync", app.name);
        let url = self.url(&["api", "v1", "applications", app.name, "sync"]);
        let mut body = serde_json::Map::new();
        body.insert("name".into(), app.name.into());
        if !app.namespace.is_empty() {
            body.insert("appNamespace".into(), app.namespace.into());
        }
        if !app.project.is_empty() {
            body.insert("project".into(), app.project.into());
        }
        let rb = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(serde_json::Value::Object(body).to_string());
        let resp = self.send_action(rb, &what).await?;
        let resp = self.action_status(resp, &app, "sync", &what).await?;
        let body = self.read_body(resp, &what).await?;
        self.parse(&body, &format!("the application {}", app.name))
    }

    async fn get_body(&self, url: url::Url, what: &str) -> Result<bytes::Bytes> {
        let resp = self.send_action(self.http.get(url), what).await?;
        let resp = self.check_status(resp, what).await?;
        self.read_body(resp, what).await
    }

    async fn send_action(
        &self,
        rb: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response> {
        let rb = self.authorize(rb.header(ACCEPT, "application/json").timeout(self.timeout));
        rb.send().await.map_err(|e| self.transport_error(e, what))
    }

    /// A refresh's or sync's status: 403 names the missing permission, 404 (with
    /// `project`) is an app that no longer exists, and a sync Argo CD will not start (a
    /// sync window, 403 without a permission; deleting or busy, 400/409) says why.
    async fn action_status(
        &self,
        resp: reqwest::Response,
        app: &AppId<'_>,
        action: &str,
        what: &str,
    ) -> Result<reqwest::Response> {
        let status = resp.status();
        if status.is_success() || status == StatusCode::UNAUTHORIZED {
            return self.check_status(resp, what).await;
        }
        let body = resp.bytes().await.unwrap_or_default();
        let detail = self.said(&body);
        let server = self.server().to_owned();
        Err(match status {
            StatusCode::FORBIDDEN => match denied_permission(&detail) {
                Some((permission, object)) => Error::PermissionMissing(Box::new(Denied {
                    server,
                    action: action.to_owned(),
                    app: app.name.to_owned(),
                    permission,
                    object,
                    detail,
                })),
                // The get check answers a bare "permission denied" (also for an app that
                // does not exist, so it cannot be probed).
                None if detail.trim() == "permission denied" => {
                    Error::PermissionMissing(Box::new(Denied {
                        server,
                        action: action.to_owned(),
                        app: app.name.to_owned(),
                        permission: "applications, get".to_owned(),
                        object: app.rbac_object(),
                        detail,
                    }))
                }
                None => Error::SyncRefused {
                    server,
                    app: app.name.to_owned(),
                    detail,
                },
            },
            StatusCode::NOT_FOUND => Error::NotFound(crate::error::Problem::new(
                format!("{server} has no application {} ({detail})", app.name),
                "it was deleted meanwhile: list again",
            )),
            StatusCode::BAD_REQUEST | StatusCode::CONFLICT if action == "sync" => {
                Error::SyncRefused {
                    server,
                    app: app.name.to_owned(),
                    detail,
                }
            }
            _ => Error::Http {
                server,
                status: status.as_u16(),
                what: what.to_owned(),
                detail,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_permission_is_read_from_enforce_err_bodies() {
        assert_eq!(
            denied_permission(
                "permission denied: applications, sync, default/guestbook, sub: alice, iat: 2024-05-01T10:00:00Z"
            ),
            Some(("applications, sync".into(), "default/guestbook".into()))
        );
        assert_eq!(
            denied_permission("permission denied: applications, sync, default/guestbook"),
            Some(("applications, sync".into(), "default/guestbook".into()))
        );
        assert_eq!(denied_permission("permission denied"), None);
        assert_eq!(
            denied_permission("cannot sync: blocked by sync window"),
            None
        );
    }
}
