"""Name, street and place pools for synthetic data. All generated: no real people or places.

Given names are ordinary first names in the spellings that trip up duplicate checks
(Jon/John, Steven/Stephen, Zoe/Zoey); family names are invented by joining two syllables
("Brack" + "well"), so no real family is named. Places are in the invented county of
Northshire, whose postcodes use the outward codes NS1 to NS9: no real postcode area is "NS".
"""

from __future__ import annotations

import random

# Spellings of the same name that practitioners really mix up. Each group is one name.
FEMALE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("Catherine", "Katherine", "Kathryn"), ("Claire", "Clare"), ("Sarah", "Sara"),
    ("Rebecca", "Rebekah"), ("Ann", "Anne"), ("Tracy", "Tracey"), ("Lindsay", "Lindsey"),
    ("Zoe", "Zoey"), ("Isabel", "Isobel", "Isabelle"), ("Amy", "Aimee"), ("Nicola", "Nichola"),
    ("Niamh", "Neve"), ("Sophie", "Sophia"), ("Hannah", "Hanna"), ("Megan", "Meghan"),
    ("Shannon", "Shanon"), ("Kirsty", "Kirstie"), ("Louise", "Louisa"), ("Siobhan", "Shevaun"),
    ("Eleanor", "Elinor"), ("Caitlin", "Katelyn"), ("Teresa", "Theresa"), ("Vicky", "Vikki"),
)
MALE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("John", "Jon"), ("Steven", "Stephen"), ("Sean", "Shaun", "Shawn"), ("Philip", "Phillip"),
    ("Mohammed", "Muhammad", "Mohammad"), ("Geoffrey", "Jeffrey"), ("Leigh", "Lee"),
    ("Carl", "Karl"), ("Marc", "Mark"), ("Graham", "Graeme"), ("Alan", "Allan", "Allen"),
    ("Brian", "Bryan"), ("Aaron", "Aron"), ("Connor", "Conor"), ("Callum", "Calum"),
    ("Jayden", "Jaden"), ("Dominic", "Dominik"),
)
FEMALE_SINGLES: tuple[str, ...] = (
    "Aisha", "Agnes", "Alice", "Amara", "Amelia", "Anika", "Ava", "Beatrice", "Bethany",
    "Brenda", "Chloe", "Deborah", "Denise", "Elif", "Ellie", "Emma", "Fatima", "Fiona", "Freya",
    "Gemma", "Grace", "Harriet", "Irene", "Jade", "Janet", "Jasmine", "Joanne", "Julie",
    "Kayleigh", "Kelly", "Laura", "Leah", "Lily", "Lucy", "Maja", "Margaret", "Maria",
    "Maureen", "Milena", "Nadia", "Olivia", "Patricia", "Pauline", "Priya", "Rachel", "Rosa",
    "Ruby", "Samira", "Sandra", "Simone", "Stacey", "Susan", "Valerie", "Zara",
)
MALE_SINGLES: tuple[str, ...] = (
    "Adam", "Abdul", "Alfie", "Andrew", "Arjun", "Barry", "Bilal", "Bogdan", "Chidi", "Colin",
    "Craig", "Daniel", "Darren", "Declan", "Dylan", "Ewan", "Finley", "Gareth", "George",
    "Hamza", "Harry", "Hassan", "Ibrahim", "Imran", "Jack", "Jakub", "James", "Joseph",
    "Kareem", "Keith", "Kevin", "Kwame", "Liam", "Malik", "Martin", "Michael", "Nathan", "Neil",
    "Noah", "Oskar", "Owen", "Paul", "Rahul", "Ravi", "Rhys", "Robert", "Ryan", "Scott",
    "Tariq", "Thomas", "Tomasz", "Usman", "Wayne", "Yusuf",
)
FEMALE_NAMES: tuple[str, ...] = tuple(
    sorted({n for g in FEMALE_GROUPS for n in g} | set(FEMALE_SINGLES)))
MALE_NAMES: tuple[str, ...] = tuple(sorted({n for g in MALE_GROUPS for n in g} | set(MALE_SINGLES)))
GIVEN_NAMES: tuple[str, ...] = tuple(sorted({*FEMALE_NAMES, *MALE_NAMES}))
GIVEN_NAME_GROUPS = FEMALE_GROUPS + MALE_GROUPS
_GROUP_OF = {name: group for group in GIVEN_NAME_GROUPS for name in group}

# Family names: two invented syllables, e.g. "Brack" + "well". Built once, from a fixed seed,
# so the list is the same on every machine and for every demo seed.
_FAMILY_HEADS = (
    "Ash", "Brack", "Corr", "Dun", "Els", "Farr", "Gild", "Har", "Ing", "Jess", "Kell", "Lark",
    "Marl", "Nor", "Orch", "Pen", "Quar", "Rush", "Stann", "Toll", "Up", "Venn", "Weth",
    "Yar", "Bal", "Cald", "Dray", "Fenn", "Gorr", "Hask", "Lind", "Mott", "Pell", "Rid",
    "Sell", "Thorn", "Wick", "Ald", "Brom", "Cran",
)
_FAMILY_TAILS = (
    "down", "well", "more", "worth", "wick", "cott", "ard", "hale", "mere", "wood", "by",
    "ford", "stead", "gate", "ton", "ridge", "holme", "shaw", "croft", "lake", "ley", "field",
    "ham", "bury", "combe", "ling",
)


def _family_names(count: int = 250) -> tuple[str, ...]:
    rng = random.Random("casebridge:family-names")  # noqa: S311 (fixed pool, not secrets)
    pairs = sorted({h + t for h in _FAMILY_HEADS for t in _FAMILY_TAILS})
    pairs = [p for p in pairs if p not in GIVEN_NAMES and len(p) >= 5]
    return tuple(sorted(rng.sample(pairs, k=min(count, len(pairs)))))


FAMILY_NAMES: tuple[str, ...] = _family_names()

AREAS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # (area, postcode district, wards)
    ("Northgate", "NS1", ("Northgate Central", "Northgate Park", "Kiln Fields")),
    ("Riverside", "NS2", ("Riverside East", "Riverside West", "Wharf")),
    ("Millbrook", "NS3", ("Millbrook", "Foundry", "Weavers")),
    ("Eastfield", "NS4", ("Eastfield North", "Eastfield South", "Copse Hill")),
    ("Hollins", "NS5", ("Hollins", "Hollins Moor", "Greenbank")),
    ("Castlebury", "NS6", ("Castlebury Old Town", "Castlebury Vale", "Priory")),
    ("Ferndale", "NS7", ("Ferndale", "Ferndale Heath", "Orchard")),
    ("Southmoor", "NS8", ("Southmoor", "Southmoor Common", "Tannery")),
    ("Westwick", "NS9", ("Westwick", "Westwick Cross", "Canal Side")),
)
# Bigger districts get more addresses (and incidents).
AREA_WEIGHTS = (1.6, 1.3, 1.0, 1.2, 0.8, 0.9, 0.7, 1.1, 0.6)

_STREET_ROOTS = (
    "Alder", "Brook", "Canal", "Dene", "Elm", "Foundry", "Gorse", "Heron", "Ivy", "Juniper",
    "Kiln", "Larch", "Maple", "Nettle", "Oak", "Pike", "Quarry", "Rowan", "Sorrel", "Tanner",
    "Union", "Vicarage", "Willow", "Yew", "Badger", "Chapel", "Dyer", "Forge", "Granary",
    "Hawthorn", "Lime", "Mill", "Orchard", "Poplar", "Reed", "Spinney", "Thistle", "Weir",
)
_STREET_KINDS = (
    "Road", "Street", "Lane", "Close", "Way", "Court", "Drive", "Avenue", "Terrace", "Row",
    "Walk", "Place", "Crescent", "Gardens", "Mews",
)
STREETS: tuple[str, ...] = tuple(f"{r} {k}" for r in _STREET_ROOTS for k in _STREET_KINDS)
BLOCKS = ("Heron House", "Kestrel House", "Ashdown Court", "Millbrook Tower", "Foundry House",
          "Weaver Court", "Canal View", "Priory Heights")

# Public places where things happen again and again: the hot spots.
PLACE_KINDS = (
    "Play park", "Shopping parade", "Bus station", "Car park", "Community centre",
    "Recreation ground", "Underpass", "Canal towpath", "Stairwell", "Convenience store",
    "Takeaway", "School gates", "Playing fields", "Railway footbridge", "Garages",
    "Bin store", "Skate park", "Alleyway", "Library", "Pub car park",
)

# Postcode inward codes: a digit and two letters from the ones Royal Mail uses there.
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def postcode(district: str, rng: random.Random) -> str:
    return (f"{district} {rng.randint(1, 9)}{rng.choice(INWARD_LETTERS)}"
            f"{rng.choice(INWARD_LETTERS)}")


def misspelt(name: str, rng: random.Random) -> str:
    """The same name written differently: a known variant, or a slip of the keyboard."""
    group = _GROUP_OF.get(name)
    if group and rng.random() < 0.75:
        return rng.choice([n for n in group if n != name])
    return typo(name, rng)


def typo(name: str, rng: random.Random) -> str:
    """A dropped, doubled or swapped letter (never the first, so the initial still matches)."""
    if len(name) < 4:
        return name + name[-1]
    i = rng.randint(1, len(name) - 2)
    kind = rng.random()
    if kind < 0.7 and name[i] != name[i + 1]:
        if kind < 0.25:
            return name[:i] + name[i] + name[i:]  # doubled letter: Marlow -> Marllow
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]  # swapped: Marlow -> Malrow
    return name[:i] + name[i + 1:]  # dropped letter: Harwick -> Harwck
