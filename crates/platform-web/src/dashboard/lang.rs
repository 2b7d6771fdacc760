//! The dashboard's languages: Spanish, Portuguese (Brazil) and English,
//! chosen by a cookie set from the language switch, else by the browser's
//! `Accept-Language`.

use actix_web::HttpRequest;

use super::messages::MESSAGES;

pub const LANG_COOKIE: &str = "puente_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Es,
    PtBr,
    En,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Es, Lang::PtBr, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::PtBr => "pt-BR",
            Lang::En => "en",
        }
    }

    pub fn native_name(self) -> &'static str {
        match self {
            Lang::Es => "Español",
            Lang::PtBr => "Português",
            Lang::En => "English",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        let primary = code.split(['-', '_']).next().unwrap_or("");
        match primary {
            "es" => Some(Lang::Es),
            "pt" => Some(Lang::PtBr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The first supported language of an `Accept-Language` header, by q-value.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',').take(20) {
            let mut bits = part.split(';');
            let tag = bits.next().unwrap_or("");
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = Lang::parse(tag)
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }

    pub fn of_request(req: &HttpRequest) -> Lang {
        req.cookie(LANG_COOKIE)
            .and_then(|c| Lang::parse(c.value()))
            .or_else(|| {
                req.headers()
                    .get("accept-language")
                    .and_then(|v| v.to_str().ok())
                    .map(Lang::negotiate)
            })
            .unwrap_or(Lang::Es)
    }

    /// A browser that states its languages but none of ours (French,
    /// German, …) reads English rather than Spanish: the likelier second
    /// language. Without the header (scripts, curl) Spanish stays the default.
    pub fn negotiate(accept_language: &str) -> Lang {
        Lang::from_accept_language(accept_language).unwrap_or(Lang::En)
    }

    fn index(self) -> usize {
        match self {
            Lang::Es => 0,
            Lang::PtBr => 1,
            Lang::En => 2,
        }
    }
}

/// One entry of a language switch.
pub struct LangLink {
    pub code: &'static str,
    pub name: &'static str,
    pub url: String,
    pub current: bool,
}

/// Translations for templates: `{{ c.t.get("nav.sellers") }}`.
#[derive(Debug, Clone, Copy)]
pub struct Tr(pub Lang);

impl Tr {
    /// The text of `key`; an unknown key shows as itself (and fails the
    /// `every_template_key_is_translated` test).
    pub fn get<'a>(&self, key: &'a str) -> &'a str {
        match MESSAGES.binary_search_by(|(k, _)| (*k).cmp(key)) {
            Ok(i) => MESSAGES[i].1[self.0.index()],
            Err(_) => key,
        }
    }

    pub fn lang(&self) -> Lang {
        self.0
    }

    /// The language switch of a page outside the session (login,
    /// sign-up): one link per language, coming back to `back_to`.
    pub fn switch_links(&self, back_to: &str) -> Vec<LangLink> {
        Lang::ALL
            .iter()
            .map(|&l| LangLink {
                code: l.code(),
                name: l.native_name(),
                url: format!(
                    "/app/lang/{}?next={}",
                    l.code(),
                    super::forms::urlencode(back_to)
                ),
                current: l == self.0,
            })
            .collect()
    }

    /// [`Self::switch_links`] for the login page, keeping where the user
    /// was going after logging in.
    pub fn login_switch(&self, next: &str) -> Vec<LangLink> {
        if next.is_empty() || next == "/app" {
            self.switch_links("/app/login")
        } else {
            self.switch_links(&format!(
                "/app/login?next={}",
                super::forms::urlencode(next)
            ))
        }
    }

    /// A message with `{}` replaced by `arg`.
    pub fn with(&self, key: &str, arg: &str) -> String {
        self.get(key).replacen("{}", arg, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(
            Lang::from_accept_language("pt-BR,pt;q=0.9,en;q=0.8"),
            Some(Lang::PtBr)
        );
        assert_eq!(
            Lang::from_accept_language("fr-FR, en;q=0.5, es;q=0.7"),
            Some(Lang::Es)
        );
        assert_eq!(Lang::from_accept_language("de"), None);
        assert_eq!(Lang::from_accept_language(""), None);
    }

    #[test]
    fn unsupported_browser_languages_fall_back_to_english() {
        assert_eq!(Lang::negotiate("fr-FR,fr;q=0.9"), Lang::En);
        assert_eq!(Lang::negotiate("de-DE"), Lang::En);
        assert_eq!(Lang::negotiate("de;q=0.9, pt;q=0.2"), Lang::PtBr);
        assert_eq!(Lang::negotiate("garbage;;q=x"), Lang::En);
    }

    #[test]
    fn login_switch_keeps_the_destination() {
        use crate::dashboard::forms::urlencode;
        let links = Tr(Lang::Es).login_switch("/app/intents?status=approved");
        assert_eq!(links.len(), 3);
        assert!(links[0].current && !links[2].current);
        assert_eq!(
            links[2].url,
            format!(
                "/app/lang/en?next={}",
                urlencode(&format!(
                    "/app/login?next={}",
                    urlencode("/app/intents?status=approved")
                ))
            )
        );
    }

    #[test]
    fn messages_are_sorted_unique_and_complete() {
        for w in MESSAGES.windows(2) {
            assert!(w[0].0 < w[1].0, "unsorted or duplicate key {}", w[1].0);
        }
        for (k, texts) in MESSAGES.iter() {
            assert!(texts.iter().all(|t| !t.is_empty()), "empty text for {k}");
        }
    }

    /// Every `t.get("…")` in the templates names a key that exists.
    #[test]
    fn every_template_key_is_translated() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../templates");
        let mut missing = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(dir)];
        while let Some(p) = stack.pop() {
            for entry in std::fs::read_dir(&p).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for piece in text.split("t.get(\"").skip(1) {
                    let key = piece.split('"').next().unwrap();
                    if Tr(Lang::En).get(key) == key {
                        missing.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "untranslated keys: {missing:#?}");
    }
}
