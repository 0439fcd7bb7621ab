"""Notes stored per key in the sandbox state (shared by workers, emptied by /__mock/reset)."""

from mockserver.vocabulary import Call, Reply, json_reply

from .errors import error

KIND = "note"


def _owner(call: Call) -> str:
    assert call.identity is not None  # every operation is signed
    return call.identity.name


def list_notes(call: Call) -> Reply:
    return json_reply(200, sorted(call.state.find(KIND, owner=_owner(call)), key=lambda note: int(note["id"][5:])))


def create_note(call: Call) -> Reply:
    owner = _owner(call)
    with call.state.transaction():
        held = call.state.count(KIND, owner=owner)
        if held >= call.settings["max_notes"]:
            return error(409, f"a key holds at most {call.settings['max_notes']} notes")
        note = {"id": f"note-{held + 1}", "text": call.body["text"]}
        call.state.put(KIND, f"{owner}/{note['id']}", note, owner=owner)
    return json_reply(201, note)


def get_note(call: Call) -> Reply:
    note = call.state.get(KIND, f"{_owner(call)}/{call.params['path']['note_id']}")
    return json_reply(200, note) if note is not None else error(404, "no such note")
