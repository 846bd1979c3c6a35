-- A CredentialIssued payload is ~3.9 KB of JSON that lz4 compresses to
-- ~2.3 KB (migration 0002): just over the default toast_tuple_target of
-- 2 KB, so nearly every event still went out of line, as two TOAST chunks
-- (two more heap rows and two index entries in pg_toast) written by each
-- append and read back by the relay, the projections and `audit verify`.
-- With a target of half a page the compressed payload stays in the row;
-- larger ones still go out of line. It applies to rows written from now on:
-- nothing is rewritten.
ALTER TABLE ledger.events SET (toast_tuple_target = 4080);
