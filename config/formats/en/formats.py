"""How dates and times read in English for a consortium in Belgium: day before month and a 24-hour
clock, as the French pages and the funder's documents write them, rather than Django's American
defaults. Only the displayed formats change; what forms accept is Django's own."""

DATE_FORMAT = "j F Y"  # 27 November 2026
DATETIME_FORMAT = "j F Y, H:i"  # 27 November 2026, 14:30
TIME_FORMAT = "H:i"  # 14:30
YEAR_MONTH_FORMAT = "F Y"  # November 2026
MONTH_DAY_FORMAT = "j F"  # 27 November
SHORT_DATE_FORMAT = "d/m/Y"  # 27/11/2026
SHORT_DATETIME_FORMAT = "d/m/Y H:i"  # 27/11/2026 14:30
FIRST_DAY_OF_WEEK = 1  # Monday
