"""Country codes for country-month panels: Gleditsch-Ward (GW) numbers, ISO 3166 alpha-3, and
the country names used by UCDP GED.

The GW table below is written from the published Gleditsch & Ward (1999) list of independent
states, restricted to states that exist today (plus Kosovo, ``XKX``), so that every GW code maps
to exactly one ISO3 code. Where GW keeps one number across a change of name or borders (Serbia /
Yugoslavia 345, Yemen 678, Germany 260) the current state is used. VIEWS ``country_id`` numbers
are VIEWS' own; Tocsin does not ship them. A user who has the VIEWS ``country_key.csv`` can pass
it (``--country-key``) to add a ``country_id`` column.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pycountry

from tocsin.forecast.errors import ForecastError

GW_TO_ISO3: dict[int, str] = {
    2: "USA",
    20: "CAN",
    31: "BHS",
    40: "CUB",
    41: "HTI",
    42: "DOM",
    51: "JAM",
    52: "TTO",
    53: "BRB",
    54: "DMA",
    55: "GRD",
    56: "LCA",
    57: "VCT",
    58: "ATG",
    60: "KNA",
    70: "MEX",
    80: "BLZ",
    90: "GTM",
    91: "HND",
    92: "SLV",
    93: "NIC",
    94: "CRI",
    95: "PAN",
    100: "COL",
    101: "VEN",
    110: "GUY",
    115: "SUR",
    130: "ECU",
    135: "PER",
    140: "BRA",
    145: "BOL",
    150: "PRY",
    155: "CHL",
    160: "ARG",
    165: "URY",
    200: "GBR",
    205: "IRL",
    210: "NLD",
    211: "BEL",
    212: "LUX",
    220: "FRA",
    221: "MCO",
    223: "LIE",
    225: "CHE",
    230: "ESP",
    232: "AND",
    235: "PRT",
    260: "DEU",
    290: "POL",
    305: "AUT",
    310: "HUN",
    316: "CZE",
    317: "SVK",
    325: "ITA",
    331: "SMR",
    338: "MLT",
    339: "ALB",
    341: "MNE",
    343: "MKD",
    340: "SRB",
    344: "HRV",
    345: "SRB",
    346: "BIH",
    347: "XKX",
    349: "SVN",
    350: "GRC",
    352: "CYP",
    355: "BGR",
    359: "MDA",
    360: "ROU",
    365: "RUS",
    366: "EST",
    367: "LVA",
    368: "LTU",
    369: "UKR",
    370: "BLR",
    371: "ARM",
    372: "GEO",
    373: "AZE",
    375: "FIN",
    380: "SWE",
    385: "NOR",
    390: "DNK",
    395: "ISL",
    402: "CPV",
    403: "STP",
    404: "GNB",
    411: "GNQ",
    420: "GMB",
    432: "MLI",
    433: "SEN",
    434: "BEN",
    435: "MRT",
    436: "NER",
    437: "CIV",
    438: "GIN",
    439: "BFA",
    450: "LBR",
    451: "SLE",
    452: "GHA",
    461: "TGO",
    471: "CMR",
    475: "NGA",
    481: "GAB",
    482: "CAF",
    483: "TCD",
    484: "COG",
    490: "COD",
    500: "UGA",
    501: "KEN",
    510: "TZA",
    516: "BDI",
    517: "RWA",
    520: "SOM",
    522: "DJI",
    530: "ETH",
    531: "ERI",
    540: "AGO",
    541: "MOZ",
    551: "ZMB",
    552: "ZWE",
    553: "MWI",
    560: "ZAF",
    565: "NAM",
    570: "LSO",
    571: "BWA",
    572: "SWZ",
    580: "MDG",
    581: "COM",
    590: "MUS",
    591: "SYC",
    600: "MAR",
    615: "DZA",
    616: "TUN",
    620: "LBY",
    625: "SDN",
    626: "SSD",
    630: "IRN",
    640: "TUR",
    645: "IRQ",
    651: "EGY",
    652: "SYR",
    660: "LBN",
    663: "JOR",
    666: "ISR",
    670: "SAU",
    678: "YEM",
    690: "KWT",
    692: "BHR",
    694: "QAT",
    696: "ARE",
    698: "OMN",
    700: "AFG",
    701: "TKM",
    702: "TJK",
    703: "KGZ",
    704: "UZB",
    705: "KAZ",
    710: "CHN",
    712: "MNG",
    713: "TWN",
    731: "PRK",
    732: "KOR",
    740: "JPN",
    750: "IND",
    760: "BTN",
    770: "PAK",
    771: "BGD",
    775: "MMR",
    780: "LKA",
    781: "MDV",
    790: "NPL",
    800: "THA",
    811: "KHM",
    812: "LAO",
    816: "VNM",
    820: "MYS",
    830: "SGP",
    835: "BRN",
    840: "PHL",
    850: "IDN",
    860: "TLS",
    900: "AUS",
    910: "PNG",
    920: "NZL",
    935: "VUT",
    940: "SLB",
    946: "KIR",
    947: "TUV",
    950: "FJI",
    955: "TON",
    970: "NRU",
    983: "MHL",
    986: "PLW",
    987: "FSM",
    990: "WSM",
}
# GW 345 (Yugoslavia, then Serbia and Montenegro) is read as Serbia; Serbia's own code is 340.
ISO3_TO_GW: dict[str, int] = {iso: gw for gw, iso in GW_TO_ISO3.items() if gw != 345}

# UCDP GED spellings that neither pycountry nor the bracket rule below resolves.
_GED_NAMES = {
    "bosnia-herzegovina": "BIH",
    "cambodia (kampuchea)": "KHM",
    "dr congo (zaire)": "COD",
    "congo": "COG",
    "ivory coast": "CIV",
    "kingdom of eswatini (swaziland)": "SWZ",
    "macedonia, fyr": "MKD",
    "north macedonia": "MKD",
    "madagascar (malagasy)": "MDG",
    "myanmar (burma)": "MMR",
    "russia (soviet union)": "RUS",
    "serbia (yugoslavia)": "SRB",
    "yemen (north yemen)": "YEM",
    "zimbabwe (rhodesia)": "ZWE",
    "united states of america": "USA",
    "iran": "IRN",
    "syria": "SYR",
    "laos": "LAO",
    "russia": "RUS",
    "tanzania": "TZA",
    "bolivia": "BOL",
    "venezuela": "VEN",
    "vietnam (north vietnam)": "VNM",
    "vietnam": "VNM",
    "moldova": "MDA",
    "kosovo": "XKX",
    "east timor": "TLS",
    "timor-leste": "TLS",
    "south korea": "KOR",
    "north korea": "PRK",
    "turkey": "TUR",
    "gambia": "GMB",
    "guinea-bissau": "GNB",
    "cape verde": "CPV",
    "czech republic": "CZE",
    "taiwan": "TWN",
    "palestine": "PSE",
}
_BRACKET = re.compile(r"\s*\(.*\)\s*$")


class UnknownCountryError(ForecastError):
    """A country name or code that cannot be mapped; the message lists them."""


def is_known_iso3(code: str) -> bool:
    return code in ISO3_TO_GW or code == "PSE" or pycountry.countries.get(alpha_3=code) is not None


def iso3_for_gw(codes: pd.Series) -> pd.Series:
    """Vectorised GW -> ISO3; unknown codes raise :class:`UnknownCountryError`."""
    mapped = pd.to_numeric(codes, errors="coerce").map(GW_TO_ISO3)
    unknown = sorted(set(codes[mapped.isna()].dropna().tolist()))
    if unknown:
        raise UnknownCountryError(f"unknown Gleditsch-Ward code(s): {unknown[:10]}")
    return mapped


@lru_cache(maxsize=1024)
def iso3_for_name(name: str) -> str:
    """ISO3 for a country name as UCDP GED or ISO spell it; raises for unknown names."""
    key = name.strip().lower()
    if key in _GED_NAMES:
        return _GED_NAMES[key]
    for candidate in (name.strip(), _BRACKET.sub("", name).strip()):
        try:
            return pycountry.countries.lookup(candidate).alpha_3
        except LookupError:
            continue
    raise UnknownCountryError(f"unknown country name {name!r}")


def iso3_for_names(names: pd.Series) -> pd.Series:
    unique = names.dropna().unique()
    mapping, unknown = {}, []
    for name in unique:
        try:
            mapping[name] = iso3_for_name(str(name))
        except UnknownCountryError:
            unknown.append(str(name))
    if unknown:
        raise UnknownCountryError(f"unknown country name(s): {sorted(unknown)[:10]}")
    return names.map(mapping)


def read_views_country_key(path: Path) -> pd.DataFrame:
    """``gwcode -> country_id`` from a user-supplied VIEWS ``country_key.csv`` (id, gwcode)."""
    try:
        key = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise UnknownCountryError(f"cannot read the country key {path}: {exc}") from exc
    if not {"id", "gwcode"} <= set(key.columns):
        raise UnknownCountryError(f"{path}: a VIEWS country key needs columns id and gwcode")
    key = key[["id", "gwcode"]].dropna().astype(int)
    # VIEWS keeps several ids for some GW codes over time; the highest id is the current one.
    key = key.sort_values("id").drop_duplicates("gwcode", keep="last")
    return key.rename(columns={"id": "country_id"})


# The African states (plus Western Sahara), for "all of Africa" PRIO-GRID panels.
AFRICA_ISO3 = (
    "DZA",
    "AGO",
    "BEN",
    "BWA",
    "BFA",
    "BDI",
    "CPV",
    "CMR",
    "CAF",
    "TCD",
    "COM",
    "COG",
    "COD",
    "CIV",
    "DJI",
    "EGY",
    "GNQ",
    "ERI",
    "SWZ",
    "ETH",
    "GAB",
    "GMB",
    "GHA",
    "GIN",
    "GNB",
    "KEN",
    "LSO",
    "LBR",
    "LBY",
    "MDG",
    "MWI",
    "MLI",
    "MRT",
    "MUS",
    "MAR",
    "MOZ",
    "NAM",
    "NER",
    "NGA",
    "RWA",
    "STP",
    "SEN",
    "SYC",
    "SLE",
    "SOM",
    "ZAF",
    "SSD",
    "SDN",
    "TZA",
    "TGO",
    "TUN",
    "UGA",
    "ZMB",
    "ZWE",
    "ESH",
)
REGIONS = {"AFRICA": AFRICA_ISO3}


def expand_country_codes(spec: str) -> list[str]:
    """``"CAF,SSD"`` or ``"AFRICA"`` (a region name) -> ISO3 codes, checked."""
    codes: list[str] = []
    for part in (p.strip().upper() for p in spec.split(",")):
        if not part:
            continue
        if part in REGIONS:
            codes.extend(REGIONS[part])
        elif is_known_iso3(part):
            codes.append(part)
        else:
            raise UnknownCountryError(f"unknown country code or region {part!r}")
    return list(dict.fromkeys(codes))
