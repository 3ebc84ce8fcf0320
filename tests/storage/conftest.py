from tests.azurite import azurite  # noqa: F401 - the fixture, for every storage test
