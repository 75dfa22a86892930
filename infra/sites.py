"""A configuration of many sites for the demo and the bench: the demo's four, then generated ones.

    python -m infra.sites --count 2000 --out .local/sites-2000     # `make run SITES=2000` does this

Writes a complete configuration directory: ``sites.toml`` with ``--count`` sites, and every other
file of the source configuration (``chalicelib/config/`` by default: rules, replies, routing)
copied as it is. The demo's own sites come first, unchanged, so the demo texts, the simulator and
the browser tests still reach them; the others are coach lines and stores, in Britain (English,
Europe/London) and France (French, Europe/Paris), about as many stores as a national retailer.

Every number comes from the ranges reserved for drama and fiction, as the demo's do: British
sites answer on Ofcom's drama geographic numbers of their city (0113 496 0xxx for Leeds...),
French ones on ARCEP's fiction numbers of their region (01 99 00 xx xx...); staff mobiles are
07700 900xxx (Ofcom: a thousand, less those the demo and the tests use) and 06 39 98 xx xx (ARCEP).
Numbers, codes and e-mail addresses are unique; the same ``--seed`` gives the same files.
British sites are about a third, fewer once the British staff mobiles run out.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import unicodedata
from pathlib import Path

from chalicelib.config_loader import DEFAULT_CONFIG_DIR

UK_SHARE = 0.35
COACH_SHARE = 0.3
# (town, drama prefix of its area, in E.164: 1,000 numbers each after it)
UK_TOWNS = [
    ("Leeds", "+441134960"), ("Sheffield", "+441144960"), ("Nottingham", "+441154960"),
    ("Leicester", "+441164960"), ("Bristol", "+441174960"), ("Reading", "+441184960"),
    ("Birmingham", "+441214960"), ("Edinburgh", "+441314960"), ("Glasgow", "+441414960"),
    ("Liverpool", "+441514960"), ("Manchester", "+441614960"), ("London", "+442079460"),
    ("Newcastle", "+441914980"), ("Belfast", "+442896496"), ("Cardiff", "+442920180"),
]
UK_PLACES = [
    "High Street", "Market Square", "Station Road", "Church Street", "Victoria Centre", "Kings Road",
    "Queen Street", "Bridge Street", "Castle Street", "Park Lane", "Retail Park", "Arndale", "Riverside",
    "Westgate", "Eastgate", "Northgate", "Old Town", "Corn Exchange", "Mill Lane", "Harbour View",
    "St James", "The Mall", "Broadway", "New Street", "Cathedral Quarter", "University", "Airport",
    "Meadowhall", "Union Street", "Chapel Walk", "Albion Street", "George Street", "London Road",
    "Cross Keys", "Abbey Walk", "Red Lion Square", "Waterfront", "Central Station", "Junction 4",
    "Fountain Square",
]
# (town, fiction prefix of its region, in E.164: 10,000 numbers each after it)
FR_TOWNS = [
    ("Paris", "+3319900"), ("Rennes", "+3326191"), ("Nantes", "+3326191"), ("Lille", "+3335301"),
    ("Strasbourg", "+3335301"), ("Reims", "+3335301"), ("Lyon", "+3346571"), ("Marseille", "+3346571"),
    ("Nice", "+3346571"), ("Grenoble", "+3346571"), ("Montpellier", "+3346571"), ("Bordeaux", "+3353649"),
    ("Toulouse", "+3353649"), ("Limoges", "+3353649"), ("Orléans", "+3326191"), ("Dijon", "+3335301"),
]
FR_PLACES = [
    "Centre", "Gare", "République", "Part-Dieu", "Vieux-Port", "Place du Marché", "Les Halles",
    "Cathédrale", "Saint-Michel", "Jean-Jaurès", "Victor-Hugo", "Hôtel de Ville", "Les Quais",
    "Grand Place", "Carnot", "Gambetta", "Bellecour", "Capitole", "Mériadeck", "Euralille",
    "Joliette", "Foch", "Croix-Rousse", "Confluence", "Presqu'île", "Porte Maillot", "Bastille",
    "Montparnasse", "Nation", "La Défense", "Belle-Épine", "Polygone", "Odysseum", "Cap 3000",
    "Rivetoile", "Toison d'Or", "Saint-Sever", "Brotteaux", "Chartrons", "Opéra Sud",
]
SHIFTS = [
    [("early", ["mon", "tue", "wed", "thu", "fri"], 7, 15), ("late", ["mon", "tue", "wed", "thu", "fri"], 15, 23),
     ("weekend", ["sat", "sun"], 8, 20)],
    [("morning", ["mon", "tue", "wed", "thu", "fri", "sat"], 8, 14),
     ("afternoon", ["mon", "tue", "wed", "thu", "fri", "sat"], 14, 20)],
]
FIRST_NAMES = {"en": ["Amy", "Ben", "Chloe", "Dan", "Ella", "Femi", "Grace", "Harry", "Isla", "Jack", "Kiran"],
               "fr": ["Alice", "Bruno", "Camille", "David", "Emma", "Fatou", "Gaël", "Hugo", "Inès", "Jules"]}


def _reserved(source: Path) -> set[str]:
    """Numbers the source configuration, the simulator's customers and the tests use: never a generated one."""
    from infra.simulate import CUSTOMERS

    text = source.joinpath("sites.toml").read_text(encoding="utf-8")
    for folder in (Path(__file__).parent, Path(__file__).parent.parent / "tests"):
        for path in folder.glob("*.py"):
            text += path.read_text(encoding="utf-8")
    return set(re.findall(r"\+\d{9,15}", text)) | set(CUSTOMERS)


def _ascii(text: str) -> str:
    """GSM-7 friendly (as SMS replies name a site): accents dropped."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _toml(value: object) -> str:
    """A TOML value: JSON's strings, numbers and arrays are TOML's (basic strings, same escapes)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _site_block(site: dict) -> str:
    lines = ["[[sites]]"]
    for key, value in site.items():
        if key == "roster":
            lines.append("roster = [\n" + "".join(f"  {_toml(shift)},\n" for shift in value) + "]")
        else:
            lines.append(f"{key} = {_toml(value)}")
    return "\n".join(lines) + "\n"


class _Numbers:
    """Unique numbers drawn in order from reserved ranges, skipping those already used."""

    def __init__(self, used: set[str]) -> None:
        self.used = set(used)
        self.next: dict[str, int] = {}

    def take(self, prefix: str, width: int, first: int = 0) -> str | None:
        n = self.next.get(prefix, first)
        while n < 10 ** width:
            number = f"{prefix}{n:0{width}d}"
            n += 1
            if number not in self.used:
                self.used.add(number)
                self.next[prefix] = n
                return number
        self.next[prefix] = n
        return None


def generate(count: int, *, seed: int = 2000, source: Path = DEFAULT_CONFIG_DIR) -> str:
    """The text of a sites.toml of ``count`` sites: the source's own, then generated ones."""
    import tomllib

    text = source.joinpath("sites.toml").read_text(encoding="utf-8")
    own = tomllib.loads(text)["sites"]
    if count < len(own):
        raise ValueError(f"--count must be at least {len(own)}: the demo's own sites come first")
    rng = random.Random(seed)
    numbers = _Numbers(_reserved(source))
    codes = {c.upper() for s in own for c in s["codes"]}
    ids = {s["id"] for s in own}
    names = {s["name"] for s in own}
    spots = {True: [(t, p, n) for t, n in UK_TOWNS for p in UK_PLACES],
             False: [(t, p, n) for t, n in FR_TOWNS for p in FR_PLACES]}
    free = {True: [], False: []}
    rounds = {True: 0, False: 0}
    blocks = []
    line, store = 20, 100
    for _ in range(count - len(own)):
        uk = rng.random() < UK_SHARE
        staff = numbers.take("+447700900", 3, first=200) if uk else None
        if staff is None:  # French, or the British staff mobiles are spent
            uk, staff = False, numbers.take("+3363998", 4, first=1000)
        if staff is None:
            raise ValueError("the reserved fiction numbers are spent: fewer sites, please")
        language, zone, emergency = ("en", "Europe/London", "999") if uk else ("fr", "Europe/Paris", "112")
        towns = UK_TOWNS if uk else FR_TOWNS
        if rng.random() < COACH_SHARE:
            line += rng.randint(1, 3)
            (a, prefix), (b, _) = rng.sample(towns, 2)
            site = {
                "id": f"line-{line}", "name": f"Coach line {line} {a}–{b}" if uk else f"Ligne {line} {a}–{b}",
                "short_name": {"en": f"line {line}", "fr": f"ligne {line}"}, "kind": "coach",
                "codes": [f"L{line}", f"LINE{line}", f"LIGNE{line}"],
            }
        else:
            store += rng.randint(1, 4)
            if not free[uk]:  # every town and place has a store: another round, numbered (Leeds Arndale 2)
                rounds[uk] += 1
                free[uk] = [(t, p if rounds[uk] == 1 else f"{p} {rounds[uk]}", n) for t, p, n in spots[uk]]
                rng.shuffle(free[uk])
            town, place, prefix = free[uk].pop()
            name = f"{town} {place} store" if uk else f"Magasin {town} {place}"
            site = {
                "id": f"store-{store}", "name": name,
                "short_name": {"en": _ascii(f"{town} {place} store"), "fr": _ascii(f"magasin {town} {place}")},
                "kind": "store", "offer_daily_budget": rng.choice([10, 20, 20, 30]), "codes": [f"S{store}"],
            }
        number = numbers.take(prefix, 3 if uk else 4)
        if number is None:
            raise ValueError(f"the fiction numbers of {prefix} are spent: fewer sites, please")
        assert site["id"] not in ids and not codes & set(site["codes"])
        ids.add(site["id"])
        names.add(site["name"])
        codes.update(site["codes"])
        site.update({"language": language, "timezone": zone, "numbers": [number], "staff_sms": [staff],
                     "manager_email": [f"{site['id']}@example.com"], "callback_minutes": rng.choice([10, 10, 15]),
                     "emergency_number": emergency})
        if site["kind"] == "store" and rng.random() < 0.5:
            people = rng.sample(FIRST_NAMES[language], 3)
            site["roster"] = [{"name": f"{who} ({shift})", "days": days, "start": start, "end": end}
                              for who, (shift, days, start, end) in zip(people, rng.choice(SHIFTS), strict=False)]
        blocks.append(_site_block(site))
    head = f"# Generated by `python -m infra.sites --count {count} --seed {seed}`: do not edit, generate again.\n"
    return head + text.rstrip("\n") + "\n\n" + "\n".join(blocks)


def spreader(config, seed: int = 2000):
    """Sends a demo text on to a site like the one it was written for: the same kind and language,
    busier sites more often (weights fixed by ``seed``). With the demo's four sites, nothing changes.
    A function of the number the text was sent to; the central number and unknown ones stay."""
    from itertools import accumulate

    rng = random.Random(seed)
    alike: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for site in config.sites:
        if site.numbers:
            alike.setdefault((site.kind, site.language), []).append((site.numbers[0], rng.lognormvariate(0, 1)))
    groups = {key: ([n for n, _ in group], list(accumulate(w for _, w in group))) for key, group in alike.items()}

    def spread(number: str) -> str:
        site = config.site_by_number(number)
        numbers, weights = groups.get((site.kind, site.language), ([], [])) if site else ([], [])
        if len(numbers) < 2:
            return number
        return rng.choices(numbers, cum_weights=weights)[0]

    return spread


def write(out: str | Path, count: int, *, seed: int = 2000, source: Path = DEFAULT_CONFIG_DIR) -> Path:
    """A complete configuration directory at ``out``: the generated sites.toml, the source's other files."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for path in Path(source).iterdir():
        if path.is_file() and path.name != "sites.toml":
            shutil.copyfile(path, out / path.name)
    (out / "sites.toml").write_text(generate(count, seed=seed, source=Path(source)), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--out", required=True, help="the configuration directory to write (VOIX_CONFIG_DIR)")
    parser.add_argument("--seed", type=int, default=2000)
    parser.add_argument("--source", type=Path, default=DEFAULT_CONFIG_DIR, help="the configuration to extend")
    args = parser.parse_args(argv)
    try:
        out = write(args.out, args.count, seed=args.seed, source=args.source)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{args.count} sites in {out / 'sites.toml'} (VOIX_CONFIG_DIR={out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
