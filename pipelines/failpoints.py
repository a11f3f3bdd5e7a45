"""Named points where a test can make the process die on purpose, to prove crash safety.

Set IOC_FAILPOINTS=name[,name...]; reaching a named point ends the process at once (no cleanup,
no rollback), as a power cut or an OOM kill would.
"""

import os


def failpoint(name: str) -> None:
    if name in os.environ.get("IOC_FAILPOINTS", "").split(","):
        os._exit(77)
