"""`citybrain analyze ...`: precursor analysis (e.g. the NYC collisions validation)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="precursor analysis (e.g. the NYC collisions validation).", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


@app.callback()
def _group() -> None:
    """Precursor analysis: pyramids, trend alarms and emerging hotspots."""


@app.command()
def nyc(
    data: Annotated[str | None, typer.Option(help="the crash CSV or its folder (default ../shared/data/"
                                                  "nyc_collisions)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object as the last line")] = False,
    baseline_weeks: Annotated[int, typer.Option(min=2, help="CUSUM trailing baseline, weeks")] = 6,
    shift: Annotated[float, typer.Option(min=1.05, help="the rise the CUSUM is tuned to catch (×)")] = 1.5,
    recent_weeks: Annotated[int, typer.Option(min=1, help="hotspot window, weeks")] = 4,
    cell_m: Annotated[float, typer.Option(min=100, help="hotspot cell size, metres")] = 500.0,
) -> None:
    """Validate the precursor methods on NYC motor-vehicle collisions: pyramids, CUSUM alarms, hotspots."""
    from citybrain.analytics import nyc as nyc_mod

    try:
        path = nyc_mod.locate(data)
        result = nyc_mod.analyse(path, baseline_weeks=baseline_weeks, shift=shift, recent_weeks=recent_weeks,
                                 cell_m=cell_m)
    except (FileNotFoundError, ValueError) as exc:
        err.print(f"[red]analyze nyc could not run:[/] {exc}")
        if as_json:
            print(json.dumps({"dataset": "nyc_collisions", "error": str(exc)}))
        raise typer.Exit(1) from None
    out = result.as_dict()
    console.print(f"{out['crashes']:,} crashes {out['first_day']} – {out['last_day']}, "
                  f"{out['without_coordinates']:,} without coordinates; {out['weeks']} whole weeks from "
                  f"{out['from_week']}; {out['seconds']} s")
    table = Table(title="pyramid: no injury : injury : fatal")
    for col in ("borough", "no injury", "injury", "fatal", "no inj./injury", "injury/fatal"):
        table.add_column(col, justify="left" if col == "borough" else "right")
    for p in out["pyramids"]:
        table.add_row(p["borough"], f"{p['no_injury']:,}", f"{p['injury']:,}", str(p["fatal"]),
                      str(p["no_injury_per_injury"]), str(p["injury_per_fatal"]))
    console.print(table)
    table = Table(title="CUSUM trend alarms (weekly counts per borough)")
    for col in ("week", "borough", "series", "count", "baseline", "cusum", "limit"):
        table.add_column(col)
    for a in out["alarms"]:
        table.add_row(a["week"], a["borough"], a["series"], str(a["count"]), str(a["baseline"]), str(a["cusum"]),
                      str(a["limit"]))
    console.print(table)
    hs = out["hotspots"]
    table = Table(title=f"hotspots: {hs['found']} hot, {hs['emerging']} emerging, of {hs['cells']:,} cells "
                        f"({cell_m:.0f} m); {hs['evaluated_weeks']} weeks evaluated")
    for col in ("lon", "lat", "class", "emerging", "window", "exp. own", "exp. city", "q", "weekly series"):
        table.add_column(col)
    for h in hs["top"]:
        table.add_row(str(h["lon"]), str(h["lat"]), h["category"], "yes" if h["emerging"] else "",
                      str(h["recent_count"]), str(h["expected_own"]), str(h["expected_city"]),
                      str(h["q_emerging"] if h["emerging"] else h["q_city"]), " ".join(map(str, h["series"])))
    console.print(table)
    if as_json:
        print(json.dumps(out, ensure_ascii=False, default=str))
