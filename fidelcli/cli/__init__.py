"""The `fidelcli` command line: Typer commands that parse, load, call the library and render.

Memory: Polars allocates with jemalloc, which by default keeps freed pages for 10 s before giving
them back. A command runs a few large steps in a row (a reduction in Polars, then NumPy/SciPy
fits and predictions), so pages freed by one step would still count in the process while the next
allocates. Unless the user set `_RJEM_MALLOC_CONF` themselves, the command line asks jemalloc to
return freed pages after 100 ms, on a background thread. This runs before Polars is first imported
(the library, `import fidelcli`, leaves the allocator alone).
"""

import os

os.environ.setdefault("_RJEM_MALLOC_CONF", "background_thread:true,dirty_decay_ms:100,muzzy_decay_ms:0")
