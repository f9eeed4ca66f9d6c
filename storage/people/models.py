"""Profiles shared across the partnership: people, locations and groups."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from storage.base import Base, BigIntKey, created_at, enum_column, intpk, updated_at
from storage.people.names import normalise_name, search_name_for


class ContactMethod(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    LETTER = "letter"
    IN_PERSON = "in_person"
    THROUGH_AGENCY = "through_agency"
    DO_NOT_CONTACT = "do_not_contact"


class VulnerabilityKind(enum.StrEnum):
    """Markers that change how a victim is worked with (and feed risk screening)."""

    DISABILITY = "disability"
    LONG_TERM_ILLNESS = "long_term_illness"
    MENTAL_HEALTH = "mental_health"
    LEARNING_DISABILITY = "learning_disability"
    AGE = "age"
    LANGUAGE_OR_COMMUNICATION = "language_or_communication"
    SOCIAL_ISOLATION = "social_isolation"
    SUBSTANCE_MISUSE = "substance_misuse"
    DOMESTIC_ABUSE = "domestic_abuse"
    PREGNANCY = "pregnancy"
    CARER = "carer"
    OTHER = "other"


class AddressKind(enum.StrEnum):
    HOME = "home"
    PREVIOUS = "previous"
    CORRESPONDENCE = "correspondence"
    TEMPORARY = "temporary"
    WORK = "work"


class Location(Base):
    """An address or a place without one (a park, a stairwell) where things happen."""

    __tablename__ = "locations"
    __table_args__ = (
        CheckConstraint(
            "address_line_1 IS NOT NULL OR description IS NOT NULL", name="address_or_description"
        ),
        CheckConstraint("postcode IS NULL OR postcode = upper(postcode)", name="postcode_upper"),
        CheckConstraint(
            "(latitude IS NULL AND longitude IS NULL) OR "
            "(latitude IS NOT NULL AND longitude IS NOT NULL"
            " AND latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180)",
            name="coordinates_pair_in_range",
        ),
    )

    id: Mapped[intpk]
    description: Mapped[str | None] = mapped_column(String(300))
    address_line_1: Mapped[str | None] = mapped_column(String(200))
    address_line_2: Mapped[str | None] = mapped_column(String(200))
    town: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(10), index=True)
    uprn: Mapped[str | None] = mapped_column(String(12), unique=True)
    area: Mapped[str | None] = mapped_column(String(100), index=True)
    ward: Mapped[str | None] = mapped_column(String(100))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[created_at]

    def one_line(self) -> str:
        parts = [self.description, self.address_line_1, self.address_line_2, self.town]
        parts.append(self.postcode)
        return ", ".join(p for p in parts if p)


def _search_given_default(context: DefaultExecutionContext) -> str:
    """Column defaults for Core inserts that give the names but not their search forms."""
    row: dict[str, Any] = context.get_current_parameters()
    return search_name_for(row.get("given_name"), row.get("known_as"))


def _search_family_default(context: DefaultExecutionContext) -> str:
    return normalise_name(context.get_current_parameters().get("family_name"))


class Person(Base):
    """Anyone a case is about: victim, complainant, perpetrator, witness.

    The role belongs to the case (CaseParticipant), not the person: the same person can be a
    victim on one case and a witness on another.
    """

    __tablename__ = "people"
    __table_args__ = (
        CheckConstraint(
            "length(trim(given_name)) > 0 OR length(trim(family_name)) > 0", name="has_a_name"
        ),
        CheckConstraint(
            "NOT (preferred_contact = 'phone' AND phone IS NULL)", name="phone_when_preferred"
        ),
        CheckConstraint(
            "NOT (preferred_contact = 'email' AND email IS NULL)", name="email_when_preferred"
        ),
        # The duplicate check's trigram index, both search columns in one GIN index so that
        # one scan can test both. PostgreSQL only (pg_trgm): ddl_if keeps it out of SQLite's
        # DDL, and info tells the migration comparison (migrations/env.py) not to expect it.
        Index(
            "ix_people_search_trgm",
            "search_given",
            "search_family",
            postgresql_using="gin",
            postgresql_ops={"search_given": "gin_trgm_ops", "search_family": "gin_trgm_ops"},
            info={"only_on_dialect": "postgresql"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[intpk]
    given_name: Mapped[str] = mapped_column(String(100), default="")
    family_name: Mapped[str] = mapped_column(String(100), default="", index=True)
    known_as: Mapped[str | None] = mapped_column(String(100))
    # What the duplicate check (storage/people/duplicates.py) searches, in the normal form
    # of storage.people.names: "given known-as", and the family name. Kept up to date on
    # every ORM insert and update (below) and on Core inserts through the column defaults;
    # anything writing raw SQL must fill them itself. The server default '' is there because
    # SQLite can only add a NOT NULL column that has one (migration 0002; rebuilding the
    # table instead would run its ON DELETE CASCADEs).
    search_given: Mapped[str] = mapped_column(
        Text, default=_search_given_default, server_default=text("''")
    )
    search_family: Mapped[str] = mapped_column(
        Text, default=_search_family_default, server_default=text("''")
    )
    date_of_birth: Mapped[date | None] = mapped_column(Date, index=True)
    gender: Mapped[str | None] = mapped_column(String(40))
    # Contact preferences: a victim of abuse may only be safe to call at certain times.
    preferred_contact: Mapped[ContactMethod | None] = enum_column(ContactMethod, nullable=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))
    safe_to_leave_messages: Mapped[bool | None]
    contact_notes: Mapped[str | None] = mapped_column(Text)
    needs_interpreter: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str | None] = mapped_column(String(60))
    # A locked profile shows other agencies only the name and who to contact.
    restricted: Mapped[bool] = mapped_column(default=False)
    created_by_agency_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("agencies.id"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    addresses: Mapped[list[PersonAddress]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="PersonAddress.id"
    )
    vulnerabilities: Mapped[list[Vulnerability]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="Vulnerability.id"
    )

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p)


@event.listens_for(Person, "before_insert")
@event.listens_for(Person, "before_update")
def _refresh_search_names(_mapper: Mapper[Person], _connection: Any, person: Person) -> None:
    search_given = search_name_for(person.given_name, person.known_as)
    if person.search_given != search_given:
        person.search_given = search_given
    search_family = normalise_name(person.family_name)
    if person.search_family != search_family:
        person.search_family = search_family


class PersonAddress(Base):
    __tablename__ = "person_addresses"
    __table_args__ = (
        CheckConstraint("until_date IS NULL OR until_date >= from_date", name="dates_in_order"),
    )

    id: Mapped[intpk]
    person_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("locations.id"), index=True)
    kind: Mapped[AddressKind] = enum_column(AddressKind, default=AddressKind.HOME)
    from_date: Mapped[date | None] = mapped_column(Date)
    until_date: Mapped[date | None] = mapped_column(Date)

    person: Mapped[Person] = relationship(back_populates="addresses")
    location: Mapped[Location] = relationship(lazy="joined")


class Vulnerability(Base):
    __tablename__ = "vulnerabilities"
    __table_args__ = (UniqueConstraint("person_id", "kind"),)

    id: Mapped[intpk]
    person_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[VulnerabilityKind] = enum_column(VulnerabilityKind)
    detail: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    recorded_at: Mapped[created_at]

    person: Mapped[Person] = relationship(back_populates="vulnerabilities")


class Group(Base):
    """A set of people worked with together, e.g. a group of youths gathering in a park."""

    __tablename__ = "groups"
    __table_args__ = (CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),)

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    usual_location_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("locations.id"))
    created_at: Mapped[created_at]

    members: Mapped[list[GroupMember]] = relationship(
        back_populates="group", cascade="all, delete-orphan"
    )


class GroupMember(Base):
    __tablename__ = "group_members"
    __table_args__ = (
        UniqueConstraint("group_id", "person_id"),
        CheckConstraint("left_at IS NULL OR left_at >= joined_at", name="dates_in_order"),
    )

    id: Mapped[intpk]
    group_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("groups.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("people.id"), index=True)
    joined_at: Mapped[created_at]
    left_at: Mapped[datetime | None]

    group: Mapped[Group] = relationship(back_populates="members")
    person: Mapped[Person] = relationship()
