"""`concilio cache stats|clear`: the response cache (memory/cache/) in the data folder."""

from __future__ import annotations

import argparse
import json


def add_commands(sub) -> None:
    c = sub.add_parser("cache", help="the response cache: stats, or clear it (all, or only expired entries)")
    c.add_argument("action", nargs="?", default="stats", choices=["stats", "clear"])
    c.add_argument("--expired", action="store_true", help="clear: only the entries past their TTL")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_cache)


def report(stats: dict, counts: dict) -> dict:
    lookups = counts.get("hit-exact", 0) + counts.get("hit-near", 0) + counts.get("miss", 0)
    hits = counts.get("hit-exact", 0) + counts.get("hit-near", 0)
    return {**stats, "lookups": lookups, "hits": hits, "hit_rate": round(hits / lookups, 3) if lookups else None,
            "by_outcome": counts}


def cmd_cache(args: argparse.Namespace) -> int:
    from graphs.api import open_cache
    from memory import stats as ledger_stats

    with open_cache() as cache:
        if cache is None:
            print("the response cache can't be opened (see the log line above)")
            return 1
        if args.action == "clear":
            removed = cache.clear(expired_only=args.expired)
            out = {"removed": removed, "expired_only": args.expired, "path": str(cache.path)}
            print(json.dumps(out) if args.json else f"removed {removed} cached answer(s) from {cache.path}")
            return 0
        result = report(cache.stats(), ledger_stats.cache_outcomes())
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    rate = f"{result['hit_rate']:.0%}" if result["hit_rate"] is not None else "-"
    ttl = f"{result['ttl_seconds']:.0f} s" if result["ttl_seconds"] else "none"
    outcome = result["by_outcome"]
    print(f"{result['path']}: {result['live']} answers ({result['expired']} expired, {result['with_vector']} "
          f"first turns with a vector), {result['bytes'] / 1e6:.1f} MB, TTL {ttl}\n"
          f"lookups {result['lookups']}: {result['hits']} hits ({rate}; exact {outcome.get('hit-exact', 0)}, "
          f"near {outcome.get('hit-near', 0)}), {outcome.get('miss', 0)} misses (from the ledger)")
    return 0
