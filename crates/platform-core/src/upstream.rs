//! The Mercado Pago client for this deployment: the configured hosts, or
//! the sandbox (embedded or `puente sandbox`) for both API and OAuth.

use crate::config::{Settings, Upstream};
use crate::mercadopago::{MpClient, MpClientConfig};

/// `sandbox_url`: where the sandbox actually listens, when known (the
/// embedded one may use a random port); otherwise `PUENTE_SANDBOX_ADDR`.
pub fn mp_client(settings: &Settings, sandbox_url: Option<&str>) -> MpClient {
    let mut config = match &settings.upstream {
        Upstream::External { api_url, auth_url } => {
            MpClientConfig::with_bases(api_url.clone(), auth_url.clone())
        }
        Upstream::EmbeddedSandbox => {
            let url = sandbox_url
                .map(str::to_owned)
                .unwrap_or_else(|| format!("http://{}", settings.sandbox_addr));
            let url =
                reqwest::Url::parse(&url).expect("sandbox URL is built from a socket address");
            MpClientConfig::with_bases(url.clone(), url)
        }
    };
    config.timeout = settings.upstream_timeout;
    // Building a reqwest client fails only without a TLS backend, which is compiled in.
    MpClient::new(config).expect("HTTP client for Mercado Pago")
}
