//! Terminals: the legacy device list and operating mode (§2.1, §2.2) and the
//! Orders-era `/terminals/v1/{list,setup}` (§3.7), plus a page walker.

use super::{MpClient, MpError, MpId, Paging};
use crate::secret::SecretString;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// `PDV` (integrated) or `STANDALONE`; `UNDEFINED` is read-only (§3.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OperatingMode {
    Pdv,
    Standalone,
    Undefined,
    /// Anything newer than this client.
    #[serde(other)]
    Unknown,
}

/// A legacy device (§2.1). The Node SDK's shape is wrong; this follows the docs.
#[derive(Clone, Debug, Deserialize)]
pub struct Device {
    pub id: String,
    #[serde(default)]
    pub pos_id: Option<MpId>,
    #[serde(default)]
    pub store_id: Option<MpId>,
    #[serde(default)]
    pub external_pos_id: Option<String>,
    #[serde(default)]
    pub operating_mode: Option<OperatingMode>,
}

/// A terminal from `/terminals/v1/list`; same fields as a device.
pub type Terminal = Device;

#[derive(Clone, Debug, Default, Serialize)]
pub struct DeviceQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pos_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

/// Same filters; the server clamps `limit` to 50 (§3.7).
pub type TerminalQuery = DeviceQuery;

/// One entry of `PATCH /terminals/v1/setup`, request and echo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalSetup {
    pub id: String,
    pub operating_mode: OperatingMode,
}

#[derive(Deserialize)]
struct DevicesBody {
    #[serde(default)]
    devices: Vec<Device>,
    #[serde(default)]
    paging: Paging,
}

#[derive(Deserialize)]
struct TerminalsBody {
    #[serde(default)]
    data: TerminalsData,
    #[serde(default)]
    paging: Paging,
}

#[derive(Default, Deserialize)]
struct TerminalsData {
    #[serde(default)]
    terminals: Vec<Terminal>,
}

#[derive(Serialize, Deserialize)]
struct SetupBody {
    terminals: Vec<TerminalSetup>,
}

#[derive(Serialize, Deserialize)]
struct ModeBody {
    operating_mode: OperatingMode,
}

impl MpClient {
    /// `GET /point/integration-api/devices`, one page.
    pub async fn list_devices(
        &self,
        token: &SecretString,
        query: &DeviceQuery,
    ) -> Result<(Vec<Device>, Paging), MpError> {
        let url = self.api_url(&["point", "integration-api", "devices"]);
        let body: DevicesBody = self
            .send_json(self.request(Method::GET, url, token).query(query))
            .await?;
        Ok((body.devices, body.paging))
    }

    /// Every device, page by page.
    pub async fn list_all_devices(
        &self,
        token: &SecretString,
        query: &DeviceQuery,
    ) -> Result<Vec<Device>, MpError> {
        walk_pages(query.limit.unwrap_or(50), |offset, limit| {
            let q = DeviceQuery {
                offset: Some(offset),
                limit: Some(limit),
                ..query.clone()
            };
            async move { self.list_devices(token, &q).await }
        })
        .await
    }

    /// `PATCH /point/integration-api/devices/{id}`. Takes effect after the
    /// terminal restarts (§2.2).
    pub async fn set_device_operating_mode(
        &self,
        token: &SecretString,
        device_id: &str,
        mode: OperatingMode,
    ) -> Result<OperatingMode, MpError> {
        let url = self.api_url(&["point", "integration-api", "devices", device_id]);
        let req = self.request(Method::PATCH, url, token).json(&ModeBody {
            operating_mode: mode,
        });
        let body: ModeBody = self.send_json(req).await?;
        Ok(body.operating_mode)
    }

    /// `GET /terminals/v1/list`, one page.
    pub async fn list_terminals(
        &self,
        token: &SecretString,
        query: &TerminalQuery,
    ) -> Result<(Vec<Terminal>, Paging), MpError> {
        let url = self.api_url(&["terminals", "v1", "list"]);
        let body: TerminalsBody = self
            .send_json(self.request(Method::GET, url, token).query(query))
            .await?;
        Ok((body.data.terminals, body.paging))
    }

    /// Every terminal, page by page.
    pub async fn list_all_terminals(
        &self,
        token: &SecretString,
        query: &TerminalQuery,
    ) -> Result<Vec<Terminal>, MpError> {
        walk_pages(query.limit.unwrap_or(50), |offset, limit| {
            let q = TerminalQuery {
                offset: Some(offset),
                limit: Some(limit),
                ..query.clone()
            };
            async move { self.list_terminals(token, &q).await }
        })
        .await
    }

    /// `PATCH /terminals/v1/setup`. 412 means another PDV terminal already
    /// serves that POS (§3.7). Takes effect after a restart.
    pub async fn setup_terminals(
        &self,
        token: &SecretString,
        terminals: &[TerminalSetup],
    ) -> Result<Vec<TerminalSetup>, MpError> {
        let url = self.api_url(&["terminals", "v1", "setup"]);
        let req = self.request(Method::PATCH, url, token).json(&SetupBody {
            terminals: terminals.to_vec(),
        });
        let body: SetupBody = self.send_json(req).await?;
        Ok(body.terminals)
    }
}

/// Fetches pages until `total` is reached or a page comes back empty. The
/// offset advances by what was received, not by what was asked, because the
/// server may clamp `limit` (§3.7). Bounded, so a server that keeps
/// reporting a larger total cannot loop us forever.
pub async fn walk_pages<T, F, Fut>(page_size: u32, mut fetch: F) -> Result<Vec<T>, MpError>
where
    F: FnMut(u32, u32) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Paging), MpError>>,
{
    const MAX_PAGES: usize = 1000;
    let limit = page_size.max(1);
    let mut out = Vec::new();
    let mut offset: u32 = 0;
    for _ in 0..MAX_PAGES {
        let (items, paging) = fetch(offset, limit).await?;
        if items.is_empty() {
            break;
        }
        offset = offset.saturating_add(u32::try_from(items.len()).unwrap_or(u32::MAX));
        out.extend(items);
        if u64::from(offset) >= paging.total {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_list_shapes() {
        let d: DevicesBody = serde_json::from_str(
            r#"{"devices":[{"id":"PAX_A910__SMARTPOS1234345545","pos_id":47792476,"store_id":"47792478",
                "external_pos_id":"SUC0101POS","operating_mode":"PDV"}],"paging":{"total":1,"offset":0,"limit":50}}"#,
        )
        .unwrap();
        assert_eq!(
            d.devices[0].pos_id.as_ref().unwrap().as_u64(),
            Some(47792476)
        );
        assert_eq!(d.devices[0].operating_mode, Some(OperatingMode::Pdv));
        let t: TerminalsBody = serde_json::from_str(
            r#"{"data":{"terminals":[{"id":"NEWLAND_N950__SBX0000001","pos_id":"47792476",
                "operating_mode":"FANCY"}]},"paging":{"total":1,"offset":0,"limit":50}}"#,
        )
        .unwrap();
        assert_eq!(
            t.data.terminals[0].operating_mode,
            Some(OperatingMode::Unknown)
        );
        let empty: TerminalsBody = serde_json::from_str(
            r#"{"data":{"terminals":[]},"paging":{"total":0,"limit":50,"offset":0}}"#,
        )
        .unwrap();
        assert!(empty.data.terminals.is_empty());
    }

    #[tokio::test]
    async fn walker_follows_clamped_pages() {
        let all: Vec<u32> = (0..120).collect();
        let mut calls = 0;
        let got = walk_pages(100, |offset, limit| {
            calls += 1;
            // Server clamps to 50.
            let end = (offset + limit.min(50)).min(120) as usize;
            let page = all[offset as usize..end].to_vec();
            async move {
                Ok((
                    page,
                    Paging {
                        total: 120,
                        offset: offset.into(),
                        limit: 50,
                    },
                ))
            }
        })
        .await
        .unwrap();
        assert_eq!(got, all);
        assert_eq!(calls, 3);
    }
}
