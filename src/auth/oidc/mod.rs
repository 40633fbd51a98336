//! Single sign-on with OpenID Connect (API.md §21), on the `openidconnect` crate: any number of
//! providers from `DOCKET_OIDC_<NAME>_*`; the authorization code flow with PKCE (S256), `state`
//! and `nonce`; ID tokens verified in full (signature by the provider's published keys, `iss`,
//! `aud`, `azp`, `exp`, `iat`, `nonce`). Discovery documents and keys are cached, the keys
//! fetched again when a token names a key the cache does not hold (the provider rotated).
//!
//! The issuer is matched as the provider publishes it: the configured issuer finds the
//! discovery document with or without a trailing slash, and the `issuer` the document states
//! (which must be the configured one, give or take that slash) is what every token's `iss` is
//! held to. The handlers are in `flow`.

pub mod flow;
mod http;

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreJsonWebKeySet,
    CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError, TokenResponse,
};
use secrecy::ExposeSecret;
use tokio::sync::{Mutex, RwLock};
use url::Url;

use crate::config::{Config, OidcProvider};
use http::{Http, HttpError};

/// A discovery document is read again after this long (keys sooner, when a token needs it).
const METADATA_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// How far in the future an ID token's `iat` may be (clock skew between us and the provider).
const IAT_LEEWAY_SECS: i64 = 300;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a provider could not be used: every one ends as `provider_error` for the person, with
/// the reason in the log.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the provider cannot be reached: {0}")]
    Unreachable(String),
    #[error("the provider's answer was refused: {0}")]
    Refused(String),
}

/// The providers, the outbound client, and where the provider sends people back. Cheap to
/// clone.
#[derive(Clone)]
pub struct Oidc(Arc<Inner>);

struct Inner {
    providers: Vec<Provider>,
    http: Http,
    public_origin: Url,
}

/// A configured provider and what was learnt from it.
pub struct Provider {
    pub config: OidcProvider,
    discovered: RwLock<Option<Arc<Discovered>>>,
    /// Held while the discovery document or keys are fetched, so that requests waiting for
    /// them share one fetch.
    fetching: Mutex<()>,
}

/// A discovery document with its keys.
struct Discovered {
    metadata: CoreProviderMetadata,
    fetched_at: Instant,
    /// Bumped at every fetch of the keys, so that a request can tell whether the keys changed
    /// since it looked.
    keys_generation: u64,
}

/// A started authorization request: where to send the person, and the secrets to keep.
pub struct Authorization {
    pub url: Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Who the provider says signed in.
#[derive(Debug, Clone)]
pub struct Claims {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

impl Oidc {
    pub fn new(config: &Config) -> Self {
        let public_origin = Url::parse(&config.public_url.origin().ascii_serialization())
            .unwrap_or_else(|_| config.public_url.clone());
        Self(Arc::new(Inner {
            providers: config
                .oidc_providers
                .iter()
                .map(|provider| Provider {
                    config: provider.clone(),
                    discovered: RwLock::new(None),
                    fetching: Mutex::new(()),
                })
                .collect(),
            http: Http::new(),
            public_origin,
        }))
    }

    pub fn providers(&self) -> &[Provider] {
        &self.0.providers
    }

    pub fn find(&self, id: &str) -> Option<&Provider> {
        self.0.providers.iter().find(|p| p.config.id == id)
    }

    /// The redirect URI registered at the provider:
    /// `<public URL's origin>/api/v1/auth/oidc/<id>/callback`.
    pub fn redirect_uri(&self, provider: &Provider) -> String {
        format!(
            "{}api/v1/auth/oidc/{}/callback",
            self.0.public_origin, provider.config.id
        )
    }

    /// Starts an authorization request at `provider`.
    pub async fn authorize(&self, provider: &Provider) -> Result<Authorization, OidcError> {
        let discovered = provider.discovered(&self.0.http).await?;
        let client = self.client(provider, &discovered)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in provider.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(Authorization {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// The issuer as `provider` publishes it (for RFC 9207's `iss` on the callback).
    pub async fn published_issuer(&self, provider: &Provider) -> Result<String, OidcError> {
        let discovered = provider.discovered(&self.0.http).await?;
        Ok(discovered.metadata.issuer().to_string())
    }

    /// Exchanges the code and verifies the ID token; asks the UserInfo endpoint for the email
    /// when the ID token does not carry one.
    pub async fn finish(
        &self,
        provider: &Provider,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<Claims, OidcError> {
        let http = &self.0.http;
        let discovered = provider.discovered(http).await?;
        let client = self.client(provider, &discovered)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Refused(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&|request| http.send(request))
            .await
            .map_err(|e| OidcError::Refused(format!("token request: {}", describe(&e))))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::Refused("the token response has no id_token".into()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let verify = |client: &Client| -> Result<Claims, ClaimsVerificationError> {
            let verifier = client
                .id_token_verifier()
                .set_issue_time_verifier_fn(|iat| {
                    let ahead = (iat - chrono::Utc::now()).num_seconds();
                    if ahead > IAT_LEEWAY_SECS {
                        Err(format!("issued {ahead} s in the future"))
                    } else {
                        Ok(())
                    }
                });
            let claims = id_token.claims(&verifier, &nonce)?;
            authorized_party(
                claims.authorized_party().map(|p| p.as_str()),
                claims.audiences().len(),
                &provider.config.client_id,
            )
            .map_err(ClaimsVerificationError::InvalidAudience)?;
            Ok(Claims {
                subject: claims.subject().to_string(),
                email: claims.email().map(|e| e.to_string()),
                email_verified: claims.email_verified().unwrap_or(false),
                name: claims
                    .name()
                    .and_then(|name| name.get(None))
                    .map(|name| name.to_string()),
            })
        };
        let (claims, client) = match verify(&client) {
            Ok(claims) => (claims, client),
            // A key the cache does not hold: the provider may have rotated its keys.
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let refreshed = provider
                    .refresh_keys(http, discovered.keys_generation)
                    .await?;
                let client = self.client(provider, &refreshed)?;
                let claims = verify(&client).map_err(refused_token)?;
                (claims, client)
            }
            Err(error) => return Err(refused_token(error)),
        };
        if claims.email.is_some() || client.user_info_url().is_none() {
            return Ok(claims);
        }
        self.user_info(&client, response.access_token().clone(), claims)
            .await
    }

    /// The email (and name) from the UserInfo endpoint, for a subject whose ID token carries
    /// none; the answer must be about the same subject.
    async fn user_info(
        &self,
        client: &Client,
        access_token: openidconnect::AccessToken,
        mut claims: Claims,
    ) -> Result<Claims, OidcError> {
        let subject = openidconnect::SubjectIdentifier::new(claims.subject.clone());
        let info: CoreUserInfoClaims = client
            .user_info(access_token, Some(subject))
            .map_err(|e| OidcError::Refused(format!("userinfo: {e}")))?
            .request_async(&|request| self.0.http.send(request))
            .await
            .map_err(|e| OidcError::Refused(format!("userinfo: {}", describe(&e))))?;
        claims.email = info.email().map(|e| e.to_string());
        claims.email_verified = info.email_verified().unwrap_or(false);
        if claims.name.is_none() {
            claims.name = info
                .name()
                .and_then(|name| name.get(None))
                .map(|name| name.to_string());
        }
        Ok(claims)
    }

    fn client(&self, provider: &Provider, discovered: &Discovered) -> Result<Client, OidcError> {
        let config = &provider.config;
        let redirect = RedirectUrl::new(self.redirect_uri(provider))
            .map_err(|e| OidcError::Refused(format!("redirect URI: {e}")))?;
        let mut client = CoreClient::from_provider_metadata(
            discovered.metadata.clone(),
            ClientId::new(config.client_id.clone()),
            config
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose_secret().to_owned())),
        )
        .set_redirect_uri(redirect);
        // client_secret_basic is the default (RFC 6749); a provider that offers only
        // client_secret_post gets the secret in the body.
        if let Some(methods) = discovered.metadata.token_endpoint_auth_methods_supported() {
            let basic = methods.contains(&CoreClientAuthMethod::ClientSecretBasic);
            let post = methods.contains(&CoreClientAuthMethod::ClientSecretPost);
            if post && !basic {
                client = client.set_auth_type(AuthType::RequestBody);
            }
        }
        Ok(client)
    }
}

/// OpenID Connect Core 3.1.3.7, steps 4 and 5, which `openidconnect` leaves to its user: with
/// several audiences `azp` must be present, and when present it must be this client.
fn authorized_party(azp: Option<&str>, audiences: usize, client_id: &str) -> Result<(), String> {
    match azp {
        Some(party) if party != client_id => {
            Err(format!("azp is {party:?}, not this client ({client_id:?})"))
        }
        None if audiences > 1 => Err("several audiences and no azp".to_owned()),
        _ => Ok(()),
    }
}

fn unreachable(error: HttpError) -> OidcError {
    OidcError::Unreachable(error.to_string())
}

fn refused_token(error: ClaimsVerificationError) -> OidcError {
    OidcError::Refused(format!("ID token: {error}"))
}

/// An error and its causes, for the log.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text += &format!(": {cause}");
        source = cause.source();
    }
    text
}

impl Provider {
    /// The discovery document and keys, from the cache while fresh.
    async fn discovered(&self, http: &Http) -> Result<Arc<Discovered>, OidcError> {
        if let Some(found) = self.fresh().await {
            return Ok(found);
        }
        let _fetching = self.fetching.lock().await;
        if let Some(found) = self.fresh().await {
            return Ok(found);
        }
        let stale = self.discovered.read().await.clone();
        match self
            .discover(http, stale.as_ref().map_or(0, |d| d.keys_generation + 1))
            .await
        {
            Ok(found) => {
                let found = Arc::new(found);
                *self.discovered.write().await = Some(found.clone());
                Ok(found)
            }
            // A provider that is down for a moment keeps working from what was known.
            Err(error) => match stale {
                Some(stale) => {
                    tracing::warn!(provider = %self.config.id, error = %error, "using the cached discovery document");
                    Ok(stale)
                }
                None => Err(error),
            },
        }
    }

    async fn fresh(&self) -> Option<Arc<Discovered>> {
        self.discovered
            .read()
            .await
            .clone()
            .filter(|d| d.fetched_at.elapsed() < METADATA_MAX_AGE)
    }

    /// Reads the discovery document and its keys.
    async fn discover(&self, http: &Http, keys_generation: u64) -> Result<Discovered, OidcError> {
        let configured = self.config.issuer.as_str();
        let url = format!(
            "{}/.well-known/openid-configuration",
            configured.trim_end_matches('/')
        );
        let body = http.get(&url).await.map_err(unreachable)?;
        let metadata: CoreProviderMetadata = serde_json::from_slice(&body)
            .map_err(|e| OidcError::Refused(format!("discovery document {url}: {e}")))?;
        let published = metadata.issuer().as_str();
        if published.trim_end_matches('/') != configured.trim_end_matches('/') {
            return Err(OidcError::Refused(format!(
                "the discovery document names the issuer {published:?}, not {configured:?}"
            )));
        }
        let keys = self.fetch_keys(http, &metadata).await?;
        tracing::info!(provider = %self.config.id, issuer = %published, "single sign-on provider discovered");
        Ok(Discovered {
            metadata: metadata.set_jwks(keys),
            fetched_at: Instant::now(),
            keys_generation,
        })
    }

    async fn fetch_keys(
        &self,
        http: &Http,
        metadata: &CoreProviderMetadata,
    ) -> Result<CoreJsonWebKeySet, OidcError> {
        let url = metadata.jwks_uri().url().as_str();
        let body = http.get(url).await.map_err(unreachable)?;
        serde_json::from_slice(&body).map_err(|e| OidcError::Refused(format!("keys {url}: {e}")))
    }

    /// Fetches the keys again, unless another request did so since `seen_generation`.
    async fn refresh_keys(
        &self,
        http: &Http,
        seen_generation: u64,
    ) -> Result<Arc<Discovered>, OidcError> {
        let _fetching = self.fetching.lock().await;
        let current = self
            .discovered
            .read()
            .await
            .clone()
            .ok_or_else(|| OidcError::Refused("no discovery document".into()))?;
        if current.keys_generation != seen_generation {
            return Ok(current);
        }
        let keys = self.fetch_keys(http, &current.metadata).await?;
        tracing::info!(provider = %self.config.id, "fetched the provider's keys again: a token named a key not held");
        let refreshed = Arc::new(Discovered {
            metadata: current.metadata.clone().set_jwks(keys),
            fetched_at: current.fetched_at,
            keys_generation: current.keys_generation + 1,
        });
        *self.discovered.write().await = Some(refreshed.clone());
        Ok(refreshed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorized_party_is_this_client_when_named_and_named_when_several_audiences() {
        assert!(authorized_party(None, 1, "docket").is_ok());
        assert!(authorized_party(Some("docket"), 2, "docket").is_ok());
        assert!(authorized_party(Some("other"), 1, "docket").is_err());
        assert!(authorized_party(None, 2, "docket").is_err());
    }
}
