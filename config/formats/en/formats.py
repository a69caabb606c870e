"""How dates and times read in English for a consortium in Belgium: day before month and a 24-hour
clock, as the French pages and the funder's documents write them, rather than Django's American
defaults. The API and the list filters read ISO dates only, in every language."""

DATE_FORMAT = "j F Y"  # 27 November 2026
DATETIME_FORMAT = "j F Y, H:i"  # 27 November 2026, 14:30
TIME_FORMAT = "H:i"  # 14:30
YEAR_MONTH_FORMAT = "F Y"  # November 2026
MONTH_DAY_FORMAT = "j F"  # 27 November
SHORT_DATE_FORMAT = "d/m/Y"  # 27/11/2026
SHORT_DATETIME_FORMAT = "d/m/Y H:i"  # 27/11/2026 14:30
FIRST_DAY_OF_WEEK = 1  # Monday

# What forms read: ISO first (the date pickers send it), then day first as displayed, so that
# "03/04/2026" typed in the admin is 3 April, as it would read on the page.
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%y %H:%M",
]
