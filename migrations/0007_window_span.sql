-- 0007: the full-sync window piece size Ditio accepted after refusing a larger one, per stream.
-- A full sync of a windowed stream walks its window in pieces of this many seconds (whole days) from the
-- start, without asking for larger pieces first; NULL: as configured (the whole window, or max_window).
-- Written with each page of a run whose pieces came from a refusal; forgotten by `reset`.
ALTER TABLE sync_state ADD COLUMN window_span_s INTEGER;
