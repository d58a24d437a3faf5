-- Version 6: people's feedback (acknowledge, resolve, merge, move through
-- the API or the console) is recorded as decisions that name who acted.
-- Those rows carry the actor; decisions of the correlator have ''. The
-- same actions also land in itsm_events (system 'quell'), so MTTA and
-- "resolved with nobody acting" count them as they count an ITSM tool's.
ALTER TABLE decisions ADD COLUMN actor String;
