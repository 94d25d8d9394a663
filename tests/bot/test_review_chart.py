"""The access review's chart: a valid PNG of a fixed size, the same bytes every time, showing the review's data."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from bot.review_chart import HEIGHT_PX, MAX_SERIES, OTHER_LABEL, PALETTE, WIDTH_PX, open_hours_chart, stacked_series
from jit.review import ReviewPeriod, build_review
from tests.jit.review_support import ALICE, NOW, WEEK, at, grant, vm, week_review


def decoded(png: bytes) -> Image.Image:
    """The PNG checked by Pillow (signature, chunk CRCs) and then loaded."""
    Image.open(io.BytesIO(png)).verify()
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def colour_areas(image: Image.Image) -> dict[str, int]:
    """How many pixels have each colour, by ``#rrggbb``."""
    rgb = image.convert("RGB")
    found = rgb.getcolors(maxcolors=WIDTH_PX * HEIGHT_PX) or []
    return {"#{:02x}{:02x}{:02x}".format(*pixel): count for count, pixel in found if isinstance(pixel, tuple)}


def colours(image: Image.Image) -> set[str]:
    """Every colour in the image."""
    return set(colour_areas(image))


def test_the_chart_is_a_valid_png_of_the_fixed_size() -> None:
    image = decoded(open_hours_chart(week_review()))
    assert isinstance(image, PngImagePlugin.PngImageFile)
    assert image.size == (WIDTH_PX, HEIGHT_PX)


def test_the_same_review_gives_the_same_bytes_without_software_or_time_stamps() -> None:
    first = open_hours_chart(week_review())
    assert open_hours_chart(week_review()) == first
    image = decoded(first)
    assert "Software" not in image.info
    assert b"tIME" not in first
    assert b"tEXt" not in first


def test_each_vm_is_stacked_per_day_most_open_first() -> None:
    series = stacked_series(week_review())
    assert series == [
        ("web-01", [4.0, 0.0, 0.0, 1.5, 0.0, 0.0, 0.0]),
        ("db-01", [0.0, 1.0, 1.0, 0.0, 0.75, 0.0, 1.0]),
        ("app-01", [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
    ]


def test_each_vms_bars_cover_an_area_in_proportion_to_its_hours() -> None:
    review = week_review()
    areas = colour_areas(decoded(open_hours_chart(review)))
    web, db, app = (areas.get(colour, 0) for colour in PALETTE[:3])
    assert [total.hours for total in review.vms] == [5.5, 3.75, 1.0]
    assert web / app == pytest.approx(5.5, rel=0.05)
    assert db / app == pytest.approx(3.75, rel=0.05)


def test_beyond_the_series_limit_the_smallest_vms_share_one_band() -> None:
    requests = [grant(f"g-{n}", ALICE, vm(f"vm-{n:02d}"), at(3, 0), at(3, 1 + n)) for n in range(MAX_SERIES + 2)]
    review = build_review(WEEK, requests, [], [])
    series = stacked_series(review)
    assert len(series) == MAX_SERIES
    assert [label for label, _ in series[:2]] == ["vm-09", "vm-08"]
    assert series[-1] == (OTHER_LABEL, [1.0 + 2.0 + 3.0, 0, 0, 0, 0, 0, 0])
    assert sum(sum(day) for _, day in series) == review.open_hours
    assert PALETTE[-1] in colours(decoded(open_hours_chart(review)))


def test_an_empty_period_still_renders_a_chart_without_bars() -> None:
    review = build_review(ReviewPeriod.last_days(30, NOW), [], [], [])
    image = decoded(open_hours_chart(review))
    assert image.size == (WIDTH_PX, HEIGHT_PX)
    assert stacked_series(review) == []
    assert colours(image).isdisjoint(PALETTE)


def test_a_dollar_in_a_vm_label_is_drawn_literally_not_as_broken_math() -> None:
    review = build_review(WEEK, [grant("g-1", ALICE, vm("a$^$b"), at(3, 1), at(3, 2))], [], [])
    assert decoded(open_hours_chart(review)).size == (WIDTH_PX, HEIGHT_PX)


def test_vms_open_on_the_same_day_are_stacked_not_overlaid() -> None:
    same_day = [
        grant("g-a", ALICE, vm("big-01"), at(3, 1), at(3, 4)),
        grant("g-b", ALICE, vm("small-01"), at(3, 5), at(3, 6)),
    ]
    review = build_review(WEEK, same_day, [], [])
    assert stacked_series(review) == [("big-01", [3.0, 0, 0, 0, 0, 0, 0]), ("small-01", [1.0, 0, 0, 0, 0, 0, 0])]
    areas = colour_areas(decoded(open_hours_chart(review)))
    assert areas[PALETTE[0]] / areas[PALETTE[1]] == pytest.approx(3.0, rel=0.05)
