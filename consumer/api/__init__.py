"""`numguard serve`: the store's answers over HTTP."""
