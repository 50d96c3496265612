//! The account's rich menu, set up when the channel is put (contract 0.2.0
//! `setup-channel`).
//!
//! The host hands over the parents' menu (report a birth, add a child,
//! invite family, language, stop: postbacks, labels in the tenant's locale),
//! and this module makes it LINE's default rich menu for the account, the
//! way LINE's Messaging API asks:
//!
//! 1. `POST /v2/bot/richmenu`: the menu (`RichMenuRequest`), one area per
//!    button tiling the picture exactly ([`layout`]), each a postback action
//!    whose `label` (at most 20 characters) LINE reads out for accessibility
//!    and whose `displayText` is what the parent is shown to have said;
//! 2. `POST https://api-data.line.me/v2/bot/richmenu/{id}/content`: its
//!    picture, a PNG drawn here with the labels ([`render`]) or the
//!    municipality's own (`rich_menu_image`, checked by [`picture`]);
//! 3. `POST /v2/bot/user/all/richmenu/{id}`: the default for every friend
//!    of the account;
//! 4. `GET /v2/bot/richmenu/list`, then `DELETE /v2/bot/richmenu/{id}` for
//!    every menu this channel made before (named `tayori:{tenant}/{channel}`),
//!    so that putting the channel again replaces its menu instead of piling
//!    menus up (LINE keeps at most 1,000). Menus made otherwise are left.
//!
//! A refusal in steps 1 to 3 is the set-up's failure, with LINE's message
//! (never the channel access token), and the menu made in step 1 is deleted
//! again so that nothing half made stays; the previous default stays in
//! place. A refusal in step 4 is only noted in the report.

pub mod layout;
pub mod picture;
pub mod render;

use serde::Deserialize;
use serde_json::{Value, json};
use tayori_plugin_sdk::http::{self, HttpError, Method, Request, Response};
use tayori_plugin_sdk::{Action, Button, ChannelSetup, Failure, SetupReport, log};

use layout::{Bounds, MAX_AREAS, Size};
use picture::{Kind, Picture};

/// LINE's production data API (uploads), where `api_base` is LINE's.
pub const DEFAULT_DATA_BASE: &str = "https://api-data.line.me";
/// The start of every rich menu name this plugin gives.
const NAME_PREFIX: &str = "tayori:";
/// LINE's longest rich menu name, and chat bar text.
const MAX_NAME_CHARS: usize = 300;
const MAX_CHAT_BAR_CHARS: usize = 14;
/// Deletions of old menus in flight at once.
const DELETE_WAVE: usize = 10;

/// Where the rich menu goes, and as whom.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    /// `https://api.line.me`, or a sandbox.
    pub api_base: &'a str,
    /// `https://api-data.line.me`, or a sandbox.
    pub data_base: &'a str,
    /// The channel access token (a secret: never in a message).
    pub access_token: &'a str,
}

/// Make `setup.menu` the account's default rich menu, with `own` as its
/// picture when the municipality gave one.
pub fn set_up(
    target: &Target,
    setup: &ChannelSetup,
    own: Option<Picture>,
) -> Result<SetupReport, Failure> {
    if setup.menu.is_empty() {
        return Ok(SetupReport::new(
            "no menu to show: the account's rich menu was left as it is",
        ));
    }
    let mut plan = plan(setup, own)?;
    let bytes = std::mem::take(&mut plan.picture.bytes);
    let id = created(&send(target.create(&plan.request), "create the rich menu")?)?;
    let made = (|| {
        let upload = target.upload(&id, plan.picture.kind, bytes);
        ok(
            &send(upload, "upload the rich menu's picture")?,
            "upload the rich menu's picture",
        )?;
        let default = target.set_default(&id);
        ok(
            &send(default, "set the rich menu as the default")?,
            "set the rich menu as the default",
        )
    })();
    if let Err(failure) = made {
        // Nothing half made stays: the menu without its picture or not
        // shown counts against LINE's 1,000 and helps no one.
        if let Err(e) = send(target.delete(&id), "delete the unfinished rich menu")
            .and_then(|r| ok(&r, "delete the unfinished rich menu"))
        {
            log::warn(format!("rich menu {id} was left on LINE: {}", e.message));
        }
        return Err(failure);
    }
    let replaced = replace_old(target, &plan.key, &id);
    Ok(report(&id, &plan, &replaced))
}

/// What to send LINE: the menu, its picture, and what staff should know.
#[derive(Debug, Clone)]
struct Plan {
    /// `{tenant}/{channel}`: this channel's menus are named after it.
    key: String,
    request: Value,
    picture: Picture,
    /// The buttons drawn as their number (see [`render::Rendered`]).
    numbered: Vec<(usize, String)>,
    /// How many of the host's buttons did not fit LINE's 20.
    left_out: usize,
    own_picture: bool,
}

fn plan(setup: &ChannelSetup, own: Option<Picture>) -> Result<Plan, Failure> {
    let buttons = &setup.menu[..setup.menu.len().min(MAX_AREAS)];
    let own_picture = own.is_some();
    let size = own
        .as_ref()
        .map_or(layout::size_for(buttons.len()), |p| p.size);
    let tiles = layout::tiles(buttons.len(), size);
    let (picture, numbered) = match own {
        Some(picture) => (picture, Vec::new()),
        None => {
            let labels: Vec<&str> = buttons.iter().map(|b| b.label.as_str()).collect();
            let drawn = render::render(&labels, &tiles, size).map_err(Failure::permanent)?;
            let picture = picture::inspect(drawn.png)
                .map_err(|e| Failure::permanent(format!("the drawn rich menu picture {e}")))?;
            (picture, drawn.numbered)
        }
    };
    let key = channel_key(setup);
    Ok(Plan {
        request: request(
            &name(&key, &setup.tenant_name),
            &setup.locale,
            size,
            &tiles,
            buttons,
        ),
        key,
        picture,
        numbered,
        left_out: setup.menu.len() - buttons.len(),
        own_picture,
    })
}

/// `{tenant}/{channel}` from the webhook URL (`.../hooks/{tenant}/{channel}`),
/// else the tenant's name.
fn channel_key(setup: &ChannelSetup) -> String {
    setup
        .webhook_url
        .rsplit_once("/hooks/")
        .map(|(_, rest)| rest.split(['?', '#']).next().unwrap_or(rest))
        .map(|rest| rest.trim_matches('/').to_owned())
        .filter(|rest| !rest.is_empty())
        .unwrap_or_else(|| setup.tenant_name.clone())
}

/// The menu's name (staff see it in LINE Official Account Manager; parents
/// never do): `tayori:{tenant}/{channel} {tenant name}`, cut to LINE's 300.
fn name(key: &str, tenant_name: &str) -> String {
    let full = format!("{NAME_PREFIX}{key} {tenant_name}");
    full.trim_end().chars().take(MAX_NAME_CHARS).collect()
}

/// Whether a menu's name says this channel made it.
fn is_ours(name: &str, key: &str) -> bool {
    name.strip_prefix(NAME_PREFIX)
        .and_then(|rest| rest.strip_prefix(key))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// What the chat bar under the menu says, in the tenant's locale.
fn chat_bar_text(locale: &str) -> &'static str {
    let text = if locale == "ja" || locale.starts_with("ja-") {
        "メニュー"
    } else {
        "Menu"
    };
    debug_assert!(text.chars().count() <= MAX_CHAT_BAR_CHARS);
    text
}

/// LINE's `RichMenuRequest` for `buttons` on `tiles` of a picture of `size`.
fn request(name: &str, locale: &str, size: Size, tiles: &[Bounds], buttons: &[Button]) -> Value {
    let areas: Vec<Value> = tiles
        .iter()
        .zip(buttons)
        .map(|(b, button)| {
            json!({
                "bounds": { "x": b.x, "y": b.y, "width": b.width, "height": b.height },
                "action": area_action(button),
            })
        })
        .collect();
    json!({
        "size": { "width": size.width, "height": size.height },
        "selected": true,
        "name": name,
        "chatBarText": chat_bar_text(locale),
        "areas": areas,
    })
}

/// A button's action on the menu: as in messages (postback with the label
/// as `displayText`, date picker, link), the label cut to LINE's 20.
fn area_action(button: &Button) -> Value {
    let mut action = line_api::message::action(button);
    if let Action::Postback(_) = button.action {
        // The text the parent is shown to have sent: at most 300 characters.
        let shown: String = button.label.trim().chars().take(300).collect();
        action["displayText"] = json!(shown);
    }
    action
}

impl std::fmt::Debug for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("api_base", &self.api_base)
            .field("data_base", &self.data_base)
            .field("access_token", &"<redacted>")
            .finish()
    }
}

impl Target<'_> {
    fn authorised(&self, request: Request) -> Request {
        request.bearer_auth(self.access_token)
    }

    fn create(&self, body: &Value) -> Result<Request, HttpError> {
        let url = platform_common::endpoint(self.api_base, "/v2/bot/richmenu");
        Ok(self.authorised(Request::post(url).json(body)?))
    }

    fn upload(&self, id: &str, kind: Kind, bytes: Vec<u8>) -> Result<Request, HttpError> {
        let url = platform_common::endpoint(
            self.data_base,
            &format!("/v2/bot/richmenu/{}/content", path_segment(id)),
        );
        Ok(self.authorised(
            Request::post(url)
                .header("content-type", kind.content_type())
                .body(bytes),
        ))
    }

    fn set_default(&self, id: &str) -> Result<Request, HttpError> {
        let url = platform_common::endpoint(
            self.api_base,
            &format!("/v2/bot/user/all/richmenu/{}", path_segment(id)),
        );
        Ok(self.authorised(Request::post(url)))
    }

    fn list(&self) -> Result<Request, HttpError> {
        let url = platform_common::endpoint(self.api_base, "/v2/bot/richmenu/list");
        Ok(self.authorised(Request::get(url)))
    }

    fn delete(&self, id: &str) -> Result<Request, HttpError> {
        let url = platform_common::endpoint(
            self.api_base,
            &format!("/v2/bot/richmenu/{}", path_segment(id)),
        );
        Ok(self.authorised(Request::new(Method::DELETE, url)))
    }
}

/// A rich menu id as one path segment (LINE's are `richmenu-` and hex; an
/// odd one must not reach another path).
fn path_segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Send a request; a request that got no answer is a failure saying `what`.
fn send(request: Result<Request, HttpError>, what: &str) -> Result<Response, Failure> {
    http::send(request.map_err(|e| unsent(&e, what))?).map_err(|e| unsent(&e, what))
}

fn unsent(error: &HttpError, what: &str) -> Failure {
    let failure = Failure::from_http_error(error);
    let hint = match error {
        HttpError::Denied(_) => {
            " (approve api.line.me and api-data.line.me, LINE's upload host, for the channel)"
        }
        _ => "",
    };
    Failure::new(
        failure.kind,
        format!("could not {what}: {}{hint}", failure.message),
    )
}

/// `Ok` for LINE's 2xx, else the failure its answer means.
fn ok(response: &Response, what: &str) -> Result<(), Failure> {
    match response.status {
        200..=299 => Ok(()),
        _ => Err(refused(response, what)),
    }
}

/// The new menu's id from LINE's `RichMenuIdResponse`.
fn created(response: &Response) -> Result<String, Failure> {
    const WHAT: &str = "create the rich menu";
    ok(response, WHAT)?;
    #[derive(Deserialize)]
    struct Created {
        #[serde(rename = "richMenuId")]
        rich_menu_id: String,
    }
    match response.json::<Created>() {
        Ok(c) if !path_segment(&c.rich_menu_id).is_empty() => Ok(c.rich_menu_id),
        _ => Err(Failure::permanent(format!(
            "LINE answered {} to {WHAT} without a rich menu id",
            response.status
        ))),
    }
}

/// LINE's `ErrorResponse`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Vec<ErrorDetail>,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    property: Option<String>,
}

/// LINE's refusal of `what`, with its message and details.
fn refused(response: &Response, what: &str) -> Failure {
    let status = response.status;
    let body: ErrorBody = response.json().unwrap_or_default();
    let mut text = format!("LINE refused to {what} ({status})");
    if !body.message.is_empty() {
        text.push_str(&format!(": {}", body.message));
    }
    for detail in &body.details {
        text.push_str(&format!(
            "; {}: {}",
            detail.property.as_deref().unwrap_or("-"),
            detail.message.as_deref().unwrap_or("")
        ));
    }
    match status {
        401 => Failure::unauthorized(format!("{text} (check the channel access token)")),
        403 => Failure::unauthorized(format!(
            "{text} (the channel may not use this API; check its plan)"
        )),
        _ => {
            let kind = Failure::from_response(response)
                .map_or(tayori_plugin_sdk::FailureKind::Permanent, |f| f.kind);
            Failure::new(kind, text)
        }
    }
}

/// What became of this channel's older menus.
#[derive(Debug, Default, PartialEq, Eq)]
struct Replaced {
    deleted: usize,
    /// Why some could not be listed or deleted (one line).
    trouble: Option<String>,
}

/// Delete this channel's menus other than `new`.
fn replace_old(target: &Target, key: &str, new: &str) -> Replaced {
    const LIST: &str = "list the rich menus";
    let listed = send(target.list(), LIST).and_then(|r| {
        ok(&r, LIST)?;
        old_menus(&r, key, new)
            .ok_or_else(|| Failure::permanent(format!("LINE answered {LIST} with no list")))
    });
    let old = match listed {
        Ok(old) => old,
        Err(failure) => {
            return Replaced {
                deleted: 0,
                trouble: Some(failure.message),
            };
        }
    };
    let mut replaced = Replaced::default();
    let mut requests = Vec::new();
    for id in &old {
        match target.delete(id) {
            Ok(request) => requests.push(request),
            Err(e) => replaced.trouble = Some(unsent(&e, "delete an old rich menu").message),
        }
    }
    for (id, result) in old
        .iter()
        .zip(platform_common::send_in_waves(requests, DELETE_WAVE))
    {
        const DELETE: &str = "delete an old rich menu";
        match result
            .map_err(|e| unsent(&e, DELETE))
            .and_then(|r| ok(&r, DELETE))
        {
            Ok(()) => replaced.deleted += 1,
            Err(failure) => {
                log::warn(format!("old rich menu {id}: {}", failure.message));
                replaced.trouble = Some(failure.message);
            }
        }
    }
    replaced
}

/// The ids of this channel's menus in LINE's `RichMenuListResponse`, but
/// `new`; `None` if the answer is not such a list.
fn old_menus(response: &Response, key: &str, new: &str) -> Option<Vec<String>> {
    #[derive(Deserialize)]
    struct List {
        richmenus: Vec<Listed>,
    }
    #[derive(Deserialize)]
    struct Listed {
        #[serde(rename = "richMenuId")]
        rich_menu_id: String,
        #[serde(default)]
        name: String,
    }
    let list: List = response.json().ok()?;
    Some(
        list.richmenus
            .into_iter()
            .filter(|m| m.rich_menu_id != new && is_ours(&m.name, key))
            .map(|m| m.rich_menu_id)
            .collect(),
    )
}

/// The report staff see on the channel.
fn report(id: &str, plan: &Plan, replaced: &Replaced) -> SetupReport {
    let buttons = plan.request["areas"].as_array().map_or(0, Vec::len);
    let mut summary = format!("rich menu {id} set as default ({buttons} buttons");
    if plan.own_picture {
        summary.push_str(", your picture");
    }
    summary.push(')');
    match replaced.deleted {
        0 => {}
        1 => summary.push_str("; the previous Tayori menu was deleted"),
        n => summary.push_str(&format!("; {n} previous Tayori menus were deleted")),
    }
    if let Some(trouble) = &replaced.trouble {
        summary.push_str(&format!("; an old menu may remain: {trouble}"));
    }
    if plan.left_out > 0 {
        summary.push_str(&format!(
            "; {} more buttons left out (LINE shows at most {MAX_AREAS})",
            plan.left_out
        ));
    }
    if !plan.numbered.is_empty() {
        let which: Vec<String> = plan
            .numbered
            .iter()
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        let mut lacking = String::new();
        for (_, chars) in &plan.numbered {
            for c in chars.chars() {
                if !lacking.contains(c) {
                    lacking.push(c);
                }
            }
        }
        summary.push_str(&format!(
            "; button {} shows its number, not its label: the built-in font lacks \"{lacking}\" \
             (set rich_menu_image to use your own picture)",
            which.join(", ")
        ));
    }
    let mut report = SetupReport::new(summary);
    report.details = vec![
        ("rich-menu-id".into(), id.to_owned()),
        ("rich-menu-size".into(), plan.picture.size.to_string()),
        (
            "rich-menu-image".into(),
            if plan.own_picture {
                "configured"
            } else {
                "generated"
            }
            .into(),
        ),
    ];
    report
}

#[cfg(test)]
mod tests {
    use tayori_plugin_sdk::{DatePicker, FailureKind, PickerMode};

    use super::*;

    fn postback(label: &str, data: &str) -> Button {
        Button {
            label: label.into(),
            action: Action::Postback(data.into()),
        }
    }

    /// The host's default menu in `locale`, as `tayori_core::default_menu`
    /// makes it.
    fn setup(locale: &str) -> ChannelSetup {
        let labels = match locale {
            "en" => render::tests::DEFAULT_LABELS[2],
            "ja-easy" => render::tests::DEFAULT_LABELS[1],
            _ => render::tests::DEFAULT_LABELS[0],
        };
        let actions = ["report-birth", "add-child", "family", "language", "stop"];
        ChannelSetup {
            tenant_name: "小樽市".into(),
            locale: locale.into(),
            webhook_url: "https://tayori.example.jp/hooks/otaru/line".into(),
            form_url: "https://tayori.example.jp/register/otaru".into(),
            menu: labels
                .iter()
                .zip(actions)
                .map(|(label, action)| postback(label, &format!("menu={action}")))
                .collect(),
        }
    }

    fn target() -> Target<'static> {
        Target {
            api_base: "https://api.line.me",
            data_base: "https://api-data.line.me",
            access_token: "secret-token",
        }
    }

    fn answer(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_default_menu_becomes_lines_rich_menu_request() {
        let plan = plan(&setup("ja"), None).expect("planned");
        let r = &plan.request;
        assert_eq!(r["size"], json!({ "width": 2500, "height": 1686 }));
        assert_eq!(r["selected"], true);
        assert_eq!(r["name"], "tayori:otaru/line 小樽市");
        assert_eq!(r["chatBarText"], "メニュー");
        let areas = r["areas"].as_array().unwrap();
        assert_eq!(areas.len(), 5);
        assert_eq!(
            areas[0],
            json!({
                "bounds": { "x": 0, "y": 0, "width": 1250, "height": 843 },
                "action": {
                    "type": "postback",
                    "label": "出産を届ける",
                    "data": "menu=report-birth",
                    "displayText": "出産を届ける",
                }
            })
        );
        assert_eq!(
            areas[4]["bounds"],
            json!({ "x": 1666, "y": 843, "width": 834, "height": 843 })
        );
        assert_eq!(areas[4]["action"]["data"], "menu=stop");
        assert_eq!(plan.key, "otaru/line");
        assert_eq!(plan.picture.kind, Kind::Png);
        assert_eq!(plan.picture.size, layout::FULL);
        assert!(plan.numbered.is_empty());

        let en = plan_en();
        assert_eq!(en.request["chatBarText"], "Menu");
        assert_eq!(en.request["areas"][4]["action"]["label"], "Stop messages");
        let easy = super::plan(&setup("ja-easy"), None).unwrap();
        assert_eq!(easy.request["chatBarText"], "メニュー");
        assert!(easy.numbered.is_empty());
    }

    fn plan_en() -> Plan {
        plan(&setup("en"), None).expect("planned")
    }

    #[test]
    fn labels_and_texts_stay_within_lines_limits() {
        let mut s = setup("en");
        s.menu = vec![
            postback("A label far longer than twenty characters", "menu=stop"),
            Button {
                label: "Birth date".into(),
                action: Action::DatePicker(DatePicker {
                    data: "menu=birth-date".into(),
                    mode: PickerMode::Date,
                    initial: None,
                    min: Some("2020-01-01".into()),
                    max: None,
                }),
            },
            Button {
                label: "Our site".into(),
                action: Action::Link("https://www.city.otaru.lg.jp/".into()),
            },
        ];
        s.tenant_name = "市".repeat(400);
        let plan = plan(&s, None).expect("planned");
        let r = &plan.request;
        assert_eq!(r["size"], json!({ "width": 2500, "height": 843 }));
        assert_eq!(r["name"].as_str().unwrap().chars().count(), 300);
        let actions: Vec<&Value> = r["areas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| &a["action"])
            .collect();
        assert_eq!(actions[0]["label"], "A label far longer t");
        assert_eq!(
            actions[0]["displayText"],
            "A label far longer than twenty characters"
        );
        assert_eq!(actions[1]["type"], "datetimepicker");
        assert_eq!(actions[1]["mode"], "date");
        assert_eq!(actions[1].get("displayText"), None);
        assert_eq!(
            *actions[2],
            json!({ "type": "uri", "label": "Our site", "uri": "https://www.city.otaru.lg.jp/" })
        );
        // More than LINE's 20 buttons: the first 20, and staff are told.
        s.menu = (0..23)
            .map(|i| postback(&format!("Item {i}"), &format!("menu={i}")))
            .collect();
        let many = super::plan(&s, None).unwrap();
        assert_eq!(many.request["areas"].as_array().unwrap().len(), 20);
        assert_eq!(many.left_out, 3);
        let summary = report("richmenu-1", &many, &Replaced::default()).summary;
        assert!(summary.contains("3 more buttons left out"), "{summary}");
    }

    #[test]
    fn the_municipalitys_picture_is_sent_instead_and_sets_the_size() {
        let drawn = plan(&setup("ja"), None).unwrap().picture;
        // Any picture LINE takes; here the one drawn for a half-height menu.
        let half = render::render(&["a"], &layout::tiles(1, layout::HALF), layout::HALF).unwrap();
        let own = picture::inspect(half.png.clone()).unwrap();
        let plan = plan(&setup("ja"), Some(own)).unwrap();
        assert_eq!(plan.picture.bytes, half.png);
        assert_ne!(plan.picture.bytes, drawn.bytes);
        assert_eq!(
            plan.request["size"],
            json!({ "width": 2500, "height": 843 })
        );
        // The same grid as a drawn picture's, scaled to the half size.
        let areas = plan.request["areas"].as_array().unwrap();
        assert_eq!(
            areas[0]["bounds"],
            json!({ "x": 0, "y": 0, "width": 1250, "height": 421 })
        );
        assert_eq!(
            areas[4]["bounds"],
            json!({ "x": 1666, "y": 421, "width": 834, "height": 422 })
        );
        let report = report("richmenu-2", &plan, &Replaced::default());
        assert_eq!(
            report.details,
            [
                ("rich-menu-id".to_owned(), "richmenu-2".to_owned()),
                ("rich-menu-size".to_owned(), "2500x843".to_owned()),
                ("rich-menu-image".to_owned(), "configured".to_owned()),
            ]
        );
    }

    #[test]
    fn a_label_the_font_lacks_is_numbered_and_staff_are_told() {
        let mut s = setup("ja");
        s.menu[2].label = "予防接種".into();
        let plan = plan(&s, None).expect("still planned");
        assert_eq!(plan.numbered, [(2, "予防接種".to_owned())]);
        // The action still carries the real label.
        assert_eq!(plan.request["areas"][2]["action"]["label"], "予防接種");
        let summary = report("richmenu-3", &plan, &Replaced::default()).summary;
        assert_eq!(
            summary,
            "rich menu richmenu-3 set as default (5 buttons); button 3 shows its number, not its \
             label: the built-in font lacks \"予防接種\" (set rich_menu_image to use your own picture)"
        );
    }

    #[test]
    fn requests_go_to_lines_two_hosts_with_the_token() {
        let t = target();
        let create = t.create(&json!({})).unwrap();
        assert_eq!(
            (create.method.as_str(), create.url.as_str()),
            ("POST", "https://api.line.me/v2/bot/richmenu")
        );
        let header = |r: &Request, name: &str| {
            r.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            header(&create, "authorization").as_deref(),
            Some("Bearer secret-token")
        );
        assert_eq!(
            header(&create, "content-type").as_deref(),
            Some("application/json")
        );
        let upload = t
            .upload("richmenu-ab12", Kind::Jpeg, vec![1, 2, 3])
            .unwrap();
        assert_eq!(
            upload.url,
            "https://api-data.line.me/v2/bot/richmenu/richmenu-ab12/content"
        );
        assert_eq!(
            header(&upload, "content-type").as_deref(),
            Some("image/jpeg")
        );
        assert_eq!(upload.body, [1, 2, 3]);
        let default = t.set_default("richmenu-ab12").unwrap();
        assert_eq!(
            (default.method.as_str(), default.url.as_str()),
            (
                "POST",
                "https://api.line.me/v2/bot/user/all/richmenu/richmenu-ab12"
            )
        );
        let list = t.list().unwrap();
        assert_eq!(
            (list.method.as_str(), list.url.as_str()),
            ("GET", "https://api.line.me/v2/bot/richmenu/list")
        );
        let delete = t.delete("richmenu-../../message/push").unwrap();
        assert_eq!(
            (delete.method.as_str(), delete.url.as_str()),
            (
                "DELETE",
                "https://api.line.me/v2/bot/richmenu/richmenu-messagepush"
            )
        );
        assert!(!format!("{delete:?}").contains("secret-token"));
    }

    #[test]
    fn lines_answers_become_an_id_or_a_failure_with_lines_message() {
        assert_eq!(
            created(&answer(200, r#"{"richMenuId":"richmenu-8f3"}"#)),
            Ok("richmenu-8f3".into())
        );
        let no_id = created(&answer(200, "{}")).unwrap_err();
        assert_eq!(
            no_id.message,
            "LINE answered 200 to create the rich menu without a rich menu id"
        );
        let invalid = created(&answer(
            400,
            r#"{"message":"The request body has 1 error(s)","details":[{"message":"must be specified","property":"areas[0].action.label"}]}"#,
        ))
        .unwrap_err();
        assert_eq!(invalid.kind, FailureKind::Permanent);
        assert_eq!(
            invalid.message,
            "LINE refused to create the rich menu (400): The request body has 1 error(s); areas[0].action.label: must be specified"
        );
        let token = ok(
            &answer(401, r#"{"message":"Authentication failed"}"#),
            "upload the rich menu's picture",
        )
        .unwrap_err();
        assert_eq!(token.kind, FailureKind::Unauthorized);
        assert!(
            token.message.ends_with("(check the channel access token)"),
            "{}",
            token.message
        );
        assert!(!token.message.contains("secret-token"));
        assert_eq!(
            ok(&answer(429, r#"{"message":"Too Many Requests"}"#), "x")
                .unwrap_err()
                .kind,
            FailureKind::Transient
        );
        assert_eq!(
            ok(&answer(500, "<html>oops</html>"), "x")
                .unwrap_err()
                .message,
            "LINE refused to x (500)"
        );
        assert_eq!(ok(&answer(200, ""), "x"), Ok(()));
    }

    #[test]
    fn only_this_channels_older_menus_are_replaced() {
        let listed = answer(
            200,
            r#"{"richmenus":[
                {"richMenuId":"richmenu-new","name":"tayori:otaru/line 小樽市"},
                {"richMenuId":"richmenu-old","name":"tayori:otaru/line 小樽市"},
                {"richMenuId":"richmenu-renamed","name":"tayori:otaru/line"},
                {"richMenuId":"richmenu-other-channel","name":"tayori:otaru/line2 小樽市"},
                {"richMenuId":"richmenu-other-tenant","name":"tayori:sapporo/line 札幌市"},
                {"richMenuId":"richmenu-designer","name":"春のメニュー"}
            ]}"#,
        );
        assert_eq!(
            old_menus(&listed, "otaru/line", "richmenu-new"),
            Some(vec!["richmenu-old".into(), "richmenu-renamed".into()])
        );
        assert_eq!(old_menus(&answer(200, "{}"), "otaru/line", "x"), None);
        let mut s = setup("ja");
        s.webhook_url = "https://t.example/hooks/otaru/line?x=1".into();
        assert_eq!(channel_key(&s), "otaru/line");
        s.webhook_url = String::new();
        assert_eq!(channel_key(&s), "小樽市");
    }

    #[test]
    fn the_report_says_what_was_done_in_one_line() {
        let plan = plan(&setup("ja"), None).unwrap();
        let one = report(
            "richmenu-9",
            &plan,
            &Replaced {
                deleted: 1,
                trouble: None,
            },
        );
        assert_eq!(
            one.summary,
            "rich menu richmenu-9 set as default (5 buttons); the previous Tayori menu was deleted"
        );
        assert_eq!(
            one.details[0],
            ("rich-menu-id".to_owned(), "richmenu-9".to_owned())
        );
        assert_eq!(
            one.details[2],
            ("rich-menu-image".to_owned(), "generated".to_owned())
        );
        let trouble = report(
            "richmenu-9",
            &plan,
            &Replaced {
                deleted: 2,
                trouble: Some("LINE refused to delete an old rich menu (500)".into()),
            },
        );
        assert_eq!(
            trouble.summary,
            "rich menu richmenu-9 set as default (5 buttons); 2 previous Tayori menus were deleted; an old menu may remain: LINE refused to delete an old rich menu (500)"
        );
        assert!(!trouble.summary.contains('\n'));
    }

    #[test]
    fn without_a_host_to_reach_the_set_up_fails_and_an_empty_menu_changes_nothing() {
        // Natively there is no wasi:http: the first request fails, nothing
        // else is tried, and the failure says what it was doing.
        let failure = set_up(&target(), &setup("ja"), None).unwrap_err();
        assert!(
            failure
                .message
                .starts_with("could not create the rich menu: "),
            "{}",
            failure.message
        );
        let mut empty = setup("ja");
        empty.menu.clear();
        let report = set_up(&target(), &empty, None).expect("nothing to do");
        assert!(report.details.is_empty());
    }
}
