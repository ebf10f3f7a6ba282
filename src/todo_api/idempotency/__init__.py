"""`Idempotency-Key` on writes: a retry with the same key gets the first answer again instead of
writing twice (`service`, framework-free), read from a request by `dependencies`."""
