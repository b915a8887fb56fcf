//! `preview-switch demo`: a self-contained demo on loopback. It serves three fake Argo CD
//! APIs, `dev` (with the demo scenario's previews, [`fake_argocd::scenario`]), `stag` and
//! `prod` ([`fake_argocd::environments`]: the services at realistic versions, one in step,
//! one differing, one gone backwards, one paused rollout), and a small demo site that answers
//! for `<svc>.demo.test` as "dev" or "PR n", choosing by the `Cookie` header with exactly
//! the regex match the scenario's HTTPRoutes declare (Rust `regex`, anchored at both ends,
//! PLATFORM E). It writes a config file pointing `preview-switch` at the demo server. The
//! CLI (not this module) prints the listing; everything stops when [`Demo`] is dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use regex::Regex;
use serde_json::json;

use crate::error::{Error, Result};
use fake_argocd::scenario::DEMO_DOMAIN;
use fake_argocd::{self as fake, FakeArgo, Running, SiteRoute};

/// Where the demo listens; port 0 picks a free one.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    pub api_port: u16,
    pub site_port: u16,
    /// Where to write the config and token files; default a fresh temporary directory,
    /// removed when the demo stops.
    pub state_dir: Option<PathBuf>,
}

/// A running demo. Dropping it stops both servers and removes its temporary directory.
pub struct Demo {
    fake: FakeArgo,
    api: Running,
    /// The `stag` and `prod` servers, after `dev` (`fake`, `api`).
    others: Vec<(String, FakeArgo, Running)>,
    site: Running,
    routes: Vec<SiteRoute>,
    token: String,
    dir: PathBuf,
    /// The fresh temporary directory when no `state_dir` was given; removed on drop.
    _temp: Option<tempfile::TempDir>,
    config_path: PathBuf,
    token_file: PathBuf,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("api", &self.api.url())
            .field("site", &self.site.url())
            .field("config_path", &self.config_path)
            .finish_non_exhaustive()
    }
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { what, source }
}

async fn bind(port: u16, role: &str, flag: &str) -> Result<tokio::net::TcpListener> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(io_error(format!(
            "cannot listen on {addr} for the demo {role} (pass {flag} 0 for any free port)"
        )))
}

/// Starts the fake Argo CD API and the demo site on 127.0.0.1 and writes the config file.
pub async fn start(opts: DemoOptions) -> Result<Demo> {
    let site_listener = bind(opts.site_port, "site", "--site-port").await?;
    let api_listener = bind(opts.api_port, "Argo CD API", "--api-port").await?;
    let site_port = site_listener
        .local_addr()
        .map_err(io_error("cannot read the demo site's port".into()))?
        .port();

    let mut servers = fake::environments::demo(Some(site_port)).into_iter();
    let dev = servers.next().expect("the demo has a dev server");
    let scenario = dev.scenario.clone();
    let fake = dev.fake();
    let site = fake::spawn(site_router(&scenario.routes), site_listener, None);
    let api = fake::spawn(fake::router(fake.clone()), api_listener, Some(fake.clone()));
    let mut others = Vec::new();
    for server in servers {
        let listener = bind(0, &format!("{} Argo CD API", server.name), "--api-port").await?;
        let f = server.fake();
        let running = fake::spawn(fake::router(f.clone()), listener, Some(f.clone()));
        others.push((server.name, f, running));
    }

    // A fresh directory by mkdtemp (random name, mode 0700): a predictable name in the
    // shared temp dir could be created first by another user, who would then read the
    // token or replace the config.
    let (dir, temp) = match opts.state_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(io_error(format!(
                "cannot create the demo state directory {}",
                dir.display()
            )))?;
            (dir, None)
        }
        None => {
            let mut builder = tempfile::Builder::new();
            builder.prefix("preview-switch-demo-");
            #[cfg(unix)]
            builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
            let temp = builder.tempdir().map_err(io_error(
                "cannot create the demo's temporary directory (set TMPDIR to a writable directory)"
                    .into(),
            ))?;
            (temp.path().to_owned(), Some(temp))
        }
    };
    let token_file = dir.join("token");
    write_private(&token_file, &format!("{}\n", scenario.token))?;
    let config_path = dir.join("config.toml");
    let token = toml_escape(&token_file.display().to_string());
    let mut config = format!(
        "# Written by `preview-switch demo`; points preview-switch at the demo Argo CDs.\n\
         [[servers]]\nname = \"dev\"\nurl = \"{}\"\ntoken_file = \"{token}\"\n",
        api.url(),
    );
    for (name, _, running) in &others {
        config.push_str(&format!(
            "\n[[servers]]\nname = \"{name}\"\nurl = \"{}\"\ntoken_file = \"{token}\"\n",
            running.url()
        ));
    }
    std::fs::write(&config_path, config).map_err(io_error(format!(
        "cannot write the demo config {}",
        config_path.display()
    )))?;

    Ok(Demo {
        fake,
        api,
        others,
        site,
        routes: scenario.routes,
        token: scenario.token,
        dir,
        _temp: temp,
        config_path,
        token_file,
    })
}

fn toml_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Writes a file only its owner can read (the token).
fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let what = || format!("cannot write the demo token file {}", path.display());
    let mut file = options.open(path).map_err(io_error(what()))?;
    file.write_all(contents.as_bytes())
        .map_err(io_error(what()))
}

impl Demo {
    /// The fake Argo CD API, `http://127.0.0.1:PORT`.
    pub fn api_url(&self) -> String {
        self.api.url()
    }

    /// The demo site, `http://127.0.0.1:PORT` (send `Host: <svc>.demo.test`).
    pub fn site_url(&self) -> String {
        self.site.url()
    }

    pub fn site_port(&self) -> u16 {
        self.site.addr().port()
    }

    /// The token the demo API accepts (not a secret; still never printed by the demo).
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn token_file(&self) -> &Path {
        &self.token_file
    }

    /// The config file to pass as `PREVIEW_SWITCH_CONFIG`.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The `dev` fake server's handle (to change apps while the demo runs).
    pub fn fake(&self) -> &FakeArgo {
        &self.fake
    }

    /// Every server: (name, fake, URL), dev first.
    pub fn servers(&self) -> Vec<(String, FakeArgo, String)> {
        std::iter::once(("dev".to_owned(), self.fake.clone(), self.api.url()))
            .chain(
                self.others
                    .iter()
                    .map(|(n, f, r)| (n.clone(), f.clone(), r.url())),
            )
            .collect()
    }

    /// The cookie routes the demo site obeys.
    pub fn routes(&self) -> &[SiteRoute] {
        &self.routes
    }

    /// What to do next, for people.
    pub fn instructions(&self) -> String {
        let port = self.site_port();
        let example = self.routes.first();
        let (host, cookie) = example
            .map(|r| (r.host.clone(), format!("{}={}", r.cookie_name, r.pr)))
            .unwrap_or_else(|| (format!("courses-fe.{DEMO_DOMAIN}"), String::new()));
        let hosts: Vec<String> = {
            let mut h: Vec<String> = self.routes.iter().map(|r| r.host.clone()).collect();
            h.dedup();
            h
        };
        format!(
            "Demo Argo CD API: {api}  (token in {token_file})\n\
             Demo site:        {site}  (hosts: {hosts}, port {port})\n\
             \n\
             List the previews, and what runs in dev, stag and prod:\n\
             \x20 PREVIEW_SWITCH_CONFIG={config} {bin} list\n\
             \x20 PREVIEW_SWITCH_CONFIG={config} {bin} envs\n\
             \n\
             Ask the site who serves you, without and with the routing cookie:\n\
             \x20 curl -H 'Host: {host}' {site}/whoami\n\
             \x20 curl -H 'Host: {host}' -H 'Cookie: a=1; {cookie}; b=2' {site}/whoami\n\
             \n\
             Try it in Chromium with the extension (the demo registered its companion for this profile):\n\
             \x20 make build   # builds dist/extension\n\
             \x20 chromium --user-data-dir={profile} --host-resolver-rules=\"MAP *.{DEMO_DOMAIN} 127.0.0.1\" \\\n\
             \x20   --load-extension=dist/extension http://{host}:{port}/\n\
             \x20 then pick a preview in the Preview Switch popup (allow access to the site when asked).\n\
             \x20 (`make run` starts this browser for you when a display is available.)\n\
             \n\
             Press Ctrl-C to stop the demo.",
            api = self.api_url(),
            token_file = self.token_file.display(),
            site = self.site_url(),
            hosts = hosts.join(", "),
            config = self.config_path.display(),
            profile = self.profile_dir().display(),
            bin = crate::installed::invocation(),
        )
    }

    /// The Chromium profile the demo browser uses, under the demo's state directory.
    pub fn profile_dir(&self) -> PathBuf {
        self.dir.join("chromium-profile")
    }

    /// Registers `exe` as the native host for the demo profile only (the user's own browser
    /// registration is left alone), through a wrapper that points it at the demo's config:
    /// a host manifest's `path` cannot carry environment variables.
    pub fn register_host(&self, exe: &Path) -> Result<PathBuf> {
        let wrapper = self.dir.join("preview-switch-host");
        let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
        let script = format!(
            "#!/bin/sh\n# Written by `preview-switch demo`: the companion for the demo profile.\n\
             export PREVIEW_SWITCH_CONFIG={}\nexport PREVIEW_SWITCH_CACHE_DIR={}\nexec {} \"$@\"\n",
            quote(&self.config_path),
            quote(&self.dir.join("cache")),
            quote(exe),
        );
        std::fs::write(&wrapper, script).map_err(io_error(format!(
            "cannot write the demo host wrapper {}",
            wrapper.display()
        )))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).map_err(
                io_error(format!("cannot make {} executable", wrapper.display())),
            )?;
        }
        let hosts = self.profile_dir().join("NativeMessagingHosts");
        std::fs::create_dir_all(&hosts)
            .map_err(io_error(format!("cannot create {}", hosts.display())))?;
        let manifest = hosts.join(format!("{}.json", crate::host::HOST_NAME));
        let body = json!({
            "name": crate::host::HOST_NAME,
            "description": "Preview Switch companion (demo)",
            "path": wrapper,
            "type": "stdio",
            "allowed_origins": [format!("chrome-extension://{}/", crate::host::EXTENSION_ID)],
        });
        std::fs::write(&manifest, format!("{body:#}\n")).map_err(io_error(format!(
            "cannot write the demo host manifest {}",
            manifest.display()
        )))?;
        Ok(manifest)
    }

    /// The command that opens Chromium on the demo site with `extension` loaded.
    pub fn chromium_command(&self, chromium: &Path, extension: &Path) -> std::process::Command {
        let first = self
            .routes
            .first()
            .map_or_else(|| format!("courses-fe.{DEMO_DOMAIN}"), |r| r.host.clone());
        let mut cmd = std::process::Command::new(chromium);
        cmd.arg(format!("--user-data-dir={}", self.profile_dir().display()))
            .arg(format!(
                "--host-resolver-rules=MAP *.{DEMO_DOMAIN} 127.0.0.1"
            ))
            .arg(format!("--load-extension={}", extension.display()))
            // Google Chrome 137+ ignores --load-extension without this; Chromium obeys it.
            .arg("--disable-features=DisableLoadExtensionCommandLineSwitch")
            .arg("--no-first-run")
            .arg("--no-default-browser-check");
        if running_as_root() {
            // Chromium refuses to start as root with its sandbox (containers, CI boxes).
            cmd.arg("--no-sandbox");
        }
        cmd.arg(format!("http://{first}:{}/", self.site_port()));
        cmd
    }

    /// Stops both servers (dropping the demo does the same, without waiting).
    pub async fn shutdown(mut self) {
        let api = std::mem::replace(&mut self.api, placeholder());
        let site = std::mem::replace(&mut self.site, placeholder());
        api.shutdown().await;
        site.shutdown().await;
        for (_, _, running) in std::mem::take(&mut self.others) {
            running.shutdown().await;
        }
    }
}

/// Whether this process runs as root: `/proc/self` belongs to the effective user.
fn running_as_root() -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// A stopped server, to move the real ones out of a `Demo` being shut down.
fn placeholder() -> Running {
    fake::Running::stopped()
}

// --- the demo site ------------------------------------------------------------------------

/// The routes with their compiled, fully anchored regexes.
pub(crate) struct SiteRoutes {
    routes: Vec<(SiteRoute, Regex)>,
}

impl SiteRoutes {
    pub(crate) fn new(routes: &[SiteRoute]) -> SiteRoutes {
        let routes = routes
            .iter()
            .filter_map(|r| {
                // Anchored like the mesh: the whole header value must match.
                let re = Regex::new(&format!("^(?:{})$", r.cookie_regex)).ok()?;
                Some((r.clone(), re))
            })
            .collect();
        SiteRoutes { routes }
    }

    /// The preview a request to `host` with this `Cookie` header reaches; `None` = dev.
    pub(crate) fn route(&self, host: &str, cookie: &str) -> Option<&SiteRoute> {
        self.routes
            .iter()
            .find(|(r, re)| r.host.eq_ignore_ascii_case(host) && re.is_match(cookie))
            .map(|(r, _)| r)
    }

    fn hosts(&self) -> Vec<&str> {
        let mut hosts: Vec<&str> = self.routes.iter().map(|(r, _)| r.host.as_str()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        hosts
    }
}

fn site_router(routes: &[SiteRoute]) -> Router {
    Router::new()
        .fallback(site_page)
        .with_state(Arc::new(SiteRoutes::new(routes)))
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn site_page(
    State(routes): State<Arc<SiteRoutes>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let host_header = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let host = host_header
        .rsplit_once(':')
        .map_or(host_header, |(h, _)| h)
        .to_ascii_lowercase();
    // HTTP/2 may split cookies over several headers; the mesh sees them joined by "; ".
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ");
    let Some(service) = host
        .strip_suffix(&format!(".{DEMO_DOMAIN}"))
        .map(str::to_owned)
    else {
        let list: String = routes
            .hosts()
            .iter()
            .map(|h| format!("<li>{h}</li>"))
            .collect();
        let body = format!(
            "<!doctype html><title>Preview Switch demo</title><h1>Preview Switch demo site</h1>\
             <p>Unknown host <code>{}</code>. Open one of these hosts on this port (map \
             <code>*.{DEMO_DOMAIN}</code> to 127.0.0.1):</p><ul>{list}</ul>",
            escape_html(&host)
        );
        return (StatusCode::NOT_FOUND, Html(body)).into_response();
    };
    let hit = routes.route(&host, &cookie);
    if uri.path() == "/whoami" {
        let env = hit.map_or_else(|| "dev".to_owned(), |r| format!("pr-{}", r.pr));
        let body = json!({
            "service": service,
            "host": host,
            "env": env,
            "app": hit.map(|r| r.app.clone()),
            "image_tag": hit.map(|r| r.image_tag.clone()),
            "cookie": cookie,
        });
        return (
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
    }
    let (label, colour) = match hit {
        Some(r) => (format!("PR {} (image {})", r.pr, r.image_tag), "#7c3aed"),
        None => ("dev".to_owned(), "#0f766e"),
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{service}: {label}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:3rem}}\
         .env{{display:inline-block;padding:.4rem .8rem;border-radius:.4rem;color:#fff;background:{colour}}}</style></head>\
         <body><h1>{service}</h1><p>Served by <span class=\"env\" id=\"env\">{label}</span></p>\
         <p>Cookie header received: <code id=\"cookie\">{cookie}</code></p></body></html>",
        service = escape_html(&service),
        label = escape_html(&label),
        cookie = escape_html(&cookie),
    );
    Html(body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fake_argocd::Scenario;
    use serde_json::Value;

    fn routes() -> SiteRoutes {
        SiteRoutes::new(&Scenario::demo(None).routes)
    }

    #[test]
    fn cookie_regex_routes_exactly_like_the_httproute() {
        let r = routes();
        let host = "courses-fe.demo.test";
        let pr = |cookie: &str| r.route(host, cookie).map(|r| r.pr);
        assert_eq!(pr("team-courses-fe-pr=123"), Some(123));
        assert_eq!(pr("a=1; team-courses-fe-pr=123; b=2"), Some(123));
        assert_eq!(pr("a=1; team-courses-fe-pr=123"), Some(123));
        assert_eq!(
            pr("team-courses-fe-pr=1234"),
            None,
            "pr=123 must not match 1234"
        );
        assert_eq!(pr("xteam-courses-fe-pr=123"), None);
        assert_eq!(
            pr("a=1;team-courses-fe-pr=123"),
            None,
            "browsers join with \"; \""
        );
        assert_eq!(pr(""), None);
        assert_eq!(pr("team-courses-fe-pr=130"), Some(130));
        assert_eq!(
            r.route("checkout-api.demo.test", "team-courses-fe-pr=123"),
            None,
            "a cookie for another service does not route this host"
        );
    }

    fn client(site: &Demo) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let addr = SocketAddr::from(([127, 0, 0, 1], site.site_port()));
        reqwest::Client::builder()
            .resolve("courses-fe.demo.test", addr)
            .resolve("checkout-api.demo.test", addr)
            .build()
            .unwrap()
    }

    async fn json(resp: reqwest::Response) -> Value {
        serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
    }

    async fn whoami(demo: &Demo, host: &str, cookie: Option<&str>) -> Value {
        let mut req = client(demo).get(format!("http://{host}:{}/whoami", demo.site_port()));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        json(req.send().await.unwrap()).await
    }

    #[tokio::test]
    async fn demo_site_answers_dev_or_the_preview_by_cookie() {
        let demo = start(DemoOptions::default()).await.unwrap();
        let host = "courses-fe.demo.test";
        let dev = whoami(&demo, host, None).await;
        assert_eq!(dev["service"], "courses-fe");
        assert_eq!(dev["env"], "dev");
        let pr = whoami(&demo, host, Some("a=1; team-courses-fe-pr=123; b=2")).await;
        assert_eq!(pr["env"], "pr-123");
        assert_eq!(pr["image_tag"], "dev-abc1234");
        assert_eq!(pr["cookie"], "a=1; team-courses-fe-pr=123; b=2");
        let near = whoami(&demo, host, Some("team-courses-fe-pr=1234")).await;
        assert_eq!(near["env"], "dev");
        let gw = whoami(
            &demo,
            "checkout-api.demo.test",
            Some("team-checkout-api-pr=45"),
        )
        .await;
        assert_eq!(gw["env"], "pr-45");

        let page = client(&demo)
            .get(format!("http://{host}:{}/", demo.site_port()))
            .header("cookie", "team-courses-fe-pr=123")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("PR 123 (image dev-abc1234)"), "{page}");
        demo.shutdown().await;
    }

    #[tokio::test]
    async fn demo_writes_a_config_and_serves_the_scenario() {
        let dir = tempfile::tempdir().unwrap();
        let demo = start(DemoOptions {
            state_dir: Some(dir.path().to_owned()),
            ..DemoOptions::default()
        })
        .await
        .unwrap();
        let config: toml::Value =
            toml::from_str(&std::fs::read_to_string(demo.config_path()).unwrap()).unwrap();
        let server = &config["servers"][0];
        assert_eq!(server["name"].as_str(), Some("dev"));
        let names: Vec<&str> = config["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["dev", "stag", "prod"]);
        assert_eq!(server["url"].as_str(), Some(demo.api_url().as_str()));
        let token_file = PathBuf::from(server["token_file"].as_str().unwrap());
        assert_eq!(
            std::fs::read_to_string(&token_file).unwrap().trim(),
            "demo-token"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = demo.instructions();
        assert!(text.contains(&format!(
            "PREVIEW_SWITCH_CONFIG={}",
            demo.config_path().display()
        )));
        assert!(text.contains("--host-resolver-rules=\"MAP *.demo.test 127.0.0.1\""));
        assert!(!text.contains("demo-token"), "the token is not printed");

        let list = client(&demo)
            .get(format!(
                "{}/api/v1/applications?selector=type%3Dpr",
                demo.api_url()
            ))
            .bearer_auth(demo.token())
            .send()
            .await
            .unwrap();
        let list = json(list).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 7);
        let base = client(&demo)
            .get(format!("{}/api/v1/applications/courses-fe", demo.api_url()))
            .bearer_auth(demo.token())
            .send()
            .await
            .unwrap();
        let base = json(base).await;
        assert_eq!(
            base["status"]["summary"]["externalURLs"][0],
            format!("http://courses-fe.demo.test:{}/", demo.site_port())
        );
        drop(demo);
        assert!(
            dir.path().join("config.toml").exists(),
            "a given state dir is kept"
        );
    }

    #[tokio::test]
    async fn the_demo_profile_gets_its_own_companion_pointed_at_the_demo() {
        let demo = start(DemoOptions::default()).await.unwrap();
        let manifest_path = demo
            .register_host(Path::new("/opt/bin/preview-switch"))
            .unwrap();
        assert!(manifest_path.starts_with(demo.profile_dir().join("NativeMessagingHosts")));
        let manifest: Value =
            serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
        assert_eq!(manifest["name"], "io.previewswitch.companion");
        assert_eq!(
            manifest["allowed_origins"][0],
            "chrome-extension://kenpfoonlngflpognjbagobppcnfepml/"
        );
        let wrapper = PathBuf::from(manifest["path"].as_str().unwrap());
        let script = std::fs::read_to_string(&wrapper).unwrap();
        assert!(script.contains(&format!(
            "export PREVIEW_SWITCH_CONFIG='{}'",
            demo.config_path().display()
        )));
        assert!(script.contains("exec '/opt/bin/preview-switch' \"$@\""));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&wrapper).unwrap().permissions().mode();
            assert_eq!(mode & 0o111, 0o111, "the browser must be able to run it");
        }

        let cmd = demo.chromium_command(
            Path::new("/usr/bin/chromium"),
            Path::new("/src/dist/extension"),
        );
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(args.contains(&"--load-extension=/src/dist/extension".to_owned()));
        assert!(args.contains(&format!("--user-data-dir={}", demo.profile_dir().display())));
        assert!(args.contains(&format!(
            "http://courses-fe.demo.test:{}/",
            demo.site_port()
        )));
        assert!(demo.instructions().contains("make build"));
        assert!(!demo.instructions().contains("make dist"));
        demo.shutdown().await;
    }

    #[tokio::test]
    async fn dropping_the_demo_removes_its_temporary_directory() {
        let demo = start(DemoOptions::default()).await.unwrap();
        let dir = demo.config_path().parent().unwrap().to_owned();
        assert!(dir.exists());
        drop(demo);
        assert!(!dir.exists());
    }

    /// Finding 7: the temporary directory is made by mkdtemp, not a predictable name that
    /// another user could create first: two demos get different random names, private.
    #[cfg(unix)]
    #[tokio::test]
    async fn the_temporary_directory_is_random_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let (a, b) = (
            start(DemoOptions::default()).await.unwrap(),
            start(DemoOptions::default()).await.unwrap(),
        );
        let dir = |d: &Demo| d.config_path().parent().unwrap().to_owned();
        assert_ne!(dir(&a), dir(&b));
        for d in [&a, &b] {
            let name = dir(d).file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.starts_with("preview-switch-demo-"), "{name}");
            assert!(!name.contains(&std::process::id().to_string()), "{name}");
            let mode = std::fs::metadata(dir(d)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{name} is {mode:o}");
        }
    }
}
