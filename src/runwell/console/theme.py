"""The console's palette and its one stylesheet, inlined in every page (no asset is fetched).

Every colour text is drawn in is listed with the background it is drawn on in :data:`TEXT_PAIRS`,
and every colour a plot or an outline uses in :data:`GRAPHIC_COLOURS`, so a test can compute the
WCAG contrast of each (4.5:1 for text, 3:1 for graphics and focus rings) from the palette itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["CSS", "GRAPHIC_COLOURS", "PALETTE", "SERIES", "TEXT_PAIRS", "contrast_ratio"]

PALETTE: Mapping[str, str] = MappingProxyType(
    {
        "bg": "#ffffff",
        "surface": "#f3f5f7",
        "text": "#1b1f24",
        "muted": "#4d5560",
        "border": "#8a939e",
        "header": "#1b1f24",
        "header_text": "#ffffff",
        "accent": "#0a4fbf",
        "accent_text": "#ffffff",
        "ok": "#1e6b34",
        "ok_bg": "#e6f4ea",
        "bad": "#a4161a",
        "bad_bg": "#fdecea",
        "warn": "#7a4d00",
        "warn_bg": "#fff4dc",
        "info_bg": "#e8f0fe",
        "focus": "#b3500f",
        "code_bg": "#f3f5f7",
    }
)
"""Named colours; the stylesheet uses nothing else."""

TEXT_PAIRS: tuple[tuple[str, str], ...] = (
    ("text", "bg"),
    ("text", "surface"),
    ("muted", "bg"),
    ("muted", "surface"),
    ("accent", "bg"),
    ("accent", "surface"),
    ("header_text", "header"),
    ("accent_text", "accent"),
    ("accent_text", "bad"),
    ("ok", "ok_bg"),
    ("bad", "bad_bg"),
    ("warn", "warn_bg"),
    ("accent", "info_bg"),
    ("text", "code_bg"),
    ("bad", "bg"),
    ("ok", "bg"),
)
"""``(foreground, background)`` palette names of every text the console draws."""

SERIES: tuple[str, ...] = ("accent", "bad", "ok", "warn")
"""Plot series colours, in order."""

GRAPHIC_COLOURS: tuple[tuple[str, str], ...] = (
    *((name, "bg") for name in SERIES),
    ("border", "bg"),
    ("focus", "bg"),
    ("focus", "surface"),
)
"""``(colour, background)`` of lines, bars, input borders and the focus ring (3:1 needed)."""


def _channel(value: int) -> float:
    c = value / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _luminance(colour: str) -> float:
    hexa = colour.lstrip("#")
    r, g, b = (int(hexa[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    a, b = _luminance(foreground), _luminance(background)
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)


def _css(p: Mapping[str, str]) -> str:
    base = f"""
*{{box-sizing:border-box}}
body{{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:{p["text"]};
background:{p["bg"]}}}
a{{color:{p["accent"]}}}
:focus-visible{{outline:3px solid {p["focus"]};outline-offset:2px}}
.skip{{position:absolute;left:-999px;top:0;background:{p["bg"]};color:{p["accent"]};padding:.5em}}
.skip:focus{{left:.5em}}
header.top{{background:{p["header"]};color:{p["header_text"]};display:flex;flex-wrap:wrap;gap:1em;
align-items:center;padding:.5em 1em}}
header.top a{{color:{p["header_text"]};text-decoration:none;padding:.25em .4em}}
header.top a[aria-current=page]{{text-decoration:underline;font-weight:600}}
header.top nav ul{{display:flex;gap:.25em;list-style:none;margin:0;padding:0;flex-wrap:wrap}}
header.top .who{{margin-left:auto;display:flex;gap:.5em;align-items:center}}
header.top :focus-visible{{outline-color:{p["header_text"]}}}
main{{padding:1em 1.5em;max-width:1400px}}
h1{{font-size:1.5em;margin:.3em 0 .6em}} h2{{font-size:1.2em;margin:1.2em 0 .5em}}
h3{{font-size:1.05em;margin:1em 0 .4em}}
.muted{{color:{p["muted"]}}}
.grid{{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:1em}}
.card{{background:{p["surface"]};border:1px solid {p["border"]};border-radius:6px;padding:.75em 1em}}
.stats{{display:flex;flex-wrap:wrap;gap:.5em 1.5em;margin:0;padding:0}}
.stats div{{min-width:8em}} .stats dt{{color:{p["muted"]};font-size:.85em}}
.stats dd{{margin:0;font-size:1.25em;font-weight:600}}
table{{border-collapse:collapse;width:100%;margin:.5em 0}}
th,td{{text-align:left;padding:.3em .5em;border-bottom:1px solid {p["border"]};vertical-align:top}}
th{{font-weight:600}} td.num,th.num{{text-align:right;font-variant-numeric:tabular-nums}}
.badge{{display:inline-block;padding:0 .45em;border-radius:4px;font-size:.85em;font-weight:600}}
.ok{{color:{p["ok"]};background:{p["ok_bg"]}}} .bad{{color:{p["bad"]};background:{p["bad_bg"]}}}
.warn{{color:{p["warn"]};background:{p["warn_bg"]}}} .info{{color:{p["accent"]};background:{p["info_bg"]}}}
.notice{{padding:.6em .9em;border-radius:6px;margin:.5em 0}}
form.inline{{display:inline}}
form.filters{{display:flex;flex-wrap:wrap;gap:.5em 1em;align-items:flex-end;margin:.5em 0 1em}}
label{{display:flex;flex-direction:column;font-size:.9em;gap:.15em}}
label.check{{flex-direction:row;align-items:center;gap:.4em}}
input,select,textarea{{font:inherit;color:{p["text"]};background:{p["bg"]};border:1px solid {p["border"]};
border-radius:4px;padding:.3em .45em}}
button{{font:inherit;background:{p["accent"]};color:{p["accent_text"]};border:0;border-radius:4px;
padding:.4em .9em;cursor:pointer}}
button.danger{{background:{p["bad"]}}}
button.link{{background:none;color:{p["header_text"]};text-decoration:underline;padding:.25em .4em}}
pre,code{{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:{p["code_bg"]}}}
pre{{padding:.6em;overflow:auto;white-space:pre-wrap;word-break:break-word;border-radius:4px}}
figure{{margin:0}} figcaption{{font-weight:600;margin:.2em 0}}
svg.plot{{width:100%;height:auto;max-height:220px;background:{p["bg"]}}}
.message{{border-left:4px solid {p["border"]};padding:.2em .8em;margin:.4em 0}}
.message .role{{font-weight:600;color:{p["muted"]};font-size:.85em}}
dl.kv{{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:.5em 0}}
dl.kv dt{{color:{p["muted"]}}} dl.kv dd{{margin:0;word-break:break-all}}
.pager{{display:flex;gap:1em;margin:1em 0}}
.key{{margin-right:1em}}
"""
    return base + "".join(f".k{i}{{color:{p[name]}}}\n" for i, name in enumerate(SERIES))


CSS: str = _css(PALETTE)
"""The stylesheet, built from :data:`PALETTE`."""
