//! Per-site (country) data: currency, legacy amount limits (reference 2.3),
//! terminal models handed to test sellers, and country codes.

#[derive(Clone, Copy, Debug)]
pub struct Site {
    pub id: &'static str,
    pub country_id: &'static str,
    /// Country code as the Orders API echoes it (ISO 3166 alpha-3, as in the example).
    pub country_code: &'static str,
    pub currency: &'static str,
    /// Legacy payment-intent limits, in cents.
    pub min_cents: i64,
    pub max_cents: i64,
    /// Models given to sandbox terminals, in order.
    pub models: &'static [&'static str],
    /// Whether `PATCH /terminals/v1/setup` supports the site (AR/BR/CL/MX).
    pub terminals_setup: bool,
}

const SITES: &[Site] = &[
    Site {
        id: "MLA",
        country_id: "AR",
        country_code: "ARG",
        currency: "ARS",
        min_cents: 500,
        max_cents: 400_000_000,
        models: &["PAX_A910", "NEWLAND_N950"],
        terminals_setup: true,
    },
    Site {
        id: "MLB",
        country_id: "BR",
        country_code: "BRA",
        currency: "BRL",
        min_cents: 100,
        max_cents: 7_000_000,
        models: &["PAX_A910", "GERTEC_MP35P"],
        terminals_setup: true,
    },
    Site {
        id: "MLM",
        country_id: "MX",
        country_code: "MEX",
        currency: "MXN",
        min_cents: 500,
        max_cents: 35_000_000,
        models: &["NEWLAND_N950", "PAX_A910"],
        terminals_setup: true,
    },
    Site {
        id: "MLC",
        country_id: "CL",
        country_code: "CHL",
        currency: "CLP",
        min_cents: 100,
        max_cents: 1_000_000_000,
        models: &["PAX_A910"],
        terminals_setup: true,
    },
    Site {
        id: "MCO",
        country_id: "CO",
        country_code: "COL",
        currency: "COP",
        min_cents: 100,
        max_cents: 10_000_000_000,
        models: &["PAX_A910"],
        terminals_setup: false,
    },
    Site {
        id: "MPE",
        country_id: "PE",
        country_code: "PER",
        currency: "PEN",
        min_cents: 100,
        max_cents: 100_000_000,
        models: &["PAX_A910"],
        terminals_setup: false,
    },
    Site {
        id: "MLU",
        country_id: "UY",
        country_code: "URY",
        currency: "UYU",
        min_cents: 100,
        max_cents: 1_000_000_000,
        models: &["PAX_A910"],
        terminals_setup: false,
    },
];

pub fn site(id: &str) -> Option<&'static Site> {
    SITES.iter().find(|s| s.id.eq_ignore_ascii_case(id))
}

/// Formats cents as the Orders API's decimal string (`"24.00"`).
pub fn cents_to_decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

/// Parses an Orders API amount: digits with at most two decimals, no sign.
pub fn decimal_to_cents(s: &str) -> Option<i64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() || int.len() > 12 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (s.contains('.') && frac.is_empty())
    {
        return None;
    }
    let mut cents: i64 = int.parse::<i64>().ok()? * 100;
    match frac.len() {
        1 => cents += frac.parse::<i64>().ok()? * 10,
        2 => cents += frac.parse::<i64>().ok()?,
        _ => {}
    }
    Some(cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_trip() {
        assert_eq!(decimal_to_cents("10"), Some(1000));
        assert_eq!(decimal_to_cents("10.5"), Some(1050));
        assert_eq!(decimal_to_cents("10.05"), Some(1005));
        assert_eq!(decimal_to_cents("10.055"), None);
        assert_eq!(decimal_to_cents("-1"), None);
        assert_eq!(decimal_to_cents("1."), None);
        assert_eq!(cents_to_decimal(2400), "24.00");
    }
}
