"""The numbers the scenario generator is calibrated with, and where they come from.

``CAR_CALIBRATION`` below was produced by ``tocsin scenario calibrate --ged
../shared/data/ucdp/ged231_central_african_republic.csv`` (UCDP GED 23.1, CC BY 4.0): the last
120 months of the file (2013-01 to 2022-12). Re-running that command prints the same numbers, and
``tests/scenario/test_calibration.py`` checks that it does. Do not edit them by hand: re-run the
command and paste its output.

Every field is a plain number, string, tuple or dict so that a calibration can be written to the
scenario manifest as JSON (``as_dict``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ProcessParams:
    """Self-exciting space-time point process.

    Intensity ``lambda(t, x) = mu * m(t) * f(x) + sum_{t_i < t} alpha * h(t - t_i) * g(x - x_i)``
    with ``h(u) = p * b1 * exp(-b1 u) + (1 - p) * b2 * exp(-b2 u)`` (retaliation within days,
    campaigns over months), ``g = q * N(0, s1^2 I) + (1 - q) * N(0, s2^2 I)`` (the same place, the
    same area), ``f`` the background density (``BackgroundShape``) and ``m(t)`` a monthly
    multiplier of mean 1 (conflict phases).
    """

    background_per_day: float  # mu: background (immigrant) events per day, whole country
    branching_ratio: float  # alpha: expected direct offspring of one event (< 1)
    fast_decay_per_day: float  # b1: the fast component's mean lag is 1/b1 days
    slow_decay_per_day: float  # b2: the slow component's mean lag is 1/b2 days
    fast_share: float  # p: share of offspring that follow the fast component
    near_sigma_km: float  # s1: sd of the near spatial component (km)
    far_sigma_km: float  # s2: sd of the far spatial component (km)
    near_share: float  # q: share of offspring that follow the near component
    modulation_sd: float  # standard deviation of log m(t) (stationary AR(1), monthly steps)
    modulation_ar: float  # lag-one-month autocorrelation of log m(t)


@dataclass(frozen=True)
class BackgroundShape:
    """Where background events fall: a few Gaussian hot spots plus a uniform share."""

    hotspots: int  # number of hot spots (chosen by BIC)
    hotspot_sigma_km: tuple[float, ...]  # spread of each hot spot
    hotspot_weights: tuple[float, ...]  # shares of background events in each hot spot, descending
    uniform_share: float  # share of background events anywhere in the country


@dataclass(frozen=True)
class FatalityModel:
    """``best`` fatalities of one violence type: a hurdle at zero, then ceil(lognormal) >= 1."""

    zero_share: float
    log_mu: float
    log_sigma: float


@dataclass(frozen=True)
class EstimateSpread:
    """How ``low``/``high`` differ from ``best``: on the scale of ``log(deaths + 1)``."""

    high_above_share: float  # share of events with high > best
    high_log_ratio_mean: float  # mean of log((high+1)/(best+1)) when high > best (exponential)
    low_below_share: float  # share of events (best > 0) with low < best
    low_log_ratio_mean: float  # mean of log((best+1)/(low+1)) when low < best (exponential)


@dataclass(frozen=True)
class Calibration:
    source: str  # file the numbers were fitted on
    country_iso3: str
    window_start: str  # first month fitted, YYYY-MM
    window_months: int
    events: int  # events in the fitted window
    area_km2: float  # area of the calibration country (scales the rate of other countries)
    process: ProcessParams
    background: BackgroundShape
    type_shares: dict[str, float]  # UCDP type_of_violence "1"/"2"/"3" -> share of events
    mark_persistence: float  # chance an offspring keeps its parent's dyad (beyond chance)
    fatalities: dict[str, FatalityModel]  # by type_of_violence
    death_patterns: dict[str, dict[str, float]]  # type -> "abcu" presence pattern -> share
    estimates: EstimateSpread
    where_prec_shares: dict[str, float]  # "1".."6" -> share
    date_prec_shares: dict[str, float]  # "1".."5" -> share
    unclear_share: float  # event_clarity == 2
    sources_unknown_share: float  # number_of_sources == -1
    sources_mean: float  # mean number_of_sources where known (geometric on 1, 2, ...)
    dyads: dict[str, int]  # distinct dyads by type of violence
    dyad_zipf_exponent: float  # dyad frequencies within a type ~ rank^-s
    actors: int  # distinct actors (civilians excluded)

    def as_dict(self) -> dict:
        return asdict(self)


# --- fitted constants (output of `tocsin scenario calibrate`, see module docstring) ---
CAR_CALIBRATION = Calibration(
    source="ged231_central_african_republic.csv",
    country_iso3="CAF",
    window_start="2013-01",
    window_months=120,
    events=1564,
    area_km2=618327.0,
    process=ProcessParams(
        background_per_day=0.123713,
        branching_ratio=0.717576,
        fast_decay_per_day=0.626992,
        slow_decay_per_day=0.012218,
        fast_share=0.345562,
        near_sigma_km=2.51117,
        far_sigma_km=22.8105,
        near_share=0.601972,
        modulation_sd=1.125,
        modulation_ar=0.9,
    ),
    background=BackgroundShape(
        hotspots=6,
        hotspot_sigma_km=(
            50.3994,
            60.7435,
            57.9472,
            10.0,
            10.0,
            23.2361,
        ),
        hotspot_weights=(
            0.155631,
            0.137248,
            0.0639332,
            0.0452373,
            0.0234497,
            0.0103235,
        ),
        uniform_share=0.564177,
    ),
    type_shares={
        "1": 0.205243,
        "2": 0.233376,
        "3": 0.561381,
    },
    mark_persistence=0.384326,
    fatalities={
        "1": FatalityModel(
            zero_share=0.0155763,
            log_mu=1.09223,
            log_sigma=1.40782,
        ),
        "2": FatalityModel(
            zero_share=0.10137,
            log_mu=1.40939,
            log_sigma=1.47905,
        ),
        "3": FatalityModel(
            zero_share=0.046697,
            log_mu=0.699377,
            log_sigma=1.65571,
        ),
    },
    death_patterns={
        "1": {
            "a": 0.170886,
            "ab": 0.101266,
            "abc": 0.0474684,
            "abcu": 0.00632911,
            "abu": 0.00949367,
            "ac": 0.0379747,
            "acu": 0.00632911,
            "au": 0.0126582,
            "b": 0.221519,
            "bc": 0.028481,
            "bu": 0.00632911,
            "c": 0.151899,
            "cu": 0.0253165,
            "u": 0.174051,
        },
        "2": {
            "a": 0.0792683,
            "ab": 0.054878,
            "abc": 0.00609756,
            "abcu": 0.00914634,
            "abu": 0.00914634,
            "ac": 0.0152439,
            "au": 0.00609756,
            "b": 0.106707,
            "bc": 0.0152439,
            "bu": 0.0152439,
            "c": 0.143293,
            "cu": 0.0396341,
            "u": 0.5,
        },
        "3": {
            "c": 0.97491,
            "cu": 0.00119474,
            "u": 0.0238949,
        },
    },
    estimates=EstimateSpread(
        high_above_share=0.104859,
        high_log_ratio_mean=1.05148,
        low_below_share=0.0384875,
        low_log_ratio_mean=1.24319,
    ),
    where_prec_shares={
        "1": 0.670077,
        "2": 0.198849,
        "3": 0.0818414,
        "4": 0.0319693,
        "5": 0.0108696,
        "6": 0.00639386,
    },
    date_prec_shares={
        "1": 0.755754,
        "2": 0.136829,
        "3": 0.011509,
        "4": 0.0767263,
        "5": 0.0191816,
    },
    unclear_share=0.0946292,
    sources_unknown_share=0.0,
    sources_mean=1.74169,
    dyads={
        "1": 6,
        "2": 14,
        "3": 18,
    },
    dyad_zipf_exponent=1.33097,
    actors=27,
)
