"""Country codes: Gleditsch-Ward numbers and dataset spellings to ISO 3166 alpha-3.

UCDP identifies countries by Gleditsch & Ward (GW) number (``country_id``, ``gwnoa``) and by its
own spellings ("DR Congo (Zaire)", "Russia (Soviet Union)"). ISO numeric codes (ACLED ``iso``)
and the common ISO names come from ``pycountry``; the GW table and the spellings that ISO does
not know are written out below. Historical states map to their successor's ISO3 (the UCDP
convention: events are coded to today's territory), and Kosovo to the user-assigned ``XKX``
used by the EU and the World Bank, since ISO 3166 has no code for it.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pycountry

from tocsin.store.names import normalize_name

# (GW number, ISO3, name as UCDP writes it). The list covers every GW state system member.
GW_COUNTRIES: tuple[tuple[int, str, str], ...] = (
    (2, "USA", "United States of America"),
    (20, "CAN", "Canada"),
    (31, "BHS", "Bahamas"),
    (40, "CUB", "Cuba"),
    (41, "HTI", "Haiti"),
    (42, "DOM", "Dominican Republic"),
    (51, "JAM", "Jamaica"),
    (52, "TTO", "Trinidad and Tobago"),
    (53, "BRB", "Barbados"),
    (54, "DMA", "Dominica"),
    (55, "GRD", "Grenada"),
    (56, "LCA", "Saint Lucia"),
    (57, "VCT", "Saint Vincent and the Grenadines"),
    (58, "ATG", "Antigua and Barbuda"),
    (60, "KNA", "Saint Kitts and Nevis"),
    (70, "MEX", "Mexico"),
    (80, "BLZ", "Belize"),
    (90, "GTM", "Guatemala"),
    (91, "HND", "Honduras"),
    (92, "SLV", "El Salvador"),
    (93, "NIC", "Nicaragua"),
    (94, "CRI", "Costa Rica"),
    (95, "PAN", "Panama"),
    (100, "COL", "Colombia"),
    (101, "VEN", "Venezuela"),
    (110, "GUY", "Guyana"),
    (115, "SUR", "Surinam"),
    (130, "ECU", "Ecuador"),
    (135, "PER", "Peru"),
    (140, "BRA", "Brazil"),
    (145, "BOL", "Bolivia"),
    (150, "PRY", "Paraguay"),
    (155, "CHL", "Chile"),
    (160, "ARG", "Argentina"),
    (165, "URY", "Uruguay"),
    (200, "GBR", "United Kingdom"),
    (205, "IRL", "Ireland"),
    (210, "NLD", "Netherlands"),
    (211, "BEL", "Belgium"),
    (212, "LUX", "Luxembourg"),
    (220, "FRA", "France"),
    (221, "MCO", "Monaco"),
    (223, "LIE", "Liechtenstein"),
    (225, "CHE", "Switzerland"),
    (230, "ESP", "Spain"),
    (232, "AND", "Andorra"),
    (235, "PRT", "Portugal"),
    (255, "DEU", "Germany"),
    (260, "DEU", "German Federal Republic"),
    (265, "DEU", "German Democratic Republic"),
    (290, "POL", "Poland"),
    (305, "AUT", "Austria"),
    (310, "HUN", "Hungary"),
    (315, "CZE", "Czechoslovakia"),
    (316, "CZE", "Czech Republic"),
    (317, "SVK", "Slovakia"),
    (325, "ITA", "Italy"),
    (331, "SMR", "San Marino"),
    (338, "MLT", "Malta"),
    (339, "ALB", "Albania"),
    (341, "MNE", "Montenegro"),
    (343, "MKD", "Macedonia, FYR"),
    (344, "HRV", "Croatia"),
    (345, "SRB", "Serbia (Yugoslavia)"),
    (346, "BIH", "Bosnia-Herzegovina"),
    (347, "XKX", "Kosovo"),
    (349, "SVN", "Slovenia"),
    (350, "GRC", "Greece"),
    (352, "CYP", "Cyprus"),
    (355, "BGR", "Bulgaria"),
    (359, "MDA", "Moldova"),
    (360, "ROU", "Romania"),
    (365, "RUS", "Russia (Soviet Union)"),
    (366, "EST", "Estonia"),
    (367, "LVA", "Latvia"),
    (368, "LTU", "Lithuania"),
    (369, "UKR", "Ukraine"),
    (370, "BLR", "Belarus"),
    (371, "ARM", "Armenia"),
    (372, "GEO", "Georgia"),
    (373, "AZE", "Azerbaijan"),
    (375, "FIN", "Finland"),
    (380, "SWE", "Sweden"),
    (385, "NOR", "Norway"),
    (390, "DNK", "Denmark"),
    (395, "ISL", "Iceland"),
    (402, "CPV", "Cape Verde"),
    (403, "STP", "Sao Tome and Principe"),
    (404, "GNB", "Guinea-Bissau"),
    (411, "GNQ", "Equatorial Guinea"),
    (420, "GMB", "Gambia"),
    (432, "MLI", "Mali"),
    (433, "SEN", "Senegal"),
    (434, "BEN", "Benin"),
    (435, "MRT", "Mauritania"),
    (436, "NER", "Niger"),
    (437, "CIV", "Ivory Coast"),
    (438, "GIN", "Guinea"),
    (439, "BFA", "Burkina Faso"),
    (450, "LBR", "Liberia"),
    (451, "SLE", "Sierra Leone"),
    (452, "GHA", "Ghana"),
    (461, "TGO", "Togo"),
    (471, "CMR", "Cameroon"),
    (475, "NGA", "Nigeria"),
    (481, "GAB", "Gabon"),
    (482, "CAF", "Central African Republic"),
    (483, "TCD", "Chad"),
    (484, "COG", "Congo"),
    (490, "COD", "DR Congo (Zaire)"),
    (500, "UGA", "Uganda"),
    (501, "KEN", "Kenya"),
    (510, "TZA", "Tanzania"),
    (516, "BDI", "Burundi"),
    (517, "RWA", "Rwanda"),
    (520, "SOM", "Somalia"),
    (522, "DJI", "Djibouti"),
    (530, "ETH", "Ethiopia"),
    (531, "ERI", "Eritrea"),
    (540, "AGO", "Angola"),
    (541, "MOZ", "Mozambique"),
    (551, "ZMB", "Zambia"),
    (552, "ZWE", "Zimbabwe (Rhodesia)"),
    (553, "MWI", "Malawi"),
    (560, "ZAF", "South Africa"),
    (565, "NAM", "Namibia"),
    (570, "LSO", "Lesotho"),
    (571, "BWA", "Botswana"),
    (572, "SWZ", "Kingdom of eSwatini (Swaziland)"),
    (580, "MDG", "Madagascar (Malagasy)"),
    (581, "COM", "Comoros"),
    (590, "MUS", "Mauritius"),
    (591, "SYC", "Seychelles"),
    (600, "MAR", "Morocco"),
    (615, "DZA", "Algeria"),
    (616, "TUN", "Tunisia"),
    (620, "LBY", "Libya"),
    (625, "SDN", "Sudan"),
    (626, "SSD", "South Sudan"),
    (630, "IRN", "Iran"),
    (640, "TUR", "Turkey"),
    (645, "IRQ", "Iraq"),
    (651, "EGY", "Egypt"),
    (652, "SYR", "Syria"),
    (660, "LBN", "Lebanon"),
    (663, "JOR", "Jordan"),
    (666, "ISR", "Israel"),
    (670, "SAU", "Saudi Arabia"),
    (678, "YEM", "Yemen (North Yemen)"),
    (680, "YEM", "South Yemen"),
    (690, "KWT", "Kuwait"),
    (692, "BHR", "Bahrain"),
    (694, "QAT", "Qatar"),
    (696, "ARE", "United Arab Emirates"),
    (698, "OMN", "Oman"),
    (700, "AFG", "Afghanistan"),
    (701, "TKM", "Turkmenistan"),
    (702, "TJK", "Tajikistan"),
    (703, "KGZ", "Kyrgyzstan"),
    (704, "UZB", "Uzbekistan"),
    (705, "KAZ", "Kazakhstan"),
    (710, "CHN", "China"),
    (712, "MNG", "Mongolia"),
    (713, "TWN", "Taiwan"),
    (730, "KOR", "Korea"),
    (731, "PRK", "North Korea"),
    (732, "KOR", "South Korea"),
    (740, "JPN", "Japan"),
    (750, "IND", "India"),
    (760, "BTN", "Bhutan"),
    (770, "PAK", "Pakistan"),
    (771, "BGD", "Bangladesh"),
    (775, "MMR", "Myanmar (Burma)"),
    (780, "LKA", "Sri Lanka"),
    (781, "MDV", "Maldives"),
    (790, "NPL", "Nepal"),
    (800, "THA", "Thailand"),
    (811, "KHM", "Cambodia (Kampuchea)"),
    (812, "LAO", "Laos"),
    (816, "VNM", "Vietnam (North Vietnam)"),
    (817, "VNM", "South Vietnam"),
    (820, "MYS", "Malaysia"),
    (830, "SGP", "Singapore"),
    (835, "BRN", "Brunei"),
    (840, "PHL", "Philippines"),
    (850, "IDN", "Indonesia"),
    (860, "TLS", "East Timor"),
    (900, "AUS", "Australia"),
    (910, "PNG", "Papua New Guinea"),
    (920, "NZL", "New Zealand"),
    (940, "SLB", "Solomon Islands"),
    (950, "FJI", "Fiji"),
)

# Spellings used by ACLED, Insecurity Insight, HDX and others that neither the GW table nor
# ISO 3166 (via pycountry) resolve.
EXTRA_NAMES: dict[str, str] = {
    "Democratic Republic of Congo": "COD",
    "Democratic Republic of the Congo": "COD",
    "DRC": "COD",
    "Republic of Congo": "COG",
    "Congo-Brazzaville": "COG",
    "Cote d'Ivoire": "CIV",
    "CAR": "CAF",
    "Russia": "RUS",
    "Soviet Union": "RUS",
    "Turkey": "TUR",
    "Turkiye": "TUR",
    "Palestine": "PSE",
    "OPT": "PSE",
    "Occupied Palestinian Territory": "PSE",
    "Bosnia and Herzegovina": "BIH",
    "North Macedonia": "MKD",
    "Macedonia": "MKD",
    "Yugoslavia": "SRB",
    "Serbia": "SRB",
    "Swaziland": "SWZ",
    "eSwatini": "SWZ",
    "Burma": "MMR",
    "Myanmar": "MMR",
    "Zaire": "COD",
    "Rhodesia": "ZWE",
    "Kampuchea": "KHM",
    "Cambodia": "KHM",
    "Madagascar": "MDG",
    "Yemen": "YEM",
    "Vietnam": "VNM",
    "Micronesia": "FSM",
    "United States": "USA",
    "USA": "USA",
    "UK": "GBR",
    "Timor-Leste": "TLS",
    "Cabo Verde": "CPV",
    "Suriname": "SUR",
    "Gambia, The": "GMB",
    "Syrian Arab Republic": "SYR",
    "Iran (Islamic Republic of)": "IRN",
    "Lao PDR": "LAO",
    "Libyan Arab Jamahiriya": "LBY",
}

_PAREN = re.compile(r"\s*\(([^)]*)\)\s*")


def _key(name: str) -> str:
    return normalize_name(name).replace("-", " ")


@lru_cache(maxsize=1)
def _name_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for _, iso3, name in GW_COUNTRIES:
        index.setdefault(_key(name), iso3)
        # "Russia (Soviet Union)": both "russia" and "soviet union" resolve.
        bare = _PAREN.sub(" ", name).strip()
        index.setdefault(_key(bare), iso3)
        for inner in _PAREN.findall(name):
            index.setdefault(_key(inner), iso3)
    for name, iso3 in EXTRA_NAMES.items():
        index.setdefault(_key(name), iso3)
    return index


_GW_TO_ISO3 = {gw: iso3 for gw, iso3, _ in GW_COUNTRIES}


def iso3_from_gw(code: int | str | None) -> str | None:
    """ISO3 for a Gleditsch-Ward number such as 482 or "482.0"; None if unknown or empty."""
    if code is None or code == "":
        return None
    try:
        number = int(float(code))
    except ValueError:
        return None
    return _GW_TO_ISO3.get(number)


@lru_cache(maxsize=4096)
def iso3_from_name(name: str | None) -> str | None:
    """ISO3 for a country name in UCDP, ACLED, ISO or common spelling; None if unknown."""
    if not name or not name.strip():
        return None
    hit = _name_index().get(_key(name))
    if hit:
        return hit
    try:
        return str(pycountry.countries.lookup(name.strip()).alpha_3)
    except LookupError:
        return None


@lru_cache(maxsize=1024)
def iso3_from_numeric(code: int | str | None) -> str | None:
    """ISO3 for an ISO 3166 numeric code such as 140 or "140"; None if unknown."""
    if code is None or str(code).strip() == "":
        return None
    try:
        number = int(float(code))
    except ValueError:
        return None
    country = pycountry.countries.get(numeric=f"{number:03d}")
    return None if country is None else str(country.alpha_3)


@lru_cache(maxsize=1024)
def normalize_iso3(code: str | None) -> str | None:
    """Upper-cased ISO3 if ``code`` is a known alpha-3 (or alpha-2) code, else None."""
    if not code or not code.strip():
        return None
    text = code.strip().upper()
    if text == "XKX":
        return text
    if len(text) == 3:
        country = pycountry.countries.get(alpha_3=text)
    elif len(text) == 2:
        country = pycountry.countries.get(alpha_2=text)
    else:
        return None
    return None if country is None else str(country.alpha_3)
