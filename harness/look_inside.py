"""Drive the Draw tab's "Look inside" view in a page that harness.app_driver opened: open it, and tap a
unit's cell on its layers picture, as a visitor does with a mouse or a finger."""
from __future__ import annotations

from webapp.draw.inside_pictures import COLUMNS, GAP, PX, layout

SHIPPED_WIDTHS = (200, 150, 100, 80, 10)    # the shipped model's layers, outputs last


def open_look_inside(page, touch: bool = False) -> None:
    """Open the view (its title tapped or clicked) and wait until it shows the drawing's 8 neighbours."""
    title = page.locator("#inside").get_by_text("Look inside").first
    title.tap() if touch else title.click()
    page.locator("#inside-neighbours figure").nth(7).wait_for(timeout=60_000)


def tap_unit(page, layer: int, unit: int, touch: bool = False, widths: tuple[int, ...] = SHIPPED_WIDTHS) -> None:
    """Tap (or click) the centre of the cell of `unit` in `layer` on the layers picture as it is shown."""
    img = page.locator("img.inside-layers")
    box = img.bounding_box()
    natural = page.evaluate("() => { const i = document.querySelector('img.inside-layers');"
                            " return [i.naturalWidth, i.naturalHeight]; }")
    x = GAP + unit % COLUMNS * PX + PX / 2
    y = layout(widths)[layer] + unit // COLUMNS * PX + PX / 2
    position = {"x": x / natural[0] * box["width"], "y": y / natural[1] * box["height"]}
    img.tap(position=position) if touch else img.click(position=position)
