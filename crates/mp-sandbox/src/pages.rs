//! HTML pages: the OAuth consent page at `/authorization` and the `/sandbox`
//! console where a person can play a terminal. Plain forms, no JavaScript.

use crate::helpers::do_terminal_action;
use crate::oauth::{self, Params};
use crate::sandbox::Sandbox;
use crate::sites::cents_to_decimal;
use actix_web::{HttpRequest, HttpResponse, web};

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;font-size:.9rem}}\
.err{{color:#a00}}.box{{border:1px solid #ccc;padding:1rem;border-radius:6px}}button{{margin:.2rem}}</style></head>\
<body><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    )
}

fn html(status: u16, body: String) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn query(req: &HttpRequest) -> Params {
    web::Query::<Params>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

const AUTH_KEYS: &[&str] = &[
    "client_id",
    "response_type",
    "platform_id",
    "state",
    "redirect_uri",
    "code_challenge",
    "code_challenge_method",
];

fn consent_form(q: &Params, error: Option<&str>) -> String {
    let hidden: String = AUTH_KEYS
        .iter()
        .filter_map(|k| {
            q.get(*k)
                .map(|v| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v)))
        })
        .collect();
    let err = error
        .map(|e| format!("<p class=\"err\">{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "<div class=\"box\"><p>Application <b>{app}</b> wants to access your Mercado Pago account \
(read and write payments, stores and Point terminals, offline access).</p>{err}\
<form method=\"post\" action=\"/authorization\">{hidden}\
<p><label>Nickname <input name=\"nickname\" autocomplete=\"username\"></label></p>\
<p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label></p>\
<button type=\"submit\" name=\"decision\" value=\"allow\">Authorize</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>\
<p id=\"where-credentials\">This is the sandbox: log in with a test account's nickname and \
password. They are listed on the <a href=\"/sandbox\">sandbox console</a>, and shown when you \
create a test seller (the Test sellers page of your dashboard).</p></div>",
        app = esc(q.get("client_id").map(String::as_str).unwrap_or(""))
    );
    page("Mercado Pago sandbox: authorize application", &body)
}

pub async fn authorization_get(sb: web::Data<Sandbox>, req: HttpRequest) -> HttpResponse {
    let q = query(&req);
    let checked = oauth::check_request(&sb.lock(), &q);
    match checked {
        Ok(_) => html(200, consent_form(&q, None)),
        Err(e) => html(
            400,
            page(
                "Authorization error",
                &format!("<p class=\"err\">{}</p>", esc(&e)),
            ),
        ),
    }
}

pub async fn authorization_post(sb: web::Data<Sandbox>, body: web::Bytes) -> HttpResponse {
    let f: Params = std::str::from_utf8(&body)
        .ok()
        .and_then(|s| web::Query::<Params>::from_query(s).ok())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    if let Err(e) = oauth::check_request(&sb.lock(), &f) {
        return html(
            400,
            page(
                "Authorization error",
                &format!("<p class=\"err\">{}</p>", esc(&e)),
            ),
        );
    }
    let nickname = f.get("nickname").map(String::as_str).unwrap_or("");
    let password = f.get("password").map(String::as_str).unwrap_or("");
    let user = sb
        .lock()
        .users
        .values()
        .find(|u| u.nickname.eq_ignore_ascii_case(nickname) && u.password == password)
        .map(|u| u.id);
    let Some(uid) = user else {
        return html(401, consent_form(&f, Some("Wrong nickname or password.")));
    };
    let allow = f.get("decision").map(String::as_str) == Some("allow");
    match oauth::decide(&sb, &f, uid, allow) {
        Ok(to) => HttpResponse::Found()
            .insert_header(("location", to))
            .finish(),
        Err(e) => html(
            400,
            page(
                "Authorization error",
                &format!("<p class=\"err\">{}</p>", esc(&e)),
            ),
        ),
    }
}

pub async fn console(sb: web::Data<Sandbox>, req: HttpRequest) -> HttpResponse {
    let q = query(&req);
    let msg = q
        .get("msg")
        .map(|m| format!("<p class=\"box\">{}</p>", esc(m)))
        .unwrap_or_default();
    let st = sb.lock();
    let mut sellers = String::from(
        "<table><tr><th>user_id</th><th>nickname</th><th>password</th><th>site</th></tr>",
    );
    for u in st
        .users
        .values()
        .filter(|u| st.terminals.values().any(|t| t.user_id == u.id))
    {
        sellers += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            u.id,
            esc(&u.nickname),
            esc(&u.password),
            u.site.id
        );
    }
    sellers += "</table>";
    let mut terms = String::from(
        "<table><tr><th>terminal</th><th>seller</th><th>mode</th><th>on screen</th><th>play</th></tr>",
    );
    for t in st.terminals.values() {
        let work = st.terminal_busy(&t.id);
        let screen = match &work {
            Some(id) => {
                if let Some(i) = st.intents.get(id) {
                    format!(
                        "intent {} {} {}",
                        esc(id),
                        i.state.as_str(),
                        cents_to_decimal(i.amount)
                    )
                } else if let Some(o) = st.orders.get(id) {
                    format!(
                        "order {} {} {}",
                        esc(id),
                        o.status.as_str(),
                        esc(&o.payment.amount)
                    )
                } else {
                    format!("refund {}", esc(id))
                }
            }
            None => "idle".into(),
        };
        let id = esc(&t.id);
        let play = if work.is_some() {
            format!(
                "<form method=\"post\" action=\"/sandbox/ui/terminals/{id}/charge\" style=\"display:inline\">\
<select name=\"outcome\"><option value=\"\">by amount</option><option>approved</option><option>rejected</option>\
<option>error</option><option>reversed</option><option>confirmation_required</option></select>\
<button>Charge</button></form>\
<form method=\"post\" action=\"/sandbox/ui/terminals/{id}/cancel\" style=\"display:inline\"><button>Cancel on device</button></form>"
            )
        } else {
            String::new()
        };
        terms += &format!(
            "<tr><td>{id}<br><small>{}</small></td><td>{}</td><td>{:?}</td><td>{screen}</td><td>{play}</td></tr>",
            t.operating_mode.as_str(),
            t.user_id,
            t.mode
        );
    }
    terms += "</table>";
    let mut notes = String::from(
        "<table><tr><th>#</th><th>topic</th><th>data.id</th><th>action / state</th><th>status</th><th>attempts</th></tr>",
    );
    for n in st.notifications.values().rev().take(50) {
        let body = n.body_json();
        let what = body
            .get("action")
            .or_else(|| body.get("state"))
            .and_then(|v| v.as_str())
            .unwrap_or("");
        notes += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            n.id,
            esc(&n.topic),
            esc(&n.data_id),
            esc(what),
            n.status.as_str(),
            n.attempts.len()
        );
    }
    notes += "</table>";
    let body = format!(
        "{msg}<p>Clock: {} ({})</p><h2>Sellers</h2>{sellers}<h2>Terminals</h2>{terms}<h2>Notifications (latest 50)</h2>{notes}",
        sb.clock.now().to_rfc3339(),
        if sb.clock.is_manual() {
            "manual"
        } else {
            "system"
        }
    );
    drop(st);
    html(200, page("Mercado Pago sandbox", &body))
}

pub async fn console_action(
    sb: web::Data<Sandbox>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (id, action) = path.into_inner();
    let f: Params = std::str::from_utf8(&body)
        .ok()
        .and_then(|s| web::Query::<Params>::from_query(s).ok())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let msg = match do_terminal_action(&sb, &id, &action, f.get("outcome").map(String::as_str)) {
        Ok(r) => format!("{action} on {id}: {r}"),
        Err(e) => format!(
            "{action} on {id} failed: {}",
            e.body["message"].as_str().unwrap_or("error")
        ),
    };
    HttpResponse::SeeOther()
        .insert_header((
            "location",
            format!("/sandbox?msg={}", crate::notify::url_encode(&msg)),
        ))
        .finish()
}
