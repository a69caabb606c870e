"""The partner pages' colours keep WCAG AA contrast (4.5:1 for text) for every pair the stylesheet
sets, read from the stylesheet itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

STYLESHEET = Path(settings.BASE_DIR) / "static" / "portal" / "portal.css"
# Text colour on background, as portal.css pairs them ("#fff" is the header's text).
PAIRS = [
    ("ink", "paper"),
    ("ink", "wash"),
    ("quiet", "paper"),
    ("quiet", "wash"),
    ("brand", "paper"),
    ("brand", "wash"),
    ("brand-dark", "paper"),
    ("#fff", "brand"),
    ("#fff", "brand-dark"),
    ("red", "paper"),
    ("green", "paper"),
    ("amber", "paper"),
    ("red", "red-bg"),
    ("green", "green-bg"),
    ("amber", "amber-bg"),
    ("blue", "blue-bg"),
    ("ink", "grey-bg"),
]


def palette() -> dict[str, str]:
    root = re.search(r":root\s*{([^}]*)}", STYLESHEET.read_text()).group(1)  # type: ignore[union-attr]
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", root))


def luminance(colour: str) -> float:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_reference_values() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21)
    assert contrast("#777", "#fff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_text_keeps_aa_contrast(text: str, background: str) -> None:
    colours = palette()
    ratio = contrast(colours.get(text, text), colours.get(background, background))
    assert ratio >= 4.5, f"{text} on {background}: {ratio:.2f}:1"
