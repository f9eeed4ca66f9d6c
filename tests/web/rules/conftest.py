from tests.storage.standards.conftest import published, standards_calendar  # noqa: F401
