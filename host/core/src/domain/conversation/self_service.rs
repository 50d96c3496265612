//! What a registered parent does from the rich menu (`menu=<action>`):
//! report a birth (the child's schedule switches from the due date to the
//! birth date), add a child, change the language, stop one child or
//! everything. Every question carries the round, as the registration's do,
//! and nothing changes before the parent's last yes.
//!
//! Stopping an expected child is also the path after a pregnancy loss: the
//! words say only that nothing more about that child will be sent, thank
//! the parent, and name where to talk to someone; they never ask why.

use chrono::NaiveDate;

use super::{Context, Conversation, Effect, Step, Turn, data, postback, text};
use crate::domain::registration::written_date;
use crate::domain::{Child, ChildStatus, Locale};
use crate::plugin::{Action, Button, DatePicker, PickerMode};

/// The most children offered as quick replies (LINE takes 13; one is the
/// "everything" choice).
const MAX_CHOICES: usize = 12;

struct Words {
    no_expected: &'static str,
    which_birth: &'static str,
    was_born: &'static str,
    ask_birth: &'static str,
    pick: &'static str,
    confirm_birth: &'static str,
    yes: &'static str,
    change: &'static str,
    birth_done: &'static str,
    which_stop: &'static str,
    everything: &'static str,
    confirm_stop_child: &'static str,
    confirm_stop_expected: &'static str,
    confirm_stop_all: &'static str,
    stop_yes: &'static str,
    keep: &'static str,
    stopped_child: &'static str,
    stopped_expected: &'static str,
    stopped_all: &'static str,
    kept: &'static str,
    ask_language: &'static str,
    language_done: &'static str,
    expected_label: &'static str,
    born_label: &'static str,
    nothing_active: &'static str,
}

fn words(locale: Locale) -> Words {
    match locale {
        Locale::Ja => Words {
            no_expected: "出産予定のお子さんは登録されていません。お子さんを追加するときはメニューの「子どもを追加」からどうぞ。",
            which_birth: "どのお子さんが生まれましたか？",
            was_born: "出産予定日（{date}）から2週間がたちました。お子さんはお生まれになりましたか？お生まれでしたら、誕生日を選んで届けてください。",
            ask_birth: "おめでとうございます。誕生日を選んでください（2027-05-01 のように送っても届けられます）。",
            pick: "日付を選ぶ",
            confirm_birth: "誕生日は{date}です。これで届けますか？",
            yes: "届ける",
            change: "日付を直す",
            birth_done: "届けました。これからは誕生日に合わせたメッセージをお届けします。",
            which_stop: "どのメッセージを止めますか？",
            everything: "すべて止める",
            confirm_stop_child: "{child}についてのメッセージを止めます。よろしいですか？",
            confirm_stop_expected: "{child}についてのメッセージを、これ以降お送りしないようにします。よろしいですか？",
            confirm_stop_all: "すべてのメッセージを止めます。よろしいですか？",
            stop_yes: "止める",
            keep: "止めない",
            stopped_child: "{child}についてのメッセージを止めました。",
            stopped_expected: "お知らせくださり、ありがとうございました。{child}についてのメッセージは、もうお送りしません。お話ししたいときは、お住まいの市町村の保健師にいつでもご相談ください。",
            stopped_all: "すべてのメッセージを止めました。これまでご利用いただき、ありがとうございました。",
            kept: "止めずに、このままお届けします。",
            ask_language: "メッセージの言葉を選んでください。",
            language_done: "これからは日本語でお届けします。",
            expected_label: "予定日{date}のお子さん",
            born_label: "{date}生まれのお子さん",
            nothing_active: "いまお届けしているメッセージはありません。",
        },
        Locale::JaEasy => Words {
            no_expected: "うまれる よていの こどもは いません。",
            which_birth: "どの こどもが うまれましたか？",
            was_born: "うまれる よていの 日（{date}）から 2しゅうかん たちました。あかちゃんは うまれましたか？ うまれたら、たんじょうびを えらんでください。",
            ask_birth: "おめでとうございます。たんじょうびを えらんでください。",
            pick: "日を えらぶ",
            confirm_birth: "たんじょうびは {date}です。これで いいですか？",
            yes: "はい",
            change: "なおす",
            birth_done: "わかりました。たんじょうびに あわせて メッセージを おくります。",
            which_stop: "どの メッセージを やめますか？",
            everything: "ぜんぶ やめる",
            confirm_stop_child: "{child}の メッセージを やめます。いいですか？",
            confirm_stop_expected: "{child}の メッセージを もう おくりません。いいですか？",
            confirm_stop_all: "ぜんぶの メッセージを やめます。いいですか？",
            stop_yes: "やめる",
            keep: "やめない",
            stopped_child: "{child}の メッセージを やめました。",
            stopped_expected: "おしえてくれて ありがとうございました。{child}の メッセージは もう おくりません。はなしたい ときは、しやくしょの ほけんしに そうだん できます。",
            stopped_all: "ぜんぶの メッセージを やめました。ありがとうございました。",
            kept: "やめません。このまま おくります。",
            ask_language: "メッセージの ことばを えらんでください。",
            language_done: "これからは やさしい にほんごで おくります。",
            expected_label: "{date}に うまれる よていの こども",
            born_label: "{date}に うまれた こども",
            nothing_active: "いま おくっている メッセージは ありません。",
        },
        Locale::En => Words {
            no_expected: "No expected child is registered. To add a child, choose \"Add a child\" in the menu.",
            which_birth: "Which child was born?",
            was_born: "It is two weeks since the due date ({date}). Has your baby been born? If so, choose the date of birth.",
            ask_birth: "Congratulations. Choose the date of birth (or send it like 2027-05-01).",
            pick: "Choose a date",
            confirm_birth: "The date of birth is {date}. Report it?",
            yes: "Report",
            change: "Change the date",
            birth_done: "Thank you. From now on the messages follow the date of birth.",
            which_stop: "Which messages should stop?",
            everything: "Stop everything",
            confirm_stop_child: "Stop the messages about {child}?",
            confirm_stop_expected: "We will send nothing more about {child}. Is that right?",
            confirm_stop_all: "Stop all messages?",
            stop_yes: "Stop",
            keep: "Keep them",
            stopped_child: "The messages about {child} have stopped.",
            stopped_expected: "Thank you for letting us know. We will send nothing more about {child}. If you would like to talk to someone, your municipality's public health nurses are there for you.",
            stopped_all: "All messages have stopped. Thank you for using this service.",
            kept: "Nothing stopped; your messages go on.",
            ask_language: "Choose the language of your messages.",
            language_done: "From now on your messages are in English.",
            expected_label: "the child due {date}",
            born_label: "the child born {date}",
            nothing_active: "No messages are being sent to you now.",
        },
    }
}

/// The language names, each in its own language.
fn language_name(locale: Locale) -> &'static str {
    match locale {
        Locale::Ja => "日本語",
        Locale::JaEasy => "やさしい にほんご",
        Locale::En => "English",
    }
}

fn active(children: &[Child]) -> impl Iterator<Item = &Child> {
    children.iter().filter(|c| c.status != ChildStatus::Stopped)
}

/// A child as the parent knows it: by its due date or its birthday.
fn label(child: &Child, locale: Locale) -> String {
    let w = words(locale);
    match (child.status, child.birth_date, child.due_date) {
        (ChildStatus::Born, Some(b), _) | (_, Some(b), None) => {
            w.born_label.replace("{date}", &written_date(b, locale))
        }
        (_, _, Some(d)) => w.expected_label.replace("{date}", &written_date(d, locale)),
        _ => String::new(),
    }
}

/// A quick reply's label: LINE takes at most 20 characters.
fn short(label: &str) -> String {
    label.chars().take(20).collect()
}

fn child_by_id<'c>(ctx: &'c Context<'_>, id: &str) -> Option<&'c Child> {
    active(ctx.children).find(|c| c.id == id)
}

/// The rich menu's `action`, for a registered contact.
pub(super) fn menu(action: &str, ctx: &Context<'_>, turn: &mut Turn) {
    let locale = turn.next.locale;
    let w = words(locale);
    turn.next.adding = false;
    match action {
        "report-birth" => {
            let expected: Vec<&Child> = active(ctx.children)
                .filter(|c| c.status == ChildStatus::Expecting)
                .collect();
            match expected.as_slice() {
                [] => {
                    turn.next.step = Step::Idle;
                    turn.say.push(text(locale, w.no_expected.to_string()));
                }
                [one] => ask_birth(turn, ctx, one.id.clone()),
                several => {
                    ask(turn, Step::PickChild, w.which_birth, |r| {
                        several
                            .iter()
                            .take(MAX_CHOICES)
                            .map(|c| {
                                postback(
                                    &short(&label(c, locale)),
                                    data(r, &format!("birth={}", c.id)),
                                )
                            })
                            .collect()
                    });
                }
            }
        }
        "add-child" => {
            turn.next.adding = true;
            super::ask_stage_in(turn);
        }
        "language" => {
            ask(turn, Step::AskLanguage, w.ask_language, |r| {
                Locale::ALL
                    .iter()
                    .map(|l| postback(language_name(*l), data(r, &format!("lang={}", l.as_str()))))
                    .collect()
            });
        }
        "stop" => {
            let children: Vec<&Child> = active(ctx.children).collect();
            match children.as_slice() {
                [] => {
                    turn.next.step = Step::Idle;
                    turn.say.push(text(locale, w.nothing_active.to_string()));
                }
                [_] => confirm_stop(turn, ctx, None),
                several => {
                    ask(turn, Step::AskStop, w.which_stop, |r| {
                        let mut choices: Vec<Button> = several
                            .iter()
                            .take(MAX_CHOICES)
                            .map(|c| {
                                postback(
                                    &short(&label(c, locale)),
                                    data(r, &format!("stop={}", c.id)),
                                )
                            })
                            .collect();
                        choices.push(postback(w.everything, data(r, "stop=all")));
                        choices
                    });
                }
            }
        }
        "family" => {
            // The host signs the invitation and says it (see `invite_texts`).
            turn.next.step = Step::Idle;
            turn.effects.push(Effect::Invite);
        }
        // Menus of the tenant's own: not a step of this conversation.
        _ => super::answer_unknown_menu(turn),
    }
}

/// A tap on a self-service question (the round already checked); `false`
/// when `verb` is not an answer to the question asked.
pub(super) fn tap(
    state: &Conversation,
    verb: &str,
    chosen: Option<&str>,
    ctx: &Context<'_>,
    turn: &mut Turn,
) -> bool {
    let locale = state.locale;
    let w = words(locale);
    match (&state.step, verb.split_once('=')) {
        (Step::PickChild, Some(("birth", id))) => match child_by_id(ctx, id) {
            Some(c) if c.status == ChildStatus::Expecting => ask_birth(turn, ctx, c.id.clone()),
            _ => return false,
        },
        (Step::AskBirth { child }, None) if verb == "date" => {
            match chosen.and_then(|c| c.parse::<NaiveDate>().ok()) {
                Some(date) => take_birth(turn, ctx, child.clone(), date),
                None => ask_birth(turn, ctx, child.clone()),
            }
        }
        (Step::ConfirmBirth { child, date }, None) if verb == "confirm" => {
            turn.next.step = Step::Idle;
            turn.effects.push(Effect::ReportBirth {
                child: child.clone(),
                date: *date,
            });
            turn.say.push(text(locale, w.birth_done.to_string()));
        }
        (Step::ConfirmBirth { child, .. }, None) if verb == "change" => {
            ask_birth(turn, ctx, child.clone())
        }
        (Step::AskLanguage, Some(("lang", l))) => match l.parse::<Locale>() {
            Ok(new) => {
                turn.next.step = Step::Idle;
                turn.next.locale = new;
                turn.effects.push(Effect::SetLocale(new));
                turn.say
                    .push(text(new, words(new).language_done.to_string()));
            }
            Err(_) => return false,
        },
        (Step::AskStop, Some(("stop", "all"))) => confirm_stop(turn, ctx, None),
        (Step::AskStop, Some(("stop", id))) => match child_by_id(ctx, id) {
            Some(c) => confirm_stop(turn, ctx, Some(c.id.clone())),
            None => return false,
        },
        (Step::ConfirmStop { child }, None) if verb == "confirm" => {
            turn.next.step = Step::Idle;
            let said = match child.as_deref().and_then(|id| child_by_id(ctx, id)) {
                Some(c) => {
                    turn.effects.push(Effect::StopChild {
                        child: c.id.clone(),
                    });
                    let words_for = if c.status == ChildStatus::Expecting {
                        w.stopped_expected
                    } else {
                        w.stopped_child
                    };
                    words_for.replace("{child}", &label(c, locale))
                }
                None if child.is_none() => {
                    turn.effects.push(Effect::StopAll);
                    w.stopped_all.to_string()
                }
                None => return false,
            };
            turn.say.push(text(locale, said));
        }
        (Step::ConfirmStop { .. }, None) if verb == "keep" => {
            turn.next.step = Step::Idle;
            turn.say.push(text(locale, w.kept.to_string()));
        }
        _ => return false,
    }
    true
}

/// A typed date while a birth date is asked.
pub(super) fn typed_birth(
    state: &Conversation,
    date: NaiveDate,
    ctx: &Context<'_>,
    turn: &mut Turn,
) -> bool {
    match &state.step {
        Step::AskBirth { child } => {
            take_birth(turn, ctx, child.clone(), date);
            true
        }
        _ => false,
    }
}

/// Asks `question` with the buttons `choices(round)` gives, at `step`.
fn ask(turn: &mut Turn, step: Step, question: &str, choices: impl FnOnce(u32) -> Vec<Button>) {
    turn.next.round += 1;
    turn.next.step = step;
    let mut c = text(turn.next.locale, question.to_string());
    c.quick_replies = choices(turn.next.round);
    turn.say.push(c);
}

/// The question 14 days after the due date, with the birth date picker.
pub(super) fn ask_birth_after_due(turn: &mut Turn, ctx: &Context<'_>, child: String) {
    let locale = turn.next.locale;
    let w = words(locale);
    let question = match active(ctx.children)
        .find(|c| c.id == child)
        .and_then(|c| c.due_date)
    {
        Some(due) => w.was_born.replace("{date}", &written_date(due, locale)),
        None => w.ask_birth.to_string(),
    };
    ask_birth_with(turn, ctx, child, &question);
}

fn ask_birth(turn: &mut Turn, ctx: &Context<'_>, child: String) {
    let w = words(turn.next.locale);
    ask_birth_with(turn, ctx, child, w.ask_birth);
}

fn ask_birth_with(turn: &mut Turn, ctx: &Context<'_>, child: String, question: &str) {
    let locale = turn.next.locale;
    let w = words(locale);
    let (min, max) = ctx.rules.birth_range();
    ask(turn, Step::AskBirth { child }, question, |r| {
        vec![Button {
            label: w.pick.to_string(),
            action: Action::DatePicker(DatePicker {
                data: data(r, "date"),
                mode: PickerMode::Date,
                initial: None,
                min: Some(min.to_string()),
                max: Some(max.to_string()),
            }),
        }]
    });
}

fn take_birth(turn: &mut Turn, ctx: &Context<'_>, child: String, date: NaiveDate) {
    let locale = turn.next.locale;
    let w = words(locale);
    match ctx.rules.birth(date) {
        Err(problem) => {
            turn.say.push(text(locale, problem.message(locale)));
            ask_birth(turn, ctx, child);
        }
        Ok(()) => {
            let question = w
                .confirm_birth
                .replace("{date}", &written_date(date, locale));
            ask(turn, Step::ConfirmBirth { child, date }, &question, |r| {
                vec![
                    postback(w.yes, data(r, "confirm")),
                    postback(w.change, data(r, "change")),
                ]
            });
        }
    }
}

fn confirm_stop(turn: &mut Turn, ctx: &Context<'_>, child: Option<String>) {
    let locale = turn.next.locale;
    let w = words(locale);
    let question = match child.as_deref().and_then(|id| child_by_id(ctx, id)) {
        Some(c) if c.status == ChildStatus::Expecting => w
            .confirm_stop_expected
            .replace("{child}", &label(c, locale)),
        Some(c) => w.confirm_stop_child.replace("{child}", &label(c, locale)),
        None => w.confirm_stop_all.to_string(),
    };
    ask(turn, Step::ConfirmStop { child }, &question, |r| {
        vec![
            postback(w.stop_yes, data(r, "confirm")),
            postback(w.keep, data(r, "keep")),
        ]
    });
}

#[cfg(test)]
mod tests {
    use super::super::{EventKind, Note, step};
    use super::*;
    use crate::domain::NewChild;
    use crate::domain::registration::DateRules;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn child(id: &str, due: Option<&str>, born: Option<&str>) -> Child {
        Child {
            id: id.into(),
            due_date: due.map(d),
            birth_date: born.map(d),
            status: if born.is_some() {
                ChildStatus::Born
            } else {
                ChildStatus::Expecting
            },
            stopped_reason: None,
        }
    }

    fn ctx(children: &[Child]) -> Context<'_> {
        Context {
            rules: DateRules::new(d("2027-01-04")),
            tenant_name: "小樽市",
            registered: true,
            stopped: false,
            children,
            texts: &NO_TEXTS,
            form_url: None,
        }
    }

    static NO_TEXTS: super::super::ChatTexts = super::super::ChatTexts::new();

    fn menu_tap(action: &str) -> EventKind {
        EventKind::Postback(format!("menu={action}"))
    }

    /// The postback of the last message's quick reply labelled `label`.
    fn tap(turn: &Turn, label: &str) -> EventKind {
        let b = turn
            .say
            .last()
            .unwrap()
            .quick_replies
            .iter()
            .find(|b| b.label == label)
            .unwrap_or_else(|| panic!("no `{label}` in {:?}", turn.say));
        match &b.action {
            Action::Postback { data } => EventKind::Postback(data.clone()),
            Action::DatePicker(p) => EventKind::Picked {
                data: p.data.clone(),
                chosen: String::new(),
            },
            other => panic!("{other:?}"),
        }
    }

    fn picked(turn: &Turn, date: &str) -> EventKind {
        match tap(turn, "日付を選ぶ") {
            EventKind::Picked { data, .. } => EventKind::Picked {
                data,
                chosen: date.into(),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_birth_is_reported_from_the_menu_with_a_confirmation() {
        let children = [child("c1", Some("2027-01-20"), None)];
        let c = ctx(&children);
        let asked = step(&Conversation::default(), &menu_tap("report-birth"), &c);
        assert!(matches!(&asked.next.step, Step::AskBirth { child } if child == "c1"));
        // Not in the future.
        let future = step(&asked.next, &picked(&asked, "2027-01-05"), &c);
        assert!(future.effects.is_empty());
        assert!(future.say[0].body.contains("今日"), "{:?}", future.say);
        let confirm = step(&future.next, &picked(&future, "2027-01-03"), &c);
        assert!(confirm.say[0].body.contains("2027年1月3日"));
        assert!(confirm.effects.is_empty(), "nothing before the yes");
        let done = step(&confirm.next, &tap(&confirm, "届ける"), &c);
        assert_eq!(
            done.effects,
            vec![Effect::ReportBirth {
                child: "c1".into(),
                date: d("2027-01-03")
            }]
        );
        assert_eq!(done.next.step, Step::Idle);
        // The yes again is stale.
        let again = step(&done.next, &tap(&confirm, "届ける"), &c);
        assert_eq!(again.note, Some(Note::Stale));
        assert!(again.effects.is_empty());
        // A typed date works as well.
        let typed = step(&asked.next, &EventKind::Text("2027/1/2".into()), &c);
        assert!(matches!(typed.next.step, Step::ConfirmBirth { .. }));
    }

    #[test]
    fn with_several_expected_children_the_parent_picks_one_and_with_none_is_told() {
        let children = [
            child("c1", Some("2027-01-20"), None),
            child("c2", Some("2027-01-20"), None),
            child("c3", None, Some("2025-04-01")),
        ];
        let c = ctx(&children);
        let asked = step(&Conversation::default(), &menu_tap("report-birth"), &c);
        assert_eq!(asked.next.step, Step::PickChild);
        assert_eq!(
            asked.say[0].quick_replies.len(),
            2,
            "only the expected ones"
        );
        let data = match &asked.say[0].quick_replies[1].action {
            Action::Postback { data } => data.clone(),
            other => panic!("{other:?}"),
        };
        let birth = step(&asked.next, &EventKind::Postback(data), &c);
        assert!(matches!(&birth.next.step, Step::AskBirth { child } if child == "c2"));
        let born_only = [child("c3", None, Some("2025-04-01"))];
        let none = step(
            &Conversation::default(),
            &menu_tap("report-birth"),
            &ctx(&born_only),
        );
        assert!(none.say[0].body.contains("登録されていません"));
        assert!(none.effects.is_empty());
    }

    #[test]
    fn stopping_an_expected_child_is_gentle_and_stops_only_that_child() {
        let children = [
            child("c1", Some("2027-03-01"), None),
            child("c2", None, Some("2025-04-01")),
        ];
        let c = ctx(&children);
        let asked = step(&Conversation::default(), &menu_tap("stop"), &c);
        assert_eq!(asked.next.step, Step::AskStop);
        let labels: Vec<&str> = asked.say[0]
            .quick_replies
            .iter()
            .map(|b| b.label.as_str())
            .collect();
        assert_eq!(
            labels,
            [
                "予定日2027年3月1日のお子さん",
                "2025年4月1日生まれのお子さん",
                "すべて止める"
            ]
        );
        assert!(labels.iter().all(|l| l.chars().count() <= 20));
        let confirm = step(
            &asked.next,
            &tap(&asked, "予定日2027年3月1日のお子さん"),
            &c,
        );
        assert!(
            confirm.say[0].body.contains("これ以降お送りしない"),
            "{:?}",
            confirm.say
        );
        let done = step(&confirm.next, &tap(&confirm, "止める"), &c);
        assert_eq!(done.effects, vec![Effect::StopChild { child: "c1".into() }]);
        let said = &done.say[0].body;
        assert!(
            said.contains("ありがとうございました") && said.contains("保健師"),
            "{said}"
        );
        assert!(
            !said.contains("流産") && !said.contains("死"),
            "never names the loss: {said}"
        );
        // "Keep them" changes nothing.
        let kept = step(&confirm.next, &tap(&confirm, "止めない"), &c);
        assert!(kept.effects.is_empty());
        // Everything.
        let all = step(&asked.next, &tap(&asked, "すべて止める"), &c);
        let stopped = step(&all.next, &tap(&all, "止める"), &c);
        assert_eq!(stopped.effects, vec![Effect::StopAll]);
        // One child only: the stop is the household's.
        let one = [child("c1", Some("2027-03-01"), None)];
        let single = step(&Conversation::default(), &menu_tap("stop"), &ctx(&one));
        assert_eq!(single.next.step, Step::ConfirmStop { child: None });
    }

    #[test]
    fn the_language_changes_and_the_answer_is_in_the_new_one() {
        let children = [child("c1", Some("2027-03-01"), None)];
        let c = ctx(&children);
        let asked = step(&Conversation::default(), &menu_tap("language"), &c);
        let done = step(&asked.next, &tap(&asked, "English"), &c);
        assert_eq!(done.effects, vec![Effect::SetLocale(Locale::En)]);
        assert_eq!(done.next.locale, Locale::En);
        assert!(done.say[0].body.contains("English"));
        assert_eq!(done.say[0].locale, "en");
    }

    #[test]
    fn a_child_is_added_through_the_registration_steps() {
        let children = [child("c1", None, Some("2025-04-01"))];
        let c = ctx(&children);
        let asked = step(&Conversation::default(), &menu_tap("add-child"), &c);
        assert_eq!(asked.next.step, Step::AskStage);
        assert!(asked.next.adding);
        let date = step(&asked.next, &tap(&asked, "出産予定"), &c);
        let confirm = step(&date.next, &picked(&date, "2027-06-01"), &c);
        let done = step(&confirm.next, &tap(&confirm, "登録する"), &c);
        assert_eq!(
            done.effects,
            vec![Effect::AddChild {
                child: NewChild::due(d("2027-06-01"))
            }]
        );
        assert!(!done.next.adding);
    }

    #[test]
    fn a_stopped_or_unregistered_contact_gets_no_self_service() {
        let children = [child("c1", Some("2027-03-01"), None)];
        let stopped = Context {
            stopped: true,
            ..ctx(&children)
        };
        let t = step(&Conversation::default(), &menu_tap("stop"), &stopped);
        assert_eq!(t.next.step, Step::OfferResume);
        let stranger = Context {
            registered: false,
            children: &[],
            ..ctx(&children)
        };
        let t = step(
            &Conversation::default(),
            &menu_tap("report-birth"),
            &stranger,
        );
        assert_eq!(t.next.step, Step::AskStage);
        let family = step(
            &Conversation::default(),
            &menu_tap("family"),
            &ctx(&children),
        );
        assert_eq!(family.effects, vec![Effect::Invite]);
        assert_eq!(family.next.step, Step::Idle);
        let other = step(
            &Conversation::default(),
            &menu_tap("coupons"),
            &ctx(&children),
        );
        assert!(other.effects.is_empty());
    }
}
