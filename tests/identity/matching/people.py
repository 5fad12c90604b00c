"""A made-up population for the matching engine's tests: distinct people, seeded, plus the
hand-made cases the tests name (a typo'd email, a namesake with another birthday)."""

from __future__ import annotations

import random
from typing import Any

FIRST = ["olivia", "liam", "emma", "noah", "amelia", "oliver", "sophia", "elijah", "mia", "lucas"]
FIRST += ["harper", "mason", "evelyn", "logan", "abigail", "ethan", "emily", "aiden", "ella"]
FIRST += ["james", "chloe", "henry", "grace", "owen", "zoe", "jack", "lily", "wyatt", "nora"]
LAST = ["smith", "jones", "brown", "taylor", "wilson", "davies", "evans", "thomas", "roberts"]
LAST += ["johnson", "walker", "wright", "robinson", "thompson", "white", "hughes", "edwards"]
LAST += ["green", "hall", "wood", "harris", "lewis", "martin", "jackson", "clarke", "turner"]
CITIES = ["leeds", "york", "bath", "hull", "derby", "exeter", "bristol", "oxford"]
STREETS = ["high street", "station road", "church lane", "park avenue", "mill lane", "green way"]
DOMAINS = ("example.com", "example.org", "mail.example.net")


def population(count: int, *, seed: int = 11) -> list[dict[str, Any]]:
    """`count` distinct people with every default field filled, ids `p0`, `p1`, …"""
    rng = random.Random(seed)
    people = []
    for index in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        people.append(
            {
                "profile_id": f"p{index}",
                "first_name": first.title(),
                "last_name": last.title(),
                "email": f"{first}.{last}{index}@{rng.choice(DOMAINS)}",
                "phone": f"+44 7{rng.randrange(10**8, 10**9)}",
                "address": f"{rng.randrange(1, 200)} {rng.choice(STREETS)}",
                "city": rng.choice(CITIES),
                "postcode": f"{rng.choice('ABLMS')}{rng.randrange(1, 30)} {rng.randrange(1, 9)}XY",
                "dob": f"{rng.randrange(1940, 2005)}-{rng.randrange(1, 13):02}-{rng.randrange(1, 29):02}",
            }
        )
    return people


def duplicate(person: dict[str, Any], profile_id: str, **changes: Any) -> dict[str, Any]:
    """The same person seen again as another profile, with some fields written differently."""
    return {**person, "profile_id": profile_id, **changes}


def with_duplicates(count: int, every: int = 3) -> list[dict[str, Any]]:
    """A population in which every `every`th person has a second profile, as evidence for EM
    to learn from: alternately an email with two letters swapped and the phone written
    nationally, or a typo in the last name and no address."""
    people = population(count)
    copies = []
    for n, person in enumerate(people[::every]):
        again = f"{person['profile_id']}-again"
        if n % 2 == 0:
            email = person["email"]
            swapped = email[:2] + email[3] + email[2] + email[4:]
            changes = {"email": swapped, "phone": "0" + person["phone"][4:]}
        else:
            changes = {"last_name": person["last_name"][:-1], "address": None}
        copies.append(duplicate(person, again, **changes))
    return people + copies
