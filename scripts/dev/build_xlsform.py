"""Builds the incident report XLSForm and converts it to an XForm with pyxform.

    .venv/bin/python scripts/dev/build_xlsform.py

Writes ``src/tocsin/intake/forms/incident_report.xlsx`` (the form, editable in a spreadsheet
by form designers) and ``incident_report.xml`` (the XForm that ODK Collect, KoboCollect and
Enketo download). Both are committed; tests check that the XML is the conversion of the XLSX.

Design choices: no device id, no start/end timestamps, no phone number or SIM metadata (the
form collects what the reporter chooses to give and nothing about the device); contact details
only after explicit consent; English, French and Arabic labels.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from pyxform.xls2xform import convert

FORMS = Path(__file__).resolve().parents[2] / "src" / "tocsin" / "intake" / "forms"
FORM_ID = "tocsin_incident_report"
FORM_VERSION = "2024052001"

LANGS = ("English (en)", "Français (fr)", "العربية (ar)")

SURVEY_HEADER = [
    "type",
    "name",
    *(f"label::{lang}" for lang in LANGS),
    *(f"hint::{lang}" for lang in LANGS),
    "required",
    "constraint",
    *(f"constraint_message::{lang}" for lang in LANGS),
    "relevant",
    "appearance",
]

# (type, name, labels(en, fr, ar), hints(en, fr, ar), required, constraint, messages, relevant,
#  appearance)
SURVEY = [
    (
        "date",
        "incident_date",
        ("When did it happen?", "Quand est-ce arrivé ?", "متى حدث ذلك؟"),
        ("", "", ""),
        "yes",
        ". <= today()",
        (
            "The date cannot be in the future",
            "La date ne peut pas être dans le futur",
            "لا يمكن أن يكون التاريخ في المستقبل",
        ),
        "",
        "",
    ),
    (
        "geopoint",
        "location",
        (
            "Where did it happen? (optional)",
            "Où est-ce arrivé ? (facultatif)",
            "أين حدث ذلك؟ (اختياري)",
        ),
        (
            "Tap the map or leave empty",
            "Touchez la carte ou laissez vide",
            "اضغط على الخريطة أو اتركه فارغا",
        ),
        "",
        "",
        ("", "", ""),
        "",
        "maps",
    ),
    (
        "text",
        "place_name",
        ("Name of the place", "Nom du lieu", "اسم المكان"),
        ("Village, town or area", "Village, ville ou zone", "قرية أو مدينة أو منطقة"),
        "",
        "string-length(.) <= 200",
        ("Too long", "Trop long", "طويل جدا"),
        "",
        "",
    ),
    (
        "select_one threat",
        "threat",
        ("What happened?", "Que s'est-il passé ?", "ماذا حدث؟"),
        ("", "", ""),
        "yes",
        "",
        ("", "", ""),
        "",
        "",
    ),
    (
        "select_multiple act",
        "acts",
        (
            "What was done? (all that apply)",
            "Qu'a-t-on fait ? (tout ce qui s'applique)",
            "ما الذي حدث؟ (كل ما ينطبق)",
        ),
        ("", "", ""),
        "",
        "",
        ("", "", ""),
        "",
        "",
    ),
    (
        "select_one perpetrator_kind",
        "perpetrator_kind",
        ("Who did it?", "Qui l'a fait ?", "من فعل ذلك؟"),
        ("", "", ""),
        "",
        "",
        ("", "", ""),
        "",
        "",
    ),
    (
        "text",
        "perpetrator_name",
        ("Name of the group, if known", "Nom du groupe, si connu", "اسم المجموعة إن كان معروفا"),
        ("", "", ""),
        "",
        "string-length(.) <= 200",
        ("Too long", "Trop long", "طويل جدا"),
        "",
        "",
    ),
    (
        "integer",
        "people_killed",
        ("How many people were killed?", "Combien de personnes ont été tuées ?", "كم عدد القتلى؟"),
        ("Leave empty if unknown", "Laissez vide si inconnu", "اتركه فارغا إذا كان غير معروف"),
        "",
        ". >= 0 and . <= 100000",
        ("Between 0 and 100000", "Entre 0 et 100000", "بين 0 و 100000"),
        "",
        "",
    ),
    (
        "integer",
        "people_injured",
        (
            "How many people were injured?",
            "Combien de personnes ont été blessées ?",
            "كم عدد الجرحى؟",
        ),
        ("Leave empty if unknown", "Laissez vide si inconnu", "اتركه فارغا إذا كان غير معروف"),
        "",
        ". >= 0 and . <= 100000",
        ("Between 0 and 100000", "Entre 0 et 100000", "بين 0 و 100000"),
        "",
        "",
    ),
    (
        "select_one yes_no_unknown",
        "children_involved",
        (
            "Were children among the victims?",
            "Des enfants figurent-ils parmi les victimes ?",
            "هل كان بين الضحايا أطفال؟",
        ),
        ("", "", ""),
        "",
        "",
        ("", "", ""),
        "",
        "",
    ),
    (
        "text",
        "description",
        ("Describe what happened", "Décrivez ce qui s'est passé", "صف ما حدث"),
        ("Do not write your own name here", "N'écrivez pas votre nom ici", "لا تكتب اسمك هنا"),
        "yes",
        "string-length(.) <= 5000",
        ("At most 5000 characters", "5000 caractères au plus", "5000 حرف كحد أقصى"),
        "",
        "multiline",
    ),
    (
        "select_one source_type",
        "source_type",
        ("How do you know?", "Comment le savez-vous ?", "كيف عرفت؟"),
        ("", "", ""),
        "",
        "",
        ("", "", ""),
        "",
        "",
    ),
    (
        "image",
        "photo",
        (
            "Photo (optional; avoid faces)",
            "Photo (facultatif ; évitez les visages)",
            "صورة (اختياري؛ تجنب الوجوه)",
        ),
        ("", "", ""),
        "",
        "",
        ("", "", ""),
        "",
        "",
    ),
    (
        "select_one yes_no",
        "contact_consent",
        (
            "May the mission contact you about this report?",
            "La mission peut-elle vous contacter au sujet de ce rapport ?",
            "هل يمكن للبعثة التواصل معك بشأن هذا البلاغ؟",
        ),
        (
            "Your details are encrypted and seen only if needed",
            "Vos coordonnées sont chiffrées et consultées seulement si nécessaire",
            "بياناتك مشفرة ولا يطلع عليها أحد إلا عند الضرورة",
        ),
        "yes",
        "",
        ("", "", ""),
        "",
        "",
    ),
    (
        "text",
        "contact_phone",
        ("Phone number", "Numéro de téléphone", "رقم الهاتف"),
        ("", "", ""),
        "",
        "regex(., '^\\+?[0-9 ]{6,20}$')",
        (
            "Digits only, with an optional +",
            "Chiffres uniquement, avec un + facultatif",
            "أرقام فقط مع + اختيارية",
        ),
        "${contact_consent} = 'yes'",
        "numbers",
    ),
    (
        "text",
        "contact_name",
        ("Name (optional)", "Nom (facultatif)", "الاسم (اختياري)"),
        ("", "", ""),
        "",
        "string-length(.) <= 200",
        ("Too long", "Trop long", "طويل جدا"),
        "${contact_consent} = 'yes'",
        "",
    ),
]

# list name -> [(value, (en, fr, ar))]; values are Tocsin's own vocabulary codes.
CHOICES: dict[str, list[tuple[str, tuple[str, str, str]]]] = {
    "threat": [
        (
            "attack_on_civilians",
            ("Attack on civilians", "Attaque contre des civils", "هجوم على مدنيين"),
        ),
        (
            "conflict_related_sexual_violence",
            ("Sexual violence", "Violences sexuelles", "عنف جنسي"),
        ),
        (
            "grave_violation_against_children",
            ("Violation against children", "Violation contre des enfants", "انتهاك ضد الأطفال"),
        ),
        ("forced_displacement", ("People forced to flee", "Déplacement forcé", "تهجير قسري")),
        (
            "attack_on_civilian_objects",
            (
                "Attack on homes, schools, clinics, markets",
                "Attaque contre maisons, écoles, centres de santé",
                "هجوم على منازل أو مدارس أو مرافق",
            ),
        ),
        (
            "attack_on_humanitarians",
            (
                "Attack on aid workers",
                "Attaque contre des humanitaires",
                "هجوم على عاملين إنسانيين",
            ),
        ),
        (
            "armed_conflict_near_civilians",
            ("Fighting near civilians", "Combats près de civils", "قتال قرب مدنيين"),
        ),
        (
            "intercommunal_violence",
            ("Violence between communities", "Violence intercommunautaire", "عنف بين المجتمعات"),
        ),
        (
            "threats_and_intimidation",
            ("Threats or intimidation", "Menaces ou intimidation", "تهديد أو ترهيب"),
        ),
        (
            "misconduct_by_mission_personnel",
            (
                "Misconduct by mission personnel",
                "Faute du personnel de la mission",
                "سوء سلوك أفراد البعثة",
            ),
        ),
    ],
    "act": [
        ("killing", ("Killing", "Meurtre", "قتل")),
        ("injury", ("Injury", "Blessures", "إصابة")),
        ("abduction", ("Abduction", "Enlèvement", "اختطاف")),
        ("sexual_violence", ("Sexual violence", "Violences sexuelles", "عنف جنسي")),
        ("looting", ("Looting", "Pillage", "نهب")),
        (
            "property_destruction",
            ("Burning or destruction", "Incendie ou destruction", "حرق أو تدمير"),
        ),
        ("forced_displacement", ("Forced displacement", "Déplacement forcé", "تهجير قسري")),
        ("arbitrary_detention", ("Arbitrary arrest", "Arrestation arbitraire", "اعتقال تعسفي")),
        ("threat", ("Threats", "Menaces", "تهديد")),
        ("armed_clash", ("Fighting", "Combats", "اشتباكات")),
    ],
    "perpetrator_kind": [
        ("state_force", ("Soldiers or police", "Soldats ou police", "جنود أو شرطة")),
        ("armed_group", ("Armed group", "Groupe armé", "جماعة مسلحة")),
        ("militia", ("Militia", "Milice", "ميليشيا")),
        ("civilians", ("Civilians", "Civils", "مدنيون")),
        ("mission_personnel", ("Mission personnel", "Personnel de la mission", "أفراد البعثة")),
        ("unknown", ("Unknown", "Inconnu", "غير معروف")),
    ],
    "yes_no_unknown": [
        ("yes", ("Yes", "Oui", "نعم")),
        ("no", ("No", "Non", "لا")),
        ("unknown", ("I don't know", "Je ne sais pas", "لا أعرف")),
    ],
    "yes_no": [("yes", ("Yes", "Oui", "نعم")), ("no", ("No", "Non", "لا"))],
    "source_type": [
        ("witness", ("I saw it", "Je l'ai vu", "رأيت ذلك")),
        ("victim", ("It happened to me", "Cela m'est arrivé", "حدث لي")),
        ("relative", ("Family or neighbour told me", "Famille ou voisin", "أخبرني قريب أو جار")),
        (
            "community_network",
            ("Community alert network", "Réseau d'alerte communautaire", "شبكة إنذار مجتمعية"),
        ),
        ("media", ("Radio, media or social media", "Radio ou médias", "إذاعة أو إعلام")),
        ("other", ("Other", "Autre", "غير ذلك")),
    ],
}


def build_workbook(path: Path) -> None:
    wb = Workbook()
    survey = wb.active
    survey.title = "survey"
    survey.append(SURVEY_HEADER)
    for type_, name, labels, hints, required, constraint, messages, relevant, appearance in SURVEY:
        survey.append(
            [type_, name, *labels, *hints, required, constraint, *messages, relevant, appearance]
        )
    choices = wb.create_sheet("choices")
    choices.append(["list_name", "name", *(f"label::{lang}" for lang in LANGS)])
    for list_name, options in CHOICES.items():
        for value, labels in options:
            choices.append([list_name, value, *labels])
    settings = wb.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language", "style"])
    settings.append(
        ["Incident report / Rapport d'incident", FORM_ID, FORM_VERSION, LANGS[0], "pages"]
    )
    wb.properties.creator = "Tocsin"
    # Fixed timestamps keep the committed file byte-stable across rebuilds.
    from datetime import datetime

    wb.properties.created = datetime(2024, 5, 20)
    wb.properties.modified = datetime(2024, 5, 20)
    wb.save(path)


def convert_to_xform(xlsx: Path) -> str:
    return convert(xlsform=xlsx, pretty_print=True).xform


def main() -> None:
    FORMS.mkdir(parents=True, exist_ok=True)
    xlsx = FORMS / "incident_report.xlsx"
    build_workbook(xlsx)
    (FORMS / "incident_report.xml").write_text(convert_to_xform(xlsx), encoding="utf-8")
    print(f"wrote {xlsx} and {xlsx.with_suffix('.xml')}")


if __name__ == "__main__":
    main()
