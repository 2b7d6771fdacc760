//! OAuth: authorization URL, PKCE, and the three grants of `POST /oauth/token` (§1).
//!
//! Plain reqwest rather than the `oauth2` crate: Mercado Pago takes a JSON
//! body (§1.2; form encoding is UNCONFIRMED) and returns extra fields
//! (`user_id`, `public_key`, `live_mode`) we need typed.

use super::{MpClient, MpError, MpId};
use crate::secret::SecretString;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The application's credentials.
#[derive(Clone, Debug)]
pub struct AppCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

/// Inputs of the browser redirect (§1.1).
#[derive(Clone, Debug)]
pub struct AuthorizationRequest<'a> {
    pub client_id: &'a str,
    /// Must equal a redirect URL configured on the app, exactly.
    pub redirect_uri: &'a str,
    /// Single-use, unguessable; checked when the browser comes back.
    pub state: &'a str,
    /// `Some` sends `code_challenge` with `code_challenge_method=S256`.
    pub pkce: Option<&'a Pkce>,
}

/// A PKCE pair (RFC 7636 S256). The verifier stays server-side until the code exchange.
#[derive(Clone, Debug)]
pub struct Pkce {
    verifier: SecretString,
    challenge: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error("PKCE verifier must be 43-128 characters")]
    Length,
    #[error("PKCE verifier may only contain A-Z a-z 0-9 - . _ ~")]
    Charset,
}

impl Pkce {
    /// 48 random bytes: a 64-character base64url verifier.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 48];
        rand::fill(&mut bytes);
        Self::from_verifier(URL_SAFE_NO_PAD.encode(bytes)).expect("base64url of 48 bytes is valid")
    }

    pub fn from_verifier(verifier: impl Into<String>) -> Result<Self, PkceError> {
        let verifier = verifier.into();
        if !(43..=128).contains(&verifier.len()) {
            return Err(PkceError::Length);
        }
        if !verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return Err(PkceError::Charset);
        }
        let challenge = s256_challenge(&verifier);
        Ok(Pkce {
            verifier: SecretString::new(verifier),
            challenge,
        })
    }

    pub fn verifier(&self) -> &SecretString {
        &self.verifier
    }

    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

/// BASE64URL(SHA256(verifier)), no padding.
pub(crate) fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A `POST /oauth/token` answer. Only `access_token` is required: the refresh
/// mock lacks `user_id`, `public_key` and `live_mode` (§1.2), and a refresh
/// token is single-use, so failing to decode a successful refresh would lose
/// the seller's link.
#[derive(Clone, Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: SecretString,
    #[serde(default)]
    pub token_type: Option<String>,
    /// Store it: the old one no longer works after a refresh (§1.2).
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
    /// Seconds; 15552000 (180 days) for seller tokens, 6 h for client_credentials.
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub user_id: Option<MpId>,
    #[serde(default)]
    pub public_key: Option<String>,
    #[serde(default)]
    pub live_mode: Option<bool>,
}

impl MpClient {
    /// `{auth_base}/authorization?client_id&response_type=code&platform_id=mp&state&redirect_uri[&code_challenge&code_challenge_method=S256]`.
    pub fn authorization_url(&self, req: &AuthorizationRequest<'_>) -> Url {
        let mut url = self.auth_url(&["authorization"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", req.client_id)
                .append_pair("response_type", "code")
                .append_pair("platform_id", "mp")
                .append_pair("state", req.state)
                .append_pair("redirect_uri", req.redirect_uri);
            if let Some(p) = req.pkce {
                q.append_pair("code_challenge", p.challenge())
                    .append_pair("code_challenge_method", "S256");
            }
        }
        url
    }

    /// Grant `authorization_code`. `redirect_uri` must be the one used in the URL.
    pub async fn exchange_code(
        &self,
        app: &AppCredentials,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: Option<&SecretString>,
    ) -> Result<TokenResponse, MpError> {
        let mut body = json!({
            "client_id": app.client_id,
            "client_secret": app.client_secret.expose_secret(),
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
        });
        if let Some(v) = pkce_verifier {
            body["code_verifier"] = json!(v.expose_secret());
        }
        self.token_call(body).await
    }

    /// Grant `refresh_token`. The response carries the **new** refresh token;
    /// the one passed in is spent whatever happens next.
    pub async fn refresh_token(
        &self,
        app: &AppCredentials,
        refresh_token: &SecretString,
    ) -> Result<TokenResponse, MpError> {
        self.token_call(json!({
            "client_id": app.client_id,
            "client_secret": app.client_secret.expose_secret(),
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.expose_secret(),
        }))
        .await
    }

    /// Grant `client_credentials`: the application's own token (6 h).
    pub async fn client_credentials(&self, app: &AppCredentials) -> Result<TokenResponse, MpError> {
        self.token_call(json!({
            "client_id": app.client_id,
            "client_secret": app.client_secret.expose_secret(),
            "grant_type": "client_credentials",
        }))
        .await
    }

    async fn token_call(&self, body: serde_json::Value) -> Result<TokenResponse, MpError> {
        let req = self
            .unauthenticated(Method::POST, self.api_url(&["oauth", "token"]))
            .json(&body);
        drop(body);
        let resp = self.send(req).await?;
        let bytes = resp.bytes().await.map_err(MpError::from_transport)?;
        serde_json::from_slice(&bytes).map_err(|e| MpError::decode_redacted(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mercadopago::MpClientConfig;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        assert_eq!(p.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn generated_verifiers_are_valid_and_distinct() {
        let a = Pkce::generate();
        let b = Pkce::generate();
        assert_eq!(a.verifier().expose_secret().len(), 64);
        assert_ne!(a.verifier().expose_secret(), b.verifier().expose_secret());
        assert!(Pkce::from_verifier(a.verifier().expose_secret().clone()).is_ok());
        assert!(!format!("{a:?}").contains(a.verifier().expose_secret()));
    }

    #[test]
    fn verifier_rules() {
        assert_eq!(
            Pkce::from_verifier("a".repeat(42)).unwrap_err(),
            PkceError::Length
        );
        assert_eq!(
            Pkce::from_verifier("a".repeat(129)).unwrap_err(),
            PkceError::Length
        );
        assert!(Pkce::from_verifier("a".repeat(43)).is_ok());
        assert!(Pkce::from_verifier("a".repeat(128)).is_ok());
        let bad = format!("{}+/", "a".repeat(50));
        assert_eq!(Pkce::from_verifier(bad).unwrap_err(), PkceError::Charset);
    }

    #[test]
    fn authorization_url_shape() {
        let c = MpClient::new(MpClientConfig::production()).unwrap();
        let p = Pkce::generate();
        let url = c.authorization_url(&AuthorizationRequest {
            client_id: "123",
            redirect_uri: "https://puente.example/oauth/callback?x=1",
            state: "st ate",
            pkce: Some(&p),
        });
        assert_eq!(url.host_str(), Some("auth.mercadopago.com"));
        assert_eq!(url.path(), "/authorization");
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("client_id"), Some("123"));
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("platform_id"), Some("mp"));
        assert_eq!(get("state"), Some("st ate"));
        assert_eq!(
            get("redirect_uri"),
            Some("https://puente.example/oauth/callback?x=1")
        );
        assert_eq!(get("code_challenge"), Some(p.challenge()));
        assert_eq!(get("code_challenge_method"), Some("S256"));
    }

    #[test]
    fn token_response_lenient_and_redacted() {
        let full: TokenResponse = serde_json::from_str(
            r#"{"access_token":"APP_USR-1-2-3-241983636","token_type":"bearer","expires_in":15552000,
                "scope":"offline_access read write","user_id":241983636,"refresh_token":"TG-1",
                "public_key":"APP_USR-pk","live_mode":true}"#,
        )
        .unwrap();
        assert_eq!(full.user_id.unwrap().as_u64(), Some(241983636));
        assert_eq!(full.refresh_token.unwrap().expose_secret(), "TG-1");
        let min: TokenResponse =
            serde_json::from_str(r#"{"access_token":"APP_USR-x","refresh_token":"TG-2"}"#).unwrap();
        assert!(min.user_id.is_none() && min.live_mode.is_none() && min.expires_in.is_none());
        assert!(!format!("{min:?}").contains("APP_USR-x"));
        // A decode error does not quote the token.
        let e = serde_json::from_str::<TokenResponse>(
            r#"{"access_token":"APP_USR-x","expires_in":"APP_USR-x"}"#,
        )
        .unwrap_err();
        assert!(!MpError::decode_redacted(&e).to_string().contains("APP_USR"));
    }
}
