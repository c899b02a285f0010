"""The statutory holidays of a year as 全国年节及纪念日放假办法 fixes them (2024 revision, in force from 2025).

Used for a year the State Council has not yet published a holiday notice for: the law fixes the days off, the
yearly notice adds the 调休 (weekend days that become working days, and bridge days). Without the notice the
fallback knows the holidays but not the 调休, so deadlines computed with it are provisional.

元旦 1 day (1 January); 春节 4 days from 除夕 to 初三; 清明 1 day (the solar term); 劳动节 2 days (1–2 May);
端午 1 day (五月初五); 中秋 1 day (八月十五); 国庆 3 days (1–3 October). Lunar dates come from ``lunardate``
(1901–2099); outside that range only the solar-calendar holidays apply. 清明 by the 21st-century formula
(2000–2099; earlier years have published data).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from lunardate import LunarDate

LUNAR_YEARS = range(1901, 2100)


def qingming(year: int) -> date:
    """清明 (the solar term at 15° past the spring equinox): 4 or 5 April, by the usual 21st-century formula."""
    y = year % 100
    return date(year, 4, int(y * 0.2422 + 4.81) - y // 4)


def _lunar(year: int, month: int, day: int) -> date:
    return LunarDate(year, month, day).to_solar_date()


@lru_cache(maxsize=256)
def holiday_names(year: int) -> dict[date, str]:
    """Each statutory holiday of ``year`` with its name (no 调休: weekends stay weekends, no bridge days)."""
    names = {date(year, 1, 1): "元旦", qingming(year): "清明节", date(year, 5, 1): "劳动节", date(year, 5, 2): "劳动节"}
    names |= {date(year, 10, 1) + timedelta(days=i): "国庆节" for i in range(3)}
    if year in LUNAR_YEARS:
        new_year = _lunar(year, 1, 1)  # 除夕 (the day before) always falls in the same solar year
        names |= {new_year + timedelta(days=i): "春节" for i in range(-1, 3)}
        names[_lunar(year, 5, 5)] = "端午节"
        names.setdefault(_lunar(year, 8, 15), "中秋节")  # 2028: 中秋 is 3 October, already 国庆
    return dict(sorted(names.items()))


@lru_cache(maxsize=256)
def statutory_holidays(year: int) -> frozenset[date]:
    """The days off the law fixes for ``year``."""
    return frozenset(holiday_names(year))
