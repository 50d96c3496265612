//! The registration poster (`/t/{tenant}/poster`): staff who edit local
//! content type the LINE account's friend-add link and the blank-email
//! address, see the poster, and download it as an A4 SVG
//! (`/t/{tenant}/poster.svg` with the same query) to print. The
//! registration form's link is the tenant's own (`{public_url}/r/{tenant}`)
//! and is printed when the tenant has an email channel (the form sends its
//! confirmation through it). Nothing is stored: the page is a GET form, so
//! a bookmark keeps the poster.

use super::*;

use tayori_core::DeliverySpan;

use crate::poster::Poster;

/// The plugins the poster knows a way in for.
const LINE_PLUGIN: &str = "line";
const EMAIL_PLUGIN: &str = "email";
/// The longest friend-add link accepted.
const MAX_URL_LEN: usize = 200;
/// The longest email address (RFC 5321's path limit).
const MAX_EMAIL_LEN: usize = 254;

#[derive(Debug, Default, Deserialize)]
pub(super) struct PosterQuery {
    line: Option<String>,
    email: Option<String>,
}

/// A LINE ID (`@abc1234`) as LINE's friend-add link, or a friend-add link
/// as given.
pub(crate) fn line_link(text: &str) -> Result<String, ()> {
    let text = text.trim();
    if let Some(id) = text.strip_prefix('@') {
        let ok = (2..=20).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        return if ok {
            Ok(format!("https://line.me/R/ti/p/@{id}"))
        } else {
            Err(())
        };
    }
    let ok = text.len() <= MAX_URL_LEN
        && (text.starts_with("https://lin.ee/") || text.starts_with("https://line.me/"))
        && text.len() > "https://lin.ee/".len()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:/?#@!$&*+,;=%".contains(c));
    if ok { Ok(text.to_string()) } else { Err(()) }
}

/// An email address a person could type: one `@`, a dotted domain, no
/// spaces.
pub(crate) fn email_address(text: &str) -> Result<String, ()> {
    let text = text.trim();
    let (local, domain) = text.split_once('@').ok_or(())?;
    let ok = text.len() <= MAX_EMAIL_LEN
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && text.chars().all(|c| {
            c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '(' | ')' | ',' | ';' | '\\')
        });
    if ok { Ok(text.to_string()) } else { Err(()) }
}

fn span_words(span: DeliverySpan) -> (&'static str, &'static str) {
    match span {
        DeliverySpan::ToThirdBirthday => ("3歳の誕生日を迎えるまで", "to the 3rd birthday"),
        DeliverySpan::ToSixthBirthday => ("6歳の誕生日を迎えるまで", "to the 6th birthday"),
        DeliverySpan::ToEighteenthBirthday => ("18歳の誕生日を迎えるまで", "to the 18th birthday"),
        DeliverySpan::EndOfSchoolYearAge7 => (
            "小学校1年生の3月まで",
            "to the end of the first school year",
        ),
    }
}

/// What the page found: the poster, or the fields' problems.
struct Checked {
    poster: Poster,
    line_error: Option<&'static str>,
    email_error: Option<&'static str>,
    has_line: bool,
    has_email: bool,
}

async fn check(
    c: &Inner,
    t: &Texts,
    tenant: &Tenant,
    q: &PosterQuery,
) -> Result<Checked, StoreError> {
    let channels = c.store().channels(&tenant.id).await?;
    let has_line = channels.iter().any(|ch| ch.plugin_id == LINE_PLUGIN);
    let has_email = channels.iter().any(|ch| ch.plugin_id == EMAIL_PLUGIN);
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let (mut line_error, mut email_error) = (None, None);
    let line_url = match given(&q.line) {
        Some(v) => match line_link(&v) {
            Ok(url) => Some(url),
            Err(()) => {
                line_error = Some(t.po_line_error);
                None
            }
        },
        None => None,
    };
    let blank_email = match given(&q.email) {
        Some(v) => match email_address(&v) {
            Ok(a) => Some(a),
            Err(()) => {
                email_error = Some(t.po_email_error);
                None
            }
        },
        None => None,
    };
    let (span_ja, span_en) = span_words(tenant.span);
    Ok(Checked {
        poster: Poster {
            tenant_name: tenant.name.clone(),
            span_ja: span_ja.into(),
            span_en: span_en.into(),
            line_url,
            form_url: has_email.then(|| format!("{}/r/{}", c.base, tenant.id)),
            blank_email,
        },
        line_error,
        email_error,
        has_line,
        has_email,
    })
}

/// `line=…&email=…`, encoded for a link.
fn query_of(q: &PosterQuery) -> String {
    let enc = |v: &str| {
        let mut out = String::new();
        for b in v.trim().bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    };
    format!(
        "line={}&email={}",
        enc(q.line.as_deref().unwrap_or("")),
        enc(q.email.as_deref().unwrap_or(""))
    )
}

pub(super) async fn poster_page(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    Query(q): Query<PosterQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.tenant_get(&r, &s, &tenant_id, Permission::Content).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let t = r.t();
    let found = match check(&c, t, &tenant, &q).await {
        Ok(f) => f,
        Err(e) => return c.failed(e),
    };
    let has_errors = found.line_error.is_some() || found.email_error.is_some();
    let query = query_of(&q);
    let errors: Vec<Value> = [("line", found.line_error), ("email", found.email_error)]
        .into_iter()
        .filter_map(|(field, e)| e.map(|message| context! { field, message }))
        .collect();
    let ways: Vec<Value> = [
        (t.po_way_line, found.poster.line_url.clone()),
        (t.po_way_form, found.poster.form_url.clone()),
        (t.po_way_email, found.poster.blank_email.clone()),
    ]
    .into_iter()
    .filter_map(|(label, value)| value.map(|value| context! { label, value }))
    .collect();
    let printable = !has_errors && !found.poster.is_empty();
    let frame = c.frame(&r, Some(&s), Some(&tenant), t.po_title);
    c.render(
        &r,
        if has_errors {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        "poster.html",
        context! {
            tenant_name => tenant.name.clone(),
            action => format!("/t/{}/poster", tenant.id),
            lang_param => (r.lang == Lang::En).then_some("en"),
            line => q.line.clone().unwrap_or_default(),
            email => q.email.clone().unwrap_or_default(),
            line_error => found.line_error,
            email_error => found.email_error,
            errors,
            has_line => found.has_line,
            has_email => found.has_email,
            form_url => found.poster.form_url.clone(),
            printable,
            ways,
            svg_href => format!("/t/{}/poster.svg?{query}", tenant.id),
            download_name => format!("tayori-poster-{}.svg", tenant.id),
            alt => found.poster.description(),
            error_title => has_errors,
            ..frame
        },
    )
}

pub(super) async fn poster_svg(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    Query(q): Query<PosterQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.tenant_get(&r, &s, &tenant_id, Permission::Content).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let found = match check(&c, r.t(), &tenant, &q).await {
        Ok(f) => f,
        Err(e) => return c.failed(e),
    };
    if found.line_error.is_some() || found.email_error.is_some() || found.poster.is_empty() {
        // The page says what is wrong, field by field.
        return poster_page(State(c), Path(tenant_id), Query(q), uri, headers).await;
    }
    match found.poster.svg() {
        Ok(svg) => (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("image/svg+xml; charset=utf-8"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_str(&format!(
                        "inline; filename=\"tayori-poster-{}.svg\"",
                        tenant.id
                    ))
                    .unwrap_or(HeaderValue::from_static("inline")),
                ),
            ],
            svg,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, tenant = %tenant.id, "console: cannot draw the poster's codes");
            c.failed(StoreError::Backend("poster".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_id_becomes_the_friend_add_link() {
        assert_eq!(
            line_link(" @minato ").unwrap(),
            "https://line.me/R/ti/p/@minato"
        );
        assert_eq!(
            line_link("https://lin.ee/AbC123").unwrap(),
            "https://lin.ee/AbC123"
        );
        for bad in [
            "minato",
            "@",
            "@a b",
            "http://lin.ee/x",
            "https://example.jp/x",
            "https://lin.ee/",
            "https://line.me/<x>",
        ] {
            assert!(line_link(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_email_address_needs_a_dotted_domain() {
        assert_eq!(
            email_address(" entry@city.example.jp ").unwrap(),
            "entry@city.example.jp"
        );
        for bad in [
            "entry",
            "@city.jp",
            "entry@city",
            "entry@.jp",
            "a b@city.jp",
            "a@b@city.jp",
            "<a@city.jp>",
        ] {
            assert!(email_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_query_is_encoded_for_a_link() {
        let q = PosterQuery {
            line: Some("@minato".into()),
            email: Some("a+b@city.jp".into()),
        };
        assert_eq!(query_of(&q), "line=%40minato&email=a%2Bb%40city.jp");
    }
}
