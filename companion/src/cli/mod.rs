//! The one entry point: argument parsing, mode detection (a browser launching us as its
//! native host), dispatch, error printing and exit codes. Commands stay thin: they resolve
//! settings, call the library and hand the result to [`output`].

pub mod doctor;
pub mod envs;
pub mod output;
mod serve;
mod stage;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::config::{self, ConnectionArgs};
use crate::error::{Error, Problem, Result, Surface};
use crate::host::{self, FailingSource, HostOptions, ListingSource, install::InstallOptions};
use crate::listing::{self, Listing, ServerFailure};
use crate::server::ServerTarget;
use output::Format;

#[derive(Debug, Parser)]
#[command(
    name = "preview-switch",
    version,
    about = "Find the PR previews in Argo CD and the cookie that routes your browser to each",
    long_about = "Find the PR previews in Argo CD and the cookie that routes your browser to each.\n\n\
        Connection settings, highest first: flags; ARGOCD_SERVER / ARGOCD_AUTH_TOKEN; the config file \
        (--config, PREVIEW_SWITCH_CONFIG, or $XDG_CONFIG_HOME/preview-switch/config.toml); the argocd CLI's own config.",
    propagate_version = true
)]
struct Cli {
    /// Log filter for stderr, RUST_LOG syntax (e.g. debug, companion=trace)
    #[arg(
        long,
        global = true,
        env = "PREVIEW_SWITCH_LOG",
        default_value = "warn"
    )]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the previews and how to reach each one
    List {
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
        /// Keep only previews routable on this host (a host or a URL)
        #[arg(long, value_name = "HOST")]
        host: Option<String>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Print the Cookie (or header) line that reaches a preview, for curl and API tests
    Header {
        /// The service, e.g. courses-fe
        service: String,
        /// The pull-request number
        pr: u64,
        #[command(flatten)]
        conn: Conn,
    },
    /// What version runs in each environment: the non-preview apps, per service
    ///
    /// A service and its environment come from the labels preview-switch.io/service and
    /// preview-switch.io/env, else from the app name with a leading or trailing environment
    /// segment removed (dev, qa, test, stag, staging, prod, production; env_pattern in
    /// config.toml), else the server's context name.
    Envs {
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
        /// Only this service
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Print a link that opens a preview, to share it (`?preview-switch=<service>:<pr>`)
    ///
    /// The link is the service's page with the share parameter. Whoever opens it with the
    /// Preview Switch extension is offered that preview; without the extension it reaches
    /// the preview only where the cluster has the share rule (examples/chart, `share`),
    /// which this says.
    Link {
        /// The service, e.g. courses-fe
        service: String,
        /// The pull-request number
        pr: u64,
        /// The page to open on the service's host, with its query if any
        #[arg(long, default_value = "/", value_name = "PATH")]
        path: String,
        /// Also print the link as a QR code for a phone's camera: light modules drawn for a
        /// dark terminal, or `--qr light` for a light one
        #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "dark", value_name = "TERMINAL")]
        qr: Option<output::QrTheme>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Ask Argo CD to refresh a preview now (GET ?refresh=normal) and print its state
    Refresh {
        /// The service, e.g. courses-fe
        service: String,
        /// The pull-request number
        pr: u64,
        #[command(flatten)]
        conn: Conn,
    },
    /// Sync a preview to its target revision, with your own token and RBAC
    Sync {
        /// The service, e.g. courses-fe
        service: String,
        /// The pull-request number
        pr: u64,
        #[command(flatten)]
        conn: Conn,
    },
    /// Check servers, tokens, config and browser registrations, and print fixes
    Doctor {
        #[command(flatten)]
        conn: Conn,
    },
    /// Serve the browser extension over native messaging (stdin/stdout frames)
    ///
    /// Browsers start this automatically: a first argument `chrome-extension://<id>/` (or a
    /// Firefox manifest path and add-on id) enters host mode without the `host` word.
    Host {
        /// Extra Chrome-family extension id to serve (besides the published one)
        #[arg(long = "extension-id", value_name = "ID")]
        extension_ids: Vec<String>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Serve the preview list to a whole team over HTTP (the team relay)
    ///
    /// One watch per Argo CD server for every client. Endpoints: GET /v1/previews[?host=H],
    /// GET /v1/events (Server-Sent Events), GET /healthz, GET /metrics. Choose who may read
    /// it: --trusted-proxy (an oauth2-proxy in front), --oidc-issuer, or --allow-anonymous.
    Serve(Box<serve::ServeArgs>),
    /// Register this binary as the browsers' native-messaging host
    Install {
        #[command(flatten)]
        target: HostTarget,
    },
    /// Remove the native-messaging host registrations that `install` wrote
    Uninstall {
        #[command(flatten)]
        target: HostTarget,
    },
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write a release artifact's tree: the Debian package's, a tarball's or the Windows
    /// zip's (scripts/dist.sh and `make install` pack or install it)
    #[command(hide = true)]
    Stage(stage::StageArgs),
    /// Start the embedded demo: a fake Argo CD with previews and a cookie-routed demo site
    Demo {
        /// Port for the fake Argo CD API on 127.0.0.1 (0 picks a free one)
        #[arg(long, default_value_t = 0)]
        api_port: u16,
        /// Port for the demo site on 127.0.0.1 (0 picks a free one)
        #[arg(long, default_value_t = 0)]
        site_port: u16,
        /// Print the listing and instructions, then exit instead of serving
        #[arg(long)]
        once: bool,
        /// The built extension to load in the demo browser (from `make build`)
        #[arg(long, default_value = "dist/extension")]
        extension: PathBuf,
    },
}

/// Which browsers and profile `install` / `uninstall` act on.
#[derive(Debug, Args)]
struct HostTarget {
    /// all, or one or more of chrome, chromium, brave, edge, vivaldi, firefox separated by
    /// commas (chrome,firefox)
    #[arg(long, value_name = "BROWSERS", default_value = "all")]
    browser: String,
    /// Machine-wide directories (Windows: HKEY_LOCAL_MACHINE) instead of your user's (needs
    /// root or an administrator)
    #[arg(long)]
    system: bool,
    /// An extension id to allow, repeatable (default: the published Preview Switch
    /// extension; a team's own CRX has its own id)
    #[arg(long = "extension-id", value_name = "ID")]
    extension_ids: Vec<String>,
    /// One Chrome-family profile: writes <DIR>/NativeMessagingHosts/
    #[arg(long, value_name = "DIR")]
    user_data_dir: Option<PathBuf>,
}

/// Connection flags shared by every command that talks to Argo CD.
#[derive(Debug, Clone, Args)]
struct Conn {
    /// Argo CD server: a URL (http://127.0.0.1:8080) or a bare host (https)
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Bearer token (prefer ARGOCD_AUTH_TOKEN or a token_file: flags show in `ps`)
    #[arg(long, value_name = "TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Use this argocd CLI context (or config.toml server name)
    #[arg(long, value_name = "NAME", conflicts_with = "all_contexts")]
    context: Option<String>,
    /// Query every argocd CLI context
    #[arg(long)]
    all_contexts: bool,
    /// Label selector for preview Applications
    #[arg(long, value_name = "SELECTOR")]
    selector: Option<String>,
    /// PEM file with the CA that signed the server's certificate
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Skip TLS verification (throwaway test servers only)
    #[arg(long)]
    insecure: bool,
    /// Connect timeout, e.g. 5s, 500ms
    #[arg(long, value_name = "DURATION", value_parser = config::parse_duration)]
    connect_timeout: Option<Duration>,
    /// Total timeout per request, e.g. 30s
    #[arg(long, value_name = "DURATION", value_parser = config::parse_duration)]
    timeout: Option<Duration>,
    /// Config file (default: PREVIEW_SWITCH_CONFIG, else $XDG_CONFIG_HOME/preview-switch/config.toml)
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl From<Conn> for ConnectionArgs {
    fn from(c: Conn) -> Self {
        ConnectionArgs {
            server: c.server,
            token: c.auth_token,
            context: c.context,
            all_contexts: c.all_contexts,
            selector: c.selector,
            ca_cert: c.ca_cert,
            insecure: c.insecure,
            connect_timeout: c.connect_timeout,
            timeout: c.timeout,
            config: c.config,
        }
    }
}

/// What a command produced: an exit code, with partial failures already reported.
type Outcome = Result<ExitCode>;

/// The whole program: `main.rs` calls this and nothing else.
pub fn main(args: Vec<OsString>) -> ExitCode {
    if let Some(caller) = host::detect_browser_launch(&args) {
        return serve_host(Some(caller), Vec::new(), ConnectionArgs::default());
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if let Command::Host {
        extension_ids,
        conn,
    } = cli.command
    {
        return serve_host(None, extension_ids, conn.into());
    }
    init_logging(&cli.log);
    if let Command::Serve(args) = cli.command {
        return serve_relay(*args);
    }
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(e) => return report(&e),
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    started(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    )
}

/// The host's runtime: two workers, so decoding and deriving a listing (a hostile preview
/// can make that long) never keeps the request loop from answering.
fn host_runtime() -> Result<tokio::runtime::Runtime> {
    started(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
    )
}

fn started(built: std::io::Result<tokio::runtime::Runtime>) -> Result<tokio::runtime::Runtime> {
    built.map_err(|source| Error::Io {
        what: "cannot start the async runtime".into(),
        source,
    })
}

/// Host mode: frames on stdin/stdout, logs to stderr and the state dir's `host.log`. A broken
/// config does not kill the host: every request is answered with the config error and its fix.
fn serve_host(
    caller: Option<host::Caller>,
    extra_ids: Vec<String>,
    args: ConnectionArgs,
) -> ExitCode {
    host::init_logging(host::logging::default_log_dir().as_deref());
    let runtime = match host_runtime() {
        Ok(rt) => rt,
        Err(e) => return report(&e),
    };
    let mut allowed = host::AllowedOrigins::default();
    allowed.chrome_ids.extend(extra_ids);
    // The ids `install --extension-id` registered this binary for, besides the published one.
    allowed.chrome_ids.extend(host::install::recorded_ids());
    // The origin first: for an extension we do not serve, no config is read and no
    // token_command runs (the host then refuses its every frame).
    let refused = caller.as_ref().is_some_and(|c| !allowed.permits(c));
    let code = runtime.block_on(async {
        let resolved = if refused {
            Ok(Vec::new())
        } else {
            resolve(&args)
        };
        match resolved {
            Ok(targets) => {
                let opts = HostOptions {
                    allowed,
                    installed: Some(crate::installed::current()),
                    ..HostOptions::for_targets(&targets)
                };
                host::run_stdio(caller, ListingSource::new(targets), opts).await
            }
            Err(e) => {
                let opts = HostOptions {
                    allowed,
                    installed: Some(crate::installed::current()),
                    ..HostOptions::default()
                };
                host::run_stdio(caller, FailingSource::new(&e), opts).await
            }
        }
    });
    // tokio's stdin keeps a blocking reader thread alive: leave without waiting for it.
    runtime.shutdown_background();
    code
}

/// The relay serves many clients at once: a runtime with a thread per core.
fn serve_relay(args: serve::ServeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(source) => {
            return report(&Error::Io {
                what: "cannot start the async runtime".into(),
                source,
            });
        }
    };
    match runtime.block_on(serve::run(args)) {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

fn report(e: &Error) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {}", e.with_fix(Surface::Cli));
    ExitCode::from(e.exit_code())
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

async fn run(command: Command) -> Outcome {
    match command {
        Command::List { output, host, conn } => list(conn.into(), output, host).await,
        Command::Header { service, pr, conn } => header(conn.into(), &service, pr).await,
        Command::Envs {
            output,
            service,
            conn,
        } => envs(conn.into(), output, service).await,
        Command::Link {
            service,
            pr,
            path,
            qr,
            conn,
        } => link(conn.into(), &service, pr, &path, qr).await,
        Command::Refresh { service, pr, conn } => {
            app_action(
                conn.into(),
                &service,
                pr,
                protocol::messages::AppAction::Refresh,
            )
            .await
        }
        Command::Sync { service, pr, conn } => {
            app_action(
                conn.into(),
                &service,
                pr,
                protocol::messages::AppAction::Sync,
            )
            .await
        }
        Command::Doctor { conn } => doctor(conn.into()).await,
        Command::Completions { shell } => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "preview-switch", &mut out);
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            api_port,
            site_port,
            once,
            extension,
        } => demo(api_port, site_port, once, extension).await,
        Command::Stage(args) => stage::stage(args),
        Command::Install { target } => install(target, false),
        Command::Uninstall { target } => install(target, true),
        Command::Host { .. } | Command::Serve(_) => {
            unreachable!("host and relay modes are served before this runtime starts")
        }
    }
}

fn resolve(args: &ConnectionArgs) -> Result<Vec<ServerTarget>> {
    config::resolve(args, &|k| std::env::var(k).ok())
}

/// Prints one line per failed server and says whether any failed (→ exit 1).
fn report_failures(listing: &Listing) -> bool {
    let mut err = std::io::stderr().lock();
    for f in &listing.failures {
        let _ = writeln!(
            err,
            "error: {}",
            failure_line(f, &f.error.with_fix(Surface::Cli))
        );
    }
    !listing.failures.is_empty()
}

/// Prints each server's notes (once per server) on stderr; how many there were.
fn report_notes(listing: &Listing) -> usize {
    let mut err = std::io::stderr().lock();
    let notes: Vec<&String> = listing.listed.iter().flat_map(|(_, l)| &l.notes).collect();
    for note in &notes {
        let _ = writeln!(err, "note: {note}");
    }
    notes.len()
}

/// One failed server's line. Every error already names the server's URL, so only a context
/// name that says more than the URL is added.
fn failure_line(f: &ServerFailure, error: &str) -> String {
    if !f.name.is_empty() && !f.url.contains(&f.name) {
        format!("{}: {error}", f.name)
    } else if error.contains(&f.url) {
        error.to_string()
    } else {
        format!("{}: {error}", f.label())
    }
}

fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not our failure.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Io {
            what: "cannot write to stdout".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// `--host` accepts `x.test`, `X.test:8443` or `https://x.test/path`.
fn host_of(input: &str) -> String {
    let s = input.trim();
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let s = s.split(['/', '?', '#']).next().unwrap_or(s);
    let s = s.rsplit_once('@').map_or(s, |(_, h)| h);
    let s = match s.rsplit_once(':') {
        Some((h, port))
            if port.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(']')
                || h.starts_with('[') && h.ends_with(']') =>
        {
            h
        }
        _ => s,
    };
    s.trim_end_matches('.').to_ascii_lowercase()
}

async fn list(args: ConnectionArgs, format: Format, host: Option<String>) -> Outcome {
    let targets = resolve(&args)?;
    let mut listing = listing::list(&targets).await;
    if let Some(h) = host.as_deref().map(host_of) {
        listing.previews.retain(|p| p.routes_host(&h));
    }
    // Every server failed: an empty table would only push the errors down; JSON stays `[]`
    // so scripts always get a document.
    let all_failed = listing.previews.is_empty() && !listing.failures.is_empty();
    if !all_failed || format == Format::Json {
        write_stdout(&output::render(
            &listing.previews,
            format,
            jiff::Timestamp::now(),
        ))?;
    }
    let failed = report_failures(&listing);
    let notes = report_notes(&listing);
    if listing.previews.is_empty() && !failed && (notes == 0 || host.is_some()) {
        let names: Vec<String> = targets
            .iter()
            .map(|t| format!("{} ({})", t.name, t.url))
            .collect();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "note: no previews on {}{}: Argo CD silently hides applications your RBAC role cannot read, \
             so check the selector (--selector) and `argocd app list` with the same account",
            names.join(", "),
            host.map(|h| format!(" routable on {}", host_of(&h)))
                .unwrap_or_default(),
        );
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn header(args: ConnectionArgs, service: &str, pr: u64) -> Outcome {
    let targets = resolve(&args)?;
    let listing = listing::list(&targets).await;
    let failed = report_failures(&listing);
    let preview = find_preview(&listing, service, pr)?;
    let Some(route) = preview.route() else {
        let why = preview.unroutable.as_deref().unwrap_or("no route found");
        return Err(Error::NotFound(Problem::new(
            format!("{} has no route: {why}", preview.app),
            "run `preview-switch doctor` to see the routing sources tried",
        )));
    };
    write_stdout(&format!("{}\n", output::header_line(route)))?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The listed preview of `service` for `pr` (the first server's, when several have it).
fn find_preview<'a>(listing: &'a Listing, service: &str, pr: u64) -> Result<&'a protocol::Preview> {
    let matches: Vec<_> = listing
        .previews
        .iter()
        .filter(|p| p.service == service && p.pr == pr)
        .collect();
    let Some(preview) = matches.first() else {
        let mut known: Vec<String> = listing
            .previews
            .iter()
            .filter(|p| p.service == service)
            .map(|p| p.pr.to_string())
            .collect();
        known.dedup();
        let fix = if known.is_empty() {
            "run `preview-switch list` to see the services that have previews".to_owned()
        } else {
            format!(
                "use a PR {service} has a preview for ({})",
                known.join(", ")
            )
        };
        return Err(Error::NotFound(Problem::new(
            format!("no preview of {service} for PR {pr}"),
            fix,
        )));
    };
    if matches.len() > 1 {
        let ctxs: Vec<&str> = matches.iter().map(|p| p.context.as_str()).collect();
        tracing::warn!(
            "PR {pr} of {service} exists in {}; using {}",
            ctxs.join(", "),
            preview.context
        );
    }
    Ok(preview)
}

async fn link(
    args: ConnectionArgs,
    service: &str,
    pr: u64,
    path: &str,
    qr: Option<output::QrTheme>,
) -> Outcome {
    let targets = resolve(&args)?;
    let listing = listing::list(&targets).await;
    let failed = report_failures(&listing);
    let preview = find_preview(&listing, service, pr)?;
    let link = output::share_link(preview, path).map_err(Error::Usage)?;
    let mut text = format!("{}\n", link.url);
    if let Some(theme) = qr {
        text.push_str(&output::qr_code(&link.url, theme).map_err(Error::Usage)?);
    }
    write_stdout(&text)?;
    let _ = writeln!(std::io::stderr(), "{}", link.note);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn envs(args: ConnectionArgs, format: Format, service: Option<String>) -> Outcome {
    let targets = resolve(&args)?;
    let opts = crate::envs::EnvsOptions {
        pattern: config::env_pattern(&args, &|k| std::env::var(k).ok())?,
        cache_dir: host::cache::default_dir(),
        links: format != Format::Table,
        service,
    };
    let report = crate::envs::collect(&targets, &opts).await;
    let all_failed = report.services.is_empty() && !report.failures.is_empty();
    if !all_failed || format == Format::Json {
        write_stdout(&envs::render(&report.services, format))?;
    }
    let listing = Listing {
        failures: report.failures,
        ..Listing::default()
    };
    let failed = report_failures(&listing);
    if report.services.is_empty() && !failed {
        let _ = writeln!(
            std::io::stderr().lock(),
            "note: no applications outside the preview selector{}: check `argocd app list` with the same account",
            opts.service
                .map(|s| format!(" for the service {s}"))
                .unwrap_or_default()
        );
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `refresh` / `sync`: the listed preview, then the action on its server.
async fn app_action(
    args: ConnectionArgs,
    service: &str,
    pr: u64,
    action: protocol::messages::AppAction,
) -> Outcome {
    let targets = resolve(&args)?;
    let listing = listing::list(&targets).await;
    let failed = report_failures(&listing);
    let preview = find_preview(&listing, service, pr)?;
    let target = crate::actions::target_for(&targets, &preview.server)?;
    let done = crate::actions::act(target, &preview.namespace, &preview.app, action).await?;
    write_stdout(&format!("{}\n", done.message))?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A settings file: found or not (fine when optional), and not readable by other users.
fn file_check(what: &str, path: &std::path::Path, exists: bool, optional: bool) -> doctor::Check {
    let shown = path.display();
    if !exists {
        return doctor::Check {
            warning: false,
            ok: optional,
            what: what.into(),
            detail: if optional {
                format!("{shown} not found (optional)")
            } else {
                format!("{shown} not found: create it or fix the path")
            },
        };
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            return doctor::Check {
                warning: false,
                ok: false,
                what: what.into(),
                detail: format!(
                    "{shown} can be read by other users and may hold a token: run chmod 600 {shown}"
                ),
            };
        }
    }
    doctor::Check {
        warning: false,
        ok: true,
        what: what.into(),
        detail: format!("{shown} found"),
    }
}

/// Chrome extension ids as given (`--extension-id`), each checked, once each.
pub(crate) fn checked_extension_ids(ids: Vec<String>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        if !host::install::is_chrome_id(&id) {
            return Err(Error::Usage(Problem::new(
                format!("{id:?} is not a Chrome extension id (32 letters a-p)"),
                "copy it from chrome://extensions with developer mode on",
            )));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

fn install_options(t: HostTarget) -> Result<InstallOptions> {
    let browsers = host::install::Browser::parse_list(&t.browser)?;
    let scope = if t.system {
        host::install::Scope::System
    } else {
        host::install::Scope::User
    };
    let mut opts = InstallOptions::new(browsers, scope)?;
    if !t.extension_ids.is_empty() {
        opts.extension_ids = checked_extension_ids(t.extension_ids)?;
    }
    opts.user_data_dir = t.user_data_dir;
    Ok(opts)
}

fn install(target: HostTarget, remove: bool) -> Outcome {
    let opts = install_options(target)?;
    let done = if remove {
        host::install::uninstall(&opts)?
    } else {
        host::install::install(&opts)?
    };
    let verb = if remove { "removed" } else { "installed" };
    let mut text = String::new();
    for d in &done {
        text.push_str(&format!(
            "{verb} {} host manifest: {}\n",
            d.browser.name(),
            d.path.display()
        ));
        if let Some(key) = opts.registry_key(d.browser) {
            text.push_str(&format!("  registry key: {key}\n"));
        }
        let shared = host::install::browsers::shares_system_dir(d.browser, opts.os);
        if remove && opts.scope == host::install::Scope::System && !shared.is_empty() {
            let names: Vec<&str> = shared.iter().map(|b| b.name()).collect();
            text.push_str(&format!(
                "  {} read the same file, so this unregisters them too\n",
                names.join(", ")
            ));
        }
    }
    if done.is_empty() {
        text.push_str(&format!("nothing {verb}\n"));
    }
    write_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

async fn doctor(args: ConnectionArgs) -> Outcome {
    let env = |k: &str| std::env::var(k).ok();
    let src = config::sources(&args, &env);
    let mut checks = vec![
        file_check(
            "config file",
            &src.config_file,
            src.config_file_exists,
            !src.config_file_explicit,
        ),
        // World-readable by design (it holds no token), so not `file_check`'s mode rule.
        doctor::Check::pass(
            "system config file",
            if src.system_config_file_exists {
                format!(
                    "{} (read below the user's)",
                    src.system_config_file.display()
                )
            } else {
                format!("{} not found (optional)", src.system_config_file.display())
            },
        ),
        file_check(
            "argocd CLI config",
            &src.argocd_config,
            src.argocd_config_exists,
            true,
        ),
    ];
    let installed = crate::installed::current();
    checks.push(doctor::Check::pass(
        "companion",
        format!(
            "preview-switch {} from {}{}",
            env!("CARGO_PKG_VERSION"),
            installed.describe(),
            std::env::current_exe()
                .map(|p| format!(" at {}", p.display()))
                .unwrap_or_default()
        ),
    ));
    if src.env_server || src.env_token {
        checks.push(doctor::Check {
            warning: false,
            ok: true,
            what: "environment".into(),
            detail: format!(
                "ARGOCD_SERVER {}, ARGOCD_AUTH_TOKEN {} (they override the files)",
                if src.env_server { "set" } else { "unset" },
                if src.env_token { "set" } else { "unset" }
            ),
        });
    }
    // A file that cannot be read is reported once, by `servers` below.
    if let Ok(origins) = config::setting_origins(&args, &env) {
        checks.extend(origins.into_iter().map(|(key, origin)| {
            doctor::Check::pass(format!("setting {key}"), format!("from {origin}"))
        }));
    }
    match resolve(&args) {
        Ok(targets) => {
            let results =
                futures_util::future::join_all(targets.iter().map(doctor::check_server)).await;
            checks.extend(results.into_iter().flatten());
        }
        Err(e) => checks.push(doctor::Check {
            warning: false,
            ok: false,
            what: "servers".into(),
            detail: e.with_fix(Surface::Cli),
        }),
    }
    for scope in [host::install::Scope::User, host::install::Scope::System] {
        let Ok(opts) = InstallOptions::new(host::install::Browser::ALL.to_vec(), scope) else {
            continue;
        };
        let label = match scope {
            host::install::Scope::User => "",
            host::install::Scope::System => "system ",
        };
        for c in host::install::check(&opts) {
            let ok = matches!(c.state, host::install::ManifestState::Ok);
            let detail = match c.fix() {
                Some(fix) => format!("{} {:?}: {fix}", c.path.display(), c.state),
                None => format!("{} points at this binary", c.path.display()),
            };
            checks.push(doctor::Check {
                warning: false,
                ok,
                what: format!("{} {label}host manifest", c.browser.name()),
                detail,
            });
        }
    }
    write_stdout(&doctor::render(&checks))?;
    Ok(if checks.iter().all(|c| c.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The first Chromium on PATH (Debian names it `chromium`).
fn which_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
}

async fn demo(api_port: u16, site_port: u16, once: bool, extension: PathBuf) -> Outcome {
    let demo = crate::demo::start(crate::demo::DemoOptions {
        api_port,
        site_port,
        ..Default::default()
    })
    .await?;
    let args = ConnectionArgs {
        config: Some(demo.config_path().to_path_buf()),
        ..Default::default()
    };
    let targets = resolve(&args)?;
    let listing = listing::list(&targets).await;
    let mut text = format!(
        "Fake Argo CD: {}   demo site: {}\n\n$ PREVIEW_SWITCH_CONFIG={} {} list\n",
        demo.api_url(),
        demo.site_url(),
        demo.config_path().display(),
        crate::installed::invocation()
    );
    text.push_str(&output::render(
        &listing.previews,
        Format::Table,
        jiff::Timestamp::now(),
    ));
    text.push('\n');
    // Register this binary as the companion of the demo's own Chromium profile.
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("preview-switch"));
    match demo.register_host(&exe) {
        Ok(manifest) => text.push_str(&format!(
            "Native host registered for the demo profile: {}\n",
            manifest.display()
        )),
        Err(e) => text.push_str(&format!(
            "Native host not registered: {}\n",
            e.with_fix(Surface::Cli)
        )),
    }
    text.push_str(&demo.instructions());
    // Where a display exists, open the demo in a Chromium with the extension loaded.
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .or_else(which_chromium);
    let mut browser = None;
    if !once && has_display {
        match (&chromium, extension.join("manifest.json").is_file()) {
            (Some(chromium), true) => {
                match demo
                    .chromium_command(
                        chromium,
                        &std::path::absolute(&extension).unwrap_or(extension.clone()),
                    )
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                {
                    Ok(child) => {
                        text.push_str(&format!(
                            "\n\nOpened {} with the extension loaded.",
                            chromium.display()
                        ));
                        browser = Some(child);
                    }
                    Err(e) => text.push_str(&format!(
                        "\n\nCould not start {}: {e}: start it with the command above",
                        chromium.display()
                    )),
                }
            }
            (None, _) => text.push_str(
                "\n\nNo chromium found on PATH (set CHROMIUM=/path/to/chromium) to open the demo",
            ),
            (Some(_), false) => text.push_str(&format!(
                "\n\nNo extension at {}: run `make build` first to open the demo in Chromium",
                extension.display()
            )),
        }
    }
    text.push('\n');
    write_stdout(&text)?;
    let failed = report_failures(&listing);
    if once {
        demo.shutdown().await;
    } else {
        let _ = tokio::signal::ctrl_c().await;
        if let Some(mut child) = browser {
            let _ = child.kill();
            let _ = child.wait();
        }
        demo.shutdown().await;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_flag_accepts_hosts_and_urls() {
        assert_eq!(host_of("Courses.Dev.Test"), "courses.dev.test");
        assert_eq!(
            host_of("https://courses.dev.test:8443/x?y"),
            "courses.dev.test"
        );
        assert_eq!(host_of("courses.dev.test:8080"), "courses.dev.test");
        assert_eq!(host_of("http://u:p@courses.dev.test/"), "courses.dev.test");
    }

    #[test]
    fn a_failure_line_names_the_server_once() {
        let failure = |name: &str, url: &str| ServerFailure {
            name: name.into(),
            url: url.into(),
            error: Error::Usage(Problem::new("unused", "unused")),
        };
        let err = "cannot reach http://127.0.0.1:9: refused: check the URL";
        // A context named after the URL's host adds nothing.
        assert_eq!(
            failure_line(&failure("127.0.0.1:9", "http://127.0.0.1:9"), err),
            err
        );
        assert_eq!(failure_line(&failure("", "http://127.0.0.1:9"), err), err);
        // A real context name says which environment failed.
        assert_eq!(
            failure_line(&failure("staging", "http://127.0.0.1:9"), err),
            format!("staging: {err}")
        );
        // An error that does not name the server gets the label.
        assert_eq!(
            failure_line(&failure("", "http://a.test"), "config says no"),
            "http://a.test: config says no"
        );
        assert_eq!(
            failure_line(&failure("a.test", "http://a.test"), "config says no"),
            "a.test (http://a.test): config says no"
        );
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
