//! Who may read the relay. Three ways, at least one configured: an identity header set by
//! a trusted proxy in front (oauth2-proxy, Keycloak gatekeeper), read only when the request
//! comes from one of the configured proxy addresses; an OIDC bearer token checked against
//! the issuer's published keys (JWKS, fetched by our reqwest and verified by
//! `jsonwebtoken`); or nobody at all, only with an explicit `--allow-anonymous`. A
//! credential is never logged or echoed: errors name what was wrong with it, not its text.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use ipnet::IpNet;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use url::Url;

/// The settings `serve` was started with.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// Trust [`AuthConfig::identity_header`] from these peers only.
    pub trusted_proxies: Vec<IpNet>,
    pub identity_header: String,
    pub oidc: Option<OidcConfig>,
    pub allow_anonymous: bool,
}

#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The `iss` every token must carry, e.g. `https://sso.example.com/realms/dev`.
    pub issuer: String,
    /// The `aud` every token must carry (the client id the team's tokens are issued for).
    pub audience: String,
    /// Where the keys are; default: `jwks_uri` from the issuer's discovery document.
    pub jwks_url: Option<Url>,
}

/// The identity header oauth2-proxy sets (`--pass-user-headers`, its default).
pub const DEFAULT_IDENTITY_HEADER: &str = "x-forwarded-email";

/// Who a request comes from: the key of its limits and the name in the log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Client(pub String);

/// Why a request was not let in; each says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Neither a trusted identity header nor a bearer token came with it.
    NoCredentials,
    /// A bearer token came and was refused; the reason names the check, never the token.
    BadToken(String),
    /// The issuer's keys could not be read, so no token can be checked now.
    KeysUnavailable(String),
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::NoCredentials => {
                "the team relay needs you to sign in: the request carried no credentials".into()
            }
            Refusal::BadToken(why) => format!("the team relay refused the bearer token: {why}"),
            Refusal::KeysUnavailable(why) => {
                format!("the team relay cannot check sign-ins right now: {why}")
            }
        }
    }

    pub fn fix(&self) -> &'static str {
        match self {
            Refusal::NoCredentials | Refusal::BadToken(_) => {
                "sign in through your team's single sign-on: open the relay's address in a browser tab, then try again"
            }
            Refusal::KeysUnavailable(_) => {
                "try again in a minute; if it lasts, tell the relay's operator (its log says why)"
            }
        }
    }
}

/// A problem with the auth flags, found at start.
pub fn check(config: &AuthConfig) -> Result<(), crate::error::Problem> {
    use crate::error::Problem;
    let proxy = !config.trusted_proxies.is_empty();
    if !proxy && config.oidc.is_none() && !config.allow_anonymous {
        return Err(Problem::new(
            "the relay would serve the preview list, which names internal hosts, to anyone",
            "choose who may read it: --trusted-proxy CIDR (an oauth2-proxy in front), \
             --oidc-issuer URL with --oidc-audience AUD, or --allow-anonymous on a private network",
        ));
    }
    if let Some(oidc) = &config.oidc {
        let issuer = Url::parse(&oidc.issuer).map_err(|e| {
            Problem::new(
                format!("--oidc-issuer {:?} is not a URL: {e}", oidc.issuer),
                "give the issuer URL exactly as the tokens' iss claim says it",
            )
        })?;
        for (flag, url) in [
            ("--oidc-issuer", Some(&issuer)),
            ("--oidc-jwks-url", oidc.jwks_url.as_ref()),
        ] {
            if let Some(url) = url
                && url.scheme() != "https"
                && !is_loopback(url)
            {
                return Err(Problem::new(
                    format!(
                        "{flag} {url} is not https: the signing keys could be swapped on the way"
                    ),
                    format!("use the https address of {flag}"),
                ));
            }
        }
        if oidc.audience.trim().is_empty() {
            return Err(Problem::new(
                "--oidc-issuer needs --oidc-audience: without it a token issued for any other application would be accepted",
                "add --oidc-audience with the client id your team's tokens are issued for",
            ));
        }
    }
    Ok(())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// The claims read from a token: who it names.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: Option<String>,
    email: Option<String>,
    preferred_username: Option<String>,
}

/// The algorithms a bearer token may be signed with (asymmetric only: a shared secret
/// would let anyone holding it mint tokens, and `none` is never accepted).
const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// How often at most the keys are fetched again for a key id not seen before.
const REFETCH_AFTER: Duration = Duration::from_secs(30);

/// The configured checks, with the issuer's keys cached.
#[derive(Debug)]
pub struct Auth {
    config: AuthConfig,
    http: Option<reqwest::Client>,
    keys: tokio::sync::Mutex<Keys>,
}

#[derive(Debug, Default)]
struct Keys {
    set: Option<JwkSet>,
    fetched: Option<Instant>,
    jwks_url: Option<Url>,
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

impl Auth {
    pub fn new(config: AuthConfig) -> Auth {
        let http = config.oidc.as_ref().map(|_| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a TLS client with the ring provider builds")
        });
        let jwks_url = config.oidc.as_ref().and_then(|o| o.jwks_url.clone());
        Auth {
            config,
            http,
            keys: tokio::sync::Mutex::new(Keys {
                jwks_url,
                ..Keys::default()
            }),
        }
    }

    /// Whether a bearer token is looked for (the 401 then says `WWW-Authenticate: Bearer`).
    pub fn takes_bearer(&self) -> bool {
        self.config.oidc.is_some()
    }

    /// Reads the keys once at start, so the first request does not wait; a failure is
    /// logged and retried by the first request that needs them.
    pub async fn warm_up(&self) {
        if self.config.oidc.is_some()
            && let Err(why) = self.refetch(&mut *self.keys.lock().await).await
        {
            tracing::warn!("cannot read the OIDC issuer's keys yet: {why}");
        }
    }

    /// Who sent the request, or why it is refused.
    pub async fn authenticate(&self, peer: IpAddr, headers: &HeaderMap) -> Result<Client, Refusal> {
        if !self.config.trusted_proxies.is_empty() {
            let trusted = self
                .config
                .trusted_proxies
                .iter()
                .any(|net| net.contains(&peer));
            let identity = headers
                .get(self.config.identity_header.as_str())
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty());
            match (trusted, identity) {
                (true, Some(who)) => return Ok(Client(who.to_owned())),
                // Anyone can send the header; only the proxy's copy means anything.
                (false, Some(_)) => tracing::debug!(
                    "ignoring {} from {peer}: not a trusted proxy address",
                    self.config.identity_header
                ),
                _ => {}
            }
        }
        if self.config.oidc.is_some()
            && let Some(token) = bearer(headers)
        {
            return self.check_token(token).await;
        }
        if self.config.allow_anonymous {
            return Ok(Client(peer.to_string()));
        }
        Err(Refusal::NoCredentials)
    }

    async fn check_token(&self, token: &str) -> Result<Client, Refusal> {
        let Some(oidc) = &self.config.oidc else {
            return Err(Refusal::NoCredentials);
        };
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Refusal::BadToken(format!("it is not a JWT ({e})")))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(Refusal::BadToken(format!(
                "it is signed with {:?}, which the relay does not accept",
                header.alg
            )));
        }
        let key = self.key_for(header.kid.as_deref()).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&oidc.issuer]);
        validation.set_audience(&[&oidc.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = 30;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| Refusal::BadToken(describe(&e)))?
            .claims;
        claims
            .email
            .or(claims.preferred_username)
            .or(claims.sub)
            .map(Client)
            .ok_or_else(|| {
                Refusal::BadToken("it names nobody (no email, preferred_username or sub)".into())
            })
    }

    /// The key a token names, fetching the keys again (at most every 30 s) when the issuer
    /// may have rotated them.
    async fn key_for(&self, kid: Option<&str>) -> Result<DecodingKey, Refusal> {
        let mut keys = self.keys.lock().await;
        let stale = keys.fetched.is_none_or(|at| at.elapsed() >= REFETCH_AFTER);
        // Not more often than every 30 s, so an unknown key id cannot make us hammer the
        // issuer.
        let missing = keys.set.is_none() || find(keys.set.as_ref(), kid).is_none();
        if missing
            && stale
            && let Err(why) = self.refetch(&mut keys).await
        {
            tracing::warn!("cannot read the OIDC issuer's keys: {why}");
        }
        if keys.set.is_none() {
            return Err(Refusal::KeysUnavailable(
                "the issuer's keys could not be read".into(),
            ));
        }
        let jwk = find(keys.set.as_ref(), kid).ok_or_else(|| {
            Refusal::BadToken(match kid {
                Some(kid) => format!("its key id {kid:?} is not among the issuer's keys"),
                None => "it names no key id and the issuer has several keys".into(),
            })
        })?;
        DecodingKey::from_jwk(jwk)
            .map_err(|e| Refusal::KeysUnavailable(format!("the issuer's key is unusable: {e}")))
    }

    async fn refetch(&self, keys: &mut Keys) -> Result<(), String> {
        let (Some(http), Some(oidc)) = (&self.http, &self.config.oidc) else {
            return Ok(());
        };
        keys.fetched = Some(Instant::now());
        let jwks_url = match &keys.jwks_url {
            Some(url) => url.clone(),
            None => {
                let discovery = format!(
                    "{}/.well-known/openid-configuration",
                    oidc.issuer.trim_end_matches('/')
                );
                let found: Discovery = get_json(http, &discovery).await?;
                let url = Url::parse(&found.jwks_uri)
                    .ok()
                    .filter(|u| u.scheme() == "https" || is_loopback(u))
                    .ok_or_else(|| {
                        format!(
                            "{discovery} names jwks_uri {:?}, which is not an https URL",
                            found.jwks_uri
                        )
                    })?;
                keys.jwks_url = Some(url.clone());
                url
            }
        };
        keys.set = Some(get_json(http, jwks_url.as_str()).await?);
        Ok(())
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url} could not be reached ({e})"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{url} did not answer in full ({e})"))?;
    serde_json::from_slice(&body)
        .map_err(|e| format!("{url} did not answer the expected JSON ({e})"))
}

fn find<'a>(set: Option<&'a JwkSet>, kid: Option<&str>) -> Option<&'a jsonwebtoken::jwk::Jwk> {
    let set = set?;
    match kid {
        Some(kid) => set.find(kid),
        // No key id: only unambiguous when the issuer publishes one key.
        None if set.keys.len() == 1 => set.keys.first(),
        None => None,
    }
}

/// A token's failed check in words; never the token.
fn describe(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::ExpiredSignature => "it has expired".into(),
        ErrorKind::ImmatureSignature => "it is not valid yet (nbf)".into(),
        ErrorKind::InvalidIssuer => "it was issued by another issuer".into(),
        ErrorKind::InvalidAudience => "it was issued for another audience".into(),
        ErrorKind::InvalidSignature => "its signature does not match the issuer's key".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("it has no {claim} claim"),
        ErrorKind::InvalidAlgorithm => "its algorithm does not match the issuer's key".into(),
        other => format!("it is malformed ({other:?})"),
    }
}

/// The token of an `Authorization: Bearer …` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// `--trusted-proxy` values: addresses or CIDR ranges, comma-separated or repeated.
pub fn parse_proxies(values: &[String]) -> Result<Vec<IpNet>, crate::error::Problem> {
    let mut nets = Vec::new();
    for value in values.iter().flat_map(|v| v.split(',')) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let net = value
            .parse::<IpNet>()
            .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| {
                crate::error::Problem::new(
                    format!("--trusted-proxy {value:?} is not an IP address or CIDR range"),
                    "give the proxy's address, e.g. 10.0.0.0/8 or 127.0.0.1",
                )
            })?;
        nets.push(net);
    }
    Ok(nets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[tokio::test]
    async fn the_identity_header_counts_only_from_a_trusted_proxy() {
        let auth = Auth::new(AuthConfig {
            trusted_proxies: parse_proxies(&["10.0.0.0/8, 192.168.1.7".into()]).unwrap(),
            identity_header: DEFAULT_IDENTITY_HEADER.into(),
            ..AuthConfig::default()
        });
        let who = headers(&[("x-forwarded-email", "qa@example.com")]);
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "192.168.1.8".parse().unwrap();
        assert_eq!(
            auth.authenticate(proxy, &who).await,
            Ok(Client("qa@example.com".into()))
        );
        assert_eq!(
            auth.authenticate("192.168.1.7".parse().unwrap(), &who)
                .await,
            Ok(Client("qa@example.com".into()))
        );
        assert_eq!(
            auth.authenticate(stranger, &who).await,
            Err(Refusal::NoCredentials)
        );
        assert_eq!(
            auth.authenticate(proxy, &headers(&[("x-forwarded-email", " ")]))
                .await,
            Err(Refusal::NoCredentials)
        );
    }

    #[tokio::test]
    async fn anonymous_clients_are_told_apart_by_address() {
        let auth = Auth::new(AuthConfig {
            allow_anonymous: true,
            ..AuthConfig::default()
        });
        assert_eq!(
            auth.authenticate("127.0.0.1".parse().unwrap(), &HeaderMap::new())
                .await,
            Ok(Client("127.0.0.1".into()))
        );
    }

    #[test]
    fn flags_that_would_open_the_list_or_trust_a_swappable_key_are_refused() {
        let none = check(&AuthConfig::default()).unwrap_err();
        assert!(none.to_string().contains("to anyone"), "{none}");
        let oidc = |issuer: &str, audience: &str| AuthConfig {
            oidc: Some(OidcConfig {
                issuer: issuer.into(),
                audience: audience.into(),
                jwks_url: None,
            }),
            ..AuthConfig::default()
        };
        assert!(check(&oidc("https://sso.example.com/realms/a", "ps")).is_ok());
        assert!(check(&oidc("http://127.0.0.1:8080/realms/a", "ps")).is_ok());
        let plain = check(&oidc("http://sso.example.com", "ps")).unwrap_err();
        assert!(plain.to_string().contains("not https"), "{plain}");
        let open = check(&oidc("https://sso.example.com", "")).unwrap_err();
        assert!(open.to_string().contains("--oidc-audience"), "{open}");
        let bad = parse_proxies(&["10.0.0.0/33".into()]).unwrap_err();
        assert!(bad.to_string().contains("10.0.0.0/33"), "{bad}");
    }

    #[test]
    fn only_a_bearer_authorization_is_a_token() {
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer abc.def")])),
            Some("abc.def")
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "bearer   abc ")])),
            Some("abc")
        );
        assert_eq!(bearer(&headers(&[("authorization", "Basic YTpi")])), None);
        assert_eq!(bearer(&headers(&[("authorization", "Bearer ")])), None);
    }
}
