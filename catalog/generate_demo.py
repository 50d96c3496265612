#!/usr/bin/env python3
"""Writes catalog/demo.yaml, Tayori's demo catalog (docs/catalog.md).

The texts are our own and deliberately short; the cadence is the real one
(DESIGN.md, "What the real service does"):

- pregnancy: daily from week 4 day 0 to week 41 day 6 (pregnancy days 28..=293)
- child: daily from the birth date to day 100 (child days 0..=100)
- every 3 days to the 1st birthday (child days 103..=364)
- weekly in the year from age 1 to age 2 (the 1st birthday, then child days 372..=722)
- every two weeks in the year from age 2 to age 3 (the 2nd birthday, then child days 744..=1080)
- milestones: day 100 (お食い初め), day 1,000, and the last message on the 3rd birthday
- a separate `school-entry` program with one 就学応援 message 30 days before 1 April

Run from the repository root: python3 catalog/generate_demo.py
The output is committed; the integration suite checks its counts and imports it.
"""

import json
import pathlib

FOOTER_JA = "\n\n{{ tenant_name }}"
FOOTER_EN = "\n\n{{ tenant_name }}"

PREGNANCY_WEEKS = {
    # week: (ja, en)
    4: ("赤ちゃんの命が芽生えたばかりの時期です。", "A new life has just begun."),
    5: ("心臓が動き始める頃です。", "Around now the heart starts to beat."),
    6: ("つわりが始まる人もいます。無理をしないでください。", "Morning sickness may start. Go easy on yourself."),
    7: ("脳や神経が急いで作られています。", "The brain and nerves are forming fast."),
    8: ("妊娠届と母子健康手帳の準備をしましょう。", "Time to register the pregnancy and get the maternal and child health handbook."),
    9: ("手足の形がはっきりしてきます。", "Arms and legs are taking shape."),
    10: ("妊婦健診は大切な時間です。気になることはメモしておきましょう。", "Check-ups matter. Write down your questions."),
    11: ("赤ちゃんは小さな指を動かしています。", "The baby moves tiny fingers."),
    12: ("つわりの波がある時期です。食べられるものを少しずつ。", "Nausea comes and goes. Eat what you can, little by little."),
    13: ("体調の変化を家族と話しましょう。", "Talk with your family about how you feel."),
    14: ("少しずつ安定期に近づいています。", "You are nearing a calmer stretch."),
    15: ("胎盤ができあがる頃です。", "The placenta is almost complete."),
    16: ("お腹のふくらみが目立ち始めます。", "Your bump begins to show."),
    17: ("歯科健診を受けておくと安心です。", "A dental check-up now gives peace of mind."),
    18: ("胎動を感じる人もいます。", "Some feel the first movements now."),
    19: ("赤ちゃんは音を聞き始めています。", "The baby begins to hear sounds."),
    20: ("折り返し地点です。体をいたわりましょう。", "Halfway there. Look after your body."),
    21: ("両親学級の予定を確認しましょう。", "Check the dates of parenting classes."),
    22: ("腰痛には姿勢の工夫が役立ちます。", "Good posture helps with back pain."),
    23: ("赤ちゃんの眠りと目覚めのリズムができてきます。", "The baby develops sleep and wake cycles."),
    24: ("むくみが気になったら健診で相談を。", "Ask at your check-up if swelling worries you."),
    25: ("出産する場所への道順を確かめておきましょう。", "Check the route to where you will give birth."),
    26: ("赤ちゃんのまぶたが開き始めます。", "The baby's eyelids begin to open."),
    27: ("休める時に横になって休みましょう。", "Lie down and rest when you can."),
    28: ("妊娠後期に入りました。健診の回数が増えます。", "The third trimester begins; check-ups become more frequent."),
    29: ("入院の準備を少しずつ始めましょう。", "Start packing for the hospital little by little."),
    30: ("おなかの張りを感じたら休みましょう。", "Rest when your belly tightens."),
    31: ("赤ちゃんの名前を考える時間も楽しみの一つです。", "Thinking of names is one of the joys of this time."),
    32: ("里帰り出産の人は移動の計画を。", "If you give birth near family, plan the trip."),
    33: ("赤ちゃんの肺が育っています。", "The baby's lungs are maturing."),
    34: ("陣痛が来たときの連絡先をまとめておきましょう。", "Keep a list of who to call when labour starts."),
    35: ("よく眠れない夜は昼に少し休みましょう。", "If nights are restless, nap during the day."),
    36: ("いつ生まれても大丈夫なように準備を。", "Be ready: the baby could come any time now."),
    37: ("正期産に入りました。", "You are now at full term."),
    38: ("おしるしや破水のサインを確認しておきましょう。", "Know the signs of labour and of your waters breaking."),
    39: ("赤ちゃんに会える日がもうすぐです。", "You will meet your baby very soon."),
    40: ("予定日のころです。焦らず過ごしましょう。", "Your due date is here. Take it calmly."),
    41: ("予定日を過ぎても心配しすぎないで。健診で相談を。", "Past the due date? Don't worry too much; ask at your check-up."),
}

DAILY_TIPS = [
    ("水分をこまめにとりましょう。", "Drink water often."),
    ("今日は深呼吸を三回してみましょう。", "Take three deep breaths today."),
    ("困ったときは一人で抱えず相談を。", "When in doubt, ask for help: you are not alone."),
    ("少し外の空気を吸ってみませんか。", "How about a little fresh air?"),
    ("自分をほめてあげましょう。", "Give yourself some praise."),
    ("家族に「ありがとう」を伝えてみましょう。", "Say thank you to someone at home."),
    ("早めに休む日をつくりましょう。", "Make today an early night."),
]

CHILD_MONTHS = {
    0: ("生まれたばかりの赤ちゃんは一日の多くを眠って過ごします。", "Newborns sleep most of the day."),
    1: ("1か月健診で気になることを聞いてみましょう。", "Bring your questions to the one-month check-up."),
    2: ("予防接種のスケジュールを確認しましょう。", "Check the vaccination schedule."),
    3: ("首がすわり始める頃です。", "Your baby may begin to hold up the head."),
    4: ("4か月児健診の案内を確かめましょう。", "Look out for the four-month health check."),
    5: ("離乳食の準備を始める頃です。", "Time to get ready for first foods."),
    6: ("寝返りが上手になってきます。", "Rolling over gets easier."),
    7: ("おすわりが安定してきます。", "Sitting up becomes steadier."),
    8: ("はいはいで世界が広がります。", "Crawling opens up a new world."),
    9: ("誤飲に気をつけて、床の小物を片付けましょう。", "Keep small things off the floor: babies put everything in their mouths."),
    10: ("つかまり立ちを始める子もいます。", "Some babies start pulling up to stand."),
    11: ("「まんま」など言葉のような声が増えます。", "More word-like sounds appear."),
}

YEAR_TIPS = [
    ("一緒に絵本を読みましょう。", "Read a picture book together."),
    ("外遊びで体を動かしましょう。", "Play outside and move about."),
    ("歯みがきの習慣を少しずつ。", "Build the tooth-brushing habit bit by bit."),
    ("「できた!」をたくさんほめましょう。", "Praise every 'I did it!'"),
    ("食事は家族で楽しく。", "Make mealtimes fun, together."),
    ("生活リズムを整えましょう。", "Keep a steady daily rhythm."),
    ("地域の子育て支援センターを訪ねてみませんか。", "Why not visit a local childcare support centre?"),
]


def plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def pregnancy_stage(day):
    week = day // 7
    if week < 16:
        return "pregnancy-early"
    if week < 28:
        return "pregnancy-middle"
    return "pregnancy-late"


def child_month_of(day):
    return int(day // 30.4375)


def message(mid, stage, rule, ja_subject, ja_body, en_subject, en_body):
    return {
        "id": mid,
        "stage": stage,
        "rule": rule,
        "content": {
            "ja": {"subject": ja_subject, "body": ja_body + FOOTER_JA},
            "en": {"subject": en_subject, "body": en_body + FOOTER_EN},
        },
    }


def standard():
    out = []
    for day in range(28, 294):
        week, d = divmod(day, 7)
        theme_ja, theme_en = PREGNANCY_WEEKS[week]
        tip_ja, tip_en = DAILY_TIPS[d]
        out.append(message(
            f"pregnancy-day-{day:03d}", pregnancy_stage(day), {"pregnancy_day": day},
            f"妊娠{week}週{d}日", f"妊娠{week}週{d}日です。{theme_ja}{tip_ja}",
            f"Week {week}, day {d}", f"You are {week} weeks and {d} day{'' if d == 1 else 's'} pregnant. {theme_en} {tip_en}",
        ))
    # Daily to day 100, then every 3 days to the 1st birthday.
    days = list(range(0, 101)) + list(range(103, 365, 3))
    for day in days:
        month = child_month_of(day)
        theme_ja, theme_en = CHILD_MONTHS[month]
        tip_ja, tip_en = DAILY_TIPS[day % 7]
        if day == 0:
            ja, en = "ご出産おめでとうございます。", "Congratulations on your baby's birth."
        else:
            ja, en = f"生後{day}日です。", f"Your baby is {day} days old."
        out.append(message(
            f"child-day-{day:03d}", f"month-{month}", {"child_day": day},
            f"生後{day}日" if day else "ご出産おめでとうございます",
            f"{ja}{theme_ja}{tip_ja}",
            f"Day {day}" if day else "Congratulations",
            f"{en} {theme_en} {tip_en}",
        ))
        if day == 100:
            out.append(message(
                "milestone-day-100", f"month-{month}", {"child_day": 100},
                "生後100日 お食い初め", "生後100日おめでとうございます。お食い初めで、一生食べるものに困らないよう願う日です。写真を残しておきましょう。",
                "100 days", "Happy 100 days! In Japan, okuizome wishes the child a life with plenty to eat. Take a photo to remember it.",
            ))
    # Weekly in the year from age 1 to 2: the birthday, then every 7 days.
    out.append(message(
        "child-year-1", "year-1", {"child_year": 1},
        "1歳のお誕生日", "1歳のお誕生日おめでとうございます。この一年、本当にお疲れさまでした。",
        "Happy 1st birthday", "Happy first birthday! You have come a long way this year.",
    ))
    for k in range(1, 52):
        day = 365 + 7 * k
        tip_ja, tip_en = YEAR_TIPS[k % 7]
        months = child_month_of(day)
        out.append(message(
            f"child-day-{day:04d}", "year-1", {"child_day": day},
            f"1歳{months - 12}か月", f"1歳{months - 12}か月のころです。{tip_ja}",
            f"1 year, {plural(months - 12, 'month')}", f"Your child is 1 year and {plural(months - 12, 'month')} old. {tip_en}",
        ))
    # Every two weeks in the year from age 2 to 3.
    out.append(message(
        "child-year-2", "year-2", {"child_year": 2},
        "2歳のお誕生日", "2歳のお誕生日おめでとうございます。「自分で!」が増える時期です。",
        "Happy 2nd birthday", "Happy second birthday! 'Me do it!' becomes a favourite phrase.",
    ))
    for k in range(1, 26):
        day = 730 + 14 * k
        tip_ja, tip_en = YEAR_TIPS[k % 7]
        months = child_month_of(day)
        out.append(message(
            f"child-day-{day:04d}", "year-2", {"child_day": day},
            f"2歳{months - 24}か月", f"2歳{months - 24}か月のころです。{tip_ja}",
            f"2 years, {plural(months - 24, 'month')}", f"Your child is 2 years and {plural(months - 24, 'month')} old. {tip_en}",
        ))
        if day < 1000 < day + 14:
            out.append(message(
                "milestone-day-1000", "year-2", {"child_day": 1000},
                "1000日", "妊娠から数えるとおよそ1000日、ここまでの歩みに拍手を送ります。",
                "1,000 days", "Your child is 1,000 days old. Give yourselves a round of applause.",
            ))
    out.append(message(
        "child-year-3", "year-3", {"child_year": 3},
        "3歳のお誕生日 最後のメッセージ",
        "3歳のお誕生日おめでとうございます。メッセージは今日で最後です。これからも地域の窓口がそばにいます。",
        "Happy 3rd birthday: our last message",
        "Happy third birthday! This is our last message. Your local support office is always there for you.",
    ))
    return out


def school_entry():
    return [message(
        "school-entry-minus-30", "school-entry", {"school_entry": {"offset_days": -30}},
        "もうすぐ小学生", "4月から小学生ですね。通学路を一緒に歩いてみましょう。",
        "School starts soon", "School starts in April. Walk the route to school together.",
    )]


def main():
    catalog = {
        "programs": [
            {
                "id": "standard",
                "name": "Standard messages (demo)",
                "description": "Daily in pregnancy weeks 4-41, daily to day 100, every 3 days to the 1st birthday, weekly in year 1, every two weeks in year 2, milestones; ends at the 3rd birthday.",
                "messages": standard(),
            },
            {
                "id": "school-entry",
                "name": "School entry (demo)",
                "description": "就学応援メッセージ: one message before the child enters primary school.",
                "messages": school_entry(),
            },
        ]
    }
    root = pathlib.Path(__file__).resolve().parent
    lines = [
        "# Tayori demo catalog: our own short texts on the real cadence.",
        "# Generated by catalog/generate_demo.py; format in docs/catalog.md.",
        "# Import: tayori catalog import catalog/demo.yaml",
    ]
    # JSON is YAML: one message per line keeps the file diffable and exact.
    lines.append("programs:")
    for p in catalog["programs"]:
        lines.append(f"- id: {p['id']}")
        lines.append(f"  name: {json.dumps(p['name'], ensure_ascii=False)}")
        lines.append(f"  description: {json.dumps(p['description'], ensure_ascii=False)}")
        lines.append("  messages:")
        for m in p["messages"]:
            lines.append("  - " + json.dumps(m, ensure_ascii=False))
    (root / "demo.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    counts = {}
    for m in catalog["programs"][0]["messages"]:
        kind = next(iter(m["rule"]))
        counts[kind] = counts.get(kind, 0) + 1
    print(json.dumps({"standard": len(catalog["programs"][0]["messages"]), "by_rule": counts}))


if __name__ == "__main__":
    main()
