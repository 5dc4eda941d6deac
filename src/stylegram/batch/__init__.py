"""`stylegram batch`: many (photo, painting) pairs, resumable. `items` plans them and keeps the manifest, `run` hands
them to a pool and writes what comes back, `pool` is the workers (local processes or Ray actors)."""
