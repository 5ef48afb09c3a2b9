-- The language the customer writes in (`en`, `zh`, ...), from their latest message (the
-- widget's locale before the first): what agents' notices, the rating request and the offline
-- texts are sent in. Same portability rules as 0001.
ALTER TABLE conversations ADD COLUMN lang TEXT;
