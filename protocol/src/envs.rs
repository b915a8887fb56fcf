//! What runs where: one service across its environments ([`ServiceEnvs`], the items of
//! `preview-switch envs -o json` and of the `envs` answer), deploy [`Notification`]s, and the
//! admin-defined deep links. Like [`crate::Preview`], these are a public shape: fields are
//! only added, never renamed.

use serde::{Deserialize, Serialize};

/// One service: its environments side by side, and whether they run the same version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEnvs {
    pub service: String,
    /// `false` when the environments' versions differ.
    pub in_step: bool,
    pub envs: Vec<EnvStatus>,
    /// What differs, in words, when not in step: `prod runs 2.7.3; dev, stag run 2.8.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub differs: Option<String>,
}

/// One environment of a service: the non-preview Application that runs it on one server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvStatus {
    /// The environment: label `preview-switch.io/env`, else the name's environment segment
    /// (`dev-backend-api`, `admin-api-gateway-qa`), else the server's context name.
    pub env: String,
    /// Base URL of the Argo CD server that holds the Application.
    pub server: String,
    /// The Application name.
    pub app: String,
    /// The git tag of the deployed revision, else the image tag, else the short revision.
    pub version: Option<String>,
    /// The deployed commit (`status.sync.revision`).
    pub revision: Option<String>,
    pub image_tag: Option<String>,
    /// `status.sync.status`: Synced, OutOfSync, Unknown.
    pub sync: Option<String>,
    /// `status.health.status`: Healthy, Progressing, Degraded, Suspended, Missing, Unknown.
    pub health: Option<String>,
    /// When the deployed revision was deployed (`status.history`), RFC 3339 UTC.
    pub deployed_at: Option<String>,
    /// The version this environment ran before the current one.
    pub previous_version: Option<String>,
    /// The version is older than `previous_version` (semver order, both semver tags).
    pub went_backwards: bool,
    /// The Argo Rollout the Application runs, when it has one.
    pub rollout: Option<Rollout>,
    pub links: EnvLinks,
    /// The Application's namespace in Argo CD.
    #[serde(default)]
    pub namespace: String,
    /// The configured server or context name.
    #[serde(default)]
    pub context: String,
    /// Where `version` came from: `tag`, `image` or `revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_from: Option<String>,
    /// `status.operationState.phase` of the last sync: Succeeded, Failed, Error, Running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The first line of the deployed commit's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// What needs attention, in words (`OutOfSync`, `sync failed: …`, `Degraded`,
    /// `rollout paused at step 2 of 4, canary weight 25%`). Empty normally.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// An Argo Rollout's progress, read from its live object (Argo CD's resource tree carries
/// only its health, so the live manifest is the source of step and weight).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    pub name: String,
    /// `status.phase`: Healthy, Progressing, Paused, Degraded.
    pub phase: Option<String>,
    /// `status.message`, e.g. `CanaryPauseStep` or `RolloutAborted: …`.
    pub message: Option<String>,
    /// `Canary` or `BlueGreen`.
    pub strategy: Option<String>,
    /// `status.currentStepIndex` (a canary's step, of `steps`).
    pub step: Option<u32>,
    pub steps: Option<u32>,
    /// The canary weight the current step sets, percent.
    pub weight: Option<u32>,
    pub paused: bool,
    pub aborted: bool,
}

/// Links beside an environment or a preview.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvLinks {
    /// The Application's page in the Argo CD UI.
    pub argocd: Option<String>,
    /// The admin-defined deep links (`argocd-cm` `application.links`).
    #[serde(default)]
    pub deep_links: Vec<DeepLink>,
}

/// One item of `GET /api/v1/applications/{name}/links`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeepLink {
    pub title: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Event: a watched preview or environment changed state (one per app per change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub subscription: u64,
    pub kind: NotificationKind,
    pub server: String,
    pub namespace: String,
    pub app: String,
    pub service: String,
    /// The pull-request number for a preview; `null` for an environment.
    pub pr: Option<u64>,
    /// The preview's context, or the environment's name.
    pub env: String,
    /// The revision the app runs now.
    pub revision: Option<String>,
    /// One line, e.g. `courses-fe PR 123 deployed`.
    pub title: String,
    /// e.g. `courses-fe PR 123 now runs abc1234: Fix enrolment button`.
    pub message: String,
    /// The Application's page in Argo CD, opened on click.
    pub link: Option<String>,
    /// Stable for one change: showing the same key twice replaces, never adds.
    pub key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// Synced and Healthy at a revision it did not run before.
    Deployed,
    SyncFailed,
    Degraded,
    RolloutPaused,
    RolloutAborted,
    /// A kind from a newer companion.
    #[serde(other)]
    Other,
}
