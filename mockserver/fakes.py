"""The Faker that generated names, addresses and sentences come from (see `generate`).

It is built when this module is first imported, by the first value that needs it: importing
faker and building its providers takes about 200 ms that most runs never spend. It keeps
nothing from one value to the next: `generate` reseeds it before each one.
"""

from __future__ import annotations

from faker import Faker

FAKER = Faker("en_US")
