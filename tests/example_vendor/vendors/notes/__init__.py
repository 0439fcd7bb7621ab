"""The Notes API's vendor: what its spec cannot say (an example of a sixth API).

- `errors`: its envelope, `{"error": {"code", "message"}}`;
- `signature`: its HMAC-SHA256 request signature, checked over the raw request;
- `handlers`: notes stored per key in the sandbox state, at most `max_notes` each (its own setting).
"""

from mockserver.vendors import Vendor

from .errors import notes_envelope
from .handlers import create_note, get_note, list_notes
from .signature import authenticate

VENDOR = Vendor(
    envelope=notes_envelope,
    authenticate=authenticate,
    handlers={"listNotes": list_notes, "createNote": create_note, "getNote": get_note},
    settings={"max_notes": 10},
    well_known={"note-1": "the first note a key creates"},
)
