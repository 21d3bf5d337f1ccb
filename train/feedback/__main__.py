"""`python -m train.feedback`: review a feedback folder before training on it.

    python -m train.feedback list [DIR]            # one line an item: id, label, app's answer, time, file
    python -m train.feedback list DIR --misread    # only those the app read wrong
    python -m train.feedback drop DIR ID [ID ...]  # delete items (their line and PNG)

DIR defaults to $FEEDBACK_DIR, else feedback/. A folder the app is pushing to the Hub is rewritten
locally only: delete from the dataset repo on the Hub as well."""
from __future__ import annotations

import argparse
import sys
from collections import Counter

from .folder import FeedbackError, drop_items, feedback_dir, read_feedback


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.feedback", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    default = str(feedback_dir())
    ls = sub.add_parser("list", help="list the items, checking each")
    ls.add_argument("dir", nargs="?", default=default)
    ls.add_argument("--misread", action="store_true", help="only items whose label differs from the app's answer")
    drop = sub.add_parser("drop", help="delete items by id")
    drop.add_argument("dir")
    drop.add_argument("ids", nargs="+", metavar="ID")
    args = ap.parse_args(argv)
    try:
        if args.command == "list":
            items = read_feedback(args.dir)
            shown = [i for i in items if not args.misread or i.record.get("predicted") not in (None, i.label)]
            for item in shown:
                r = item.record
                print(f"{item.id}\tlabel {item.label}\tapp said {r.get('predicted', '?')}\t"
                      f"{r.get('model', '?')}\t{r.get('time', '?')}\t{r['file_name']}")
            counts = Counter(i.label for i in items)
            print(f"{len(shown)} of {len(items)} items; by label: "
                  + " ".join(f"{d}:{counts[d]}" for d in range(10)), file=sys.stderr)
        else:
            dropped = drop_items(args.dir, set(args.ids))
            missing = set(args.ids) - {i.id for i in dropped}
            print(f"dropped {len(dropped)} item(s)" + (f"; not found: {' '.join(sorted(missing))}" if missing else ""))
            return 1 if missing else 0
    except (FeedbackError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
