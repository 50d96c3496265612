//! The registration conversation in a chat: a small state machine per
//! contact, pure, driven by the contact's inbound events.
//!
//! A LINE follow gets the greeting and the question "expecting or born?";
//! the answer gets a date picker bounded by [`DateRules`]; the date (picked
//! or typed) gets a confirmation; "yes" registers. Every question carries
//! the conversation's `round` in its buttons' data (`tayori:<round>:<verb>`),
//! so a tap on an older message is recognised as stale, and data the host
//! never wrote as forged: either is answered with a plain "please start
//! again" and the question again, and changes nothing. An unfollow (a
//! block) stops the contact at once.
//!
//! The machine decides; the store applies its [`Effect`]s in the
//! transaction that keeps the event, so an event redelivered under the same
//! id changes nothing.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::registration::{DateRules, written_date};
use super::{Child, Locale, NewChild};
use crate::plugin::{Action, Button, Content, DatePicker, EventKind, PickerMode};

mod self_service;

/// Where a contact's conversation stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Nothing asked.
    Idle,
    /// Asked whether the baby is expected or born.
    AskStage,
    /// Asked for the due date or the birth date.
    AskDate { born: bool },
    /// Asked to confirm the date.
    Confirm { born: bool, date: NaiveDate },
    /// A stopped contact came back (unblocked the account): asked whether
    /// to send messages again.
    OfferResume,
    /// Asked which expected child was born.
    PickChild,
    /// Asked for a child's date of birth.
    AskBirth { child: String },
    /// Asked to confirm a child's date of birth.
    ConfirmBirth { child: String, date: NaiveDate },
    /// Asked for the language of the messages.
    AskLanguage,
    /// Asked which child's messages to stop, or all.
    AskStop,
    /// Asked to confirm a stop (`None`: everything).
    ConfirmStop { child: Option<String> },
}

impl Step {
    /// A question of the self-service steps (a registered parent's).
    fn is_self_service(&self) -> bool {
        matches!(
            self,
            Step::PickChild
                | Step::AskBirth { .. }
                | Step::ConfirmBirth { .. }
                | Step::AskLanguage
                | Step::AskStop
                | Step::ConfirmStop { .. }
        )
    }
}

/// A contact's conversation, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub step: Step,
    /// Counts the questions asked; written into their buttons' data.
    pub round: u32,
    pub locale: Locale,
    /// The registration steps add a child to the household (the menu's
    /// "add a child") rather than register one.
    #[serde(default)]
    pub adding: bool,
}

impl Default for Conversation {
    fn default() -> Self {
        Self {
            step: Step::Idle,
            round: 0,
            locale: Locale::Ja,
            adding: false,
        }
    }
}

crate::domain::string_enum! {
    /// What a parent did at the front door, counted by channel in the
    /// monthly figures.
    pub enum FrontDoorKind ("front door event kind") {
        /// A household registered itself (the chat, the form, a link).
        Registered = "registered",
        /// An email address opened its confirmation link.
        Confirmed = "confirmed",
        /// A contact stopped (a stop link, one-click, the chat).
        Stopped = "stopped",
        /// A registered contact blocked the account.
        Blocked = "blocked",
    }
}

/// What the event asks the store to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Register a household with this contact and child.
    Register { locale: Locale, child: NewChild },
    /// The contact blocked the account: stop it at once.
    Block,
    /// The contact said yes to messages again: make it valid.
    Resume,
    /// A child of the household was born on `date`.
    ReportBirth { child: String, date: NaiveDate },
    /// Add a child to the household.
    AddChild { child: NewChild },
    /// Stop one child (everything pending for it is cancelled).
    StopChild { child: String },
    /// Stop the household.
    StopAll,
    /// Send the household's messages in this language.
    SetLocale(Locale),
    /// Make an invitation for a second parent (the host signs it and says
    /// [`invite_texts`]).
    Invite,
    /// The sender sent an invitation code: join the household it names (the
    /// host checks it and says [`joined_text`]).
    Join { code: String },
}

/// Something about the event worth keeping with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// A button of an earlier question.
    Stale,
    /// Data the host never wrote.
    Forged,
}

/// What an event leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub next: Conversation,
    pub say: Vec<Content>,
    pub effects: Vec<Effect>,
    pub note: Option<Note>,
}

/// What the machine needs to know besides the event.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub rules: DateRules,
    /// The tenant's name, for the greeting.
    pub tenant_name: &'a str,
    /// Whether the contact already belongs to a household.
    pub registered: bool,
    /// Whether that contact is stopped (blocked, or stopped by a link).
    pub stopped: bool,
    /// The household's children, when registered.
    pub children: &'a [Child],
    /// The tenant's own words for the [`EDITABLE_TEXTS`].
    pub texts: &'a ChatTexts,
    /// The registration form for this contact (a signed link that names
    /// it), offered beside the chat's questions to a parent not yet
    /// registered: opened in LINE's own browser, it registers this LINE
    /// account without LINE Login.
    pub form_url: Option<&'a str>,
}

/// A tenant's own words: text key → locale (`ja`, `ja-easy`, `en`) → text.
pub type ChatTexts = BTreeMap<String, BTreeMap<String, String>>;

/// The chat's texts a tenant may write itself, with what each is.
pub const EDITABLE_TEXTS: [(&str, &str); 2] = [
    (
        "greeting",
        "The first message after a parent adds the account; `{tenant}` is the tenant's name",
    ),
    (
        "welcome",
        "Said when a household has registered in the chat",
    ),
];

/// The longest text a tenant may write, in characters (LINE's text
/// message takes 5,000; a chat message is read on a phone).
pub const MAX_TEXT_CHARS: usize = 1_000;

/// The default of an editable text in `locale`.
pub fn default_text(key: &str, locale: Locale) -> Option<&'static str> {
    let w = words(locale);
    match key {
        "greeting" => Some(w.greeting),
        "welcome" => Some(w.registered),
        _ => None,
    }
}

/// The tenant's text for `key` in `locale`, else the default.
fn tenant_text<'t>(texts: &'t ChatTexts, key: &str, locale: Locale, default: &'t str) -> &'t str {
    texts
        .get(key)
        .and_then(|by| by.get(locale.as_str()))
        .map_or(default, String::as_str)
}

const PREFIX: &str = "tayori";

fn data(round: u32, verb: &str) -> String {
    format!("{PREFIX}:{round}:{verb}")
}

/// `(round, verb)` of data the host wrote.
fn parse_data(d: &str) -> Option<(u32, &str)> {
    let rest = d.strip_prefix(PREFIX)?.strip_prefix(':')?;
    let (round, verb) = rest.split_once(':')?;
    Some((round.parse().ok()?, verb))
}

/// The menu action a registered parent's words ask for, if any: the words
/// on the menu's buttons and the plain ones parents write ("生まれました",
/// "配信停止", "stop"), in any of the three languages.
pub fn menu_in_words(words: &str) -> Option<&'static str> {
    let w: String = words
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '。' | '！' | '!' | '.' | '、'))
        .collect::<String>()
        .to_lowercase();
    const ASKS: [(&str, &[&str]); 4] = [
        (
            "report-birth",
            &[
                "出産を届ける",
                "出産報告",
                "生まれました",
                "産まれました",
                "うまれました",
                "出産しました",
                "reportabirth",
                "born",
            ],
        ),
        (
            "add-child",
            &["子どもを追加", "こどもをふやす", "addachild"],
        ),
        (
            "language",
            &["言語", "ことば", "言葉", "language", "english"],
        ),
        (
            "stop",
            &[
                "配信を止める",
                "配信停止",
                "停止",
                "やめる",
                "stopmessages",
                "stop",
                "unsubscribe",
            ],
        ),
    ];
    ASKS.iter()
        .find(|(_, said)| said.iter().any(|s| w == *s))
        .map(|(action, _)| *action)
}

/// What starts an invitation code in a message.
pub const INVITE_PREFIX: &str = "tayori-invite:";

/// The invitation code in a text, if it carries one (a forwarded
/// invitation, or the code pasted alone).
pub fn invite_code(words: &str) -> Option<&str> {
    let start = words.find(INVITE_PREFIX)? + INVITE_PREFIX.len();
    let code = words[start..].split_whitespace().next()?;
    (!code.is_empty()).then_some(code)
}

/// The invitation a parent forwards to a second parent: what to do, then
/// the code on a message of its own so that it can be forwarded alone.
pub fn invite_texts(locale: Locale, tenant_name: &str, code: &str, hours: i64) -> Vec<Content> {
    let how = match locale {
        Locale::Ja => format!(
            "ご家族を招待します。次のメッセージをご家族に転送してください。ご家族が{tenant_name}のアカウントを友だち追加して、そのメッセージをこのトークに送ると、同じ登録でメッセージが届きます（{hours}時間有効）。"
        ),
        Locale::JaEasy => format!(
            "かぞくを さそいます。つぎの メッセージを かぞくに おくってください。かぞくが {tenant_name}を ともだちに して、その メッセージを ここに おくると、おなじ メッセージが とどきます（{hours}じかん）。"
        ),
        Locale::En => format!(
            "To invite a family member, forward them the next message. When they add {tenant_name}'s account and send it here, they get the same messages (valid for {hours} hours)."
        ),
    };
    let card = match locale {
        Locale::Ja => format!(
            "{tenant_name}の子育て応援メッセージへの招待です。このメッセージをそのまま送ってください。\n{INVITE_PREFIX}{code}"
        ),
        Locale::JaEasy => format!(
            "{tenant_name}の メッセージへの しょうたいです。この メッセージを そのまま おくってください。\n{INVITE_PREFIX}{code}"
        ),
        Locale::En => format!(
            "An invitation to {tenant_name}'s messages for parents. Send this message as it is.\n{INVITE_PREFIX}{code}"
        ),
    };
    vec![text(locale, how), text(locale, card)]
}

/// How a join by invitation went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// The sender's contact is now in the household.
    Joined,
    /// The sender already belongs to a household.
    Already,
    /// The code is expired, altered or not this tenant's.
    BadCode,
}

/// What a parent who sent an invitation code is told.
pub fn joined_text(locale: Locale, joined: Joined) -> Content {
    let body = match (joined, locale) {
        (Joined::Joined, Locale::Ja) => {
            "ご家族の登録に加わりました。同じメッセージをお届けします。"
        }
        (Joined::Joined, Locale::JaEasy) => "かぞくと おなじ メッセージを おくります。",
        (Joined::Joined, Locale::En) => {
            "You have joined your family's registration and will get the same messages."
        }
        (Joined::Already, Locale::Ja) => "このアカウントはすでに登録されています。",
        (Joined::Already, Locale::JaEasy) => "もう とうろく しています。",
        (Joined::Already, Locale::En) => "This account is already registered.",
        (Joined::BadCode, Locale::Ja) => {
            "この招待は使えません（期限切れか、一部が欠けています）。ご家族にもう一度招待してもらってください。"
        }
        (Joined::BadCode, Locale::JaEasy) => {
            "この しょうたいは つかえません。もう いちど さそって もらってください。"
        }
        (Joined::BadCode, Locale::En) => {
            "This invitation cannot be used (it has expired or is incomplete). Please ask for a new one."
        }
    };
    text(locale, body.to_string())
}

/// A date typed as `2027-05-01`, `2027/5/1`, `2027年5月1日`, in full- or
/// half-width digits.
pub fn parse_typed_date(text: &str) -> Option<NaiveDate> {
    let normal: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            _ => c,
        })
        .collect();
    let parts: Vec<&str> = normal
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .collect();
    let [y, m, d] = parts.as_slice() else {
        return None;
    };
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

struct Words {
    greeting: &'static str,
    use_form: &'static str,
    ask_stage: &'static str,
    expecting: &'static str,
    born: &'static str,
    ask_due: &'static str,
    ask_birth: &'static str,
    pick: &'static str,
    confirm_due: &'static str,
    confirm_birth: &'static str,
    yes: &'static str,
    change: &'static str,
    registered: &'static str,
    start_again: &'static str,
    not_a_date: &'static str,
    already: &'static str,
    offer_resume: &'static str,
    child_added: &'static str,
    not_here: &'static str,
    resume: &'static str,
    not_now: &'static str,
    resumed: &'static str,
    stays_stopped: &'static str,
}

fn words(locale: Locale) -> Words {
    match locale {
        Locale::Ja => Words {
            greeting: "{tenant}の子育て応援メッセージです。友だち追加ありがとうございます。",
            use_form: "フォームで入力する",
            ask_stage: "お子さんはお生まれですか？",
            expecting: "出産予定",
            born: "生まれた",
            ask_due: "出産予定日を選んでください（2027-05-01 のように送っても登録できます）。",
            ask_birth: "誕生日を選んでください（2027-05-01 のように送っても登録できます）。",
            pick: "日付を選ぶ",
            confirm_due: "出産予定日は{date}です。これで登録しますか？",
            confirm_birth: "誕生日は{date}です。これで登録しますか？",
            yes: "登録する",
            change: "日付を直す",
            registered: "登録しました。時期に合わせたメッセージをお届けします。",
            start_again: "もう一度はじめからお願いします。",
            not_a_date: "日付が読み取れませんでした。2027-05-01 のように送ってください。",
            already: "登録済みです。メニューから出産の報告や配信の停止ができます。",
            offer_resume: "おかえりなさい。止まっているメッセージの配信を再開しますか？",
            child_added: "お子さんを追加しました。時期に合わせたメッセージをお届けします。",
            not_here: "この操作は、いまはチャットではできません。",
            resume: "再開する",
            not_now: "今はしない",
            resumed: "配信を再開しました。",
            stays_stopped: "配信は止めたままにします。再開したいときは、もう一度ブロック解除か友だち追加をしてください。",
        },
        Locale::JaEasy => Words {
            greeting: "{tenant}の こそだての メッセージです。ともだちに してくれて ありがとう。",
            use_form: "フォームで いれる",
            ask_stage: "あかちゃんは うまれましたか？",
            expecting: "まだ おなかの なか",
            born: "うまれた",
            ask_due: "うまれる よていの 日を えらんでください。",
            ask_birth: "たんじょうびを えらんでください。",
            pick: "日を えらぶ",
            confirm_due: "うまれる よていの 日は {date}です。これで いいですか？",
            confirm_birth: "たんじょうびは {date}です。これで いいですか？",
            yes: "はい",
            change: "なおす",
            registered: "とうろく しました。メッセージを おくります。",
            start_again: "もう いちど はじめから おねがいします。",
            not_a_date: "日が わかりませんでした。2027-05-01 のように おくってください。",
            already: "もう とうろく しています。",
            offer_resume: "おかえりなさい。また メッセージを おくっても いいですか？",
            child_added: "こどもを ふやしました。メッセージを おくります。",
            not_here: "これは いま チャットでは できません。",
            resume: "はい",
            not_now: "いまは いいえ",
            resumed: "また おくります。",
            stays_stopped: "おくりません。",
        },
        Locale::En => Words {
            greeting: "Welcome to {tenant}'s messages for parents. Thank you for adding us.",
            use_form: "Use the web form",
            ask_stage: "Is your baby born yet?",
            expecting: "Expecting",
            born: "Born",
            ask_due: "Choose your due date (or send it like 2027-05-01).",
            ask_birth: "Choose the date of birth (or send it like 2027-05-01).",
            pick: "Choose a date",
            confirm_due: "Your due date is {date}. Register with this date?",
            confirm_birth: "The date of birth is {date}. Register with this date?",
            yes: "Register",
            change: "Change the date",
            registered: "You are registered. We will send messages for each stage.",
            start_again: "Please start again.",
            not_a_date: "We could not read a date. Send it like 2027-05-01.",
            already: "You are already registered.",
            offer_resume: "Welcome back. Shall we send your messages again?",
            child_added: "The child is added. We will send messages for each stage.",
            not_here: "This cannot be done in the chat yet.",
            resume: "Yes, send them",
            not_now: "Not now",
            resumed: "Your messages start again.",
            stays_stopped: "Your messages stay stopped.",
        },
    }
}

fn text(locale: Locale, body: String) -> Content {
    Content {
        subject: None,
        body,
        locale: locale.as_str().to_string(),
        buttons: Vec::new(),
        quick_replies: Vec::new(),
        fallback_url: None,
    }
}

/// Asks "expecting or born?" (registering, or adding a child).
fn ask_stage_in(turn: &mut Turn) {
    let w = words(turn.next.locale);
    turn.next.round += 1;
    turn.next.step = Step::AskStage;
    let r = turn.next.round;
    let mut c = text(turn.next.locale, w.ask_stage.to_string());
    c.quick_replies = vec![
        postback(w.expecting, data(r, "stage=due")),
        postback(w.born, data(r, "stage=born")),
    ];
    turn.say.push(c);
}

/// Asks a stopped contact whether to send messages again.
fn offer_resume(turn: &mut Turn) {
    let w = words(turn.next.locale);
    turn.next.round += 1;
    turn.next.step = Step::OfferResume;
    let r = turn.next.round;
    let mut c = text(turn.next.locale, w.offer_resume.to_string());
    c.quick_replies = vec![
        postback(w.resume, data(r, "resume")),
        postback(w.not_now, data(r, "later")),
    ];
    turn.say.push(c);
}

/// A menu button this conversation has no steps for.
fn answer_unknown_menu(turn: &mut Turn) {
    turn.next.step = Step::Idle;
    let w = words(turn.next.locale);
    turn.say
        .push(text(turn.next.locale, w.not_here.to_string()));
}

fn postback(label: &str, data: String) -> Button {
    Button {
        label: label.to_string(),
        action: Action::Postback { data },
    }
}

/// The question asked once, 14 days after a due date with no birth
/// reported: "was your baby born?" with a date picker of birth dates; the
/// answer goes on as the menu's "report the birth" does.
pub fn ask_birth_question(state: &Conversation, child: &str, ctx: &Context<'_>) -> Turn {
    let mut turn = Turn {
        next: Conversation {
            adding: false,
            ..state.clone()
        },
        say: Vec::new(),
        effects: Vec::new(),
        note: None,
    };
    self_service::ask_birth_after_due(&mut turn, ctx, child.to_string());
    turn
}

/// How long after a due date with no birth reported the parents are asked.
pub const ASK_BIRTH_AFTER_DAYS: i64 = super::UNREPORTED_BIRTH_ASK_DAYS;

/// Said when what the parent asked could not be done (the database
/// failed): nothing changed, and trying again is safe.
pub fn failed_text(locale: Locale) -> Content {
    text(
        locale,
        match locale {
            Locale::Ja => {
                "申し訳ありません。うまくいきませんでした。しばらくしてからもう一度お願いします。"
            }
            Locale::JaEasy => {
                "ごめんなさい。うまく いきませんでした。あとで もう いちど おねがいします。"
            }
            Locale::En => "Sorry, that did not work. Please try again later.",
        }
        .to_string(),
    )
}

/// The answer to a mail sent to the tenant's address (a blank email from
/// a poster's QR code): the signed link to the registration form, or, for
/// an address already registered, to what is registered. In Japanese with
/// English beneath, since nothing says which language the sender reads.
pub fn link_mail(tenant_name: &str, link: &str, hours: i64, registered: bool) -> Content {
    let (subject, ja, en) = if registered {
        (
            format!("{tenant_name}：登録内容の確認 / Your registration"),
            format!(
                "{tenant_name}の子育て応援メッセージに、このメールアドレスは登録済みです。\n\
                 登録内容の確認と配信の停止はこちらから（{hours}時間有効）:\n{link}"
            ),
            format!(
                "This address is already registered for {tenant_name}'s messages for parents.\n\
                 See what is registered, or stop, here (valid for {hours} hours):\n{link}"
            ),
        )
    } else {
        (
            format!("{tenant_name}：子育て応援メッセージの登録 / Sign up"),
            format!(
                "{tenant_name}の子育て応援メッセージの登録ページです（{hours}時間有効）。\n\
                 出産予定日かお誕生日を入れると登録できます:\n{link}\n\n\
                 心当たりがなければ、このメールは捨ててください。何も登録されません。"
            ),
            format!(
                "Sign up for {tenant_name}'s messages for parents (the link works for {hours} hours):\n{link}\n\n\
                 If you did not ask for this, ignore this mail: nothing is registered."
            ),
        )
    };
    Content {
        subject: Some(subject),
        body: format!("{ja}\n\n---\n\n{en}\n"),
        locale: Locale::Ja.as_str().to_string(),
        ..Content::default()
    }
}

/// Runs one event through the machine.
pub fn step(state: &Conversation, event: &EventKind, ctx: &Context<'_>) -> Turn {
    let locale = state.locale;
    let w = words(locale);
    let mut turn = Turn {
        next: state.clone(),
        say: Vec::new(),
        effects: Vec::new(),
        note: None,
    };
    let ask_stage = ask_stage_in;
    let ask_date = |turn: &mut Turn, born: bool| {
        turn.next.round += 1;
        turn.next.step = Step::AskDate { born };
        let r = turn.next.round;
        let (min, max) = if born {
            ctx.rules.birth_range()
        } else {
            ctx.rules.due_range()
        };
        let mut c = text(
            locale,
            (if born { w.ask_birth } else { w.ask_due }).to_string(),
        );
        c.quick_replies = vec![Button {
            label: w.pick.to_string(),
            action: Action::DatePicker(DatePicker {
                data: data(r, "date"),
                mode: PickerMode::Date,
                initial: None,
                min: Some(min.to_string()),
                max: Some(max.to_string()),
            }),
        }];
        turn.say.push(c);
    };
    let take_date = |turn: &mut Turn, born: bool, date: NaiveDate| {
        let checked = if born {
            ctx.rules.birth(date)
        } else {
            ctx.rules.due(date)
        };
        match checked {
            Err(problem) => {
                turn.say.push(text(locale, problem.message(locale)));
                ask_date(turn, born);
            }
            Ok(()) => {
                turn.next.round += 1;
                turn.next.step = Step::Confirm { born, date };
                let r = turn.next.round;
                let ask = if born { w.confirm_birth } else { w.confirm_due };
                let mut c = text(locale, ask.replace("{date}", &written_date(date, locale)));
                c.quick_replies = vec![
                    postback(w.yes, data(r, "confirm")),
                    postback(w.change, data(r, "change")),
                ];
                turn.say.push(c);
            }
        }
    };
    let again = |turn: &mut Turn, note: Note| {
        turn.note = Some(note);
        turn.say.push(text(locale, w.start_again.to_string()));
        if !ctx.registered {
            ask_stage(turn);
        }
    };

    match event {
        EventKind::Unfollow => {
            // Back to the start; the round goes on, so that the old
            // buttons stay stale in the next conversation.
            turn.next.step = Step::Idle;
            if ctx.registered {
                turn.effects.push(Effect::Block);
            }
        }
        EventKind::Follow { .. } if ctx.registered && ctx.stopped => offer_resume(&mut turn),
        EventKind::Follow { .. } if ctx.registered => {
            turn.say.push(text(locale, w.already.to_string()));
        }
        EventKind::Follow { .. } => {
            let mut greeting = text(
                locale,
                tenant_text(ctx.texts, "greeting", locale, w.greeting)
                    .replace("{tenant}", ctx.tenant_name),
            );
            if let Some(url) = ctx.form_url {
                greeting.buttons = vec![Button {
                    label: w.use_form.to_string(),
                    action: Action::Link {
                        url: url.to_string(),
                    },
                }];
            }
            turn.say.push(greeting);
            ask_stage(&mut turn);
        }
        EventKind::Postback(d) | EventKind::Picked { data: d, .. } => {
            let chosen = match event {
                EventKind::Picked { chosen, .. } => Some(chosen.as_str()),
                _ => None,
            };
            if let Some(action) = d.strip_prefix("menu=") {
                // The rich menu's buttons: a stranger is asked to register
                // first, a stopped contact whether to resume.
                if !ctx.registered {
                    ask_stage(&mut turn);
                } else if ctx.stopped {
                    offer_resume(&mut turn);
                } else {
                    self_service::menu(action, ctx, &mut turn);
                }
                return turn;
            }
            let Some((round, verb)) = parse_data(d) else {
                again(&mut turn, Note::Forged);
                return turn;
            };
            // A registered parent answers only the questions asked of them.
            let theirs =
                state.step == Step::OfferResume || state.adding || state.step.is_self_service();
            if round != state.round || (ctx.registered && !theirs) {
                again(&mut turn, Note::Stale);
                return turn;
            }
            match (&state.step, verb) {
                (Step::AskStage, "stage=due") => ask_date(&mut turn, false),
                (Step::AskStage, "stage=born") => ask_date(&mut turn, true),
                (Step::AskDate { born }, "date") => {
                    match chosen.and_then(|c| c.parse::<NaiveDate>().ok()) {
                        Some(date) => take_date(&mut turn, *born, date),
                        None => {
                            turn.say.push(text(locale, w.not_a_date.to_string()));
                            ask_date(&mut turn, *born);
                        }
                    }
                }
                (Step::Confirm { born, date }, "confirm") => {
                    let child = if *born {
                        NewChild::born(*date)
                    } else {
                        NewChild::due(*date)
                    };
                    turn.next.step = Step::Idle;
                    turn.next.adding = false;
                    if state.adding && ctx.registered {
                        turn.effects.push(Effect::AddChild { child });
                        turn.say.push(text(locale, w.child_added.to_string()));
                    } else {
                        turn.effects.push(Effect::Register { locale, child });
                        let welcome = tenant_text(ctx.texts, "welcome", locale, w.registered);
                        turn.say.push(text(locale, welcome.to_string()));
                    }
                }
                (Step::Confirm { born, .. }, "change") => ask_date(&mut turn, *born),
                (Step::OfferResume, "resume") => {
                    turn.next.step = Step::Idle;
                    if ctx.stopped {
                        turn.effects.push(Effect::Resume);
                    }
                    turn.say.push(text(locale, w.resumed.to_string()));
                }
                (Step::OfferResume, "later") => {
                    turn.next.step = Step::Idle;
                    turn.say.push(text(locale, w.stays_stopped.to_string()));
                }
                _ if ctx.registered && self_service::tap(state, verb, chosen, ctx, &mut turn) => {}
                _ => again(&mut turn, Note::Forged),
            }
        }
        EventKind::Text(words_sent) if invite_code(words_sent).is_some() => {
            turn.next.step = Step::Idle;
            turn.next.adding = false;
            turn.effects.push(Effect::Join {
                code: invite_code(words_sent).unwrap_or_default().to_string(),
            });
        }
        EventKind::Text(words_sent) => match &state.step {
            Step::AskBirth { .. } if ctx.registered => match parse_typed_date(words_sent) {
                Some(date) => {
                    self_service::typed_birth(state, date, ctx, &mut turn);
                }
                None => turn.say.push(text(locale, w.not_a_date.to_string())),
            },
            Step::AskDate { born } if !ctx.registered || state.adding => {
                match parse_typed_date(words_sent) {
                    Some(date) => take_date(&mut turn, *born, date),
                    None => {
                        turn.say.push(text(locale, w.not_a_date.to_string()));
                        ask_date(&mut turn, *born);
                    }
                }
            }
            _ if ctx.registered && !ctx.stopped => match menu_in_words(words_sent) {
                Some(action) => self_service::menu(action, ctx, &mut turn),
                None => turn.say.push(text(locale, w.already.to_string())),
            },
            _ if ctx.registered => offer_resume(&mut turn),
            _ => ask_stage(&mut turn),
        },
        EventKind::Email(_) => {}
    }
    turn
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn ctx(registered: bool) -> Context<'static> {
        Context {
            rules: DateRules::new(d("2026-12-07")),
            tenant_name: "札幌市",
            registered,
            stopped: false,
            form_url: None,
            children: &[],
            texts: &NO_TEXTS,
        }
    }

    static NO_TEXTS: ChatTexts = ChatTexts::new();

    #[test]
    fn the_tenants_own_words_replace_the_defaults_in_their_locale_only() {
        let mut texts = ChatTexts::new();
        texts.insert(
            "greeting".into(),
            [("ja".to_string(), "{tenant}へようこそ！".to_string())].into(),
        );
        let c = Context {
            texts: &texts,
            ..ctx(false)
        };
        let t = step(
            &Conversation::default(),
            &EventKind::Follow { unblocked: false },
            &c,
        );
        assert_eq!(t.say[0].body, "札幌市へようこそ！");
        let en = Conversation {
            locale: Locale::En,
            ..Conversation::default()
        };
        let t = step(&en, &EventKind::Follow { unblocked: false }, &c);
        assert!(
            t.say[0].body.starts_with("Welcome to 札幌市"),
            "the default in English"
        );
        assert_eq!(
            default_text("welcome", Locale::Ja),
            Some(words(Locale::Ja).registered)
        );
        assert_eq!(default_text("nothing", Locale::Ja), None);
    }

    #[test]
    fn a_stranger_may_take_the_form_instead_and_a_parent_is_not_offered_it() {
        let url = "https://tayori.example/r/sapporo?t=abc";
        let stranger = Context {
            form_url: Some(url),
            ..ctx(false)
        };
        let t = step(
            &Conversation::default(),
            &EventKind::Follow { unblocked: false },
            &stranger,
        );
        assert_eq!(
            t.say[0].buttons,
            [Button {
                label: "フォームで入力する".into(),
                action: Action::Link { url: url.into() },
            }]
        );
        // The chat's own question still follows.
        assert_eq!(t.next.step, Step::AskStage);
        let without = step(
            &Conversation::default(),
            &EventKind::Follow { unblocked: false },
            &ctx(false),
        );
        assert!(without.say[0].buttons.is_empty());
        for locale in [Locale::Ja, Locale::JaEasy, Locale::En] {
            assert!(
                words(locale).use_form.chars().count() <= 20,
                "LINE's label limit"
            );
        }
    }

    fn tapped(turn: &Turn, i: usize) -> EventKind {
        let b = &turn.say.last().unwrap().quick_replies[i];
        match &b.action {
            Action::Postback { data } => EventKind::Postback(data.clone()),
            other => panic!("{other:?}"),
        }
    }

    fn picker(turn: &Turn) -> DatePicker {
        match &turn.say.last().unwrap().quick_replies[0].action {
            Action::DatePicker(p) => p.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn follow_stage_date_confirm_registers() {
        let c = ctx(false);
        let t1 = step(
            &Conversation::default(),
            &EventKind::Follow { unblocked: false },
            &c,
        );
        assert!(t1.say[0].body.contains("札幌市"));
        assert_eq!(t1.next.step, Step::AskStage);
        let t2 = step(&t1.next, &tapped(&t1, 0), &c);
        assert_eq!(t2.next.step, Step::AskDate { born: false });
        let p = picker(&t2);
        assert_eq!(p.min.as_deref(), Some("2026-11-23"));
        assert_eq!(p.max.as_deref(), Some("2027-10-07"));
        let t3 = step(
            &t2.next,
            &EventKind::Picked {
                data: p.data,
                chosen: "2027-05-01".into(),
            },
            &c,
        );
        assert!(t3.say[0].body.contains("2027年5月1日"), "{:?}", t3.say);
        let t4 = step(&t3.next, &tapped(&t3, 0), &c);
        assert_eq!(
            t4.effects,
            vec![Effect::Register {
                locale: Locale::Ja,
                child: NewChild::due(d("2027-05-01"))
            }]
        );
        assert_eq!(t4.next.step, Step::Idle);
    }

    #[test]
    fn a_date_outside_the_rules_says_why_and_asks_again() {
        let c = ctx(false);
        let state = Conversation {
            step: Step::AskDate { born: true },
            round: 4,
            locale: Locale::En,
            adding: false,
        };
        let t = step(&state, &EventKind::Text("2027/1/1".into()), &c);
        assert!(t.effects.is_empty());
        assert!(t.say[0].body.contains("today"), "{:?}", t.say);
        assert_eq!(t.next.step, Step::AskDate { born: true });
        assert_eq!(t.next.round, 5);
        let typed = step(&state, &EventKind::Text("２０２６年１２月１日".into()), &c);
        assert_eq!(
            typed.next.step,
            Step::Confirm {
                born: true,
                date: d("2026-12-01")
            }
        );
    }

    #[test]
    fn stale_and_forged_taps_change_nothing_and_ask_to_start_again() {
        let c = ctx(false);
        let state = Conversation {
            step: Step::Confirm {
                born: false,
                date: d("2027-05-01"),
            },
            round: 7,
            locale: Locale::Ja,
            adding: false,
        };
        let stale = step(&state, &EventKind::Postback(data(6, "confirm")), &c);
        assert_eq!(stale.note, Some(Note::Stale));
        assert!(stale.effects.is_empty());
        assert!(stale.say[0].body.contains("はじめから"));
        let forged = step(&state, &EventKind::Postback("register=yes".into()), &c);
        assert_eq!(forged.note, Some(Note::Forged));
        assert!(forged.effects.is_empty());
    }

    #[test]
    fn a_block_stops_a_registered_contact() {
        let t = step(&Conversation::default(), &EventKind::Unfollow, &ctx(true));
        assert_eq!(t.effects, vec![Effect::Block]);
        assert!(t.say.is_empty());
        let stranger = step(&Conversation::default(), &EventKind::Unfollow, &ctx(false));
        assert!(stranger.effects.is_empty());
    }

    #[test]
    fn an_unblocking_follow_of_a_stopped_contact_offers_to_resume() {
        let stopped = Context {
            stopped: true,
            ..ctx(true)
        };
        let offer = step(
            &Conversation::default(),
            &EventKind::Follow { unblocked: true },
            &stopped,
        );
        assert_eq!(offer.next.step, Step::OfferResume);
        assert!(offer.effects.is_empty(), "nothing resumes by itself");
        let yes = step(&offer.next, &tapped(&offer, 0), &stopped);
        assert_eq!(yes.effects, vec![Effect::Resume]);
        assert_eq!(yes.next.step, Step::Idle);
        let no = step(&offer.next, &tapped(&offer, 1), &stopped);
        assert!(no.effects.is_empty());
        // The offer's buttons, once answered, are stale.
        let late = step(&yes.next, &tapped(&offer, 0), &ctx(true));
        assert_eq!(late.note, Some(Note::Stale));
        assert!(late.effects.is_empty());
        // A follow of a contact that is not stopped offers nothing.
        let active = step(
            &Conversation::default(),
            &EventKind::Follow { unblocked: true },
            &ctx(true),
        );
        assert_eq!(active.next.step, Step::Idle);
    }

    #[test]
    fn a_registered_parents_words_lead_to_the_menus_steps() {
        assert_eq!(menu_in_words("生まれました！"), Some("report-birth"));
        assert_eq!(menu_in_words(" 配信停止 "), Some("stop"));
        assert_eq!(menu_in_words("STOP"), Some("stop"));
        assert_eq!(menu_in_words("ことば"), Some("language"));
        assert_eq!(menu_in_words("こんにちは"), None);
        let children = [Child {
            id: "c1".into(),
            due_date: Some(d("2027-01-20")),
            birth_date: None,
            status: super::super::ChildStatus::Expecting,
            stopped_reason: None,
        }];
        let c = Context {
            children: &children,
            ..ctx(true)
        };
        let t = step(
            &Conversation::default(),
            &EventKind::Text("生まれました".into()),
            &c,
        );
        assert!(matches!(t.next.step, Step::AskBirth { .. }), "{:?}", t.next);
    }

    #[test]
    fn an_invitation_code_in_a_text_is_a_join() {
        let invite = invite_texts(Locale::Ja, "小樽市", "abc.def", 72);
        assert_eq!(invite.len(), 2);
        assert_eq!(invite_code(&invite[1].body), Some("abc.def"));
        let t = step(
            &Conversation::default(),
            &EventKind::Text(invite[1].body.clone()),
            &ctx(false),
        );
        assert_eq!(
            t.effects,
            vec![Effect::Join {
                code: "abc.def".into()
            }]
        );
        assert!(t.say.is_empty(), "the host says how it went");
        assert_eq!(invite_code("tayori-invite:"), None);
        assert_eq!(invite_code("hello"), None);
    }

    #[test]
    fn typed_dates() {
        assert_eq!(parse_typed_date("2027-05-01"), Some(d("2027-05-01")));
        assert_eq!(parse_typed_date("2027年5月1日"), Some(d("2027-05-01")));
        assert_eq!(parse_typed_date("2027-02-30"), None);
        assert_eq!(parse_typed_date("hello"), None);
    }
}
