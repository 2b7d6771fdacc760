//! Puente's Mercado Pago client, written from `shared/mercadopago-api.md`
//! ("the reference"; sections cited as §n).
//!
//! The same client talks to the real API (`https://api.mercadopago.com`,
//! `https://auth.mercadopago.com`) and to the project's sandbox; only the two
//! base URLs change. It shares no types with the sandbox on purpose: each side
//! is written from the reference, so one misreading cannot hide on both.
//!
//! Conventions:
//! - Access tokens are passed per call as [`SecretString`]; they are exposed
//!   only where the `Authorization` header is built and never appear in errors
//!   or logs.
//! - Every failure is an [`MpError`] classified for the worker's retry policy
//!   ([`MpError::is_retryable`]).
//! - Creates that can charge money take an idempotency key as a required
//!   argument: callers derive it from Puente's own intent id, so a retried
//!   dispatch can never create a second charge (§3.1).
//! - Response types are lenient (optional fields, ids as number or string,
//!   unknown fields ignored) because the reference and the SDK mocks disagree
//!   on many details.

mod accounts;
mod error;
mod integrator;
mod money;
mod notifications;
mod oauth;
mod orders;
mod payments;
mod point_legacy;
mod pos;
mod qr;
mod signature;
mod stores;
mod terminals;
mod types;

pub use accounts::User;
pub use error::{CancelRefusal, MpError, parse_error_body};
pub use integrator::IntegratorSettings;
pub use money::{Amount, MoneyError};
pub use notifications::{
    LegacyIntentNotification, MpConnectNotification, Notification, OrderNotification,
    OrderNotificationData, UserIdMismatch, parse_notification,
};
pub use oauth::{AppCredentials, AuthorizationRequest, Pkce, PkceError, TokenResponse};
pub use orders::{
    CancelOutcome, IntegrationData, Order, OrderPayment, OrderRefund, OrderStatus,
    OrderTransactions, PaymentMethodInfo, PointOrderRequest, PrintOnTerminal, RefundRequest,
    SimulatedOrderEvent, Sponsor,
};
pub use payments::{Payment, PaymentRefund};
pub use point_legacy::{
    IntentAdditionalInfo, IntentEvent, IntentPayment, IntentState, PaymentIntent,
    PaymentIntentRequest, RefundIntent,
};
pub use pos::{Pos, PosRequest, PosSearch, PosV2Request};
pub use qr::{QrCashOut, QrItem, QrOrder, QrOrderRequest, QrSponsor};
#[cfg(any(test, feature = "test-support"))]
pub use signature::sign as sign_notification;
pub use signature::{SignatureError, SignatureInfo, TsUnit, verify_signature};
pub use stores::{
    BusinessHours, Store, StoreDeleted, StoreLocation, StoreRequest, StoreSearch, TimeRange,
};
pub use terminals::{
    Device, DeviceQuery, OperatingMode, Terminal, TerminalQuery, TerminalSetup, walk_pages,
};
pub use types::{IdOnly, MpId, Page, Paging};

use crate::secret::SecretString;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// The production hosts (§0, §1.1).
pub const MP_API_BASE: &str = "https://api.mercadopago.com";
pub const MP_AUTH_BASE: &str = "https://auth.mercadopago.com";

/// How to reach Mercado Pago (or the sandbox).
#[derive(Clone, Debug)]
pub struct MpClientConfig {
    pub api_base: Url,
    pub auth_base: Url,
    /// Whole-request limit. The Node SDK uses 60 s (§8); the worker wants less.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub user_agent: String,
}

impl MpClientConfig {
    /// The real Mercado Pago hosts with a 30 s timeout.
    pub fn production() -> Self {
        Self::with_bases(
            Url::parse(MP_API_BASE).expect("constant URL"),
            Url::parse(MP_AUTH_BASE).expect("constant URL"),
        )
    }

    pub fn with_bases(api_base: Url, auth_base: Url) -> Self {
        MpClientConfig {
            api_base,
            auth_base,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("puente/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Mercado Pago client. Cheap to clone: one shared connection pool.
#[derive(Clone, Debug)]
pub struct MpClient {
    http: reqwest::Client,
    api_base: Url,
    auth_base: Url,
}

impl MpClient {
    pub fn new(config: MpClientConfig) -> Result<Self, MpError> {
        let http = reqwest::Client::builder()
            // Never follow redirects: a token-bearing request must not be
            // replayed to another host (and oauth2 practice against SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent)
            .build()
            .map_err(|e| MpError::InvalidRequest(format!("building HTTP client: {e}")))?;
        Ok(MpClient {
            http,
            api_base: config.api_base,
            auth_base: config.auth_base,
        })
    }

    pub fn api_base(&self) -> &Url {
        &self.api_base
    }

    pub fn auth_base(&self) -> &Url {
        &self.auth_base
    }

    /// `api_base` plus path segments, each percent-encoded (device ids and
    /// external ids come from users and upstream; never splice them raw).
    pub(crate) fn api_url(&self, segments: &[&str]) -> Url {
        join(&self.api_base, segments)
    }

    pub(crate) fn auth_url(&self, segments: &[&str]) -> Url {
        join(&self.auth_base, segments)
    }

    /// A request with the bearer token; the only place an access token is exposed.
    pub(crate) fn request(&self, method: Method, url: Url, token: &SecretString) -> RequestBuilder {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
            // A token with control characters cannot be sent; an empty
            // header makes the server answer 401, which is the truth.
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        value.set_sensitive(true);
        self.http.request(method, url).header(AUTHORIZATION, value)
    }

    pub(crate) fn unauthenticated(&self, method: Method, url: Url) -> RequestBuilder {
        self.http.request(method, url)
    }

    /// Sends and classifies: `Ok` only for 2xx.
    pub(crate) async fn send(&self, req: RequestBuilder) -> Result<Response, MpError> {
        let req = req
            .build()
            .map_err(|e| MpError::InvalidRequest(e.without_url().to_string()))?;
        let (method, path) = (req.method().clone(), req.url().path().to_string());
        let resp = self
            .http
            .execute(req)
            .await
            .map_err(MpError::from_transport)?;
        let status = resp.status();
        tracing::debug!(%method, path, status = status.as_u16(), "mercadopago call");
        if status.is_success() {
            Ok(resp)
        } else {
            Err(MpError::from_response(resp).await)
        }
    }

    /// Sends and decodes a JSON body.
    pub(crate) async fn send_json<T: DeserializeOwned>(
        &self,
        req: RequestBuilder,
    ) -> Result<T, MpError> {
        let resp = self.send(req).await?;
        decode(resp).await
    }

    /// Sends and ignores the body (204s, deletes whose echo is useless).
    pub(crate) async fn send_empty(&self, req: RequestBuilder) -> Result<StatusCode, MpError> {
        let resp = self.send(req).await?;
        let status = resp.status();
        // Drain so the connection returns to the pool.
        let _ = resp.bytes().await;
        Ok(status)
    }
}

pub(crate) async fn decode<T: DeserializeOwned>(resp: Response) -> Result<T, MpError> {
    let bytes = resp.bytes().await.map_err(MpError::from_transport)?;
    serde_json::from_slice(&bytes).map_err(|e| MpError::decode(&e, &bytes))
}

fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// Header names used by several modules.
pub(crate) const IDEMPOTENCY_KEY: &str = "X-Idempotency-Key";

/// Idempotency keys are required on money-moving creates; an empty or
/// oversized one is a caller bug, not something to send (§3.1, §5.3: 1–64).
pub(crate) fn check_idempotency_key(key: &str) -> Result<(), MpError> {
    if key.trim().is_empty() || key.len() > 64 {
        return Err(MpError::InvalidRequest(
            "idempotency key must be 1-64 characters".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_segments_and_keep_base_path() {
        let c = MpClient::new(MpClientConfig::with_bases(
            Url::parse("http://127.0.0.1:1/mp/").unwrap(),
            Url::parse("http://127.0.0.1:1").unwrap(),
        ))
        .unwrap();
        let u = c.api_url(&["point", "integration-api", "devices", "A/B C"]);
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:1/mp/point/integration-api/devices/A%2FB%20C"
        );
        assert_eq!(
            c.auth_url(&["authorization"]).as_str(),
            "http://127.0.0.1:1/authorization"
        );
    }

    #[test]
    fn idempotency_key_bounds() {
        assert!(check_idempotency_key("").is_err());
        assert!(check_idempotency_key(&"k".repeat(65)).is_err());
        assert!(check_idempotency_key("intent-0192").is_ok());
    }
}
