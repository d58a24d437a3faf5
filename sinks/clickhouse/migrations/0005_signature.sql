-- Version 5: every incident row carries its signature, what kind of
-- incident it is (its alert names and the kinds of entity they are about,
-- hashed: correlate.Signature, the same the API's recurrence compares), so
-- that recurring incidents can be counted. Rows written before are ''.
ALTER TABLE incidents ADD COLUMN signature String;
