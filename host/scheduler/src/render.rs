//! Rendering a delivery's content: the message's template in the
//! subscriber's locale (standard Japanese when the message lacks it), the
//! tenant's local inserts for the message and its stage appended, with the
//! variables `docs/catalog.md` lists.
//!
//! Templates are compiled once per distinct source text and kept, so the
//! dispatcher's per-delivery cost is the render alone; text without
//! template syntax is passed through untouched.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use chrono::{Datelike, NaiveDate};
use minijinja::{Environment, UndefinedBehavior, Value};
use tayori_core::{
    Anchor, InsertTarget, LocalInsert, Locale, MessageContent, schedule::gestational_day,
};

/// A child's position on a day, as templates see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildOnDay {
    pub anchor: Anchor,
    pub due_date: Option<NaiveDate>,
    pub birth_date: Option<NaiveDate>,
    pub day: NaiveDate,
}

/// Completed months from `from` to `to` (calendar months, the day of month
/// counting: 31 Jan to 28 Feb is 0 months... unless clamped to month end).
fn completed_months(from: NaiveDate, to: NaiveDate) -> i32 {
    let mut m = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32;
    if m > 0 {
        // The month is complete when the clamped anniversary is reached.
        let anniversary = tayori_core::schedule::add_months(from, m as u32);
        if anniversary.is_none_or(|a| a > to) {
            m -= 1;
        }
    }
    m.max(0)
}

/// The age in words in a locale: 妊娠12週3日 / 生後3か月 / 1歳2か月.
pub fn age_in_words(child: &ChildOnDay, locale: Locale) -> String {
    match child.anchor {
        Anchor::Due(due) => {
            let g = gestational_day(due, child.day).max(0);
            let (w, d) = (g / 7, g % 7);
            match locale {
                Locale::Ja => format!("妊娠{w}週{d}日"),
                Locale::JaEasy => format!("にんしん {w}しゅう {d}にち"),
                Locale::En => format!("{w} weeks {d} days pregnant"),
            }
        }
        Anchor::Birth(birth) => {
            let days = (child.day - birth).num_days().max(0);
            let months = completed_months(birth, child.day);
            let (y, m) = (months / 12, months % 12);
            match locale {
                Locale::Ja if months == 0 => format!("生後{days}日"),
                Locale::Ja if y == 0 => format!("生後{m}か月"),
                Locale::Ja if m == 0 => format!("{y}歳"),
                Locale::Ja => format!("{y}歳{m}か月"),
                Locale::JaEasy if months == 0 => format!("うまれて {days}にち"),
                Locale::JaEasy if y == 0 => format!("うまれて {m}かげつ"),
                Locale::JaEasy if m == 0 => format!("{y}さい"),
                Locale::JaEasy => format!("{y}さい {m}かげつ"),
                Locale::En if months == 0 => {
                    format!("{days} day{} old", if days == 1 { "" } else { "s" })
                }
                Locale::En if y == 0 => {
                    format!("{m} month{} old", if m == 1 { "" } else { "s" })
                }
                Locale::En if m == 0 => format!("{y} year{} old", if y == 1 { "" } else { "s" }),
                Locale::En => format!(
                    "{y} year{} {m} month{} old",
                    if y == 1 { "" } else { "s" },
                    if m == 1 { "" } else { "s" }
                ),
            }
        }
    }
}

/// The template variables for a child on a day (`docs/catalog.md`).
pub fn variables(tenant_name: &str, locale: Locale, child: Option<&ChildOnDay>) -> Value {
    let mut vars: BTreeMap<&str, Value> = BTreeMap::new();
    vars.insert("tenant_name", Value::from(tenant_name));
    vars.insert("locale", Value::from(locale.as_str()));
    if let Some(c) = child {
        vars.insert("age", Value::from(age_in_words(c, locale)));
        let (pregnancy_day, days_to_due) = match c.due_date {
            Some(due) => (
                gestational_day(due, c.day),
                Value::from((due - c.day).num_days()),
            ),
            None => (0, Value::UNDEFINED),
        };
        let born = matches!(c.anchor, Anchor::Birth(_));
        vars.insert(
            "pregnancy_day",
            Value::from(if born { 0 } else { pregnancy_day }),
        );
        vars.insert(
            "pregnancy_week",
            Value::from(if born { 0 } else { pregnancy_day / 7 }),
        );
        vars.insert("days_to_due", days_to_due);
        if let Some(b) = c.birth_date.filter(|_| born) {
            let months = completed_months(b, c.day);
            vars.insert("child_day", Value::from((c.day - b).num_days()));
            vars.insert("child_month", Value::from(months));
            vars.insert("child_year", Value::from(months / 12));
            vars.insert("birth_date", Value::from(b.to_string()));
        } else {
            vars.insert("child_day", Value::from(0));
            vars.insert("child_month", Value::from(0));
            vars.insert("child_year", Value::from(0));
        }
        if let Some(d) = c.due_date {
            vars.insert("due_date", Value::from(d.to_string()));
        }
    }
    Value::from_serialize(&vars)
}

/// Renders templates, compiling each distinct source once.
#[derive(Clone)]
pub struct Renderer {
    env: Arc<RwLock<Environment<'static>>>,
    names: Arc<RwLock<HashMap<String, String>>>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renderer")
    }
}

impl Default for Renderer {
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        // Messages are text, not HTML.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_keep_trailing_newline(true);
        Self {
            env: Arc::new(RwLock::new(env)),
            names: Arc::new(RwLock::new(HashMap::new())),
        }
    }
}

/// Values of every template variable, as [`variables`] gives them: for a
/// child 12 weeks into pregnancy, and for one born 100 days ago.
fn sample_variables() -> [Value; 2] {
    let expecting = serde_json::json!({
        "tenant_name": "小樽市", "age": "妊娠12週0日", "pregnancy_week": 12,
        "pregnancy_day": 84, "days_to_due": 196, "child_day": 0, "child_month": 0,
        "child_year": 0, "due_date": "2027-05-01", "locale": "ja",
    });
    let born = serde_json::json!({
        "tenant_name": "小樽市", "age": "生後3か月", "pregnancy_week": 0,
        "pregnancy_day": 0, "days_to_due": -100, "child_day": 100, "child_month": 3,
        "child_year": 0, "due_date": "2027-05-01", "birth_date": "2027-04-28", "locale": "ja",
    });
    [
        Value::from_serialize(&expecting),
        Value::from_serialize(&born),
    ]
}

/// Text with nothing for a template engine to do.
fn is_plain(source: &str) -> bool {
    !source.contains("{{") && !source.contains("{%") && !source.contains("{#")
}

impl Renderer {
    /// Whether `text` would render in a delivery: it compiles, names only
    /// the variables the renderer provides
    /// ([`tayori_core::domain::catalog::file::TEMPLATE_VARIABLES`]), and
    /// renders for an expecting and for a born child (filters, tests and
    /// operations are only found when a template runs, so that
    /// `{{ tenant_name | nosuchfilter }}` is refused when it is written
    /// rather than failing every delivery). The catalog checks take this.
    pub fn check(&self, text: &str) -> Result<(), String> {
        let env = Environment::new();
        let compiled = env
            .template_from_str(text)
            .map_err(|e| format!("template {e}"))?;
        let undeclared = compiled.undeclared_variables(false);
        tayori_core::domain::catalog::file::known_variables(
            "",
            undeclared.iter().map(String::as_str),
        )
        .map_err(|p| p.message)?;
        for sample in sample_variables() {
            self.render(text, &sample)?;
        }
        Ok(())
    }

    /// Renders `source` with `vars`.
    pub fn render(&self, source: &str, vars: &Value) -> Result<String, String> {
        if is_plain(source) {
            return Ok(source.to_string());
        }
        let name = {
            let names = self.names.read().expect("renderer lock");
            names.get(source).cloned()
        };
        let name = match name {
            Some(n) => n,
            None => {
                let mut names = self.names.write().expect("renderer lock");
                let n = format!("t{}", names.len());
                self.env
                    .write()
                    .expect("renderer lock")
                    .add_template_owned(n.clone(), source.to_string())
                    .map_err(|e| format!("template does not compile: {e}"))?;
                names.insert(source.to_string(), n.clone());
                n
            }
        };
        let env = self.env.read().expect("renderer lock");
        let template = env.get_template(&name).map_err(|e| e.to_string())?;
        template
            .render(vars)
            .map_err(|e| format!("template does not render: {e}"))
    }

    /// A message's subject and body in `locale` (standard Japanese when the
    /// message has no text in it, with the variables in the locale used),
    /// with the inserts for the message id and for its stage appended to the
    /// body, in that order.
    #[allow(clippy::too_many_arguments)]
    pub fn message(
        &self,
        content: &BTreeMap<Locale, MessageContent>,
        message_id: &str,
        stage: Option<&str>,
        inserts: &[LocalInsert],
        locale: Locale,
        tenant_name: &str,
        child: Option<&ChildOnDay>,
    ) -> Result<(Option<String>, String, Locale), String> {
        let (used, text) = content
            .get(&locale)
            .map(|t| (locale, t))
            .or_else(|| content.get(&Locale::Ja).map(|t| (Locale::Ja, t)))
            .or_else(|| content.iter().next().map(|(l, t)| (*l, t)))
            .ok_or_else(|| format!("message `{message_id}` has no content"))?;
        let vars = &variables(tenant_name, used, child);
        let subject = self.render(&text.subject, vars)?;
        let mut body = self.render(&text.body, vars)?;
        let targets = [
            Some(InsertTarget::Message(message_id.to_string())),
            stage.map(|s| InsertTarget::Stage(s.to_string())),
        ];
        for target in targets.iter().flatten() {
            if let Some(insert) = inserts.iter().find(|i| &i.target == target) {
                let text = insert
                    .content
                    .get(&used)
                    .or_else(|| insert.content.get(&Locale::Ja));
                if let Some(text) = text {
                    let extra = self.render(text, vars)?;
                    if !extra.trim().is_empty() {
                        if !body.ends_with('\n') {
                            body.push('\n');
                        }
                        body.push('\n');
                        body.push_str(extra.trim_end());
                    }
                }
            }
        }
        Ok(((!subject.is_empty()).then_some(subject), body, used))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn born(birth: &str, day: &str) -> ChildOnDay {
        ChildOnDay {
            anchor: Anchor::Birth(d(birth)),
            due_date: None,
            birth_date: Some(d(birth)),
            day: d(day),
        }
    }

    #[test]
    fn ages_in_words() {
        let expecting = ChildOnDay {
            anchor: Anchor::Due(d("2027-05-01")),
            due_date: Some(d("2027-05-01")),
            birth_date: None,
            day: d("2026-08-25"),
        };
        let cases = [
            (expecting, Locale::Ja, "妊娠4週3日"),
            (expecting, Locale::En, "4 weeks 3 days pregnant"),
            (born("2027-04-28", "2027-04-30"), Locale::Ja, "生後2日"),
            (born("2027-04-28", "2027-07-28"), Locale::Ja, "生後3か月"),
            (born("2027-04-28", "2027-07-27"), Locale::Ja, "生後2か月"),
            (born("2027-01-31", "2027-02-28"), Locale::En, "1 month old"),
            (born("2027-04-28", "2028-06-30"), Locale::Ja, "1歳2か月"),
            (born("2027-04-28", "2028-04-28"), Locale::JaEasy, "1さい"),
            (
                born("2027-04-28", "2029-05-28"),
                Locale::En,
                "2 years 1 month old",
            ),
        ];
        for (child, locale, want) in cases {
            assert_eq!(age_in_words(&child, locale), want, "{child:?} {locale:?}");
        }
    }

    #[test]
    fn renders_locale_fallback_and_inserts() {
        let r = Renderer::default();
        let mut content = BTreeMap::new();
        content.insert(
            Locale::Ja,
            MessageContent {
                subject: "{{ tenant_name }}より".into(),
                body: "赤ちゃんは{{ age }}です。".into(),
            },
        );
        let inserts = vec![
            LocalInsert {
                target: InsertTarget::Stage("month-3".into()),
                content: [(Locale::Ja, "段階の案内".to_string())].into(),
            },
            LocalInsert {
                target: InsertTarget::Message("m1".into()),
                content: [(Locale::Ja, "{{ tenant_name }}の健診".to_string())].into(),
            },
        ];
        let child = born("2027-04-28", "2027-07-28");
        let (subject, body, used) = r
            .message(
                &content,
                "m1",
                Some("month-3"),
                &inserts,
                Locale::En,
                "小樽市",
                Some(&child),
            )
            .unwrap();
        // No English text: standard Japanese, with Japanese variables.
        assert_eq!(used, Locale::Ja);
        assert_eq!(subject.as_deref(), Some("小樽市より"));
        assert_eq!(
            body,
            "赤ちゃんは生後3か月です。\n\n小樽市の健診\n\n段階の案内"
        );
    }

    #[test]
    fn plain_text_and_bad_templates() {
        let r = Renderer::default();
        let vars = variables("t", Locale::Ja, None);
        assert_eq!(r.render("そのまま {x}", &vars).unwrap(), "そのまま {x}");
        assert!(r.render("{{ unclosed", &vars).is_err());
    }
}
