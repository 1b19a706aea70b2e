"""The UCDP GED CSV layout, exactly as the GED 23.1 download writes it.

Column order, value formats (ISO timestamps with ``T00:00:00``, coordinates with up to six
decimals, blank ``gwnoa`` for non-state actors) and line endings (CRLF, minimal quoting) follow
the real file, so that every GED reader takes scenario files as it takes UCDP's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

GED_COLUMNS = (
    "id", "relid", "year", "active_year", "code_status", "type_of_violence",
    "conflict_dset_id", "conflict_new_id", "conflict_name", "dyad_dset_id", "dyad_new_id",
    "dyad_name", "side_a_dset_id", "side_a_new_id", "side_a", "side_b_dset_id", "side_b_new_id",
    "side_b", "number_of_sources", "source_article", "source_office", "source_date",
    "source_headline", "source_original", "where_prec", "where_coordinates", "where_description",
    "latitude", "longitude", "adm_1", "adm_2", "priogrid_gid", "country", "country_id", "region",
    "event_clarity", "date_prec", "date_start", "date_end", "deaths_a", "deaths_b",
    "deaths_civilians", "deaths_unknown", "best", "high", "low", "gwnoa", "gwnob",
)  # fmt: skip


def format_coordinate(value: float) -> str:
    """``4.366667``, ``7.0``: Python's shortest repr of the value rounded to six decimals."""
    return repr(round(float(value), 6) + 0.0)  # + 0.0 turns -0.0 into 0.0


def format_timestamp(day: object) -> str:
    return f"{day}T00:00:00"


def csv_bytes(rows: Iterable[Sequence[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(GED_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
