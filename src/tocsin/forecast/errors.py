"""The one base class of every expected forecasting error (bad input, missing files, unknown ids).

Commands turn these into one clear line on stderr; anything else is a bug and keeps its traceback.
"""


class ForecastError(ValueError):
    """Input or state that the forecasting code refuses, with a message saying why."""
